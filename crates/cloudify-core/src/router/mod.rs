//! The router: every incoming update passes here once. It records the user, answers in
//! their language, replays what they missed, runs commands, forwards prompts of bound users
//! to their active instance. What goes out goes through the [`Fanout`].

mod attachments;
mod limits;

pub use crate::clock::{Clock, SystemClock};
pub use crate::fanout::{Delivered, Fanout, StoreBacklog, online_handles};

use crate::adapter::{ChatRef, Incoming, IncomingKind};
use crate::binding::BindLimiter;
use crate::commands::{self, CommandContext};
use crate::config::Config;
use crate::i18n::{self, Lang};
use crate::identity::{Platform, UserKey};
use crate::outbox::LocalId;
use crate::outbox::runner::OutboxHandle;
use crate::output::Output;
use crate::services::{
    PromptPart, ProxyControl, QrImages, Sender, ServiceError, WebTerminal, Workspace,
};
use crate::store::{SeenUser, SharedStore, StoreError, User};
use attachments::fetch_attachment;
use limits::ActionLimiter;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use uuid::Uuid;

/// Longest prompt forwarded to OpenCode as text; longer ones go as an attached file.
pub const MAX_PROMPT_CHARS: usize = 32_000;
/// The name a message longer than [`MAX_PROMPT_CHARS`] gets as an attachment.
pub const LONG_MESSAGE_FILE: &str = "message.txt";

/// The services commands and prompts reach.
pub struct Services {
    pub workspace: Arc<dyn Workspace>,
    pub terminal: Arc<dyn WebTerminal>,
    pub proxy: Arc<dyn ProxyControl>,
    pub qr: Arc<dyn QrImages>,
}

pub struct Router {
    pub store: SharedStore,
    pub config: Arc<Config>,
    pub services: Services,
    clock: Arc<dyn Clock>,
    fanout: Arc<Fanout>,
    bind_limiter: Mutex<BindLimiter>,
    action_limiter: Mutex<ActionLimiter>,
    telegram_bot: RwLock<Option<String>>,
}

impl Router {
    pub fn new(
        store: SharedStore,
        config: Arc<Config>,
        services: Services,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let fanout = Arc::new(Fanout::new(store, config, clock));
        Self::with_fanout(fanout, services)
    }

    /// The router on a fan-out built beforehand (the relay shares it).
    pub fn with_fanout(fanout: Arc<Fanout>, services: Services) -> Self {
        Self {
            store: fanout.store().clone(),
            config: fanout.config().clone(),
            services,
            clock: fanout.clock().clone(),
            fanout,
            bind_limiter: Mutex::new(BindLimiter::default()),
            action_limiter: Mutex::new(ActionLimiter::default()),
            telegram_bot: RwLock::new(None),
        }
    }

    /// Registers the outbox of a platform's adapter.
    pub fn attach(&self, platform: Platform, outbox: OutboxHandle) {
        self.fanout.attach(platform, outbox);
    }

    pub fn outbox(&self, platform: Platform) -> Option<OutboxHandle> {
        self.fanout.outbox(platform)
    }

    /// Who receives what: the fan-out replies and broadcasts go through.
    pub fn fanout(&self) -> &Arc<Fanout> {
        &self.fanout
    }

    /// The Telegram bot's username (from getMe), for deep links.
    pub fn set_telegram_bot(&self, username: &str) {
        *self
            .telegram_bot
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(username.to_string());
    }

