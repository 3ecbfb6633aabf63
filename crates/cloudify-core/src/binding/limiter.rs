//! Rate limit on failed binding attempts, per sender, with time passed in (testable).

use crate::identity::UserKey;
use crate::rate_window::{Refusal, SlidingWindow};
use std::time::Duration;

/// Allows `max_failures` failed attempts per sender within `window`; then refuses until
/// the oldest failure leaves the window. Successes do not count.
#[derive(Debug)]
pub struct BindLimiter(SlidingWindow);

impl Default for BindLimiter {
    fn default() -> Self {
        Self::new(5, Duration::from_secs(600))
    }
}

impl BindLimiter {
    pub fn new(max_failures: usize, window: Duration) -> Self {
        Self(SlidingWindow::new(max_failures, window))
    }

    /// `Err` when the sender must wait before trying again. `now_ms` is any monotonic ms.
    pub fn check(&mut self, who: &UserKey, now_ms: u64) -> Result<(), Refusal> {
        self.0.check(who, now_ms)
    }

    pub fn record_failure(&mut self, who: &UserKey, now_ms: u64) {
        self.0.record(who, now_ms);
    }

    pub fn record_success(&mut self, who: &UserKey) {
        self.0.clear(who);
    }
}
