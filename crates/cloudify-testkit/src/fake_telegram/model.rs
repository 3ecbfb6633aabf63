//! What tests see: users, chats, messages as the fake stores them, and the recorded history.

use std::time::Instant;

use bytes::Bytes;
use serde_json::{Value, json};

/// A Telegram user on the other side of the bot (the phone user in tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub first_name: String,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub language_code: Option<String>,
}

impl User {
    pub fn new(id: i64, first_name: &str) -> Self {
        Self {
            id,
            first_name: first_name.to_owned(),
            last_name: None,
            username: None,
            language_code: None,
        }
    }

    pub fn username(mut self, username: &str) -> Self {
        self.username = Some(username.to_owned());
        self
    }

    pub fn language_code(mut self, code: &str) -> Self {
        self.language_code = Some(code.to_owned());
        self
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut v = json!({"id": self.id, "is_bot": false, "first_name": self.first_name});
        put(&mut v, "last_name", self.last_name.as_deref());
        put(&mut v, "username", self.username.as_deref());
        put(&mut v, "language_code", self.language_code.as_deref());
        v
    }
}

/// A group chat the bot is a member of. Telegram group ids are negative.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub id: i64,
    pub title: String,
    pub supergroup: bool,
}

impl Group {
    pub fn new(id: i64, title: &str) -> Self {
        assert!(id < 0, "Telegram group ids are negative");
        Self {
            id,
            title: title.to_owned(),
            supergroup: false,
        }
    }

    pub fn supergroup(mut self) -> Self {
        self.supergroup = true;
        self
    }
}

/// One Telegram message entity; offsets and lengths are in UTF-16 code units, as on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entity {
    /// Telegram's `type`: `bold`, `italic`, `code`, `pre`, `text_link`, `bot_command`, ...
    pub kind: String,
    pub offset: usize,
    pub length: usize,
    pub url: Option<String>,
    pub language: Option<String>,
    pub custom_emoji_id: Option<String>,
}

impl Entity {
    pub(crate) fn new(kind: &str, offset: usize, length: usize) -> Self {
        Self {
            kind: kind.to_owned(),
            offset,
            length,
            url: None,
            language: None,
            custom_emoji_id: None,
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut v = json!({"type": self.kind, "offset": self.offset, "length": self.length});
        put(&mut v, "url", self.url.as_deref());
        put(&mut v, "language", self.language.as_deref());
        put(&mut v, "custom_emoji_id", self.custom_emoji_id.as_deref());
        v
    }

    pub(crate) fn from_json(v: &Value) -> Option<Self> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        Some(Self {
            kind: s("type")?,
            offset: usize::try_from(v.get("offset")?.as_u64()?).ok()?,
            length: usize::try_from(v.get("length")?.as_u64()?).ok()?,
            url: s("url"),
            language: s("language"),
            custom_emoji_id: s("custom_emoji_id"),
        })
    }
}

/// Text as the bot sent it and as Telegram shows it after entity parsing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormattedText {
    /// The `text`/`caption` parameter exactly as received.
    pub raw: String,
    pub parse_mode: Option<String>,
    /// What the user sees: markup removed, HTML entities decoded, outer whitespace trimmed.
    pub text: String,
    pub entities: Vec<Entity>,
}

impl FormattedText {
    pub(crate) fn plain(text: &str) -> Self {
        Self {
            raw: text.to_owned(),
            parse_mode: None,
            text: text.to_owned(),
            entities: vec![],
        }
    }
}

/// One size of a photo as Telegram lists it (thumbnails first, largest last).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhotoSize {
    pub file_id: String,
    pub file_unique_id: String,
    pub width: u32,
    pub height: u32,
    pub file_size: usize,
}

/// A photo with the dimensions decoded from the uploaded bytes.
#[derive(Clone, Debug)]
pub struct Photo {
    /// `png` or `jpeg`.
    pub format: &'static str,
    pub width: u32,
    pub height: u32,
    pub bytes: Bytes,
    pub sizes: Vec<PhotoSize>,
}

#[derive(Clone, Debug)]
pub struct Document {
    pub file_id: String,
    pub file_unique_id: String,
    pub file_name: Option<String>,
    pub mime_type: Option<String>,
    pub bytes: Bytes,
}

/// An accepted edit of a bot message.
#[derive(Clone, Debug)]
pub struct Edit {
    pub at: Instant,
    /// `editMessageText`, `editMessageCaption` or `editMessageReplyMarkup`.
    pub method: &'static str,
    /// New text (or caption); `None` for markup-only edits.
    pub text: Option<FormattedText>,
    pub reply_markup: Option<Value>,
}

/// A message in a chat: the bot's current view, after every accepted edit.
#[derive(Clone, Debug)]
pub struct Message {
    pub chat_id: i64,
    pub message_id: i32,
    /// `None` for the bot's own messages, the sender for injected ones.
    pub from: Option<User>,
    pub at: Instant,
    pub date: i64,
    pub text: Option<FormattedText>,
    pub caption: Option<FormattedText>,
    /// Only inline keyboards are kept on a message, as Telegram does.
    pub reply_markup: Option<Value>,
    pub reply_to: Option<i32>,
    pub photo: Option<Photo>,
    pub document: Option<Document>,
    pub media_group_id: Option<String>,
    pub edits: Vec<Edit>,
    pub deleted_at: Option<Instant>,
}

