//! The stream's life: disconnect → re-register, silent server → reconnect, dropped TCP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use cloudify_core::adapter::IncomingKind;
use cloudify_testkit::fake_dingtalk::{Event, User};
use common::*;

fn bob() -> User {
    User::new("staff-bob", "Bob")
}

#[tokio::test]
async fn disconnect_makes_the_client_register_again_and_keep_receiving() {
    let mut h = start_with(|c| c.disconnect_grace = Duration::from_secs(10), |_| {}, 8).await;
    assert_eq!(h.fake.send_disconnect(), 1);
    let mark = h.fake.mark();
    h.fake
        .wait_for_since(
            mark,
            |e| matches!(e, Event::Connected { .. }),
            Duration::from_secs(3),
        )
        .await
        .unwrap();
    // Re-registered with a fresh ticket, well before the server's forced close.
    assert_eq!(h.fake.registration_count(), 2);
    let regs = h.fake.registrations();
    assert_ne!(regs[0].ticket, regs[1].ticket);
    h.fake.inject_text(&bob(), "after rotation");
    assert_eq!(
        h.next().await.kind,
        IncomingKind::Text("after rotation".into())
    );
    assert!(
        h.fake.ack_problems().is_empty(),
        "{:?}",
        h.fake.ack_problems()
    );
}

#[tokio::test]
async fn a_silent_server_is_noticed_and_replaced() {
    let mut h = start().await;
    // The client pings on its own (WebSocket ping frames).
    h.fake
        .wait_for(
            |e| matches!(e, Event::ClientWsPing { .. }),
            Duration::from_secs(2),
        )
        .await
        .unwrap();
    let t0 = Instant::now();
    assert_eq!(h.fake.stop_answering_pings(), 1);
    let mark = h.fake.mark();
    h.fake
        .wait_for_since(
            mark,
            |e| matches!(e, Event::Connected { .. }),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    // dead_after is 1.2 s in tests (30 s in production, so well within 60 s).
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert_eq!(h.fake.registration_count(), 2);
    h.fake.inject_text(&bob(), "still here");
    assert_eq!(h.next().await.kind, IncomingKind::Text("still here".into()));
}

#[tokio::test]
async fn a_dropped_connection_is_reopened_with_backoff() {
    let mut h = start().await;
    h.fake.drop_connection();
    let mark = h.fake.mark();
    h.fake
        .wait_for_since(
            mark,
            |e| matches!(e, Event::Connected { .. }),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    h.fake.inject_text(&bob(), "back");
    assert_eq!(h.next().await.kind, IncomingKind::Text("back".into()));
}

#[tokio::test]
async fn messages_sent_while_disconnected_arrive_after_reconnect() {
    let mut h = start().await;
    h.fake.stop_answering_pings();
    // Queued by the fake until a connection subscribes again.
    h.fake.inject_text(&bob(), "queued");
    assert_eq!(h.next().await.kind, IncomingKind::Text("queued".into()));
}

#[tokio::test]
async fn run_ends_when_the_sink_closes() {
    let h = start().await;
    let Harness { rx, run, fake, .. } = h;
    drop(rx);
    tokio::time::timeout(Duration::from_secs(3), run)
        .await
        .expect("run returned")
        .unwrap();
    drop(fake);
}
