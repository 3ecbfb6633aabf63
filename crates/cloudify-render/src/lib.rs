//! Rendering: code and diffs to PNG pages, QR codes to PNG and terminal text.
//!
//! Pure computation, no network, no async runtime: callers run it on a blocking thread.
pub mod qr;
