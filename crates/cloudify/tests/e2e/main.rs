//! End to end: the real `cloudify run` process, the real `opencode serve` (pinned npm
//! package) driven by the fake LLM, and the fake Telegram Bot API. Each test builds its own
//! world on free loopback ports, so they run in parallel.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod bad_input;
mod dingtalk;
mod fanout;
mod faults;
mod harness;
mod proxy;
mod secrets;
mod storage_faults;
mod telegram_commands;
mod telegram_resilience;
mod telegram_turns;
mod trust;
