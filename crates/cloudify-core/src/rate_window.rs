//! A per-sender sliding window, shared by the binding limiter and the action limiter.
//! It also remembers whether a refused sender was told so: a flood gets one answer per
//! refusal streak, not one per message (which would only queue thousands of replies).

use crate::identity::UserKey;
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

/// Why a sender must wait, and whether this refusal is the one to answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub wait: Duration,
    /// First refusal since the sender was last allowed: reply; later ones are dropped quietly.
    pub tell: bool,
}

/// Senders tracked at most before old entries are swept (bounds memory under a flood of
/// distinct senders).
const MAX_SENDERS: usize = 100_000;

#[derive(Debug)]
pub struct SlidingWindow {
    max: usize,
    window_ms: u64,
    hits: HashMap<UserKey, VecDeque<u64>>,
    told: HashSet<UserKey>,
}

impl SlidingWindow {
    pub fn new(max: usize, window: Duration) -> Self {
        Self {
            max,
            window_ms: window.as_millis() as u64,
            hits: HashMap::new(),
            told: HashSet::new(),
        }
    }

    /// `Err` when `who` already has `max` hits inside the window ending at `now_ms`.
    pub fn check(&mut self, who: &UserKey, now_ms: u64) -> Result<(), Refusal> {
        let window = self.window_ms;
        let oldest = self.hits.get_mut(who).and_then(|q| {
            while q
                .front()
                .is_some_and(|t| now_ms.saturating_sub(*t) >= window)
            {
                q.pop_front();
            }
            (q.len() >= self.max).then(|| q.front().copied().unwrap_or(now_ms))
        });
        match oldest {
            Some(oldest) => Err(Refusal {
                wait: Duration::from_millis(window - now_ms.saturating_sub(oldest)),
                tell: self.told.insert(who.clone()),
            }),
            None => {
                if self.hits.get(who).is_some_and(VecDeque::is_empty) {
                    self.hits.remove(who);
                }
                self.told.remove(who);
                Ok(())
            }
        }
    }

    pub fn record(&mut self, who: &UserKey, now_ms: u64) {
        self.hits.entry(who.clone()).or_default().push_back(now_ms);
        if self.hits.len() > MAX_SENDERS {
            let cutoff = now_ms.saturating_sub(self.window_ms);
            self.hits
                .retain(|_, q| q.back().is_some_and(|t| *t > cutoff));
            let hits = &self.hits;
            self.told.retain(|k| hits.contains_key(k));
        }
    }

    pub fn clear(&mut self, who: &UserKey) {
        self.hits.remove(who);
        self.told.remove(who);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Platform;

    #[test]
    fn a_flood_is_answered_once_per_refusal_streak() {
        let mut w = SlidingWindow::new(2, Duration::from_secs(60));
        let eve = UserKey::new(Platform::Telegram, "eve");
        for t in [0, 1] {
            w.check(&eve, t).unwrap();
            w.record(&eve, t);
        }
        let first = w.check(&eve, 2).unwrap_err();
        assert!(first.tell);
        assert_eq!(first.wait, Duration::from_millis(59_998));
        for t in 3..10_000 {
            assert!(!w.check(&eve, t).unwrap_err().tell, "quiet after the first");
        }
        // Allowed again once the window moved on; the next streak is told again.
        w.check(&eve, 60_001).unwrap();
        w.record(&eve, 60_001);
        w.record(&eve, 60_002);
        assert!(w.check(&eve, 60_003).unwrap_err().tell);
    }

    #[test]
    fn memory_stays_bounded_under_many_senders() {
        let mut w = SlidingWindow::new(1, Duration::from_secs(1));
        for i in 0..(MAX_SENDERS + 10) {
            let k = UserKey::new(Platform::DingTalk, i.to_string());
            w.record(&k, i as u64 * 10);
            let _ = w.check(&k, i as u64 * 10);
        }
        assert!(w.hits.len() <= MAX_SENDERS);
        assert!(w.told.len() <= w.hits.len() + 1);
    }
}
