//! The endpoints the bot uses (API.md §3), one method each.

use std::collections::HashMap;

use base64::Engine as _;
use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::types::{
    Agent, FileDiff, MessagePage, MessageWithParts, ModelRef, PermissionReply, PermissionRequest,
    ProvidersResponse, QuestionRequest, Session, SessionStatus, Todo,
};

/// One input part of a prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum PromptPart {
    Text {
        text: String,
    },
    /// `url` is a `data:` URL (inline bytes) or a `file://` URL on the server's machine.
    File {
        mime: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        filename: Option<String>,
        url: String,
    },
}

impl PromptPart {
    #[must_use]
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text { text: text.into() }
    }

    /// A file sent inline as a base64 `data:` URL (photos, documents from chat).
    #[must_use]
    pub fn file_bytes(mime: &str, filename: Option<&str>, bytes: &[u8]) -> Self {
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        Self::File {
            mime: mime.to_owned(),
            filename: filename.map(str::to_owned),
            url: format!("data:{mime};base64,{b64}"),
        }
    }
}

/// Body of `prompt_async` / `message`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Prompt {
    pub parts: Vec<PromptPart>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
}

impl Prompt {
    /// A plain text prompt.
    #[must_use]
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            parts: vec![PromptPart::text(text)],
            ..Self::default()
        }
    }

    /// Adds a part.
    #[must_use]
    pub fn part(mut self, part: PromptPart) -> Self {
        self.parts.push(part);
        self
    }
}

/// Options of `POST /session`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewSession {
    pub title: Option<String>,
    pub agent: Option<String>,
    pub model: Option<ModelRef>,
}

fn enc(id: &str) -> String {
    crate::config::encode_uri_component(id)
}

impl Client {
    /// `GET /session`, newest-updated first. `roots` hides subagent sessions.
    ///
    /// # Errors
    /// Transport, status or decode errors.
    pub async fn list_sessions(
        &self,
        limit: Option<u32>,
        search: Option<&str>,
        roots: bool,
    ) -> Result<Vec<Session>> {
        let mut rb = self.request(Method::GET, "session")?;
        // The header routes to the instance but does not filter the list: directories of
        // one project (all non-git dirs share project "global") would see each other's
        // sessions. The query parameter filters.
        if let Some(dir) = self.directory() {
            rb = rb.query(&[("directory", dir)]);
        }
        if let Some(l) = limit {
            rb = rb.query(&[("limit", l.to_string())]);
        }
        if let Some(s) = search {
            rb = rb.query(&[("search", s)]);
        }
        if roots {
            rb = rb.query(&[("roots", "true")]);
        }
        self.json("GET /session", rb).await
    }

    /// `POST /session`.
    ///
    /// # Errors
    /// Transport, status or decode errors.
    pub async fn create_session(&self, opts: &NewSession) -> Result<Session> {
        let mut body = serde_json::Map::new();
        if let Some(t) = &opts.title {
            body.insert("title".into(), json!(t));
        }
        if let Some(a) = &opts.agent {
            body.insert("agent".into(), json!(a));
        }
        if let Some(m) = &opts.model {
            // Session objects name the model `id`, prompts name it `modelID`.
            body.insert(
                "model".into(),
                json!({"id": m.model_id, "providerID": m.provider_id}),
            );
        }
        let rb = self
            .request(Method::POST, "session")?
            .json(&Value::Object(body));
        self.json("POST /session", rb).await
    }

    /// `GET /session/{id}`.
    ///
    /// # Errors
    /// `Status{404}` for an unknown session.
    pub async fn get_session(&self, id: &str) -> Result<Session> {
        let rb = self.request(Method::GET, &format!("session/{}", enc(id)))?;
        self.json("GET /session/{id}", rb).await
    }

    /// `DELETE /session/{id}`.
    ///
    /// # Errors
    /// Transport, status or decode errors.
    pub async fn delete_session(&self, id: &str) -> Result<bool> {
        let rb = self.request(Method::DELETE, &format!("session/{}", enc(id)))?;
        self.json("DELETE /session/{id}", rb).await
    }

