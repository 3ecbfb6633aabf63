//! DingTalk adapter: Stream mode (WebSocket) + OpenAPI sends behind `cloudify_core::Adapter`.
//!
//! Must not depend on OpenCode. Implements the protocol of `IM.md` Part 1 directly on
//! tokio-tungstenite + reqwest: gateway registration, ACKs from a writer task before any
//! business work, ping/disconnect, dead-connection detection, backoff with jitter; robot
//! callbacks and card button callbacks in; sessionWebhook / batchSend / group send,
//! media upload and cards out. Every call is paced by the core's outbox.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use cloudify_core::{Adapter, Secret};
//! use cloudify_dingtalk::{DingTalkAdapter, DingTalkOptions};
//!
//! let mut opts = DingTalkOptions::new("dingxxxx", Secret::new("app-secret"));
//! opts.robot_code = "dingxxxx".into(); // config.dingtalk_robot_code()
//! let dt = Arc::new(DingTalkAdapter::new(opts)?);
//! let (sink, mut incoming) = tokio::sync::mpsc::channel(64);
//! let stream = { let dt = dt.clone(); tokio::spawn(async move { dt.run(sink).await }) };
//! # let _ = (stream, incoming.recv().await); Ok(()) }
//! ```

mod adapter;
mod api;
mod cards;
mod deliver;
mod incoming;
mod markdown;
mod options;
mod plan;
mod render;
mod stream;
mod sync;

#[cfg(test)]
mod markdown_tests;
#[cfg(test)]
mod plan_fuzz;
#[cfg(test)]
mod plan_tests;

pub use adapter::{DingTalkAdapter, MAX_TEXT_CHARS};
pub use incoming::FILE_TOO_LARGE_COMMAND;
pub use options::{DingTalkError, DingTalkOptions, MAX_DOWNLOAD_BYTES, StreamTiming};
