//! Per-user rate limit on prompts and commands (SPEC §10).

use crate::identity::UserKey;
use crate::rate_window::{Refusal, SlidingWindow};
use std::time::Duration;

/// At most 30 actions per user in any minute.
pub struct ActionLimiter(SlidingWindow);

impl Default for ActionLimiter {
    fn default() -> Self {
        Self(SlidingWindow::new(30, Duration::from_secs(60)))
    }
}

impl ActionLimiter {
    /// Counts an action; `Err` when over the limit (the action is not counted).
    pub fn check(&mut self, who: &UserKey, now_ms: u64) -> Result<(), Refusal> {
        self.0.check(who, now_ms)?;
        self.0.record(who, now_ms);
        Ok(())
    }
}
