//! Malformed getUpdates batches through the real polling loop: a junk update must be skipped
//! (and confirmed), never stall polling; the good updates around it are still delivered.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use cloudify_core::adapter::IncomingKind;
use common::*;

/// A private text message from Alice as Telegram would send it, `text` given as JSON text.
fn message(text_json: &str, extra: &str) -> String {
    format!(
        r#"{{"update_id":{{update_id}},"message":{{"message_id":77,"date":1700000000,"chat":{{"id":4242,"type":"private","first_name":"Alice"}},"from":{{"id":4242,"is_bot":false,"first_name":"Alice"}},"text":{text_json}{extra}}}}}"#
    )
}

/// Junk updates, each a separate trap: unknown kinds, missing fields, wrong types, escapes
/// that are not valid UTF-16, entities past the end, ids that are not ids.
fn junk() -> Vec<String> {
    vec![
        r#"{"update_id":{update_id},"weird_new_kind":{"a":[1,2,{"b":null}]}}"#.into(),
        r#"{"update_id":{update_id}}"#.into(),
        r#"{"update_id":{update_id},"message":{"message_id":"nope","chat":7}}"#.into(),
        r#"{"update_id":{update_id},"message":null}"#.into(),
        r#"{"update_id":{update_id},"callback_query":{"id":5,"from":"me"}}"#.into(),
        r#"{"update_id":{update_id},"edited_message":{"message_id":1}}"#.into(),
        message(r#""lone \ud800 surrogate""#, ""),
        message(r#""reversed \udc00\ud800 pair""#, ""),
        message(
            r#""past the end""#,
            r#","entities":[{"type":"bold","offset":100,"length":50},{"type":"italic","offset":3,"length":99999}]"#,
        ),
        r#"{"update_id":"{update_id}","weird":1}"#.into(),
        r#"{"update_id":"not a number","message":{}}"#.into(),
        r#"{"update_id":-5,"message":{}}"#.into(),
        r#"{"update_id":1e40}"#.into(),
        r#"42"#.into(),
        r#"null"#.into(),
        r#"["update_id",{update_id}]"#.into(),
        r#"{"message":{"text":"no id at all"}}"#.into(),
    ]
}

#[tokio::test]
async fn junk_updates_are_skipped_and_the_next_good_one_arrives() {
    let (tg, adapter) = setup().await;
    let mut rx = poll(&adapter);
    let alice = alice();
    for (i, bad) in junk().iter().enumerate() {
        tg.inject_raw_update(bad);
        tg.user_sends_text(&alice, &format!("good {i}"));
    }
    let mut texts = Vec::new();
    while texts
        .last()
        .is_none_or(|t: &String| t != &format!("good {}", junk().len() - 1))
    {
        let inc = next(&mut rx).await;
        if let IncomingKind::Text(t) = inc.kind {
            texts.push(t);
        }
    }
    let good: Vec<&String> = texts.iter().filter(|t| t.starts_with("good ")).collect();
    assert_eq!(good.len(), junk().len(), "{texts:?}");
    // A message with a broken escape is still a message: delivered with U+FFFD, not dropped.
    assert!(
        texts.iter().any(|t| t == "lone \u{FFFD} surrogate"),
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t == "past the end"), "{texts:?}");
    // Everything was confirmed: polling did not get stuck on any offset.
    assert!(tg.wait_updates_consumed(WAIT).await);
}

#[tokio::test]
async fn a_batch_of_only_junk_then_a_huge_text() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let (tg, adapter) = setup().await;
    let mut rx = poll(&adapter);
    for bad in junk() {
        tg.inject_raw_update(&bad);
    }
    let huge = "字".repeat(300_000);
    tg.inject_raw_update(&message(&serde_json::to_string(&huge).unwrap(), ""));
    tg.user_sends_text(&alice(), "after");
    let mut got = Vec::new();
    loop {
        let inc = next(&mut rx).await;
        let IncomingKind::Text(t) = inc.kind else {
            continue;
        };
        if t == "after" {
            break;
        }
        got.push(t);
    }
    assert!(
        got.iter().any(|t| t.chars().count() == 300_000),
        "huge text lost"
    );
    assert!(tg.wait_updates_consumed(WAIT).await);
}
