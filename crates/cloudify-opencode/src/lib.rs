//! HTTP + SSE client for the OpenCode server (`opencode serve`, opencode-ai 1.18.33).
//!
//! Knows nothing of IM platforms or of `cloudify-core`: it speaks OpenCode's API and
//! reports typed events and turn state. Depends only on tokio/reqwest/serde.
//!
//! # Layers
//!
//! | module | what |
//! |---|---|
//! | [`Client`] | typed requests (sessions, messages with paging, `prompt_async` with text and file parts, abort, permission and question replies, todo, diffs, providers, agents, health) with basic auth, the `x-opencode-directory` header, a timeout on every call and typed [`Error`]s (an HTML answer where JSON is expected is [`Error::NotJson`]) |
//! | [`SseParser`], [`Event`] | incremental SSE framing and typed events; unknown types stay raw ([`Event::Unknown`]) |
//! | [`TurnTracker`] | a pure state machine: events in, [`TurnEvent`]s out (no I/O, clock passed in) |
//! | [`Watcher`] | one task per instance: keeps `/event` connected (backoff + jitter), resyncs from REST after every connect, finishes turns whose final message came late, aborts turns stuck in `retry` after [`WatcherConfig::turn_timeout`] |
//!
//! # Turn semantics (the traps of API.md §5/§7, handled here)
//!
//! * A turn starts when a session goes `busy` (or `retry`) and is [`TurnEvent::Done`] only
//!   when the session is idle **and** the last assistant message is final
//!   (`time.completed` or `error`). `idle` may come twice and parts may follow it; extra
//!   idles are ignored, and if the final message never arrives the watcher reads it from
//!   REST after [`WatcherConfig::idle_grace`].
//! * Text is assembled from `message.part.delta` and replaced by every full part snapshot.
//!   The answer is the newest assistant message that has text (a tool turn has several).
//! * Prompts queued while busy continue the same turn (one `Done`).
//! * Permissions and questions still pending when a turn ends are reported as resolved with
//!   `None` (OpenCode leaves them listed after an abort).
//! * After a reconnect the watcher reads `GET /session/status`, the messages of every busy or
//!   tracked session, `GET /permission` and `GET /question`, so a final answer produced while
//!   disconnected still arrives as `Done`; a turn cut off by a server restart ends with
//!   [`TurnErrorKind::Interrupted`].
//! * 5xx from the LLM is retried by OpenCode forever: after `turn_timeout` in `retry` without
//!   progress the watcher aborts the session and reports [`TurnErrorKind::TimedOut`].
//!
//! # Example (what a relay does)
//!
//! ```no_run
//! use cloudify_opencode::{Client, ClientConfig, Prompt, Secret, TurnEvent, Watcher, WatcherConfig};
//!
//! # async fn relay() -> Result<(), cloudify_opencode::Error> {
//! let client = Client::new(
//!     ClientConfig::new("http://127.0.0.1:4096")?
//!         .directory("/workspace")
//!         .basic_auth("opencode", Secret::new("pw")),
//! )?;
//! client.health().await?;
//! let (_watcher, mut events) = Watcher::spawn(client.clone(), WatcherConfig::default());
//! let session = client.create_session(&Default::default()).await?;
//! client.prompt_async(&session.id, &Prompt::text("run the tests")).await?;
//! while let Some(ev) = events.recv().await {
//!     match ev {
//!         TurnEvent::Progress(p) => { /* edit the live message: p.text, p.tool, p.todos */ }
//!         TurnEvent::Tool(t) => { /* "🔧 {}: {}", t.tool, t.summary */ }
//!         TurnEvent::PermissionAsked { request } => {
//!             // buttons; on click:
//!             client.reply_permission(&request.id, cloudify_opencode::PermissionReply::Once, None).await?;
//!         }
//!         TurnEvent::Done(r) => { /* send r.text (+ r.duration, r.error) as a new message */ }
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```

mod api;
mod backoff;
mod client;
mod config;
mod error;
mod event;
mod sse;
mod tool_summary;
mod tracker;
mod turn_event;
mod types;
mod watcher;

pub use api::{NewSession, Prompt, PromptPart};
pub use backoff::Backoff;
pub use client::Client;
pub use config::{ClientConfig, Secret};
pub use error::{Error, Result};
pub use event::{Event, GlobalEvent};
pub use sse::{SseFrame, SseParser};
pub use tool_summary::summarize as summarize_tool;
pub use tracker::TurnTracker;
pub use turn_event::{
    Progress, RetryInfo, ToolActivity, ToolStatus, ToolUpdate, TurnError, TurnErrorKind, TurnEvent,
    TurnResult,
};
pub use types::*;
pub use watcher::{Watcher, WatcherConfig};
