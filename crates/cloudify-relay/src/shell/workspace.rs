//! `Workspace` for commands and prompts, backed by the OpenCode client.

use super::Relay;
use crate::core::Input;
use async_trait::async_trait;
use cloudify_core::commands::PermissionReply;
use cloudify_core::services::{
    FileDiff, PromptPart, Sender, ServiceError, SessionSummary, Workspace, WorkspaceStatus,
};
use cloudify_core::store::Instance;
use cloudify_opencode::{Error as OcError, ModelRef, NewSession, Prompt, PromptPart as OcPart};
use std::sync::Arc;
use std::time::Duration;

/// The relay seen as a `Workspace` service.
pub struct OpenCodeWorkspace(pub Arc<Relay>);

fn service_error(inst: &Instance, e: &OcError) -> ServiceError {
    match e {
        OcError::Connect { .. } | OcError::Timeout { .. } => {
            ServiceError::Unreachable(inst.url.clone())
        }
        OcError::Status {
            status: 404,
            message,
            ..
        } => ServiceError::NotFound(message.clone()),
        OcError::Unauthorized => ServiceError::Failed(
            "OpenCode refused the password (opencode.password / OPENCODE_SERVER_PASSWORD)".into(),
        ),
        other => ServiceError::Failed(other.to_string()),
    }
}

fn model_ref(s: &str) -> Option<ModelRef> {
    let (p, m) = s.split_once('/')?;
    Some(ModelRef {
        provider_id: p.into(),
        model_id: m.into(),
    })
}

impl OpenCodeWorkspace {
    async fn store<R: Send + 'static>(
        &self,
        f: impl FnMut(&mut cloudify_core::Store) -> cloudify_core::store::Result<R> + Send + 'static,
    ) -> Result<R, ServiceError> {
        self.0
            .store
            .call(f)
            .await
            .map_err(|e| ServiceError::Failed(e.to_string()))
    }

    /// The instance's current session, created when it has none (or it was deleted).
    async fn current_session(&self, inst: &Instance, fresh: bool) -> Result<String, ServiceError> {
        if let (Some(id), false) = (&inst.current_session, fresh) {
            return Ok(id.clone());
        }
        let link = self.0.link(inst)?;
        let opts = NewSession {
            agent: inst.agent.clone(),
            model: inst.model.as_deref().and_then(model_ref),
            ..NewSession::default()
        };
        let s = link
            .client
            .create_session(&opts)
            .await
            .map_err(|e| service_error(inst, &e))?;
        let (iid, sid) = (inst.id, s.id.clone());
        self.store(move |st| st.set_current_session(iid, Some(&sid)))
            .await?;
        Ok(s.id)
    }
}

