//! "can't parse entities" → the same call repeated once as plain text.
//!
//! The fake Bot API accepts all the HTML this crate produces (that is the point), so this
//! one path uses a tiny local stub that refuses the first HTML it sees, like Telegram would
//! if its parser ever disagreed with ours.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use cloudify_core::adapter::ChatRef;
use cloudify_core::identity::Platform;
use cloudify_core::output::{Envelope, Output};
use cloudify_core::{Adapter, Secret};
use cloudify_telegram::{TelegramAdapter, TelegramOptions};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

type Seen = Arc<Mutex<Vec<(String, Value)>>>;

/// Answers each request with `Connection: close`; refuses every call that has a
/// `parse_mode`, accepts the others.
async fn stub() -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_end, len) = loop {
                    let n = sock.read(&mut chunk).await.unwrap();
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map_or(0, |v| v.trim().parse().unwrap());
                        break (i + 4, len);
                    }
                };
                while buf.len() < head_end + len {
                    let n = sock.read(&mut chunk).await.unwrap();
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or_default();
                let method = path.rsplit('/').next().unwrap_or_default().to_owned();
                let body: Value = serde_json::from_slice(&buf[head_end..]).unwrap_or(Value::Null);
                let refuse = body.get("parse_mode").is_some();
                log.lock().unwrap().push((method.clone(), body.clone()));
                let (status, reply) = if method.eq_ignore_ascii_case("getMe") {
                    (
                        200,
                        json!({"ok": true, "result": {"id": 1, "is_bot": true, "first_name": "B", "username": "b_bot"}}),
                    )
                } else if refuse {
                    (
                        400,
                        json!({"ok": false, "error_code": 400,
                        "description": "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0"}),
                    )
                } else {
                    let text = body["text"].clone();
                    (
                        200,
                        json!({"ok": true, "result": {"message_id": 5, "date": 0, "text": text,
                        "chat": {"id": 42, "type": "private", "first_name": "A"}}}),
                    )
                };
                let payload = reply.to_string();
                let reason = if status == 200 { "OK" } else { "Bad Request" };
                let resp = format!(
                    "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{payload}",
                    payload.len()
                );
                sock.write_all(resp.as_bytes()).await.unwrap();
            });
        }
    });
    (url, seen)
}

#[tokio::test]
async fn refused_html_is_repeated_once_as_plain_text() {
    let (url, seen) = stub().await;
    let mut o = TelegramOptions::new(Secret::new("1:stub"));
    o.api_url = url;
    let adapter = TelegramAdapter::new(o).unwrap();
    let chat = ChatRef {
        platform: Platform::Telegram,
        chat_id: "42".into(),
        is_group: false,
    };
    let env = Envelope::bare(Output::Text {
        text: "**bold** a < b".into(),
    });
    assert_eq!(adapter.send(&chat, &env).await.unwrap(), "5");
    adapter.edit(&chat, &"5".to_owned(), &env).await.unwrap();
    let calls = seen.lock().unwrap().clone();
    let names: Vec<&str> = calls.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(
        names,
        [
            "SendMessage",
            "SendMessage",
            "EditMessageText",
            "EditMessageText"
        ]
    );
    assert_eq!(calls[0].1["text"], "<b>bold</b> a &lt; b");
    assert_eq!(calls[0].1["parse_mode"], "HTML");
    assert_eq!(calls[1].1["text"], "bold a < b");
    assert!(calls[1].1.get("parse_mode").is_none());
    assert_eq!(calls[3].1["text"], "bold a < b");
}