impl Message {
    pub fn from_bot(&self) -> bool {
        self.from.is_none()
    }

    /// The visible text, or the caption of a media message, or "".
    pub fn text(&self) -> &str {
        self.text
            .as_ref()
            .or(self.caption.as_ref())
            .map_or("", |t| t.text.as_str())
    }

    /// The text or caption as the bot sent it (markup included).
    pub fn raw(&self) -> &str {
        self.text
            .as_ref()
            .or(self.caption.as_ref())
            .map_or("", |t| t.raw.as_str())
    }

    pub fn entities(&self) -> &[Entity] {
        self.text
            .as_ref()
            .or(self.caption.as_ref())
            .map_or(&[], |t| t.entities.as_slice())
    }

    /// Inline keyboard buttons, row by row flattened: (label, callback_data or url).
    pub fn buttons(&self) -> Vec<(String, String)> {
        let rows = self
            .reply_markup
            .as_ref()
            .and_then(|m| m.get("inline_keyboard"));
        let buttons = rows.and_then(Value::as_array).into_iter().flatten();
        buttons
            .filter_map(Value::as_array)
            .flatten()
            .map(|b| {
                let field = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or_default();
                let target = if b.get("callback_data").is_some() {
                    field("callback_data")
                } else {
                    field("url")
                };
                (field("text").to_owned(), target.to_owned())
            })
            .collect()
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}

/// Everything that happened in one chat, in order.
#[derive(Clone, Debug)]
pub enum Event {
    /// A message injected by the test (a user wrote it).
    UserMessage(Message),
    /// The bot sent a message (snapshot at send time).
    Sent(Message),
    Edited {
        message_id: i32,
        edit: Edit,
    },
    Deleted {
        message_id: i32,
        at: Instant,
    },
    /// An album: every item is also in the chat's messages.
    MediaGroup {
        messages: Vec<Message>,
        at: Instant,
    },
    ChatAction {
        action: String,
        at: Instant,
    },
    CallbackAnswered(CallbackAnswer),
}

impl Event {
    pub fn at(&self) -> Instant {
        match self {
            Self::UserMessage(m) | Self::Sent(m) => m.at,
            Self::Edited { edit, .. } => edit.at,
            Self::Deleted { at, .. }
            | Self::MediaGroup { at, .. }
            | Self::ChatAction { at, .. } => *at,
            Self::CallbackAnswered(a) => a.at,
        }
    }
}

#[derive(Clone, Debug)]
pub struct CallbackAnswer {
    pub callback_query_id: String,
    pub chat_id: i64,
    pub message_id: i32,
    pub data: String,
    pub text: Option<String>,
    pub show_alert: bool,
    pub url: Option<String>,
    pub at: Instant,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotCommand {
    pub command: String,
    pub description: String,
}

/// One HTTP call to the Bot API, whatever its outcome.
#[derive(Clone, Debug)]
pub struct Call {
    pub at: Instant,
    /// Canonical Bot API name (`sendMessage`), whatever case the client used.
    pub method: String,
    pub chat_id: Option<i64>,
    /// Parameters as received; uploaded files appear as `{"file_name", "size"}`.
    pub params: Value,
    pub status: u16,
    /// The error description for non-2xx answers.
    pub error: Option<String>,
}

impl Call {
    /// Counted by Telegram's flood limits: sends and edits (deletes and reads are free).
    pub fn is_counted(&self) -> bool {
        self.method.starts_with("send") || self.method.starts_with("edit")
    }
}

/// A 429 the fake answered.
#[derive(Clone, Debug)]
pub struct RateLimited {
    pub at: Instant,
    pub method: String,
    pub chat_id: i64,
    pub retry_after: u64,
}

/// How the fake behaves as a network peer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Outage {
    #[default]
    Up,
    /// Every request gets 502 Bad Gateway (an HTML page, like Telegram's nginx).
    BadGateway,
    /// Connections are accepted and closed at once; open ones are reset.
    Refuse,
    /// Requests are read and never answered until the outage ends, then served normally.
    /// A request whose client gave up (timed out, closed the connection) is never served.
    Hang,
    /// Every request gets a 5xx, alternating nginx's 502 HTML page and a JSON
    /// `500 Internal Server Error`, as when Telegram's backends fail behind a live front.
    ServerErrors,
    /// Flood control: every call (getUpdates included) gets 429 with
    /// `parameters.retry_after` set to this many seconds; each one is in `rate_limited()`.
    Flood { retry_after: u64 },
}

/// A message injected by the test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Injected {
    pub update_id: i64,
    pub chat_id: i64,
    pub message_id: i32,
}

pub(crate) fn put(v: &mut Value, key: &str, val: Option<&str>) {
    if let Some(val) = val {
        v[key] = Value::from(val);
    }
}
