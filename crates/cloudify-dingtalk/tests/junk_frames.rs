//! Junk on the Stream-mode WebSocket: non-JSON text, binary frames, JSON without headers or
//! data, data that is not JSON or not an object, unknown topics, 1 MB frames. No panic, the
//! connection keeps serving, and the next good message is delivered.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use cloudify_core::adapter::IncomingKind;
use cloudify_testkit::fake_dingtalk::User;
use common::*;
use serde_json::json;

fn callback(topic: &str, data: &str) -> String {
    json!({"specVersion": "1.0", "type": "CALLBACK",
        "headers": {"topic": topic, "messageId": format!("junk-{}", data.len()), "contentType": "application/json"},
        "data": data})
    .to_string()
}

fn junk() -> Vec<String> {
    let bot = "/v1.0/im/bot/messages/get";
    let big = "x".repeat(1 << 20);
    vec![
        "not json at all".into(),
        String::new(),
        "{".into(),
        "[1,2,3]".into(),
        "null".into(),
        r#"{"type":"CALLBACK"}"#.into(),
        r#"{"type":"CALLBACK","headers":"nope","data":5}"#.into(),
        r#"{"type":"SYSTEM","headers":{"topic":"ping"}}"#.into(),
        // (A `disconnect`, however malformed, is obeyed: the client registers again.)
        r#"{"type":"SYSTEM","headers":{"topic":"reboot","messageId":7},"data":"{\"reason\":5}"}"#
            .into(),
        callback(bot, "not json"),
        callback(bot, "[]"),
        callback(bot, "null"),
        callback(bot, r#"{"msgtype":"text"}"#),
        callback(
            bot,
            r#"{"msgtype":"text","text":{"content":5},"senderStaffId":[],"conversationType":{}}"#,
        ),
        callback(
            bot,
            r#"{"msgtype":"picture","content":"x","senderStaffId":"s","conversationType":"1"}"#,
        ),
        callback(
            bot,
            r#"{"msgtype":"richText","content":{"richText":[{"type":"picture"},5,null]},"senderStaffId":"s","conversationType":"1"}"#,
        ),
        callback("/v1.0/card/instances/callback", "{\"value\":\"{not json\"}"),
        callback("/v1.0/unknown/topic", "{}"),
        json!({"type": "EVENT", "headers": {"topic": "*", "messageId": "e1"}, "data": big})
            .to_string(),
        format!("{{\"type\":\"CALLBACK\",\"junk\":\"{big}\"}}"),
        "\u{0}\u{202E}\u{FEFF}".into(),
    ]
}

#[tokio::test]
async fn junk_frames_then_a_good_message() {
    let mut h = start().await;
    let alice = User::new("staff-alice", "Alice");
    for (i, frame) in junk().iter().enumerate() {
        assert_eq!(
            h.fake.send_raw_frame(frame),
            1,
            "connection lost before junk {i}"
        );
        h.fake.send_binary_frame(&[0xff, 0x00, 0xfe, i as u8]);
        h.fake.inject_text(&alice, &format!("good {i}"));
    }
    let mut texts = Vec::new();
    while texts.len() < junk().len() {
        let got = tokio::time::timeout(Duration::from_secs(5), h.rx.recv()).await;
        let Ok(Some(got)) = got else {
            panic!(
                "stalled after {texts:?}; fake log: {:#?}",
                h.fake.events().iter().rev().take(12).collect::<Vec<_>>()
            );
        };
        if let IncomingKind::Text(t) = got.kind {
            texts.push(t);
        }
    }
    let want: Vec<String> = (0..junk().len()).map(|i| format!("good {i}")).collect();
    assert_eq!(texts, want);
    // Still the first connection: junk never made the client reconnect.
    assert_eq!(h.fake.total_connections(), 1);
    h.quiet(Duration::from_millis(300)).await;
}
