//! The fake's memory: chats and their messages, pending updates, files, callbacks, history.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::limits::{Limits, RateLimiter};
use super::media::{self, ImageInfo};
use super::model::{
    BotCommand, Call, CallbackAnswer, Event, Group, Message, Outage, Photo, PhotoSize, RateLimited,
    User, put,
};

pub(crate) struct BotInfo {
    pub id: i64,
    pub first_name: String,
    pub username: String,
}

pub(crate) enum ChatKind {
    Private(User),
    Group(Group),
}

pub(crate) struct Chat {
    pub kind: ChatKind,
    pub next_message_id: i32,
    pub messages: BTreeMap<i32, Message>,
    pub events: Vec<Event>,
}

pub(crate) struct StoredFile {
    pub file_unique_id: String,
    pub path: String,
    pub bytes: Bytes,
}

pub(crate) struct PendingUpdate {
    pub id: i64,
    pub kind: &'static str,
    pub body: Value,
}

pub(crate) struct PendingCallback {
    pub chat_id: i64,
    pub message_id: i32,
    pub data: String,
    pub answered: bool,
}

pub(crate) struct State {
    pub bot: BotInfo,
    pub limits: Limits,
    pub limiter: RateLimiter,
    pub chats: HashMap<i64, Chat>,
    pub updates: VecDeque<PendingUpdate>,
    pub next_update_id: i64,
    pub allowed_updates: Option<Vec<String>>,
    pub poll_generation: u64,
    pub files: HashMap<String, StoredFile>,
    pub next_id: u64,
    pub callbacks: HashMap<String, PendingCallback>,
    /// Keyed by scope JSON and language code.
    pub commands: HashMap<(String, String), Vec<BotCommand>>,
    pub calls: Vec<Call>,
    pub answers: Vec<CallbackAnswer>,
    pub rate_limited: Vec<RateLimited>,
    /// Statuses for the next non-getUpdates calls.
    pub fail_next: VecDeque<u16>,
    pub blocked: HashSet<i64>,
}

pub(crate) fn unix_now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    i64::try_from(secs).unwrap_or(i64::MAX)
}

impl State {
    pub(crate) fn new(bot: BotInfo, limits: Limits) -> Self {
        Self {
            bot,
            limits,
            limiter: RateLimiter::default(),
            chats: HashMap::new(),
            updates: VecDeque::new(),
            next_update_id: 100_000_001,
            allowed_updates: None,
            poll_generation: 0,
            files: HashMap::new(),
            next_id: 1,
            callbacks: HashMap::new(),
            commands: HashMap::new(),
            calls: Vec::new(),
            answers: Vec::new(),
            rate_limited: Vec::new(),
            fail_next: VecDeque::new(),
            blocked: HashSet::new(),
        }
    }

    pub(crate) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub(crate) fn ensure_private(&mut self, user: &User) {
        let chat = self
            .chats
            .entry(user.id)
            .or_insert_with(|| new_chat(ChatKind::Private(user.clone())));
        chat.kind = ChatKind::Private(user.clone());
    }

    pub(crate) fn ensure_group(&mut self, group: &Group) {
        let chat = self
            .chats
            .entry(group.id)
            .or_insert_with(|| new_chat(ChatKind::Group(group.clone())));
        chat.kind = ChatKind::Group(group.clone());
    }

    /// A blank message with the chat's next id; the caller fills the content.
    pub(crate) fn new_message(&mut self, chat_id: i64, from: Option<User>, at: Instant) -> Message {
        let chat = self.chats.get_mut(&chat_id).expect("chat exists");
        let message_id = chat.next_message_id;
        chat.next_message_id += 1;
        Message {
            chat_id,
            message_id,
            from,
            at,
            date: unix_now(),
            text: None,
            caption: None,
            reply_markup: None,
            reply_to: None,
            photo: None,
            document: None,
            media_group_id: None,
            edits: Vec::new(),
            deleted_at: None,
        }
    }

    pub(crate) fn store(&mut self, message: Message, event: Event) {
        let chat = self.chats.get_mut(&message.chat_id).expect("chat exists");
        chat.messages.insert(message.message_id, message);
        chat.events.push(event);
    }

    pub(crate) fn store_file(&mut self, bytes: Bytes, dir: &str, ext: &str) -> (String, String) {
        let n = self.next_id();
        let file_id = format!("BQACAgIAAxkBAAI{n:08}");
        let file_unique_id = format!("AgAD{n:06}");
        let path = format!("{dir}/file_{n}.{ext}");
        self.files.insert(
            file_id.clone(),
            StoredFile {
                file_unique_id: file_unique_id.clone(),
                path,
                bytes,
            },
        );
        (file_id, file_unique_id)
    }

