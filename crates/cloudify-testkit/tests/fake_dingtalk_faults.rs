//! The fake DingTalk's half-open connection, used by the e2e fault suite.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "fake_dingtalk/client.rs"]
#[allow(dead_code)] // shared with the main fake_dingtalk tests; only part is used here
mod client;

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as WsMsg;

use crate::client::*;

#[tokio::test]
async fn half_open_swallows_pushes_until_a_missed_ack_then_redelivers_on_the_next_connection() {
    let fake = fake_with(|c| {
        c.ack_deadline = Duration::from_millis(200);
        c.redeliver_after = Duration::from_millis(500);
        c.redeliver_callbacks = true;
    })
    .await;
    let client = Client::new(&fake);
    let mut old = client.connect().await;
    assert_eq!(fake.go_half_open(), 1);
    assert_eq!(fake.connection_count(), 0);
    // The server does not know yet: it pushes, and nothing reaches the client, pongs included.
    let lost = fake.inject_text(&alice(), "into the void");
    assert!(
        lost.message_id.is_some(),
        "pushed to the half-open connection"
    );
    old.send(WsMsg::Ping(Vec::new().into())).await.unwrap();
    let quiet = tokio::time::timeout(Duration::from_millis(300), old.next()).await;
    assert!(quiet.is_err(), "nothing comes back: {quiet:?}");
    // The missed ACK made the server give up on it: new messages wait for a connection.
    let held = fake.inject_text(&alice(), "held for later");
    assert!(held.message_id.is_none());
    let mut new = client.connect().await;
    let mut got = Vec::new();
    while let Some(frame) = next_frame(&mut new, Duration::from_secs(2)).await {
        ack(&mut new, &frame, serde_json::json!({"response": null})).await;
        got.push(data(&frame)["msgId"].as_str().unwrap().to_string());
    }
    got.sort();
    let mut want = vec![lost.payload_id.clone(), held.payload_id.clone()];
    want.sort();
    assert_eq!(got, want, "each message once on the new connection");
    let redelivered = fake
        .wait_for_ack_of(&lost, SEC)
        .await
        .expect("the swallowed message was redelivered and ACKed");
    assert_ne!(Some(redelivered.message_id), lost.message_id);
}
