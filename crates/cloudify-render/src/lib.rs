//! Rendering: code and diffs to PNG pages, QR codes to PNG and terminal text.
//!
//! Pure computation, no network, no async runtime: callers run it on a blocking thread
//! (`tokio::task::spawn_blocking`); a render already uses every core through rayon.
//! Depends on no other cloudify crate.
//!
//! An adapter renders off the async runtime, then plans delivery from page metadata:
//!
//! ```no_run
//! use cloudify_render::{PageOptions, RenderCache, Renderer, plan_dingtalk, plan_telegram};
//!
//! # fn demo(diff: String) -> Result<(), cloudify_render::RenderError> {
//! // In async code: tokio::task::spawn_blocking(move || { ... }).await
//! let renderer = Renderer::global()?; // syntaxes, theme, fonts: loaded once per process
//! let cache = RenderCache::new("/data/cache/rendered"); // best effort, never fails a render
//! let opts = PageOptions { title: Some("src/lib.rs".into()), ..PageOptions::default() };
//! let pages = cache.diff(renderer, &diff, &opts)?;
//!
//! let tg = plan_telegram(&pages);
//! // tg.photos: 1 → sendPhoto, 2..=10 → sendMediaGroup (pages[i].png, caption from
//! // pages[i].first_line..last_line); tg.needs_document() → sendDocument with the source.
//! let dt = plan_dingtalk(&pages, Some("https://example.invalid/full-diff"));
//! // dt.images → one image message each; dt.link_text → a closing text message.
//! # let _ = (tg, dt); Ok(()) }
//! ```
//!
//! Code: `renderer.render_code(text, Some("main.rs" or "rust"), &opts)`, or
//! `render_code_bytes` for file contents that may not be UTF-8.
mod cache;
mod compose;
mod deliver;
mod diff;
mod doc;
mod encode;
mod error;
mod fonts;
mod highlight;
mod highlight_doc;
mod options;
pub mod qr;
mod render;
mod text;
mod theme;

pub use cache::RenderCache;
pub use deliver::{
    DINGTALK_IMAGE_MAX_BYTES, DingTalkPlan, TELEGRAM_ALBUM_MAX, TELEGRAM_PHOTO_MAX_BYTES,
    TelegramPlan, plan_dingtalk, plan_telegram, telegram_photo_ok,
};
pub use error::RenderError;
pub use options::PageOptions;
pub use render::{Page, Renderer};
pub use text::{Decoded, decode, estimate_pages, text_columns, wrap_line};
