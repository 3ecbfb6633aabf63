//! Telegram's flood limits.
//!
//! The model (IM.md §2.8 and Telegram's bot FAQ: "avoid sending more than one message per
//! second" to a chat, "we may allow short bursts that go over this limit, but eventually
//! you'll begin receiving 429 errors"; no more than 20 messages per minute to a group; about
//! 30 messages per second bot-wide):
//!
//! * **per chat, a token bucket** ([`Bucket`]): a chat whose budget is whole takes `burst`
//!   calls back to back; each call spends one unit, and units come back one per `every`.
//!   So 3 calls at once pass and the 4th gets 429, a stream at 1/s passes forever, and any
//!   stream faster than 1/s gets 429 once its burst is spent (2/s: at the 6th call). Kept
//!   as GCRA (one "full again at" instant per chat), exact to the nanosecond;
//! * **per group and bot-wide, sliding windows** ([`Rate`]): at most `max` calls in any
//!   window of `per`, as Telegram counts them (20 a minute per group, 30 a second overall);
//! * a call refused with 429 is not counted, and `retry_after` is the whole seconds until
//!   every window involved has room (at least 1), so a client that waits it gets through.

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

/// A token bucket: `burst` calls at once when whole, then one per `every` on average.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bucket {
    pub burst: usize,
    pub every: Duration,
}

impl Bucket {
    pub const fn new(burst: usize, every: Duration) -> Self {
        Self { burst, every }
    }
}

/// Which calls count against which limit. `None` switches a limit off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Every chat, private or group (Telegram: about 1 message per second on average,
    /// short bursts tolerated).
    pub per_chat: Option<Bucket>,
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
    /// The documented Telegram limits; edits count like sends. The burst of 3 is the
    /// outbox's (`cloudify-telegram`'s `PER_CHAT_BURST`): a faithful fake must not be more
    /// lenient than the bot assumes Telegram is.
    pub fn telegram() -> Self {
        Self {
            per_chat: Some(Bucket::new(3, Duration::from_secs(1))),
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
    /// Per chat: when its bucket is whole again (absent: whole).
    chats: HashMap<i64, Instant>,
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
        let full_at = self.chats.get(&chat_id).copied();
        let bucket = limits
            .per_chat
            .map(|b| (b, full_at.map_or(now, |t| t.max(now))));
        let group = (chat_id < 0).then(|| self.groups.entry(chat_id).or_default());
        let mut windows: Vec<(&mut VecDeque<Instant>, Option<Rate>)> =
            vec![(&mut self.global, limits.global)];
        if let Some(group) = group {
            windows.push((group, limits.per_group));
        }
        let wait = windows
            .iter_mut()
            .filter_map(|(q, rate)| rate.and_then(|rate| wait_needed(q, rate, now)))
            .chain(bucket.and_then(|(b, full_at)| bucket_wait(b, full_at, now)))
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
        if let Some((b, full_at)) = bucket {
            self.chats.insert(chat_id, full_at + b.every);
        }
        Ok(())
    }
}

/// How long until the bucket has a unit again, if it is empty now. `full_at` is when it is
/// whole (not before `now`); each unit spent pushes that one `every` further.
fn bucket_wait(b: Bucket, full_at: Instant, now: Instant) -> Option<Duration> {
    let spare = b.every * (b.burst.max(1) as u32 - 1);
    let debt = full_at.saturating_duration_since(now);
    (debt > spare).then(|| debt - spare)
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

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_chat_takes_a_burst_of_three_then_one_a_second() {
        let mut rl = RateLimiter::default();
        let l = Limits::telegram();
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(rl.admit(&l, 1, Counted::Send, t0 + ms(i)), Ok(()));
        }
        // Edits count like sends; the refused call is not counted.
        assert_eq!(rl.admit(&l, 1, Counted::Edit, t0 + ms(100)), Err(1));
        assert_eq!(rl.admit(&l, 1, Counted::Edit, t0 + ms(999)), Err(1));
        assert_eq!(rl.admit(&l, 2, Counted::Send, t0 + ms(100)), Ok(()));
        // Deletes are free.
        assert_eq!(rl.admit(&l, 1, Counted::Delete, t0 + ms(500)), Ok(()));
        // One unit a second comes back: exactly one call per second passes from here on.
        for s in 1..30 {
            let at = t0 + ms(1000 * s);
            assert_eq!(rl.admit(&l, 1, Counted::Send, at), Ok(()), "second {s}");
            assert_eq!(rl.admit(&l, 1, Counted::Send, at + ms(10)), Err(1));
        }
    }

    #[test]
    fn a_long_stream_faster_than_one_a_second_gets_429() {
        let mut rl = RateLimiter::default();
        let l = Limits::telegram();
        let t0 = Instant::now();
        // Two a second: the burst covers the first five, then every other call is refused.
        let results: Vec<bool> = (0..12)
            .map(|i| rl.admit(&l, 7, Counted::Send, t0 + ms(500 * i)).is_ok())
            .collect();
        assert_eq!(
            results,
            [
                true, true, true, true, true, false, true, false, true, false, true, false
            ]
        );
        // After a pause the burst is back.
        let later = t0 + Duration::from_secs(20);
        for i in 0..3 {
            assert_eq!(rl.admit(&l, 7, Counted::Send, later + ms(i)), Ok(()));
        }
        assert!(rl.admit(&l, 7, Counted::Send, later + ms(3)).is_err());
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
