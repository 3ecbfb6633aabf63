//! Sends that failed half way: how far they got, so the outbox's retry of the same envelope
//! continues instead of repeating the messages already delivered.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use cloudify_core::adapter::{ChatRef, SentId};
use cloudify_core::output::Envelope;

/// How far a failed send got: `(step, call within the step)` and the last id sent.
#[derive(Debug, Clone)]
pub(crate) struct Progress {
    pub step: usize,
    pub call: usize,
    pub last: Option<SentId>,
    pub at: std::time::Instant,
}

/// Half-done sends, keyed by chat and envelope content. Bounded and expiring: an entry
/// only matters until the outbox retries (seconds) or the backlog replays (hours).
#[derive(Debug, Default)]
pub(crate) struct ResumeBook {
    entries: HashMap<(String, u64), Progress>,
}

const RESUME_TTL: Duration = Duration::from_secs(24 * 3600);
const RESUME_MAX: usize = 512;

impl ResumeBook {
    pub(crate) fn take(&mut self, key: &(String, u64)) -> Option<Progress> {
        self.entries
            .remove(key)
            .filter(|p| p.at.elapsed() < RESUME_TTL)
    }

    pub(crate) fn put(&mut self, key: (String, u64), p: Progress) {
        self.entries.retain(|_, e| e.at.elapsed() < RESUME_TTL);
        if self.entries.len() >= RESUME_MAX
            && let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.at)
                .map(|(k, _)| k.clone())
        {
            self.entries.remove(&oldest);
        }
        self.entries.insert(key, p);
    }
}

pub(crate) fn resume_key(chat: &ChatRef, env: &Envelope) -> (String, u64) {
    let mut h = DefaultHasher::new();
    serde_json::to_string(env).unwrap_or_default().hash(&mut h);
    (chat.chat_id.clone(), h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_book_expires_and_is_bounded() {
        let mut book = ResumeBook::default();
        for i in 0..RESUME_MAX + 10 {
            let p = Progress {
                step: 1,
                call: 0,
                last: None,
                at: std::time::Instant::now(),
            };
            book.put((i.to_string(), 0), p);
        }
        assert_eq!(book.entries.len(), RESUME_MAX);
        let old = Progress {
            step: 2,
            call: 0,
            last: None,
            at: std::time::Instant::now() - RESUME_TTL,
        };
        book.put(("old".into(), 1), old);
        assert!(book.take(&("old".into(), 1)).is_none());
    }
}
