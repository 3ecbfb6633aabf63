//! getUpdates (a real long poll) and the updates tests inject.

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Value, json};

use super::media;
use super::model::{Event, FormattedText, Group, Injected, Message, Outage, User};
use super::params::{ApiError, Params, Upload};
use super::send;
use super::state::{PendingCallback, Shared, State};
use super::text;

/// Telegram's default when `allowed_updates` is empty or never set.
const NOT_BY_DEFAULT: &[&str] = &["chat_member", "message_reaction", "message_reaction_count"];

pub(crate) async fn get_updates(shared: &Shared, p: &Params) -> Result<Value, ApiError> {
    let timeout = Duration::from_secs(u64::try_from(p.int("timeout").unwrap_or(0)).unwrap_or(0));
    let limit = usize::try_from(p.int("limit").unwrap_or(100).clamp(1, 100)).unwrap_or(100);
    let deadline = Instant::now() + timeout;
    let mut changed = shared.changed.subscribe();
    let mut outage = shared.outage.subscribe();
    let generation = {
        let mut st = shared.lock();
        if let Some(allowed) = p.json("allowed_updates")? {
            let list = allowed.as_array().cloned().unwrap_or_default();
            st.allowed_updates = Some(
                list.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
            );
        }
        if let Some(offset) = p.int("offset") {
            confirm(&mut st, offset);
        }
        st.poll_generation += 1;
        st.poll_generation
    };
    shared.notify(); // an older poll still waiting ends with 409, as on Telegram
    loop {
        {
            let mut st = shared.lock();
            if st.poll_generation != generation {
                return Err(ApiError::new(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                ));
            }
            let batch = take_batch(&mut st, limit);
            if !batch.is_empty() || Instant::now() >= deadline {
                return Ok(Value::Array(batch));
            }
        }
        tokio::select! {
            _ = changed.changed() => {}
            () = tokio::time::sleep_until(deadline.into()) => {}
            _ = outage.changed() => {
                if matches!(*outage.borrow(), Outage::BadGateway | Outage::Refuse | Outage::ServerErrors) {
                    return Err(ApiError::new(502, "Bad Gateway"));
                }
            }
        }
    }
}

/// `offset` forgets every update before it; a negative one keeps only the last `-offset`.
fn confirm(st: &mut State, offset: i64) {
    if offset < 0 {
        let keep = usize::try_from(-offset).unwrap_or(usize::MAX);
        while st.updates.len() > keep {
            st.updates.pop_front();
        }
    } else {
        st.updates.retain(|u| u.id >= offset);
    }
}

fn take_batch(st: &mut State, limit: usize) -> Vec<Value> {
    let allowed = st.allowed_updates.clone().filter(|a| !a.is_empty());
    let wanted = |kind: &str| match &allowed {
        Some(list) => list.iter().any(|a| a == kind),
        None => !NOT_BY_DEFAULT.contains(&kind),
    };
    // Updates of kinds the bot did not ask for are dropped, not kept for later.
    st.updates.retain(|u| u.kind == RAW_KIND || wanted(u.kind));
    st.updates
        .iter()
        .take(limit)
        .map(|u| {
            if u.kind == RAW_KIND {
                let raw = u.body.as_str().unwrap_or_default();
                let text = raw.replace("{update_id}", &u.id.to_string());
                let hex: String = text.bytes().map(|b| format!("{b:02x}")).collect();
                return Value::String(format!("{RAW_MARK}{hex}"));
            }
            let mut v = json!({ "update_id": u.id });
            v[u.kind] = u.body.clone();
            v
        })
        .collect()
}

/// Kind of a pending update injected as raw JSON text.
const RAW_KIND: &str = "raw";
/// A raw update travels through the `Value` of a batch as this prefix and its hex text;
/// [`body`] splices it into the response verbatim (a `Value` cannot hold everything a test
/// injects, e.g. a lone UTF-16 surrogate escape).
const RAW_MARK: &str = "\u{0}raw-update:";

