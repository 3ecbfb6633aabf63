//! Telegram's flood limits as sliding windows.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// At most `max` counted calls in any window of `per`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub max: usize,
    pub per: Duration,
}

impl Rate {
    pub const fn new(max: usize, per: Duration) -> Self {
        Self { max, per }
    }
}

/// Which calls count against which window. `None` switches a window off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Every chat, private or group (Telegram: about 1 message per second).
    pub per_chat: Option<Rate>,
    /// Group chats (negative ids) additionally (Telegram: 20 per minute).
    pub per_group: Option<Rate>,
    /// The whole bot (Telegram: about 30 per second).
    pub global: Option<Rate>,
    /// `sendMessage` counts.
    pub count_sends: bool,
    /// `editMessageText`/`editMessageReplyMarkup`/`editMessageCaption` count.
    pub count_edits: bool,
    /// `sendPhoto`, `sendDocument` and `sendMediaGroup` (one album counts once) count.
    pub count_media: bool,
    /// `deleteMessage` counts.
    pub count_deletes: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self::telegram()
    }
}

impl Limits {
    /// The documented Telegram limits; edits count like sends.
    pub fn telegram() -> Self {
        Self {
            per_chat: Some(Rate::new(1, Duration::from_secs(1))),
            per_group: Some(Rate::new(20, Duration::from_secs(60))),
            global: Some(Rate::new(30, Duration::from_secs(1))),
            count_sends: true,
            count_edits: true,
            count_media: true,
            count_deletes: false,
        }
    }

    /// No 429s at all.
    pub fn unlimited() -> Self {
        Self {
            per_chat: None,
            per_group: None,
            global: None,
            ..Self::telegram()
        }
    }

    fn counts(&self, kind: Counted) -> bool {
        match kind {
            Counted::Send => self.count_sends,
            Counted::Edit => self.count_edits,
            Counted::Media => self.count_media,
            Counted::Delete => self.count_deletes,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Counted {
    Send,
    Edit,
    Media,
    Delete,
}

#[derive(Default)]
pub(crate) struct RateLimiter {
    chats: HashMap<i64, VecDeque<Instant>>,
    groups: HashMap<i64, VecDeque<Instant>>,
    global: VecDeque<Instant>,
}

impl RateLimiter {
    /// Admits the call and records it, or returns `retry_after` in whole seconds (at least 1).
    /// Refused calls are not recorded, so a client that waits `retry_after` gets through.
    pub(crate) fn admit(
        &mut self,
        limits: &Limits,
        chat_id: i64,
        kind: Counted,
        now: Instant,
    ) -> Result<(), u64> {
        if !limits.counts(kind) {
            return Ok(());
        }
        let chat = self.chats.entry(chat_id).or_default();
        let group = (chat_id < 0).then(|| self.groups.entry(chat_id).or_default());
        let mut windows: Vec<(&mut VecDeque<Instant>, Option<Rate>)> =
            vec![(chat, limits.per_chat), (&mut self.global, limits.global)];
        if let Some(group) = group {
            windows.push((group, limits.per_group));
        }
        let wait = windows
            .iter_mut()
            .filter_map(|(q, rate)| rate.and_then(|rate| wait_needed(q, rate, now)))
            .max();
        if let Some(wait) = wait {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(secs.max(1));
        }
        for (q, rate) in windows {
            if rate.is_some() {
                q.push_back(now);
            }
        }
        Ok(())
    }
}

/// How long until the window has room again, if it is full now.
fn wait_needed(q: &mut VecDeque<Instant>, rate: Rate, now: Instant) -> Option<Duration> {
    while q
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= rate.per)
    {
        q.pop_front();
    }
    if q.len() < rate.max {
        return None;
    }
    let oldest = *q.get(q.len() - rate.max)?;
    Some((oldest + rate.per).saturating_duration_since(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_message_in_a_second_waits() {
        let mut rl = RateLimiter::default();
        let l = Limits::telegram();
        let t0 = Instant::now();
        assert_eq!(rl.admit(&l, 1, Counted::Send, t0), Ok(()));
        assert_eq!(
            rl.admit(&l, 1, Counted::Edit, t0 + Duration::from_millis(100)),
            Err(1)
        );
        assert_eq!(
            rl.admit(&l, 2, Counted::Send, t0 + Duration::from_millis(100)),
            Ok(())
        );
        assert_eq!(
            rl.admit(&l, 1, Counted::Send, t0 + Duration::from_millis(1000)),
            Ok(())
        );
        assert_eq!(
            rl.admit(&l, 1, Counted::Delete, t0 + Duration::from_millis(1001)),
            Ok(())
        );
    }

    #[test]
    fn group_minute_window() {
        let mut rl = RateLimiter::default();
        let l = Limits {
            per_chat: None,
            ..Limits::telegram()
        };
        let t0 = Instant::now();
        for i in 0..20 {
            assert_eq!(
                rl.admit(&l, -5, Counted::Send, t0 + Duration::from_millis(100 * i)),
                Ok(())
            );
        }
        let r = rl.admit(&l, -5, Counted::Send, t0 + Duration::from_secs(30));
        assert_eq!(r, Err(30));
    }
}
