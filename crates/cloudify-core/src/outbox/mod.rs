//! Every outbound platform call goes through one outbox (ARCHITECTURE "Outbox").
//!
//! [`Outbox`] is the pure policy: per-chat queues (sends in order, a new send ahead of
//! queued edits), a token bucket per chat and global pacing (edits count like sends), coalescing of edits to one message (newest wins), skipping unchanged
//! edits, `retry_after`, retry with capped exponential backoff, and hand-off of what cannot
//! be delivered to the offline backlog. Time is passed in as milliseconds, so tests run on
//! virtual time. [`runner`] drives it against real adapters.

mod policy;
pub mod runner;

pub use policy::{Completion, Dispatch, LocalId, OpKind, Outbox, OutboxPolicy, Ticket};

#[cfg(test)]
mod tests;
