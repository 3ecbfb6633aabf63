//! The fake DingTalk against a small raw client (reqwest + tokio-tungstenite).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "fake_dingtalk/client.rs"]
mod client;
#[path = "fake_dingtalk/openapi.rs"]
mod openapi;

use std::time::Duration;

use cloudify_testkit::fake_dingtalk::{AckProblemKind, Event, FakeDingTalk, FrameKind};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as WsMsg;

use crate::client::*;

#[tokio::test]
async fn token_fetch_wrong_secret_and_expiry() {
    let fake = fake_with(|c| c.token_ttl = Duration::from_millis(300)).await;
    let client = Client::new(&fake);
    let bad = json!({"appKey": KEY, "appSecret": "nope"});
    let (status, v) = client.post("/v1.0/oauth2/accessToken", None, bad).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("invalidClientSecret"))
    );
    assert!(v["requestid"].is_string());

    let token = client.token().await;
    fake.add_user(&alice());
    let send = json!({"robotCode": KEY, "userIds": ["staff001"], "msgKey": "sampleText",
        "msgParam": json!({"content": "hi"}).to_string()});
    let (status, v) = client
        .post(
            "/v1.0/robot/oToMessages/batchSend",
            Some(&token),
            send.clone(),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert!(v["processQueryKey"].is_string());

    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, v) = client
        .post("/v1.0/robot/oToMessages/batchSend", Some(&token), send)
        .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("InvalidAuthentication"))
    );

    // Legacy endpoint: HTTP 200 with errcode.
    let url = format!("{}/gettoken?appkey={KEY}&appsecret=bad", fake.oapi_url());
    let v: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    assert_eq!(v["errcode"], 40089);
}

#[tokio::test]
async fn registration_validates_secret_and_subscriptions() {
    let fake = FakeDingTalk::start(KEY, SECRET).await;
    let client = Client::new(&fake);
    let (status, v) = client.register("wrong", &[BOT]).await;
    assert_eq!((status, v["code"].as_str()), (401, Some("authFailed")));
    let bad_subs = json!({"clientId": KEY, "clientSecret": SECRET,
        "subscriptions": [{"type": "EVENT", "topic": "chat_update_title"}]});
    let (status, v) = client
        .post("/v1.0/gateway/connections/open", None, bad_subs)
        .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("invalidParameter"))
    );
    let (status, v) = client.register(SECRET, &[BOT]).await;
    assert_eq!(status, 200);
    assert!(
        v["endpoint"]
            .as_str()
            .unwrap()
            .starts_with("ws://127.0.0.1:")
    );
    // Without `Accept: application/json` the gateway may answer XML.
    let plain = json!({"clientId": KEY, "clientSecret": SECRET, "subscriptions": [{"type": "CALLBACK", "topic": BOT}]});
    let resp = client
        .http
        .post(format!("{}/v1.0/gateway/connections/open", client.base))
        .json(&plain)
        .send()
        .await
        .unwrap();
    assert!(
        resp.text()
            .await
            .unwrap()
            .starts_with("<OpenConnectionResponse>")
    );
    assert_eq!(fake.registration_count(), 2);
    assert_eq!(fake.registrations()[0].ua.as_deref(), Some("raw-test/0.1"));
}