/// The JSON text of a response, raw updates spliced in.
pub(crate) fn body(v: &Value) -> String {
    const MARK: &str = "\"\\u0000raw-update:";
    let text = v.to_string();
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(i) = rest.find(MARK) {
        out.push_str(&rest[..i]);
        let after = &rest[i + MARK.len()..];
        let end = after.find('"').unwrap_or(after.len());
        let bytes: Vec<u8> = (0..end / 2)
            .filter_map(|k| u8::from_str_radix(&after[2 * k..2 * k + 2], 16).ok())
            .collect();
        out.push_str(&String::from_utf8_lossy(&bytes));
        rest = after.get(end + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

impl super::FakeTelegram {
    /// Queues an update given as raw JSON text, sent verbatim in the next getUpdates batch
    /// whatever `allowed_updates` says: junk, unknown kinds, wrong types, escapes that are
    /// not valid UTF-16. `{update_id}` in the text becomes the id the fake assigned (returned),
    /// which the bot's offset confirms like any other.
    pub fn inject_raw_update(&self, raw: &str) -> i64 {
        self.with_notify(|st| st.push_update(RAW_KIND, Value::String(raw.to_owned())))
    }
}

impl State {
    fn inject(&mut self, message: Message) -> Injected {
        let body = self.message_json(&message);
        let (chat_id, message_id) = (message.chat_id, message.message_id);
        self.store(message.clone(), Event::UserMessage(message));
        let update_id = self.push_update("message", body);
        Injected {
            update_id,
            chat_id,
            message_id,
        }
    }

    fn user_message(&mut self, chat_id: i64, user: &User) -> Message {
        if chat_id == user.id {
            self.ensure_private(user);
        }
        self.new_message(chat_id, Some(user.clone()), Instant::now())
    }

    pub(crate) fn inject_text(
        &mut self,
        chat: Option<&Group>,
        user: &User,
        text: &str,
    ) -> Injected {
        if let Some(group) = chat {
            self.ensure_group(group);
        }
        let mut m = self.user_message(chat.map_or(user.id, |g| g.id), user);
        let mut t = FormattedText::plain(text);
        t.entities = text::command_entities(text);
        m.text = Some(t);
        self.inject(m)
    }

    pub(crate) fn inject_photo(
        &mut self,
        user: &User,
        bytes: Bytes,
        caption: Option<&str>,
    ) -> Injected {
        let info = media::sniff(&bytes).expect("inject a PNG or JPEG");
        let mut m = self.user_message(user.id, user);
        m.photo = Some(self.make_photo(bytes, info));
        m.caption = caption.map(FormattedText::plain);
        self.inject(m)
    }

    pub(crate) fn inject_document(
        &mut self,
        user: &User,
        upload: Upload,
        caption: Option<&str>,
    ) -> Injected {
        let mut m = self.user_message(user.id, user);
        m.document = Some(send::document(self, upload));
        m.caption = caption.map(FormattedText::plain);
        self.inject(m)
    }

    /// The newest live bot message in the chat with a button carrying `data`.
    pub(crate) fn find_button(&self, chat_id: i64, data: &str) -> Option<i32> {
        let chat = self.chats.get(&chat_id)?;
        chat.messages
            .values()
            .rev()
            .filter(|m| m.from_bot() && !m.is_deleted())
            .find(|m| m.buttons().iter().any(|(_, d)| d == data))
            .map(|m| m.message_id)
    }

    pub(crate) fn inject_press(
        &mut self,
        user: &User,
        chat_id: i64,
        message_id: i32,
        data: &str,
    ) -> String {
        let message = self.message_json(&self.chats[&chat_id].messages[&message_id]);
        let n = self.next_id();
        let id = format!("{}{n:06}", self.bot.id);
        self.callbacks.insert(
            id.clone(),
            PendingCallback {
                chat_id,
                message_id,
                data: data.to_owned(),
                answered: false,
            },
        );
        let body = json!({
            "id": id,
            "from": user.to_json(),
            "message": message,
            "chat_instance": format!("-{}", chat_id.unsigned_abs()),
            "data": data,
        });
        self.push_update("callback_query", body);
        id
    }
}
