//! Receiving: 1:1, group, audio, pictures, files, richText, dedupe, ACK timing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use cloudify_core::adapter::{Adapter, IncomingKind};
use cloudify_core::identity::Platform;
use cloudify_core::output::{Envelope, Output};
use cloudify_testkit::fake_dingtalk::{Event, RichPart, User};
use common::*;

fn alice() -> User {
    User::new("staff-alice", "Alice")
}

#[tokio::test]
async fn private_text_is_acked_received_and_answered_via_the_session_webhook() {
    let mut h = start().await;
    let sent = h.fake.inject_text(&alice(), "hello bot");
    let ack = h
        .fake
        .wait_for_ack_of(&sent, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(ack.code, 200);
    assert!(!ack.late, "{:?}", ack.latency);
    let got = h.next().await;
    assert_eq!(got.kind, IncomingKind::Text("hello bot".into()));
    assert_eq!(got.update_id, sent.payload_id);
    assert_eq!(got.user.platform, Platform::DingTalk);
    assert_eq!(got.user.user_id, "staff-alice");
    assert_eq!(got.display_name, "Alice");
    assert_eq!(got.language_code, None);
    assert_eq!(got.chat, private("staff-alice"));

    let env = Envelope::bare(Output::Text {
        text: "**Hi** there `x`".into(),
    });
    h.adapter.send(&got.chat, &env).await.unwrap();
    let Event::WebhookReply(r) = h
        .fake
        .wait_for(
            |e| matches!(e, Event::WebhookReply(_)),
            Duration::from_secs(2),
        )
        .await
        .unwrap()
    else {
        unreachable!()
    };
    assert_eq!(r.msgtype, "markdown");
    assert!(r.markdown_issues.is_empty(), "{:?}", r.markdown_issues);
    assert_eq!(r.body["markdown"]["text"], "**Hi** there x");
    assert!(
        h.fake.ack_problems().is_empty(),
        "{:?}",
        h.fake.ack_problems()
    );
    let reg = &h.fake.registrations()[0];
    let topics: Vec<&str> = reg.subscriptions.iter().map(|s| s.topic.as_str()).collect();
    assert!(topics.contains(&"/v1.0/im/bot/messages/get"));
    assert!(topics.contains(&"/v1.0/card/instances/callback"));
}

#[tokio::test]
async fn group_mentions_arrive_trimmed_in_the_group_chat() {
    let mut h = start().await;
    h.fake
        .inject_group_text(&alice(), "cidGroup1", "Team", "/status");
    let got = h.next().await;
    assert_eq!(got.kind, IncomingKind::Text("/status".into()));
    assert_eq!(got.chat, group("cidGroup1"));
    assert_eq!(got.user.user_id, "staff-alice");
    h.adapter
        .send(&got.chat, &Envelope::bare(Output::plain("ok")))
        .await
        .unwrap();
    let e = h
        .fake
        .wait_for(
            |e| matches!(e, Event::WebhookReply(r) if r.conversation_id == "cidGroup1"),
            Duration::from_secs(2),
        )
        .await
        .unwrap();
    let Event::WebhookReply(r) = e else {
        unreachable!()
    };
    assert_eq!(r.msgtype, "text");
    assert_eq!(r.body["text"]["content"], "ok");
}

#[tokio::test]
async fn audio_uses_the_recognition_text() {
    let mut h = start().await;
    h.fake
        .inject_audio(&alice(), "帮我看看测试为什么失败", vec![1u8, 2, 3]);
    let got = h.next().await;
    assert_eq!(
        got.kind,
        IncomingKind::Text("帮我看看测试为什么失败".into())
    );
}

#[tokio::test]
async fn pictures_files_and_rich_text_are_downloaded() {
    let mut h = start().await;
    let png = {
        let img = image::RgbImage::new(4, 4);
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    h.fake.inject_picture(&alice(), png.clone());
    let got = h.next().await;
    let IncomingKind::File {
        mime, bytes, name, ..
    } = got.kind
    else {
        panic!("{got:?}")
    };
    assert_eq!(
        (mime.as_str(), bytes.as_slice()),
        ("image/png", png.as_slice())
    );
    assert!(!name.is_empty());

    h.fake
        .inject_file(&alice(), "report.pdf", b"%PDF-1.4 data".to_vec());
    let got = h.next().await;
    assert_eq!(
        got.kind,
        IncomingKind::File {
            name: "report.pdf".into(),
            mime: "application/pdf".into(),
            bytes: b"%PDF-1.4 data".to_vec(),
            caption: None,
        }
    );

    h.fake.inject_rich_text(
        &alice(),
        vec![
            RichPart::Text("what is".into()),
            RichPart::Picture(png.clone().into()),
            RichPart::Text("in this picture?".into()),
        ],
    );
    let got = h.next().await;
    let IncomingKind::File { caption, bytes, .. } = got.kind else {
        panic!("{got:?}")
    };
    assert_eq!(caption.as_deref(), Some("what is\nin this picture?"));
    assert_eq!(bytes, png);

    h.fake.inject_rich_text(
        &alice(),
        vec![
            RichPart::Text("line one".into()),
            RichPart::Text("line two".into()),
        ],
    );
    assert_eq!(
        h.next().await.kind,
        IncomingKind::Text("line one\nline two".into())
    );
}

#[tokio::test]
async fn files_over_the_cap_become_the_too_large_command() {
    let mut h = start_with(|_| {}, |o| o.max_download_bytes = 10, 8).await;
    h.fake.inject_file(&alice(), "big.zip", vec![0u8; 100]);
    let got = h.next().await;
    let IncomingKind::Text(t) = got.kind else {
        panic!("{got:?}")
    };
    assert!(
        t.starts_with("/file_too_large ") && t.ends_with(" big.zip"),
        "{t}"
    );
}

#[tokio::test]
async fn redelivered_messages_are_handled_once() {
    let mut h = start().await;
    let sent = h.fake.inject_text(&alice(), "once");
    h.fake
        .wait_for_ack_of(&sent, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(h.next().await.kind, IncomingKind::Text("once".into()));
    let again = h
        .fake
        .redeliver(sent.message_id.as_deref().unwrap())
        .unwrap();
    // The duplicate is ACKed too (so the server stops), but not handed on.
    h.fake
        .wait_for_ack(&again, Duration::from_secs(2))
        .await
        .unwrap();
    h.quiet(Duration::from_millis(400)).await;
    h.fake.inject_text(&alice(), "next");
    assert_eq!(h.next().await.kind, IncomingKind::Text("next".into()));
}

#[tokio::test]
async fn acks_stay_prompt_while_the_sink_is_stuck() {
    // Capacity 1 and nobody reading: the business side is blocked for the whole test.
    let h = start_with(|_| {}, |_| {}, 1).await;
    let mut injected = Vec::new();
    for i in 0..6 {
        injected.push(h.fake.inject_text(&alice(), &format!("m{i}")));
        let png = vec![0x89, b'P', b'N', b'G'];
        injected.push(h.fake.inject_picture(&alice(), png));
    }
    let pings = h.fake.send_ping();
    assert_eq!(pings.len(), 1);
    for i in &injected {
        let ack = h
            .fake
            .wait_for_ack_of(i, Duration::from_secs(2))
            .await
            .unwrap();
        assert!(ack.latency < Duration::from_secs(1), "{:?}", ack.latency);
    }
    let ping = h
        .fake
        .wait_for_ack(&pings[0], Duration::from_secs(2))
        .await
        .unwrap();
    assert!(!ping.late);
    assert!(
        h.fake.ack_problems().is_empty(),
        "{:?}",
        h.fake.ack_problems()
    );
}