    /// `GET /session/status`: only non-idle sessions are listed.
    ///
    /// # Errors
    /// Transport, status or decode errors.
    pub async fn session_status(&self) -> Result<HashMap<String, SessionStatus>> {
        let rb = self.request(Method::GET, "session/status")?;
        self.json("GET /session/status", rb).await
    }

    /// `GET /session/{id}/message`: the newest `limit` messages (chronological); pass the
    /// returned cursor as `before` for the page before.
    ///
    /// # Errors
    /// Transport, status or decode errors.
    pub async fn messages(
        &self,
        id: &str,
        limit: Option<u32>,
        before: Option<&str>,
    ) -> Result<MessagePage> {
        let what = "GET /session/{id}/message";
        let mut rb = self.request(Method::GET, &format!("session/{}/message", enc(id)))?;
        if let Some(l) = limit {
            rb = rb.query(&[("limit", l.to_string())]);
        }
        if let Some(b) = before {
            rb = rb.query(&[("before", b)]);
        }
        let resp = self.send(what, rb, self.cfg.request_timeout).await?;
        let next_cursor = resp
            .headers()
            .get("x-next-cursor")
            .and_then(|v| v.to_str().ok())
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let ct = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if !ct.contains("json") {
            return Err(Error::NotJson {
                what: what.to_owned(),
                content_type: ct,
            });
        }
        let bytes = resp.bytes().await.map_err(|e| Error::Transport {
            what: what.to_owned(),
            source: e,
        })?;
        let messages = serde_json::from_slice(&bytes).map_err(|e| Error::Decode {
            what: what.to_owned(),
            source: e,
        })?;
        Ok(MessagePage {
            messages,
            next_cursor,
        })
    }

    /// `GET /session/{id}/message/{messageID}`.
    ///
    /// # Errors
    /// Transport, status or decode errors.
    pub async fn message(&self, id: &str, message_id: &str) -> Result<MessageWithParts> {
        let rb = self.request(
            Method::GET,
            &format!("session/{}/message/{}", enc(id), enc(message_id)),
        )?;
        self.json("GET /session/{id}/message/{msg}", rb).await
    }

    /// `POST /session/{id}/prompt_async`: returns at once (204); the reply arrives as events.
    /// An invalid model is also accepted here and reported later as `session.error`.
    ///
    /// # Errors
    /// Transport or status errors.
    pub async fn prompt_async(&self, id: &str, prompt: &Prompt) -> Result<()> {
        let rb = self
            .request(Method::POST, &format!("session/{}/prompt_async", enc(id)))?
            .json(prompt);
        self.no_content("POST /session/{id}/prompt_async", rb).await
    }

    /// `POST /session/{id}/abort`. Answers `true` for any id, even unknown ones.
    ///
    /// # Errors
    /// Transport, status or decode errors.
    pub async fn abort(&self, id: &str) -> Result<bool> {
        let rb = self.request(Method::POST, &format!("session/{}/abort", enc(id)))?;
        self.json("POST /session/{id}/abort", rb).await
    }

    /// `GET /permission`: pending permission requests of this directory.
    ///
    /// # Errors
    /// Transport, status or decode errors.
    pub async fn permissions(&self) -> Result<Vec<PermissionRequest>> {
        let rb = self.request(Method::GET, "permission")?;
        self.json("GET /permission", rb).await
    }

    /// `POST /permission/{id}/reply`. A reject with a `message` lets the agent continue with
    /// that feedback; a bare reject stops the loop.
    ///
    /// # Errors
    /// `Status{404}` when the request is unknown or already answered.
    pub async fn reply_permission(
        &self,
        request_id: &str,
        reply: PermissionReply,
        message: Option<&str>,
    ) -> Result<bool> {
        let mut body = json!({ "reply": reply });
        if let Some(m) = message.filter(|m| !m.is_empty()) {
            body["message"] = json!(m);
        }
        let rb = self
            .request(
                Method::POST,
                &format!("permission/{}/reply", enc(request_id)),
            )?
            .json(&body);
        self.json("POST /permission/{id}/reply", rb).await
    }

    /// `GET /question`: pending agent questions.
    ///
    /// # Errors
    /// Transport, status or decode errors.
    pub async fn questions(&self) -> Result<Vec<QuestionRequest>> {
        let rb = self.request(Method::GET, "question")?;
        self.json("GET /question", rb).await
    }

