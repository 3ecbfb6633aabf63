//! The one trait every IM platform implements. Small on purpose: the relay and router
//! know nothing of any platform API beyond this and [`PlatformLimits`].

use crate::identity::{Platform, UserKey};
use crate::output::Envelope;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use thiserror::Error;
use tokio::sync::mpsc;

/// Where output goes: a private chat with one user, or a group conversation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChatRef {
    pub platform: Platform,
    /// Telegram chat id; DingTalk staff id (private) or openConversationId (group).
    pub chat_id: String,
    pub is_group: bool,
}

impl ChatRef {
    /// The private chat of a user (on both platforms addressed by the user id).
    pub fn private(user: &UserKey) -> Self {
        Self {
            platform: user.platform,
            chat_id: user.user_id.clone(),
            is_group: false,
        }
    }

    /// The user whose private chat this is.
    pub fn private_user(&self) -> Option<UserKey> {
        (!self.is_group).then(|| UserKey::new(self.platform, self.chat_id.clone()))
    }
}

/// What a platform allows; the outbox and the output policy read it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformLimits {
    pub max_text_chars: usize,
    /// Average gap between calls to one chat (edits included): the refill time of one unit
    /// of the chat's token bucket.
    pub per_chat_interval: Duration,
    /// Calls one chat may take back to back when its bucket is whole (1: strict spacing).
    pub per_chat_burst: u32,
    /// Calls per minute to one group chat.
    pub group_per_minute: u32,
    /// Calls per second across the whole bot.
    pub global_per_second: u32,
    pub supports_edit: bool,
    pub supports_albums: bool,
    /// Code blocks up to this many lines may stay inline (0: every code block is an image).
    pub inline_code_max_lines: usize,
}

#[cfg(test)]
impl PlatformLimits {
    /// A Telegram-like platform without pacing, for tests about something else.
    pub(crate) fn unpaced() -> Self {
        PlatformLimits {
            max_text_chars: 4096,
            per_chat_interval: Duration::ZERO,
            per_chat_burst: 1,
            group_per_minute: 1000,
            global_per_second: 1000,
            supports_edit: true,
            supports_albums: true,
            inline_code_max_lines: 10,
        }
    }
}

/// An opaque platform message id the adapter returns from `send` and accepts in `edit`.
pub type SentId = String;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DeliveryError {
    /// The platform asked us to wait (Telegram 429, DingTalk QpsLimit).
    #[error("rate limited, retry after {0:?}")]
    RetryAfter(Duration),
    /// Network trouble or 5xx: worth retrying with backoff.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// The user cannot be reached now (blocked the bot, webhook expired): keep for later.
    #[error("recipient unreachable: {0}")]
    Unreachable(String),
    /// The platform refused the content for good; retrying the same call cannot help.
    #[error("rejected: {0}")]
    Rejected(String),
}

/// A message, command, button press or file from a user.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// Unique per platform; recorded so a redelivered update is handled once.
    pub update_id: String,
    pub user: UserKey,
    pub display_name: String,
    pub username: Option<String>,
    /// The client's language (Telegram `language_code`), if the platform tells.
    pub language_code: Option<String>,
    pub chat: ChatRef,
    pub kind: IncomingKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum IncomingKind {
    /// Text as typed; commands start with `/`.
    Text(String),
    /// A button press carrying the command it stands for.
    Button { command: String },
    /// A photo or document, already downloaded, with an optional caption.
    File {
        name: String,
        mime: String,
        bytes: Vec<u8>,
        caption: Option<String>,
    },
    /// A photo or document not downloaded yet: the router fetches it only once it knows the
    /// sender is bound, so an outsider's file (up to 20 MB) is never downloaded.
    Remote {
        name: String,
        caption: Option<String>,
        file: RemoteFile,
    },
}

/// What a [`RemoteFile`] fetch gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    File {
        mime: String,
        bytes: Vec<u8>,
    },
    /// Over the platform's download limit (the size seen, when known).
    TooLarge(u64),
}

/// Downloads one user file from the platform.
#[async_trait]
pub trait FetchFile: Send + Sync {
    /// A failure is described without secrets (file URLs can carry tokens).
    async fn fetch(&self) -> Result<Fetched, String>;
}

/// A handle on a user's file at the platform; compared by identity.
#[derive(Clone)]
pub struct RemoteFile(pub std::sync::Arc<dyn FetchFile>);

impl std::fmt::Debug for RemoteFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RemoteFile(..)")
    }
}

impl PartialEq for RemoteFile {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

pub type IncomingSink = mpsc::Sender<Incoming>;

#[derive(Debug, Error)]
pub enum AdapterError {
    #[error("{0}")]
    Fatal(String),
}

#[async_trait]
pub trait Adapter: Send + Sync + 'static {
    fn platform(&self) -> Platform;

    fn limits(&self) -> PlatformLimits;

    /// Receives updates until `sink` closes; reconnects on its own with backoff.
    async fn run(&self, sink: IncomingSink) -> Result<(), AdapterError>;

    /// Sends one output (possibly as several platform messages). Returns the id of the
    /// message a later `edit` should change.
    async fn send(&self, chat: &ChatRef, out: &Envelope) -> Result<SentId, DeliveryError>;

    /// Replaces a sent message. "Not modified" counts as success.
    async fn edit(&self, chat: &ChatRef, id: &SentId, out: &Envelope) -> Result<(), DeliveryError>;

    async fn delete(&self, chat: &ChatRef, id: &SentId) -> Result<(), DeliveryError>;

    /// How many platform calls `send` makes for this output (the outbox paces by it).
    fn cost(&self, _out: &Envelope) -> u32 {
        1
    }
}
