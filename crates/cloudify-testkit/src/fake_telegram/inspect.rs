//! What the bot did, as tests read it, and waits with timeouts.

use std::time::{Duration, Instant};

use serde_json::json;

use super::FakeTelegram;
use super::model::{BotCommand, Call, CallbackAnswer, Event, Message, RateLimited};

impl FakeTelegram {
    /// Everything in the chat, in order: injected messages, sends, edits, deletions, albums,
    /// chat actions, answered callbacks.
    pub fn events(&self, chat_id: i64) -> Vec<Event> {
        let st = self.shared.lock();
        st.chats
            .get(&chat_id)
            .map(|c| c.events.clone())
            .unwrap_or_default()
    }

    /// The bot's messages in the chat as the user sees them now (after edits; deleted ones
    /// left out), oldest first.
    pub fn messages(&self, chat_id: i64) -> Vec<Message> {
        self.all_messages(chat_id)
            .into_iter()
            .filter(|m| m.from_bot() && !m.is_deleted())
            .collect()
    }

    /// Every message of the chat, both sides, deleted ones included.
    pub fn all_messages(&self, chat_id: i64) -> Vec<Message> {
        let st = self.shared.lock();
        st.chats
            .get(&chat_id)
            .map(|c| c.messages.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn message(&self, chat_id: i64, message_id: i32) -> Option<Message> {
        let st = self.shared.lock();
        st.chats.get(&chat_id)?.messages.get(&message_id).cloned()
    }

    /// The texts of the bot's live messages, oldest first.
    pub fn texts(&self, chat_id: i64) -> Vec<String> {
        self.messages(chat_id)
            .iter()
            .map(|m| m.text().to_owned())
            .collect()
    }

    /// The bot's messages sent to the chat since `since`, as they were when sent (later
    /// edits not applied).
    pub fn sent_since(&self, chat_id: i64, since: Instant) -> Vec<Message> {
        self.events(chat_id)
            .into_iter()
            .filter_map(|e| match e {
                Event::Sent(m) if m.at >= since => Some(m),
                _ => None,
            })
            .collect()
    }

    /// Every HTTP call, with its outcome, in arrival order.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.lock().calls.clone()
    }

    /// Calls to one method (case-insensitive name).
    pub fn calls_to(&self, method: &str) -> Vec<Call> {
        let st = self.shared.lock();
        st.calls
            .iter()
            .filter(|c| c.method.eq_ignore_ascii_case(method))
            .cloned()
            .collect()
    }

    pub fn callback_answers(&self) -> Vec<CallbackAnswer> {
        self.shared.lock().answers.clone()
    }

    /// The commands set for the default scope and no language.
    pub fn commands(&self) -> Vec<BotCommand> {
        self.commands_for(None, "")
    }

    /// The commands for a scope (`{"type":"all_private_chats"}`, …) and language code.
    pub fn commands_for(
        &self,
        scope: Option<serde_json::Value>,
        language_code: &str,
    ) -> Vec<BotCommand> {
        let scope = scope
            .unwrap_or_else(|| json!({"type": "default"}))
            .to_string();
        let st = self.shared.lock();
        st.commands
            .get(&(scope, language_code.to_owned()))
            .cloned()
            .unwrap_or_default()
    }

    /// Every 429 answered (flood limits and injected ones).
    pub fn rate_limited(&self) -> Vec<RateLimited> {
        self.shared.lock().rate_limited.clone()
    }

    pub fn rate_limited_count(&self) -> usize {
        self.shared.lock().rate_limited.len()
    }

    /// Updates injected but not yet confirmed by a getUpdates offset.
    pub fn pending_updates(&self) -> usize {
        self.shared.lock().updates.len()
    }

    /// Waits until `check` returns `Some`, re-checking on every change of the fake.
    /// Returns `None` on timeout.
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&Self) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut changed = self.shared.changed.subscribe();
        loop {
            if let Some(found) = check(self) {
                return Some(found);
            }
            let wait = tokio::time::timeout_at(deadline.into(), changed.changed());
            if wait.await.is_err() {
                return check(self);
            }
        }
    }

    /// The first live bot message in the chat matching `pred`, waiting up to `timeout`.
    /// Panics with the chat's messages on timeout.
    pub async fn wait_for_message(
        &self,
        chat_id: i64,
        pred: impl Fn(&Message) -> bool,
        timeout: Duration,
    ) -> Message {
        let found = self
            .wait_until(timeout, |tg| {
                tg.messages(chat_id).into_iter().find(|m| pred(m))
            })
            .await;
        found.unwrap_or_else(|| {
            panic!(
                "no matching bot message in chat {chat_id} after {timeout:?}; messages: {:#?}",
                self.texts(chat_id)
            )
        })
    }

    /// The first event in the chat matching `pred`, waiting up to `timeout`; panics on timeout.
    pub async fn wait_for_event(
        &self,
        chat_id: i64,
        pred: impl Fn(&Event) -> bool,
        timeout: Duration,
    ) -> Event {
        let found = self
            .wait_until(timeout, |tg| {
                tg.events(chat_id).into_iter().find(|e| pred(e))
            })
            .await;
        found.unwrap_or_else(|| {
            panic!(
                "no matching event in chat {chat_id} after {timeout:?}; events: {:#?}",
                self.events(chat_id)
            )
        })
    }

    /// Waits until the bot confirmed (via the getUpdates offset) every injected update.
    pub async fn wait_updates_consumed(&self, timeout: Duration) -> bool {
        self.wait_until(timeout, |tg| (tg.pending_updates() == 0).then_some(()))
            .await
            .is_some()
    }
}

/// The most calls Telegram's flood limits count ([`Call::is_counted`]) in any one second.
pub fn peak_per_second(calls: &[Call]) -> usize {
    let mut t: Vec<Instant> = calls
        .iter()
        .filter(|c| c.is_counted())
        .map(|c| c.at)
        .collect();
    t.sort();
    let mut lo = 0;
    (0..t.len())
        .map(|hi| {
            while t[hi].duration_since(t[lo]) >= Duration::from_secs(1) {
                lo += 1;
            }
            hi - lo + 1
        })
        .max()
        .unwrap_or(0)
}

/// Why each 429 came, a line each: the gap to the chat's previous accepted call and how many
/// accepted calls the second before it held.
pub fn explain_429s(calls: &[Call]) -> String {
    let ok = |c: &&Call| c.is_counted() && c.status != 429;
    calls
        .iter()
        .filter(|c| c.status == 429)
        .map(|c| {
            let gap = calls
                .iter()
                .filter(ok)
                .filter(|p| p.chat_id == c.chat_id && p.at < c.at)
                .map(|p| c.at.duration_since(p.at))
                .min();
            let window = calls
                .iter()
                .filter(ok)
                .filter(|p| p.at <= c.at && c.at.duration_since(p.at) < Duration::from_secs(1))
                .count();
            format!(
                "429 {} chat {:?}: previous call to the chat {gap:?} before, {window} calls in the second before",
                c.method, c.chat_id
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