    /// `POST /question/{id}/reply`: one list of chosen labels per question.
    ///
    /// # Errors
    /// `Status{404}` when the question is unknown or already answered.
    pub async fn reply_question(&self, request_id: &str, answers: &[Vec<String>]) -> Result<bool> {
        let rb = self
            .request(Method::POST, &format!("question/{}/reply", enc(request_id)))?
            .json(&json!({ "answers": answers }));
        self.json("POST /question/{id}/reply", rb).await
    }

    /// `POST /question/{id}/reject`: dismisses the question; the agent loop stops.
    ///
    /// # Errors
    /// Transport, status or decode errors.
    pub async fn reject_question(&self, request_id: &str) -> Result<bool> {
        let rb = self.request(
            Method::POST,
            &format!("question/{}/reject", enc(request_id)),
        )?;
        self.json("POST /question/{id}/reject", rb).await
    }

    /// `GET /session/{id}/todo`.
    ///
    /// # Errors
    /// Transport, status or decode errors.
    pub async fn todo(&self, id: &str) -> Result<Vec<Todo>> {
        let rb = self.request(Method::GET, &format!("session/{}/todo", enc(id)))?;
        self.json("GET /session/{id}/todo", rb).await
    }

    /// `GET /vcs/diff?mode=git`: the working-tree diff of the project.
    ///
    /// # Errors
    /// Transport, status or decode errors.
    pub async fn vcs_diff(&self) -> Result<Vec<FileDiff>> {
        let rb = self
            .request(Method::GET, "vcs/diff")?
            .query(&[("mode", "git")]);
        self.json("GET /vcs/diff", rb).await
    }

    /// `GET /session/{id}/diff?messageID=…`: files changed by the turn of that user message.
    /// (Without a message id OpenCode 1.18.33 answers `[]`.)
    ///
    /// # Errors
    /// Transport, status or decode errors.
    pub async fn session_diff(&self, id: &str, user_message_id: &str) -> Result<Vec<FileDiff>> {
        let rb = self
            .request(Method::GET, &format!("session/{}/diff", enc(id)))?
            .query(&[("messageID", user_message_id)]);
        self.json("GET /session/{id}/diff", rb).await
    }

    /// `GET /config/providers`: providers, their models and defaults (for `/model`).
    ///
    /// # Errors
    /// Transport, status or decode errors.
    pub async fn providers(&self) -> Result<ProvidersResponse> {
        let rb = self.request(Method::GET, "config/providers")?;
        self.json("GET /config/providers", rb).await
    }

    /// `GET /agent` (for `/agent`).
    ///
    /// # Errors
    /// Transport, status or decode errors.
    pub async fn agents(&self) -> Result<Vec<Agent>> {
        let rb = self.request(Method::GET, "agent")?;
        self.json("GET /agent", rb).await
    }

    /// `GET /config` (raw).
    ///
    /// # Errors
    /// Transport, status or decode errors.
    pub async fn get_config(&self) -> Result<Value> {
        let rb = self.request(Method::GET, "config")?;
        self.json("GET /config", rb).await
    }

    /// `GET` of an arbitrary path, decoded as JSON (escape hatch for endpoints not typed here).
    ///
    /// # Errors
    /// [`Error::NotJson`] for unknown paths (they answer HTML), else as other calls.
    pub async fn get_json(&self, path: &str) -> Result<Value> {
        let rb = self.request(Method::GET, path)?;
        self.json(path, rb).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn prompt_serializes_like_openapi() {
        let p = Prompt::text("hi").part(PromptPart::file_bytes(
            "image/png",
            Some("a.png"),
            b"\x89PNG",
        ));
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["parts"][0], json!({"type":"text","text":"hi"}));
        assert_eq!(v["parts"][1]["type"], "file");
        assert_eq!(v["parts"][1]["url"], "data:image/png;base64,iVBORw==");
        assert!(v.get("model").is_none());
        let p = Prompt {
            model: Some(ModelRef {
                provider_id: "p".into(),
                model_id: "m".into(),
            }),
            ..p
        };
        assert_eq!(
            serde_json::to_value(&p).unwrap()["model"],
            json!({"providerID":"p","modelID":"m"})
        );
    }
}
