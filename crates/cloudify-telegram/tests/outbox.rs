//! The adapter behind the core's outbox, against the fake's real flood limits: a busy turn
//! (split answer, rendered code, live edits, prompts) must cause no 429 at all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use cloudify_core::adapter::ChatRef;
use cloudify_core::outbox::runner::{Backlog, OutboxHandle};
use cloudify_core::output::{Envelope, Output, Progress};
use common::*;

#[derive(Default)]
struct Kept(Mutex<Vec<Envelope>>);

#[async_trait]
impl Backlog for Kept {
    async fn keep(&self, _chat: &ChatRef, envelopes: Vec<Envelope>) {
        self.0.lock().unwrap().extend(envelopes);
    }
}

fn live(n: usize) -> Envelope {
    Envelope::bare(Output::Progress(Progress {
        status: format!("⏳ Working… {n}s"),
        answer: format!("step {n}: ") + &"thinking ".repeat(n * 5),
        tool: Some(format!("🔧 bash: cargo test --test t{n}")),
        todos: vec![],
    }))
}

#[tokio::test]
async fn a_busy_turn_through_the_outbox_gets_no_429() {
    let (tg, adapter) = setup().await;
    let alice = alice();
    tg.register_user(&alice);
    let chat = private(&alice);
    let kept = Arc::new(Kept::default());
    let outbox = OutboxHandle::spawn(Arc::new(adapter), kept.clone());

    let working = outbox.send(chat.clone(), live(0));
    // The agent streams: an edit every 300 ms, faster than Telegram allows.
    for n in 1..=12 {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        outbox.edit(chat.clone(), working, live(n));
    }
    let long_code: String = (1..=40).map(|i| format!("fn f{i}() {{}}\n")).collect();
    let answer = (0..40)
        .map(|i| {
            format!("Paragraph {i} **bold** text text text text text text text text text.\n\n")
        })
        .collect::<String>()
        .repeat(4)
        + &format!("```rust\n{long_code}```\nDone.");
    outbox.send(chat.clone(), Envelope::bare(Output::Text { text: answer }));
    outbox.edit(chat.clone(), working, live(99));
    outbox.send(
        chat.clone(),
        Envelope::bare(Output::notice("✅ Done in 42s")),
    );
    outbox.delete(chat.clone(), working);
    tokio::time::timeout(std::time::Duration::from_secs(60), outbox.flush())
        .await
        .expect("delivered in time");

    let methods: Vec<String> = tg.calls().into_iter().map(|c| c.method).collect();
    assert!(
        methods.iter().filter(|m| *m == "editMessageText").count() >= 3,
        "{methods:?}"
    );
    assert!(
        methods.iter().filter(|m| *m == "sendMessage").count() >= 5,
        "{methods:?}"
    );
    assert!(methods.contains(&"deleteMessage".to_owned()), "{methods:?}");
    assert_eq!(tg.rate_limited_count(), 0, "{:#?}", tg.rate_limited());
    assert!(kept.0.lock().unwrap().is_empty());
    let msgs = tg.messages(alice.id);
    let last = msgs.last().unwrap();
    assert_eq!(last.text(), "✅ Done in 42s");
    assert!(
        msgs.iter().any(|m| m.photo.is_some()),
        "the 40-line block went out as a photo"
    );
    assert!(
        msgs.iter().all(|m| !m.text().starts_with("⏳")),
        "the live message was deleted"
    );
    let texts: String = msgs
        .iter()
        .map(cloudify_testkit::fake_telegram::Message::text)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(texts.contains("Paragraph 0 bold") && texts.contains("Done."));
}