#[async_trait]
impl Workspace for OpenCodeWorkspace {
    async fn prompt(
        &self,
        inst: &Instance,
        from: &Sender,
        parts: Vec<PromptPart>,
    ) -> Result<(), ServiceError> {
        let link = self.0.link(inst)?;
        let mut prompt = Prompt {
            parts: parts
                .into_iter()
                .map(|p| match p {
                    PromptPart::Text(t) => OcPart::text(t),
                    PromptPart::File { name, mime, bytes } => {
                        OcPart::file_bytes(&mime, Some(&name), &bytes)
                    }
                })
                .collect(),
            ..Prompt::default()
        };
        prompt.model = inst.model.as_deref().and_then(model_ref);
        prompt.agent = inst.agent.clone();
        let mut session = self.current_session(inst, false).await?;
        link.feed(Input::PromptSent {
            by: from.handle.clone(),
        })
        .await;
        let mut delay = Duration::from_millis(500);
        for attempt in 0..4 {
            match link.client.prompt_async(&session, &prompt).await {
                Ok(()) => return Ok(()),
                // The current session was deleted elsewhere: start a new one, once.
                Err(OcError::Status { status: 404, .. }) if attempt == 0 => {
                    session = self
                        .current_session(
                            &Instance {
                                current_session: None,
                                ..inst.clone()
                            },
                            true,
                        )
                        .await?;
                }
                // OpenCode restarting (s6 brings it back in seconds): retry before giving up.
                Err(e @ (OcError::Connect { .. } | OcError::Timeout { .. })) if attempt < 3 => {
                    tracing::warn!(instance = %inst.name, error = %e, "prompt not delivered yet; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(e) => return Err(service_error(inst, &e)),
            }
        }
        Err(ServiceError::Unreachable(inst.url.clone()))
    }

    async fn status(&self, inst: &Instance) -> Result<WorkspaceStatus, ServiceError> {
        let link = self.0.link(inst)?;
        let health = link
            .client
            .health()
            .await
            .map_err(|e| service_error(inst, &e))?;
        let mut st = WorkspaceStatus {
            healthy: health.healthy,
            version: Some(health.version),
            model: inst.model.clone(),
            agent: inst.agent.clone(),
            session_id: inst.current_session.clone(),
            ..WorkspaceStatus::default()
        };
        if let Some(sid) = &inst.current_session {
            if let Ok(s) = link.client.get_session(sid).await {
                st.session_title = Some(s.title);
            }
            if let Ok(busy) = link.client.session_status().await {
                st.busy = busy.contains_key(sid);
            }
        }
        Ok(st)
    }

    async fn sessions(&self, inst: &Instance) -> Result<Vec<SessionSummary>, ServiceError> {
        let link = self.0.link(inst)?;
        let list = link
            .client
            .list_sessions(Some(10), None, true)
            .await
            .map_err(|e| service_error(inst, &e))?;
        Ok(list
            .into_iter()
            .map(|s| SessionSummary {
                id: s.id,
                title: s.title,
                updated_ms: s.time.updated,
            })
            .collect())
    }

    async fn new_session(&self, inst: &Instance) -> Result<SessionSummary, ServiceError> {
        let id = self.current_session(inst, true).await?;
        Ok(SessionSummary {
            id,
            title: String::new(),
            updated_ms: 0,
        })
    }

    async fn use_session(&self, inst: &Instance, id: &str) -> Result<SessionSummary, ServiceError> {
        let link = self.0.link(inst)?;
        let s = link
            .client
            .get_session(id)
            .await
            .map_err(|e| service_error(inst, &e))?;
        let (iid, sid) = (inst.id, s.id.clone());
        self.store(move |st| st.set_current_session(iid, Some(&sid)))
            .await?;
        Ok(SessionSummary {
            id: s.id,
            title: s.title,
            updated_ms: s.time.updated,
        })
    }

    async fn cancel(&self, inst: &Instance) -> Result<bool, ServiceError> {
        let Some(sid) = inst.current_session.clone() else {
            return Ok(false);
        };
        let link = self.0.link(inst)?;
        // abort answers true for any id (API.md), so ask whether anything runs first.
        let busy = link
            .client
            .session_status()
            .await
            .map_err(|e| service_error(inst, &e))?;
        if !busy.contains_key(&sid) {
            return Ok(false);
        }
        link.feed(Input::Cancelled).await;
        link.client
            .abort(&sid)
            .await
            .map_err(|e| service_error(inst, &e))?;
        Ok(true)
    }

    async fn models(&self, inst: &Instance) -> Result<(Vec<String>, Option<String>), ServiceError> {
        let link = self.0.link(inst)?;
        let p = link
            .client
            .providers()
            .await
            .map_err(|e| service_error(inst, &e))?;
        let all = p
            .providers
            .iter()
            .flat_map(|pr| pr.models.keys().map(move |m| format!("{}/{m}", pr.id)))
            .collect();
        Ok((all, inst.model.clone()))
    }

    async fn set_model(&self, inst: &Instance, model: &str) -> Result<(), ServiceError> {
        let (all, _) = self.models(inst).await?;
        if !all.iter().any(|m| m == model) {
            return Err(ServiceError::NotFound(format!("model {model}")));
        }
        let (iid, m) = (inst.id, model.to_string());
        self.store(move |s| s.set_model(iid, Some(&m))).await
    }

    async fn agents(&self, inst: &Instance) -> Result<(Vec<String>, Option<String>), ServiceError> {
        let link = self.0.link(inst)?;
        let agents = link
            .client
            .agents()
            .await
            .map_err(|e| service_error(inst, &e))?;
        let names = agents
            .into_iter()
            .filter(|a| a.mode != "subagent" && a.hidden != Some(true))
            .map(|a| a.name)
            .collect();
        Ok((names, inst.agent.clone()))
    }

    async fn set_agent(&self, inst: &Instance, agent: &str) -> Result<(), ServiceError> {
        let (all, _) = self.agents(inst).await?;
        if !all.iter().any(|a| a == agent) {
            return Err(ServiceError::NotFound(format!("agent {agent}")));
        }
        let (iid, a) = (inst.id, agent.to_string());
        self.store(move |s| s.set_agent(iid, Some(&a))).await
    }

    async fn diff(&self, inst: &Instance) -> Result<Vec<FileDiff>, ServiceError> {
        let link = self.0.link(inst)?;
        let files = link
            .client
            .vcs_diff()
            .await
            .map_err(|e| service_error(inst, &e))?;
        Ok(files
            .into_iter()
            .map(|f| FileDiff {
                file: f.file,
                patch: f.patch,
                additions: f.additions.try_into().unwrap_or(u32::MAX),
                deletions: f.deletions.try_into().unwrap_or(u32::MAX),
            })
            .collect())
    }

    async fn reply_permission(
        &self,
        inst: &Instance,
        from: &Sender,
        id: &str,
        reply: PermissionReply,
    ) -> Result<(), ServiceError> {
        let link = self.0.link(inst)?;
        // Noted before the reply: the `permission.replied` event can beat the HTTP answer.
        let first = link.note_answer(id, &from.handle).await;
        let reply = match reply {
            PermissionReply::Once => cloudify_opencode::PermissionReply::Once,
            PermissionReply::Always => cloudify_opencode::PermissionReply::Always,
            PermissionReply::Reject => cloudify_opencode::PermissionReply::Reject,
        };
        let result = link
            .client
            .reply_permission(id, reply, None)
            .await
            .map_err(|e| service_error(inst, &e));
        if result.is_err() && first {
            link.feed(Input::AnswerFailed {
                request_id: id.to_string(),
            })
            .await;
        }
        result.map(|_| ())
    }

    async fn answer_question(
        &self,
        inst: &Instance,
        from: &Sender,
        id: &str,
        choice: Option<Vec<usize>>,
    ) -> Result<(), ServiceError> {
        let link = self.0.link(inst)?;
        link.note_answer(id, &from.handle).await;
        let Some(choice) = choice else {
            link.client
                .reject_question(id)
                .await
                .map_err(|e| service_error(inst, &e))?;
            return Ok(());
        };
        let pending = link
            .client
            .questions()
            .await
            .map_err(|e| service_error(inst, &e))?;
        let Some(q) = pending.into_iter().find(|q| q.id == id) else {
            return Err(ServiceError::NotFound(id.into()));
        };
        // Buttons answer the first question; any further ones get no selection.
        let answers: Vec<Vec<String>> = q
            .questions
            .iter()
            .enumerate()
            .map(|(i, info)| {
                if i > 0 {
                    return Vec::new();
                }
                choice
                    .iter()
                    .filter_map(|n| info.options.get(n - 1).map(|o| o.label.clone()))
                    .collect()
            })
            .collect();
        if answers.first().is_none_or(Vec::is_empty) {
            return Err(ServiceError::NotFound(format!("option {choice:?}")));
        }
        link.client
            .reply_question(id, &answers)
            .await
            .map_err(|e| service_error(inst, &e))?;
        Ok(())
    }
}
