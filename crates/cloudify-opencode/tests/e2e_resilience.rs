//! Failure handling against the real opencode: endless 5xx retries and a server crash.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use cloudify_opencode::{TurnErrorKind, TurnEvent, WatcherConfig};
use cloudify_testkit::fake_llm::{Reply, Script};
use cloudify_testkit::opencode::OpencodeOptions;
use common::{Harness, test_watcher_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_500_is_aborted_after_turn_timeout_and_reported() {
    let cfg = WatcherConfig {
        turn_timeout: Duration::from_secs(3),
        ..test_watcher_config()
    };
    let mut h = Harness::start(OpencodeOptions::default(), cfg).await;
    h.fake
        .on("FAIL", Script::error(500, "fake upstream error 500"));
    let sid = h.new_session().await;
    h.prompt(&sid, "FAIL now").await;
    let TurnEvent::Retrying { message, .. } =
        h.until(|e| matches!(e, TurnEvent::Retrying { .. })).await
    else {
        unreachable!()
    };
    assert!(
        message.contains("500") || message.contains("fake upstream"),
        "{message}"
    );
    let started = std::time::Instant::now();
    let done = h.done(&sid).await;
    let err = done.error.expect("timed out turn is a failure");
    assert_eq!(err.kind, TurnErrorKind::TimedOut);
    assert!(
        err.message.contains("fake upstream error 500"),
        "{}",
        err.message
    );
    assert!(started.elapsed() < Duration::from_secs(15));
    // We really aborted it: OpenCode stopped retrying.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!h.client.session_status().await.unwrap().contains_key(&sid));
    let calls = h.fake.agent_requests().len();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        h.fake.agent_requests().len(),
        calls,
        "no more retries after the abort"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_mid_turn_then_restarted() {
    let mut h = Harness::default().await;
    h.fake
        .on("SLOW", Reply::slow(400, Duration::from_millis(100)));
    let sid = h.new_session().await;
    h.prompt(&sid, "SLOW answer").await;
    h.until(|e| matches!(e, TurnEvent::Progress(p) if p.text.contains("slow-2")))
        .await;

    h.server.kill().await;
    h.until(|e| matches!(e, TurnEvent::Disconnected { .. }))
        .await;
    h.server.restart().await.expect("restart on the same port");
    // Resync after the reconnect reports the cut-off turn (before `Connected`), keeping
    // the text streamed before the crash.
    let interrupted = h.done(&sid).await;
    let err = interrupted.error.expect("cut-off turn is a failure");
    assert_eq!(err.kind, TurnErrorKind::Interrupted, "{err:?}");
    assert!(
        interrupted.text.starts_with("slow-0 slow-1 slow-2"),
        "{}",
        interrupted.text
    );
    h.until(|e| matches!(e, TurnEvent::Connected)).await;

    // A new turn on the same session (sessions survive in SQLite) completes normally.
    h.prompt(&sid, "hello again").await;
    let done = h.done(&sid).await;
    assert_eq!(done.text, "Hello from the fake LLM!");
    assert_eq!(done.error, None);
}
