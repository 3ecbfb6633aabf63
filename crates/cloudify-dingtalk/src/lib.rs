//! DingTalk adapter: Stream mode (WebSocket) + OpenAPI sends behind `cloudify_core::Adapter`.
//!
//! Must not depend on OpenCode. Filled by issue 6.