    /// Stores a photo; every listed size gets its own file id (all share the original bytes).
    pub(crate) fn make_photo(&mut self, bytes: Bytes, info: ImageInfo) -> Photo {
        let sizes = media::photo_sizes(info.width, info.height)
            .into_iter()
            .map(|(width, height)| {
                let (file_id, file_unique_id) =
                    self.store_file(bytes.clone(), "photos", ext(info.format));
                PhotoSize {
                    file_id,
                    file_unique_id,
                    width,
                    height,
                    file_size: bytes.len(),
                }
            })
            .collect();
        Photo {
            format: info.format,
            width: info.width,
            height: info.height,
            bytes,
            sizes,
        }
    }

    pub(crate) fn push_update(&mut self, kind: &'static str, body: Value) -> i64 {
        let id = self.next_update_id;
        self.next_update_id += 1;
        self.updates.push_back(PendingUpdate { id, kind, body });
        id
    }

    pub(crate) fn bot_json(&self) -> Value {
        json!({"id": self.bot.id, "is_bot": true, "first_name": self.bot.first_name, "username": self.bot.username})
    }

    pub(crate) fn chat_json(&self, chat_id: i64) -> Value {
        match self.chats.get(&chat_id).map(|c| &c.kind) {
            Some(ChatKind::Private(u)) => {
                let mut v = json!({"id": u.id, "type": "private", "first_name": u.first_name});
                put(&mut v, "last_name", u.last_name.as_deref());
                put(&mut v, "username", u.username.as_deref());
                v
            }
            Some(ChatKind::Group(g)) => {
                let kind = if g.supergroup { "supergroup" } else { "group" };
                json!({"id": g.id, "type": kind, "title": g.title})
            }
            None => json!({"id": chat_id, "type": "private", "first_name": "?"}),
        }
    }

    /// The Bot API `Message` object, as teloxide expects it.
    pub(crate) fn message_json(&self, m: &Message) -> Value {
        let from = m
            .from
            .as_ref()
            .map_or_else(|| self.bot_json(), User::to_json);
        let mut v = json!({
            "message_id": m.message_id,
            "date": m.date,
            "chat": self.chat_json(m.chat_id),
            "from": from,
        });
        let entities = |t: &super::model::FormattedText| {
            Value::Array(
                t.entities
                    .iter()
                    .map(super::model::Entity::to_json)
                    .collect(),
            )
        };
        if let Some(t) = &m.text {
            v["text"] = t.text.clone().into();
            if !t.entities.is_empty() {
                v["entities"] = entities(t);
            }
        }
        if let Some(t) = &m.caption {
            v["caption"] = t.text.clone().into();
            if !t.entities.is_empty() {
                v["caption_entities"] = entities(t);
            }
        }
        if let Some(p) = &m.photo {
            let sizes = p.sizes.iter().map(|s| {
                json!({"file_id": s.file_id, "file_unique_id": s.file_unique_id,
                       "width": s.width, "height": s.height, "file_size": s.file_size})
            });
            v["photo"] = Value::Array(sizes.collect());
        }
        if let Some(d) = &m.document {
            let mut doc = json!({"file_id": d.file_id, "file_unique_id": d.file_unique_id,
                                 "file_size": d.bytes.len()});
            put(&mut doc, "file_name", d.file_name.as_deref());
            put(&mut doc, "mime_type", d.mime_type.as_deref());
            v["document"] = doc;
        }
        if let Some(markup) = &m.reply_markup {
            v["reply_markup"] = markup.clone();
        }
        put(&mut v, "media_group_id", m.media_group_id.as_deref());
        if !m.edits.is_empty() {
            v["edit_date"] = unix_now().into();
        }
        let chat = self.chats.get(&m.chat_id);
        if let Some(reply) = m.reply_to.and_then(|id| chat?.messages.get(&id)) {
            let mut reply = reply.clone();
            reply.reply_to = None; // Telegram nests one level only
            v["reply_to_message"] = self.message_json(&reply);
        }
        v
    }

    /// The bot's live message, or Telegram's error for a missing one.
    pub(crate) fn live_message(&self, chat_id: i64, message_id: i32) -> Option<&Message> {
        let m = self.chats.get(&chat_id)?.messages.get(&message_id)?;
        (!m.is_deleted()).then_some(m)
    }
}

fn new_chat(kind: ChatKind) -> Chat {
    Chat {
        kind,
        next_message_id: 1,
        messages: BTreeMap::new(),
        events: Vec::new(),
    }
}

pub(crate) fn ext(format: &str) -> &'static str {
    if format == "png" { "png" } else { "jpg" }
}

/// The fake's state as the HTTP side and the update queue share it.
pub(crate) struct Shared {
    pub token: String,
    pub state: Mutex<State>,
    /// Bumped on every change; long polls and test waits subscribe to it.
    pub changed: watch::Sender<u64>,
    pub outage: watch::Sender<Outage>,
    /// Requests answered during `Outage::ServerErrors`, to alternate 502 and 500.
    pub server_errors: AtomicU64,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock must not hide the real failure.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn notify(&self) {
        self.changed.send_modify(|v| *v += 1);
    }
}
