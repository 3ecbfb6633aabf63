//! Updates from the fake Bot API → `Incoming`, through the real long-polling loop.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use cloudify_core::adapter::{Fetched, IncomingKind};
use cloudify_core::identity::Platform;
use cloudify_telegram::{FILE_TOO_LARGE_COMMAND, TelegramAdapter};
use cloudify_testkit::fake_telegram::{Group, Outage, User};
use common::*;
use serde_json::json;

#[tokio::test]
async fn connect_learns_the_username_and_run_registers_the_menu() {
    let (tg, adapter) = setup().await;
    assert_eq!(adapter.bot_username().as_deref(), Some("cloudify_test_bot"));
    let _rx = poll(&adapter);
    let zh = tg
        .wait_until(WAIT, |tg| {
            Some(tg.commands_for(None, "zh")).filter(|c| !c.is_empty())
        })
        .await
        .unwrap();
    let en = tg.commands();
    let names: Vec<&str> = en.iter().map(|c| c.command.as_str()).collect();
    assert_eq!(names, ["start", "reset_qr", "web_terminal"]);
    assert_eq!(en[1].description, "Owner: new QR, kick everyone");
    assert_eq!(zh[2].command, "web_terminal");
    assert_eq!(zh[2].description, "切换终端类型");
}

#[tokio::test]
async fn private_text_becomes_incoming_with_identity() {
    let (tg, adapter) = setup().await;
    let mut rx = poll(&adapter);
    let alice = alice();
    let sent = tg.user_sends_text(&alice, "fix the <bug> & test");
    let inc = next(&mut rx).await;
    assert_eq!(inc.update_id, sent.update_id.to_string());
    assert_eq!(inc.user.platform, Platform::Telegram);
    assert_eq!(inc.user.user_id, "4242");
    assert_eq!(inc.display_name, "Alice");
    assert_eq!(inc.username.as_deref(), Some("alice"));
    assert_eq!(inc.language_code.as_deref(), Some("zh-hans"));
    assert_eq!(inc.chat, private(&alice));
    assert_eq!(inc.kind, IncomingKind::Text("fix the <bug> & test".into()));
    // The next poll's offset confirms it.
    assert!(tg.wait_updates_consumed(WAIT).await);
}

#[tokio::test]
async fn group_commands_lose_our_mention_and_others_are_ignored() {
    let (tg, adapter) = setup().await;
    let mut rx = poll(&adapter);
    let group = Group::new(-100_777, "team").supergroup();
    let bob = User::new(7, "Bob");
    tg.user_sends_group_text(&group, &bob, "/help@other_bot");
    tg.user_sends_group_text(&group, &bob, "/status@cloudify_test_bot now");
    tg.user_starts(&bob, Some("tok_123-abc"));
    let inc = next(&mut rx).await;
    assert_eq!(inc.kind, IncomingKind::Text("/status now".into()));
    assert!(inc.chat.is_group);
    assert_eq!(inc.chat.chat_id, "-100777");
    let inc = next(&mut rx).await;
    assert_eq!(inc.kind, IncomingKind::Text("/start tok_123-abc".into()));
    assert!(!inc.chat.is_group);
}

#[tokio::test]
async fn button_presses_are_commands_and_get_answered() {
    let (tg, adapter) = setup().await;
    let mut rx = poll(&adapter);
    let alice = alice();
    tg.register_user(&alice);
    let env = cloudify_core::Envelope::bare(cloudify_core::Output::Prompt(cloudify_core::Prompt {
        text: "Allow bash?".into(),
        detail: None,
        buttons: vec![vec![cloudify_core::Button::new(
            "Allow once",
            "/approve per_1 once",
        )]],
    }));
    cloudify_core::Adapter::send(&adapter, &private(&alice), &env)
        .await
        .unwrap();
    let query = tg.user_presses_button(&alice, alice.id, "/approve per_1 once");
    let inc = next(&mut rx).await;
    assert_eq!(
        inc.kind,
        IncomingKind::Button {
            command: "/approve per_1 once".into()
        }
    );
    assert_eq!(inc.chat, private(&alice));
    let answers = tg.callback_answers();
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].callback_query_id, query);
}

