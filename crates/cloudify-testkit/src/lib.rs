//! Test-only fakes that behave like the real peers, errors and limits included.
//!
//! Never a dependency of production crates.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod fake_dingtalk;
pub mod fake_llm;
pub mod fake_telegram;
pub mod fuzz;
pub mod opencode;