#[tokio::test]
async fn tickets_are_single_use_and_expire() {
    let fake = fake_with(|c| c.ticket_ttl = Duration::from_millis(200)).await;
    let client = Client::new(&fake);
    let (_, v) = client.register(SECRET, &[BOT]).await;
    let url = format!(
        "{}?ticket={}",
        v["endpoint"].as_str().unwrap(),
        v["ticket"].as_str().unwrap()
    );
    let _ws = tokio_tungstenite::connect_async(&url).await.unwrap();
    let err = tokio_tungstenite::connect_async(&url).await.unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");

    let (_, v) = client.register(SECRET, &[BOT]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let url = format!(
        "{}?ticket={}",
        v["endpoint"].as_str().unwrap(),
        v["ticket"].as_str().unwrap()
    );
    assert!(tokio_tungstenite::connect_async(&url).await.is_err());
    assert_eq!(fake.total_connections(), 1);
}

#[tokio::test]
async fn injected_message_is_acked_with_latency() {
    let fake = FakeDingTalk::start(KEY, SECRET).await;
    let client = Client::new(&fake);
    // Injected before any connection: queued, delivered on connect.
    let sent = fake.inject_text(&alice(), "hello");
    assert!(sent.message_id.is_none());
    let mut ws = client.connect().await;
    let frame = next_frame(&mut ws, SEC).await.unwrap();
    assert_eq!(frame["type"], "CALLBACK");
    assert!(
        frame["headers"]
            .as_object()
            .unwrap()
            .values()
            .all(Value::is_string)
    );
    let d = data(&frame);
    assert_eq!(
        (d["msgtype"].as_str(), d["text"]["content"].as_str()),
        (Some("text"), Some("hello"))
    );
    assert_eq!(
        (d["conversationType"].as_str(), d["senderStaffId"].as_str()),
        (Some("1"), Some("staff001"))
    );
    assert_eq!(d["msgId"], sent.payload_id.as_str());
    ack(&mut ws, &frame, json!({"response": "OK"})).await;
    let mid = frame["headers"]["messageId"].as_str().unwrap();
    let record = fake.wait_for_ack(mid, SEC).await.unwrap();
    assert_eq!(
        fake.wait_for_ack_of(&sent, SEC).await.unwrap().message_id,
        mid
    );
    assert_eq!(
        (record.code, record.kind, record.late),
        (200, FrameKind::Callback, false)
    );
    assert!(record.latency < Duration::from_secs(1));
    assert!(fake.ack_problems().is_empty(), "{:?}", fake.ack_problems());
    assert_eq!(fake.connection_count(), 1);

    // Malformed and unknown ACKs are recorded, not accepted.
    let bad = json!({"code": 200, "headers": {"messageId": "nope", "contentType": "application/json"}, "data": "{}"});
    ws.send(WsMsg::Text(bad.to_string().into())).await.unwrap();
    let sent = fake.inject_text(&alice(), "again");
    let frame = next_frame(&mut ws, SEC).await.unwrap();
    let obj = json!({"code": 200, "headers": {"messageId": frame["headers"]["messageId"], "contentType": "application/json"}, "data": {"response": null}});
    ws.send(WsMsg::Text(obj.to_string().into())).await.unwrap();
    let p = fake
        .wait_for(
            |e| matches!(e, Event::AckProblem(p) if matches!(p.kind, AckProblemKind::Malformed(_))),
            SEC,
        )
        .await
        .unwrap();
    assert!(format!("{p:?}").contains("data must be a string"));
    assert!(
        fake.ack_problems()
            .iter()
            .any(|p| p.kind == AckProblemKind::UnknownMessageId)
    );
    let _ = sent;
}

#[tokio::test]
async fn missing_ack_is_flagged_and_redelivered() {
    let fake = fake_with(|c| {
        c.ack_deadline = Duration::from_millis(100);
        c.redeliver_after = Duration::from_millis(300);
        c.redeliver_callbacks = true;
    })
    .await;
    let mut ws = Client::new(&fake).connect().await;
    fake.inject_text(&alice(), "ping me twice");
    let first = next_frame(&mut ws, SEC).await.unwrap();
    let again = next_frame(&mut ws, SEC).await.unwrap();
    assert_ne!(first["headers"]["messageId"], again["headers"]["messageId"]);
    assert_eq!(
        data(&first)["msgId"],
        data(&again)["msgId"],
        "same msgId: the client must dedupe"
    );
    assert!(
        fake.ack_problems()
            .iter()
            .any(|p| p.kind == AckProblemKind::Missing)
    );
    ack(&mut ws, &again, json!({"response": "OK"})).await;
    fake.wait_for(|e| matches!(e, Event::Acked(_)), SEC)
        .await
        .unwrap();

    // Events: an ACK with status LATER asks for redelivery.
    let mut ws2 = Client::new(&fake).connect().await;
    let _ = ws2.close(None).await;
    fake.wait_for(
        |e| {
            matches!(
                e,
                Event::ConnectionClosed {
                    by_client: true,
                    ..
                }
            )
        },
        SEC,
    )
    .await
    .unwrap();
    let ev = fake.inject_event("chat_update_title", json!({"title": "x"}));
    let f = next_frame(&mut ws, SEC).await.unwrap();
    assert_eq!(
        (f["type"].as_str(), f["headers"]["eventId"].as_str()),
        (Some("EVENT"), Some(ev.payload_id.as_str()))
    );
    ack(&mut ws, &f, json!({"status": "LATER", "message": "busy"})).await;
    let f2 = next_frame(&mut ws, SEC).await.unwrap();
    assert_eq!(f2["headers"]["eventId"], ev.payload_id.as_str());
}

#[tokio::test]
async fn pings_answered_then_unanswered() {
    let fake = FakeDingTalk::start(KEY, SECRET).await;
    let mut ws = Client::new(&fake).connect().await;
    ws.send(WsMsg::Ping(b"hb".to_vec().into())).await.unwrap();
    let pong = tokio::time::timeout(SEC, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(matches!(pong, WsMsg::Pong(_)));

    // SYSTEM ping: the ACK must echo opaque.
    let ids = fake.send_ping();
    assert_eq!(ids.len(), 1);
    let f = next_frame(&mut ws, SEC).await.unwrap();
    assert_eq!(
        (f["type"].as_str(), f["headers"]["topic"].as_str()),
        (Some("SYSTEM"), Some("ping"))
    );
    ack(&mut ws, &f, json!({"opaque": "wrong"})).await;
    fake.wait_for(
        |e| matches!(e, Event::AckProblem(p) if p.kind == AckProblemKind::BadPingEcho),
        SEC,
    )
    .await
    .unwrap();
    fake.send_ping();
    let f = next_frame(&mut ws, SEC).await.unwrap();
    let mark = fake.mark();
    ack(&mut ws, &f, data(&f)).await;
    fake.wait_for_ack(f["headers"]["messageId"].as_str().unwrap(), SEC)
        .await
        .unwrap();

    assert_eq!(fake.stop_answering_pings(), 1);
    ws.send(WsMsg::Ping(b"hb2".to_vec().into())).await.unwrap();
    let silent = tokio::time::timeout(Duration::from_millis(500), ws.next()).await;
    assert!(
        silent.is_err(),
        "a silent server must not answer: {silent:?}"
    );
    assert_eq!(fake.connection_count(), 0);
    assert!(
        fake.wait_for_since(mark, |e| matches!(e, Event::AckProblem(_)), Duration::ZERO)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn disconnect_frame_then_forced_close_then_reregister() {
    let fake = fake_with(|c| c.disconnect_grace = Duration::from_millis(200)).await;
    let client = Client::new(&fake);
    let mut ws = client.connect().await;
    assert_eq!(fake.send_disconnect(), 1);
    let f = next_frame(&mut ws, SEC).await.unwrap();
    assert_eq!(
        (f["type"].as_str(), f["headers"]["topic"].as_str()),
        (Some("SYSTEM"), Some("disconnect"))
    );
    assert_eq!(data(&f)["reason"], "connection is expired");
    // A message injected now goes to a fresh connection, not the draining one.
    fake.inject_text(&alice(), "after rotation");
    assert!(
        next_frame(&mut ws, SEC).await.is_none(),
        "server force-closes after the grace period"
    );
    let mut ws2 = client.connect().await;
    let f = next_frame(&mut ws2, SEC).await.unwrap();
    assert_eq!(data(&f)["text"]["content"], "after rotation");
    assert_eq!(
        (fake.registration_count(), fake.total_connections()),
        (2, 2)
    );
}

#[tokio::test]
async fn drop_connection_without_close_frame() {
    let fake = FakeDingTalk::start(KEY, SECRET).await;
    let mut ws = Client::new(&fake).connect().await;
    assert_eq!(fake.drop_connection(), 1);
    let next = tokio::time::timeout(SEC, ws.next()).await.unwrap();
    assert!(
        !matches!(next, Some(Ok(WsMsg::Close(_)))),
        "no close handshake: {next:?}"
    );
    fake.wait_for(
        |e| {
            matches!(
                e,
                Event::ConnectionClosed {
                    by_client: false,
                    ..
                }
            )
        },
        SEC,
    )
    .await
    .unwrap();
}