    pub fn telegram_bot(&self) -> Option<String> {
        self.telegram_bot
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    pub fn now(&self) -> i64 {
        self.clock.now_secs()
    }

    pub(crate) fn bind_limiter(&self) -> std::sync::MutexGuard<'_, BindLimiter> {
        self.bind_limiter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The language to answer a user in.
    pub fn lang_of(&self, user: &User) -> Lang {
        self.fanout.lang_of(user)
    }

    /// Handles one update from an adapter. Never fails: problems become replies or logs.
    pub async fn handle(&self, inc: Incoming) {
        if let Err(e) = self.try_handle(&inc).await {
            tracing::error!(error = %e, platform = %inc.user.platform, "could not handle an update");
        }
    }

    async fn try_handle(&self, inc: &Incoming) -> Result<(), StoreError> {
        let now = self.now();
        let (platform, update_id) = (inc.user.platform, inc.update_id.clone());
        let seen_inc = inc.clone();
        let user = self
            .store
            .call(move |s| {
                if !s.mark_processed(platform, &update_id, now)? {
                    return Ok(None); // redelivered after a restart: handled already
                }
                let seen = SeenUser {
                    key: &seen_inc.user,
                    display_name: &seen_inc.display_name,
                    username: seen_inc.username.as_deref(),
                    client_language: seen_inc.language_code.as_deref(),
                };
                s.upsert_user(&seen, now)?;
                s.user(&seen_inc.user)
            })
            .await?;
        let Some(user) = user else {
            tracing::debug!(update = %inc.update_id, "duplicate update ignored");
            return Ok(());
        };
        let lang = self.lang_of(&user);
        if !inc.chat.is_group {
            self.replay_backlog(&user).await?;
        }
        if let Err(refusal) = self.action_limiter().check(&user.key, self.clock.now_ms()) {
            if refusal.tell {
                let secs = refusal.wait.as_secs().max(1);
                self.reply(&inc.chat, Output::plain(i18n::slow_down(lang, secs)));
            } else {
                tracing::debug!(user = %user.key, "over the action limit again; dropped quietly");
            }
            return Ok(());
        }
        let text = match &inc.kind {
            IncomingKind::Text(t) => Some(t.as_str()),
            IncomingKind::Button { command } => Some(command.as_str()),
            IncomingKind::File { .. } | IncomingKind::Remote { .. } => None,
        };
        if let Some(parsed) = text.and_then(commands::parse) {
            let ctx = CommandContext {
                router: self,
                inc,
                user: &user,
                lang,
            };
            let replies = commands::execute(&ctx, parsed).await?;
            for r in replies {
                self.reply(&inc.chat, r);
            }
            return Ok(());
        }
        self.forward_prompt(inc, &user, lang).await
    }

    fn action_limiter(&self) -> std::sync::MutexGuard<'_, ActionLimiter> {
        self.action_limiter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    async fn forward_prompt(
        &self,
        inc: &Incoming,
        user: &User,
        lang: Lang,
    ) -> Result<(), StoreError> {
        let Some(instance_id) = user.active_instance else {
            // Unbound users learn how to bind, and nothing of theirs reaches OpenCode.
            self.reply(&inc.chat, Output::plain(i18n::bind_instructions(lang)));
            return Ok(());
        };
        // Only now, with the sender known to be bound, is a file downloaded.
        let Some(kind) = fetch_attachment(self, inc, lang).await else {
            return Ok(());
        };
        let parts = match &*kind {
            IncomingKind::Text(t) | IncomingKind::Button { command: t } => {
                if t.trim().is_empty() {
                    return Ok(());
                }
                let chars = t.chars().count();
                if chars > MAX_PROMPT_CHARS {
                    // A pasted log or file: nothing is cut; it travels as an attachment,
                    // which is how OpenCode takes large text anyway.
                    self.reply(
                        &inc.chat,
                        Output::plain(i18n::sent_as_file(lang, chars, LONG_MESSAGE_FILE)),
                    );
                    vec![
                        PromptPart::Text(format!(
                            "(My message was {chars} characters long, so it is attached as {LONG_MESSAGE_FILE}.)"
                        )),
                        PromptPart::File {
                            name: LONG_MESSAGE_FILE.into(),
                            mime: "text/plain".into(),
                            bytes: t.as_bytes().to_vec(),
                        },
                    ]
                } else {
                    vec![PromptPart::Text(t.clone())]
                }
            }
            IncomingKind::Remote { .. } => return Ok(()), // fetched above
            IncomingKind::File {
                name,
                mime,
                bytes,
                caption,
            } => {
                let mut parts = Vec::new();
                if let Some(c) = caption.as_ref().filter(|c| !c.trim().is_empty()) {
                    parts.push(PromptPart::Text(c.clone()));
                }
                match attachment_kind(mime, bytes) {
                    Attachment::AsSent => parts.push(PromptPart::File {
                        name: name.clone(),
                        mime: mime.clone(),
                        bytes: bytes.clone(),
                    }),
                    Attachment::Text => parts.push(PromptPart::File {
                        name: name.clone(),
                        mime: "text/plain".into(),
                        bytes: bytes.clone(),
                    }),
                    Attachment::Binary => {
                        // The model refuses such parts and the whole turn would fail.
                        self.reply(
                            &inc.chat,
                            Output::plain(i18n::binary_not_attached(lang, name, bytes.len())),
                        );
                        parts.push(PromptPart::Text(format!(
                            "(I sent the binary file {name}, {} bytes, {mime}; its content cannot be attached.)",
                            bytes.len()
                        )));
                    }
                }
                parts
            }
        };
        let key = user.key.clone();
        let now = self.now();
        let inst = self
            .store
            .call(move |s| {
                s.touch_binding(&key, instance_id, now)?;
                s.instance(instance_id)
            })
            .await?;
        let Some(inst) = inst else {
            self.reply(&inc.chat, Output::plain(i18n::bind_instructions(lang)));
            return Ok(());
        };
        let sender = Sender {
            user: user.key.clone(),
            handle: user.handle(),
        };
        if let Err(e) = self.services.workspace.prompt(&inst, &sender, parts).await {
            self.reply(&inc.chat, Output::plain(describe_service_error(lang, &e)));
        }
        Ok(())
    }

    /// Sends a reply to the chat a message came from.
    pub fn reply(&self, chat: &ChatRef, body: Output) -> Option<LocalId> {
        self.fanout.reply(chat, body)
    }

    /// Sends to one user's private chat, framed for that user (header, footer).
    pub async fn send_to_user(
        &self,
        user: &User,
        instance_id: Option<Uuid>,
        body: Output,
    ) -> Result<Option<Delivered>, StoreError> {
        self.fanout.send_to_user(user, instance_id, body).await
    }

    /// Sends output about an instance to every user bound to it, each in their language.
    pub async fn broadcast(
        &self,
        instance_id: Uuid,
        except: Option<&UserKey>,
        body: impl Fn(Lang) -> Output,
    ) -> Result<Vec<Delivered>, StoreError> {
        self.fanout.broadcast(instance_id, except, body).await
    }

    /// Replaces a delivered message, keeping its framing.
    pub async fn edit(
        &self,
        d: &Delivered,
        instance_id: Uuid,
        body: Output,
    ) -> Result<(), StoreError> {
        self.fanout.edit(d, instance_id, body).await
    }

    pub fn delete(&self, d: &Delivered) {
        self.fanout.delete(d);
    }

    /// `/reset-qr`: new `qr_version`, every binding removed, the removed users told (all but
    /// `quiet`, who gets their own reply), new web-terminal credentials. Bans stay.
    /// Returns who was removed.
    pub async fn reset_qr(
        &self,
        inst: &crate::store::Instance,
        quiet: Option<&UserKey>,
    ) -> Result<Vec<UserKey>, StoreError> {
        let id = inst.id;
        let (_, kicked) = self.store.call(move |s| s.reset_qr(id)).await?;
        tracing::info!(instance = %inst.name, kicked = kicked.len(), "QR reset");
        if let Err(e) = self.services.terminal.rotate().await {
            tracing::warn!(error = %e, "could not rotate the web terminal's credentials");
        }
        for key in kicked.iter().filter(|k| Some(*k) != quiet) {
            let k = key.clone();
            if let Some(user) = self.store.call(move |s| s.user(&k)).await? {
                let lang = self.lang_of(&user);
                self.send_to_user(
                    &user,
                    None,
                    Output::notice(i18n::kicked_by_reset(lang, &inst.name)),
                )
                .await?;
            }
        }
        Ok(kicked)
    }

    /// Sends "you missed N messages" and then the kept output, once the user is back.
    pub async fn replay_backlog(&self, user: &User) -> Result<(), StoreError> {
        self.fanout.replay_backlog(user).await
    }
}

/// One sentence for a service failure, in the user's language.
pub fn describe_service_error(lang: Lang, e: &ServiceError) -> String {
    match e {
        ServiceError::NotAvailable(what) => i18n::not_available(lang, what),
        ServiceError::Failed(msg) => i18n::failed(lang, msg),
        ServiceError::NotFound(what) => i18n::failed(
            lang,
            &format!("{what} ({})", lang.pick("未找到", "not found")),
        ),
        ServiceError::Unreachable(url) => {
            i18n::failed(lang, &i18n::turn::opencode_unreachable(lang, url))
        }
    }
}

/// How a file from a user can reach the model.
#[derive(Debug, PartialEq, Eq)]
enum Attachment {
    /// Pictures, PDFs and text: what OpenCode passes to models.
    AsSent,
    /// Text under another label (`application/octet-stream` for a `.log`, `.rs`, …).
    Text,
    /// Anything else: models refuse it, failing the whole turn.
    Binary,
}

fn attachment_kind(mime: &str, bytes: &[u8]) -> Attachment {
    let mime = mime.to_ascii_lowercase();
    if mime.starts_with("image/") || mime == "application/pdf" || mime.starts_with("text/") {
        Attachment::AsSent
    } else if !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok() {
        Attachment::Text
    } else {
        Attachment::Binary
    }
}

#[cfg(test)]
mod tests;
