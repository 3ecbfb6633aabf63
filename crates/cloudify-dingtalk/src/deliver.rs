//! Executing a plan: sessionWebhook while valid, else the OpenAPI (batchSend / group send);
//! images uploaded and sent as `sampleImageMsg`; cards for progress and prompts. A send that
//! fails half way remembers how far it got so the outbox's retry does not repeat messages.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cloudify_core::adapter::{ChatRef, DeliveryError, SentId};
use cloudify_core::output::{Envelope, Output};
use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{Api, ApiError};
use crate::cards::{self, CardKind, Cards};
use crate::incoming::{Webhooks, now_ms};
use crate::plan::{Format, Step, plan, progress_has_content, progress_markdown, prompt_markdown};
use crate::render::render;
use crate::sync::lock;

/// One message to show.
#[derive(Debug)]
enum Msg<'a> {
    Markdown { title: &'a str, text: &'a str },
    Text(&'a str),
    Image(&'a str),
}

const CARD_PREFIX: &str = "card:";
const RESUME_TTL: Duration = Duration::from_secs(3600);
const RESUME_MAX: usize = 256;

/// How far a failed send got: steps done and the last id.
#[derive(Debug, Default)]
pub(crate) struct ResumeBook(HashMap<(String, u64), (usize, Option<SentId>, Instant)>);

impl ResumeBook {
    fn take(&mut self, key: &(String, u64)) -> (usize, Option<SentId>) {
        match self.0.remove(key) {
            Some((step, last, at)) if at.elapsed() < RESUME_TTL => (step, last),
            _ => (0, None),
        }
    }

    fn put(&mut self, key: (String, u64), step: usize, last: Option<SentId>) {
        self.0.retain(|_, (_, _, at)| at.elapsed() < RESUME_TTL);
        if self.0.len() >= RESUME_MAX {
            self.0.clear();
        }
        self.0.insert(key, (step, last, Instant::now()));
    }
}

fn resume_key(chat: &ChatRef, env: &Envelope) -> (String, u64) {
    let mut h = DefaultHasher::new();
    serde_json::to_string(env).unwrap_or_default().hash(&mut h);
    chat.is_group.hash(&mut h);
    (chat.chat_id.clone(), h.finish())
}

/// Delivery: runs plans through the API client, the sessionWebhooks the intake saw and
/// the cards.
pub(crate) struct Delivery {
    pub api: Arc<Api>,
    pub format: Format,
    pub render_cache: Option<PathBuf>,
    pub ai_card_template: Option<String>,
    pub prompt_card_template: Option<String>,
    pub webhooks: Arc<Mutex<Webhooks>>,
    pub cards: Cards,
    pub resume: Mutex<ResumeBook>,
}

impl Delivery {
    fn webhooks(&self) -> MutexGuard<'_, Webhooks> {
        lock(&self.webhooks)
    }

    fn resume(&self) -> MutexGuard<'_, ResumeBook> {
        lock(&self.resume)
    }

    /// One message: through the conversation's sessionWebhook when valid (not images:
    /// webhooks cannot carry them), else the OpenAPI.
    async fn message(&self, chat: &ChatRef, msg: Msg<'_>) -> Result<SentId, ApiError> {
        if !matches!(msg, Msg::Image(_)) {
            let hook = self.webhooks().valid(chat, now_ms());
            if let Some(url) = hook {
                let body = match &msg {
                    Msg::Markdown { title, text } => {
                        json!({"msgtype": "markdown", "markdown": {"title": title, "text": text}})
                    }
                    Msg::Text(t) => json!({"msgtype": "text", "text": {"content": t}}),
                    Msg::Image(_) => Value::Null,
                };
                match self.api.webhook(&url, &body).await {
                    Ok(()) => return Ok(format!("hook:{}", uuid::Uuid::new_v4().simple())),
                    // Expired early or revoked: forget it and send proactively instead.
                    Err(ApiError::Unreachable(why)) => {
                        tracing::info!(reason = %why, "dingtalk sessionWebhook gone; using the OpenAPI");
                        self.webhooks().forget(chat);
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let (key, param) = match msg {
            Msg::Markdown { title, text } => {
                ("sampleMarkdown", json!({"title": title, "text": text}))
            }
            Msg::Text(t) => ("sampleText", json!({"content": t})),
            Msg::Image(media) => ("sampleImageMsg", json!({"photoURL": media})),
        };
        let robot = self.api.robot_code.clone();
        if chat.is_group {
            let body = json!({
                "robotCode": robot, "openConversationId": chat.chat_id,
                "msgKey": key, "msgParam": param.to_string(),
            });
            let a = self
                .api
                .call(Method::POST, "/v1.0/robot/groupMessages/send", &body)
                .await?;
            Ok(pqk(&a))
        } else {
            let body = json!({
                "robotCode": robot, "userIds": [chat.chat_id],
                "msgKey": key, "msgParam": param.to_string(),
            });
            let a = self
                .api
                .call(Method::POST, "/v1.0/robot/oToMessages/batchSend", &body)
                .await?;
            let listed = |field: &str| {
                a.get(field)
                    .and_then(Value::as_array)
                    .is_some_and(|l| l.iter().any(|v| v.as_str() == Some(chat.chat_id.as_str())))
            };
            if listed("flowControlledStaffIdList") {
                return Err(ApiError::Qps);
            }
            if listed("invalidStaffIdList") || listed("filteredStaffIdList") {
                return Err(ApiError::Unreachable(
                    "the user is not in the robot's visible range".into(),
                ));
            }
            Ok(pqk(&a))
        }
    }

    async fn image(&self, chat: &ChatRef, png: Vec<u8>, n: usize) -> Result<SentId, ApiError> {
        let media = self.api.upload_image(png, &format!("page-{n}.png")).await?;
        self.message(chat, Msg::Image(&media)).await
    }

    /// Runs one step; returns the id of its last message.
    async fn step(&self, chat: &ChatRef, step: &Step) -> Result<SentId, ApiError> {
        match step {
            Step::Markdown { title, text } => {
                self.message(chat, Msg::Markdown { title, text }).await
            }
            Step::Text(t) => self.message(chat, Msg::Text(t)).await,
            Step::Png(png) => self.image(chat, png.clone(), 1).await,
            Step::Render(job) => {
                let r = render(job, self.render_cache.clone()).await;
                if let Some(text) = r.fallback {
                    let title = crate::markdown::title(&text);
                    let parts = crate::markdown::split(&text, self.format.max_text);
                    let mut last = String::new();
                    for p in &parts {
                        last = self
                            .message(
                                chat,
                                Msg::Markdown {
                                    title: &title,
                                    text: p,
                                },
                            )
                            .await?;
                    }
                    return Ok(last);
                }
                let mut last = String::new();
                for (i, png) in r.images.into_iter().enumerate() {
                    last = self.image(chat, png, i + 1).await?;
                }
                if let Some(note) = r.note {
                    last = self.message(chat, Msg::Text(&note)).await?;
                }
                Ok(last)
            }
            Step::AiCard {
                content,
                has_content,
            } => {
                let tpl = self.ai_card_template.as_deref().unwrap_or_default();
                let track = cards::create_ai(&self.cards, chat, tpl, content, *has_content).await?;
                Ok(format!("{CARD_PREFIX}{track}"))
            }
            Step::PromptCard { content, buttons } => {
                let tpl = self.prompt_card_template.as_deref().unwrap_or_default();
                let track = cards::create_prompt(&self.cards, chat, tpl, content, buttons).await?;
                Ok(format!("{CARD_PREFIX}{track}"))
            }
        }
    }

    pub(crate) async fn send(
        &self,
        chat: &ChatRef,
        env: &Envelope,
    ) -> Result<SentId, DeliveryError> {
        let steps = plan(env, &self.format);
        let key = resume_key(chat, env);
        let (start, mut last) = self.resume().take(&key);
        for (i, step) in steps.iter().enumerate().skip(start) {
            match self.step(chat, step).await {
                Ok(id) => last = Some(id),
                Err(e) => {
                    if i > 0 {
                        self.resume().put(key, i, last);
                    }
                    tracing::warn!(error = %e, step = i, "dingtalk send failed");
                    return Err(e.into());
                }
            }
        }
        Ok(last.unwrap_or_default())
    }

    /// Cards are updated in place. Robot messages cannot be edited: a prompt's outcome is
    /// sent as a new message; other edits of plain messages are dropped.
    pub(crate) async fn edit(
        &self,
        chat: &ChatRef,
        id: &SentId,
        env: &Envelope,
    ) -> Result<(), DeliveryError> {
        let max = self.format.max_text;
        let frame = |body: String| {
            let mut s = env
                .header
                .clone()
                .map(|h| format!("{h}\n\n"))
                .unwrap_or_default();
            s.push_str(&body);
            if let Some(f) = env.footer.as_deref() {
                s.push_str("\n\n");
                s.push_str(f);
            }
            s
        };
        if let Some(track) = id.strip_prefix(CARD_PREFIX) {
            let kind = self.cards.cards().kind(track);
            let result = match (&env.body, kind) {
                (Output::Progress(p), Some(CardKind::Ai)) => {
                    let content = frame(progress_markdown(p, max, true));
                    cards::update_ai(&self.cards, track, &content, progress_has_content(p)).await
                }
                (Output::Prompt(p), Some(CardKind::Prompt)) => {
                    cards::update_prompt(&self.cards, track, &frame(prompt_markdown(p)), &p.buttons)
                        .await
                }
                _ => Ok(()),
            };
            return result.map_err(|e| {
                tracing::warn!(error = %e, "dingtalk card update failed");
                e.into()
            });
        }
        if matches!(env.body, Output::Prompt(_)) {
            return self.send(chat, env).await.map(drop);
        }
        Ok(())
    }

    /// Recalls a message sent through the OpenAPI; webhook replies and cards cannot be.
    pub(crate) async fn delete(&self, chat: &ChatRef, id: &SentId) -> Result<(), DeliveryError> {
        let Some(key) = id.strip_prefix("pqk:") else {
            return Ok(());
        };
        let robot = self.api.robot_code.clone();
        let (path, body) = if chat.is_group {
            (
                "/v1.0/robot/groupMessages/recall",
                json!({"robotCode": robot, "openConversationId": chat.chat_id, "processQueryKeys": [key]}),
            )
        } else {
            (
                "/v1.0/robot/otoMessages/batchRecall",
                json!({"robotCode": robot, "processQueryKeys": [key]}),
            )
        };
        self.api
            .call(Method::POST, path, &body)
            .await
            .map(drop)
            .map_err(Into::into)
    }
}

fn pqk(answer: &Value) -> SentId {
    let key = answer
        .get("processQueryKey")
        .and_then(Value::as_str)
        .unwrap_or_default();
    format!("pqk:{key}")
}