#[tokio::test]
async fn photos_and_documents_are_downloaded_only_when_the_router_asks() {
    let (tg, adapter) = setup().await;
    let mut rx = poll(&adapter);
    let alice = alice();
    let image = png(1600, 900);
    let sent = tg.user_sends_photo(&alice, image.clone(), Some("what is this?"));
    let inc = next(&mut rx).await;
    let IncomingKind::Remote {
        name,
        caption,
        file,
    } = inc.kind
    else {
        panic!("{:?}", inc.kind)
    };
    assert!(
        tg.calls_to("getFile").is_empty(),
        "nothing is downloaded before the router checked the sender"
    );
    assert!(
        name.starts_with("photo_") && name.ends_with(".jpg"),
        "{name}"
    );
    assert_eq!(caption.as_deref(), Some("what is this?"));
    assert_eq!(
        file.0.fetch().await.unwrap(),
        Fetched::File {
            mime: "image/jpeg".into(),
            bytes: image
        }
    );
    // The largest size was fetched.
    let largest = tg
        .message(alice.id, sent.message_id)
        .unwrap()
        .photo
        .unwrap()
        .sizes
        .last()
        .unwrap()
        .file_id
        .clone();
    let asked = tg.calls_to("getFile").last().unwrap().params["file_id"].clone();
    assert_eq!(asked, json!(largest));

    tg.user_sends_document(
        &alice,
        b"a,b\n1,2\n".to_vec(),
        "../data.csv",
        "text/csv",
        None,
    );
    let inc = next(&mut rx).await;
    let IncomingKind::Remote { name, file, .. } = inc.kind else {
        panic!("{:?}", inc.kind)
    };
    assert_eq!(name, "data.csv");
    assert_eq!(
        file.0.fetch().await.unwrap(),
        Fetched::File {
            mime: "text/csv".into(),
            bytes: b"a,b\n1,2\n".to_vec(),
        }
    );
}

#[tokio::test]
async fn files_over_twenty_megabytes_are_refused_not_downloaded() {
    let (tg, adapter) = setup().await;
    let mut rx = poll(&adapter);
    let alice = alice();
    let big = vec![7u8; 21 * 1024 * 1024];
    tg.user_sends_document(&alice, big, "dump.bin", "application/octet-stream", None);
    let inc = next(&mut rx).await;
    assert_eq!(
        inc.kind,
        IncomingKind::Text(format!(
            "{FILE_TOO_LARGE_COMMAND} {} dump.bin",
            21 * 1024 * 1024
        ))
    );
    assert!(
        tg.calls_to("getFile").is_empty(),
        "the size in the update is enough to refuse"
    );
}

#[tokio::test]
async fn polling_survives_an_outage_and_stops_when_the_sink_closes() {
    let (tg, adapter) = setup().await;
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let a: TelegramAdapter = adapter.clone();
    let task = tokio::spawn(async move { cloudify_core::Adapter::run(&a, tx).await });
    let alice = alice();
    tg.user_sends_text(&alice, "one");
    assert_eq!(next(&mut rx).await.kind, IncomingKind::Text("one".into()));
    tg.set_outage(Outage::Refuse);
    tokio::time::sleep(Duration::from_secs(2)).await;
    tg.set_outage(Outage::Up);
    tg.user_sends_text(&alice, "two");
    let inc = tokio::time::timeout(Duration::from_secs(90), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(inc.kind, IncomingKind::Text("two".into()));
    drop(rx);
    let ended = tokio::time::timeout(WAIT, task)
        .await
        .expect("run ends once the sink is gone");
    assert!(ended.unwrap().is_ok());
}
