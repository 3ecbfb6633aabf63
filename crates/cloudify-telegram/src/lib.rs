//! Telegram adapter: teloxide long polling behind `cloudify_core::Adapter`.
//!
//! Must not depend on OpenCode; it only turns updates into `Incoming` and `Output` into
//! Bot API calls (HTML parse mode, split at 4096 characters, long code, diffs and traces as
//! PNG pages via `cloudify-render`). Every call it makes is paced by the core's outbox.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use cloudify_core::{Adapter, Secret};
//! use cloudify_telegram::{MenuCommand, TelegramAdapter, TelegramOptions};
//!
//! let mut opts = TelegramOptions::new(Secret::new("123:abc"));
//! opts.commands = vec![MenuCommand::new("status", "Status", "状态")];
//! let tg = Arc::new(TelegramAdapter::connect(opts).await?);
//! println!("https://t.me/{}?start=…", tg.bot_username().unwrap_or_default());
//! let (sink, mut incoming) = tokio::sync::mpsc::channel(64);
//! let poller = { let tg = tg.clone(); tokio::spawn(async move { tg.run(sink).await }) };
//! # let _ = (poller, incoming.recv().await); Ok(()) }
//! ```

mod adapter;
mod bot;
mod client;
mod commands;
mod deliver;
mod edit;
mod errors;
mod keyboard;
mod markdown;
mod plan;
mod poll;
mod render;
mod resume;
mod salvage;
mod split;
mod styled;
mod updates;

#[cfg(test)]
mod html_check;

pub use adapter::TelegramAdapter;
pub use client::{TelegramError, TelegramOptions};
pub use commands::MenuCommand;
pub use keyboard::CALLBACK_DATA_MAX_BYTES;
pub use updates::{FILE_TOO_LARGE_COMMAND, MAX_DOWNLOAD_BYTES};
