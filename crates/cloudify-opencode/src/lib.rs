//! HTTP + SSE client for the OpenCode server (`opencode serve`, opencode-ai 1.18.33).
//!
//! Knows nothing of IM platforms or of `cloudify-core`: it speaks OpenCode's API and
//! reports typed events and turn state. Filled by issue 3.
