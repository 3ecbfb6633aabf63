//! Telegram adapter: teloxide long polling behind `cloudify_core::Adapter`.
//!
//! Must not depend on OpenCode; it only turns updates into `Incoming` and `Output` into
//! Bot API calls. Filled by issue 4.
