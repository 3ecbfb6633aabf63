//! [`Inner`]: the Bot API clients and the state the long-poll loop and delivery share
//! (who the bot is, the redactor, formatting, half-done sends). Both depend on it; it
//! depends on neither.

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::Duration;

use teloxide::prelude::*;
use teloxide::{ApiError, RequestError};

use crate::client::TelegramError;
use crate::commands::MenuCommand;
use crate::errors::Redactor;
use crate::plan::Format;
use crate::resume::ResumeBook;

/// Telegram's documented limits: 4096 characters per message, 1024 per caption.
pub(crate) const MAX_TEXT: usize = 4096;
pub(crate) const MAX_CAPTION: usize = 1024;
/// Telegram allows about one message per second per chat, edits included. The outbox
/// spaces calls by this much measured on our clock; request latency jitter can bring two
/// arrivals a few milliseconds closer, so keep a small margin over the full second.
pub(crate) const PER_CHAT_INTERVAL: Duration = Duration::from_millis(1050);
/// Telegram's "about one message per second" per chat is an average: short bursts pass
/// (IM.md §2.8). A chat whose budget is whole takes this many calls back to back, so a quick
/// turn's answer does not wait behind the messages of its start.
pub(crate) const PER_CHAT_BURST: u32 = 3;

/// Who the bot is (from getMe).
#[derive(Debug, Clone)]
pub(crate) struct Me {
    pub username: Option<String>,
}

pub(crate) struct Inner {
    pub bot: Bot,
    pub poll_bot: Bot,
    pub redact: Redactor,
    pub format: Format,
    pub commands: Vec<MenuCommand>,
    pub render_cache: Option<PathBuf>,
    pub poll_timeout: Duration,
    pub me: RwLock<Option<Me>>,
    pub resume: Mutex<ResumeBook>,
}

impl Inner {
    pub(crate) fn username(&self) -> Option<String> {
        self.me
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(|m| m.username.clone())
    }

    /// Calls getMe and remembers the bot's username.
    pub(crate) async fn refresh_me(&self) -> Result<Me, TelegramError> {
        match self.bot.get_me().await {
            Ok(me) => {
                let me = Me {
                    username: me.user.username.clone(),
                };
                *self.me.write().unwrap_or_else(PoisonError::into_inner) = Some(me.clone());
                Ok(me)
            }
            Err(RequestError::Api(ApiError::InvalidToken)) => Err(TelegramError::Unauthorized),
            Err(e) => Err(TelegramError::GetMe(self.redact.describe(&e))),
        }
    }
}
