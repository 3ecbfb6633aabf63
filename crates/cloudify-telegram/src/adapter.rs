//! [`TelegramAdapter`]: the `Adapter` implementation over the clients of [`crate::bot`].

use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use cloudify_core::adapter::{
    Adapter, AdapterError, ChatRef, DeliveryError, IncomingSink, PlatformLimits, SentId,
};
use cloudify_core::identity::Platform;
use cloudify_core::output::Envelope;

use crate::bot::{Inner, MAX_CAPTION, MAX_TEXT, PER_CHAT_BURST, PER_CHAT_INTERVAL};
use crate::client::{TelegramError, TelegramOptions, bots};
use crate::errors::Redactor;
use crate::plan::{Format, Step, plan};
use crate::resume::ResumeBook;

/// The Telegram adapter. Cheap to clone; clones share clients and state.
#[derive(Clone)]
pub struct TelegramAdapter {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for TelegramAdapter {
    // teloxide's `Bot` prints its token in `Debug`: never show it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramAdapter")
            .field("username", &self.inner.username())
            .finish_non_exhaustive()
    }
}

impl TelegramAdapter {
    /// Builds the clients; no network until `connect`/`run`.
    pub fn new(opts: TelegramOptions) -> Result<Self, TelegramError> {
        let (bot, poll_bot) = bots(&opts)?;
        let inner = Inner {
            bot,
            poll_bot,
            redact: Redactor::new(opts.token.expose()),
            format: Format {
                max_text: MAX_TEXT,
                max_caption: MAX_CAPTION,
                inline_code_max_lines: opts.inline_code_max_lines,
            },
            commands: opts.commands,
            render_cache: opts.render_cache,
            poll_timeout: opts.poll_timeout,
            me: RwLock::new(None),
            resume: Mutex::new(ResumeBook::default()),
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// `new`, then getMe: fails at once on a bad token or an unreachable API, so the
    /// caller knows the bot's username (for deep links) before anything else.
    pub async fn connect(opts: TelegramOptions) -> Result<Self, TelegramError> {
        let me = Self::new(opts)?;
        me.inner.refresh_me().await?;
        Ok(me)
    }

    /// The bot's `@username` without `@`, once getMe answered (`connect` or `run`).
    pub fn bot_username(&self) -> Option<String> {
        self.inner.username()
    }
}

#[async_trait]
impl Adapter for TelegramAdapter {
    fn platform(&self) -> Platform {
        Platform::Telegram
    }

    fn limits(&self) -> PlatformLimits {
        PlatformLimits {
            max_text_chars: MAX_TEXT,
            per_chat_interval: PER_CHAT_INTERVAL,
            per_chat_burst: PER_CHAT_BURST,
            group_per_minute: 20,
            global_per_second: 30,
            supports_edit: true,
            supports_albums: true,
            inline_code_max_lines: self.inner.format.inline_code_max_lines,
        }
    }

    async fn run(&self, sink: IncomingSink) -> Result<(), AdapterError> {
        crate::poll::run(&self.inner, sink).await
    }

    async fn send(&self, chat: &ChatRef, out: &Envelope) -> Result<SentId, DeliveryError> {
        self.inner.send(chat, out).await
    }

    async fn edit(&self, chat: &ChatRef, id: &SentId, out: &Envelope) -> Result<(), DeliveryError> {
        self.inner.edit(chat, id, out).await
    }

    async fn delete(&self, chat: &ChatRef, id: &SentId) -> Result<(), DeliveryError> {
        self.inner.delete(chat, id).await
    }

    /// One call per text part, photo, album or document (a render's page count is
    /// estimated from its line count: one album, plus a document past ten pages).
    fn cost(&self, out: &Envelope) -> u32 {
        plan(out, &self.inner.format)
            .iter()
            .map(Step::calls)
            .sum::<u32>()
            .max(1)
    }
}
