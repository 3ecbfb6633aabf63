//! Rendering: code and diffs to PNG pages, QR codes to PNG and terminal text.
//!
//! Pure computation, no network, no async runtime: callers run it on a blocking thread
//! (`tokio::task::spawn_blocking`); a render already uses every core through rayon.
//! Depends on no other cloudify crate.
//!
//! ```no_run
//! use cloudify_render::{PageOptions, Renderer, plan_telegram};
//! let r = Renderer::global()?;
//! let pages = r.render_code("fn main() {}\n", Some("main.rs"), &PageOptions::default())?;
//! let plan = plan_telegram(&pages);
//! # Ok::<(), cloudify_render::RenderError>(())
//! ```
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
pub use text::{Decoded, decode, text_columns, wrap_line};
