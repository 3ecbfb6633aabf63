//! Rate limit on failed binding attempts, per sender, with time passed in (testable).

use crate::identity::UserKey;
use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// Allows `max_failures` failed attempts per sender within `window`; then refuses until
/// the oldest failure leaves the window. Successes do not count.
#[derive(Debug)]
pub struct BindLimiter {
    max_failures: usize,
    window_ms: u64,
    failures: HashMap<UserKey, VecDeque<u64>>,
}

impl Default for BindLimiter {
    fn default() -> Self {
        Self::new(5, Duration::from_secs(600))
    }
}

impl BindLimiter {
    pub fn new(max_failures: usize, window: Duration) -> Self {
        Self {
            max_failures,
            window_ms: window.as_millis() as u64,
            failures: HashMap::new(),
        }
    }

    /// `Err(wait)` when the sender must wait before trying again. `now_ms` is any monotonic ms.
    pub fn check(&mut self, who: &UserKey, now_ms: u64) -> Result<(), Duration> {
        let Some(q) = self.failures.get_mut(who) else {
            return Ok(());
        };
        while q
            .front()
            .is_some_and(|t| now_ms.saturating_sub(*t) >= self.window_ms)
        {
            q.pop_front();
        }
        if q.is_empty() {
            self.failures.remove(who);
            return Ok(());
        }
        if q.len() >= self.max_failures {
            let oldest = q.front().copied().unwrap_or(now_ms);
            return Err(Duration::from_millis(
                self.window_ms - now_ms.saturating_sub(oldest),
            ));
        }
        Ok(())
    }

    pub fn record_failure(&mut self, who: &UserKey, now_ms: u64) {
        self.failures
            .entry(who.clone())
            .or_default()
            .push_back(now_ms);
        // Bound memory under a flood of distinct senders.
        if self.failures.len() > 100_000 {
            let cutoff = now_ms.saturating_sub(self.window_ms);
            self.failures
                .retain(|_, q| q.back().is_some_and(|t| *t > cutoff));
        }
    }

    pub fn record_success(&mut self, who: &UserKey) {
        self.failures.remove(who);
    }
}
