//! The relay: what users see of OpenCode's work. One OpenCode watcher per instance; its turn
//! events (and the chat actions that matter to a turn: who asked, who answered, `/cancel`)
//! become effects (post or edit the live message, post the answer, show and resolve prompts)
//! for every user bound to the instance. Also the `Workspace` service commands and prompts use.
//!
//! * [`core`] is pure: [`RelayCore::apply`]`(input, now) -> Vec<Effect>`, no I/O, no clock, no
//!   async, no store. Tested on the recorded OpenCode transcripts and with property tests.
//! * [`shell`](Relay) executes effects: delivery through an [`Audience`] (the fan-out), the
//!   store reads for session filtering, sleeping until the core's wake-ups.
//!
//! Depends on `cloudify-core` (output model, i18n, store, services) and `cloudify-opencode`.
//! Must not depend on any IM SDK, on axum, or on the binary.

mod audience;
pub mod core;
mod shell;

pub use audience::Audience;
pub use core::{CoreConfig, Effect, Input, RelayCore};
pub use shell::{OpenCodeWorkspace, Relay};
