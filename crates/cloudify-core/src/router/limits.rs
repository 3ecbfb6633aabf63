//! Per-user rate limit on prompts and commands (SPEC §10).

use crate::identity::UserKey;
use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// At most `max` actions per user in any `window`.
pub struct ActionLimiter {
    max: usize,
    window_ms: u64,
    seen: HashMap<UserKey, VecDeque<u64>>,
}

impl Default for ActionLimiter {
    fn default() -> Self {
        Self {
            max: 30,
            window_ms: 60_000,
            seen: HashMap::new(),
        }
    }
}

impl ActionLimiter {
    /// Counts an action; `Err(wait)` when over the limit (the action is not counted).
    pub fn check(&mut self, who: &UserKey, now_ms: u64) -> Result<(), Duration> {
        let q = self.seen.entry(who.clone()).or_default();
        while q
            .front()
            .is_some_and(|t| now_ms.saturating_sub(*t) >= self.window_ms)
        {
            q.pop_front();
        }
        if q.len() >= self.max {
            let oldest = q.front().copied().unwrap_or(now_ms);
            return Err(Duration::from_millis(
                self.window_ms - now_ms.saturating_sub(oldest),
            ));
        }
        q.push_back(now_ms);
        if self.seen.len() > 100_000 {
            let cutoff = now_ms.saturating_sub(self.window_ms);
            self.seen
                .retain(|_, q| q.back().is_some_and(|t| *t > cutoff));
        }
        Ok(())
    }
}
