//! Failures → `DeliveryError`, and the bot token kept out of logs and errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloudify_core::adapter::ChatRef;
use cloudify_core::identity::Platform;
use cloudify_core::output::{Envelope, Output};
use cloudify_core::{Adapter, DeliveryError, Secret};
use cloudify_telegram::{TelegramAdapter, TelegramError, TelegramOptions};
use cloudify_testkit::fake_telegram::{Config, Outage};
use common::*;

fn note(t: &str) -> Envelope {
    Envelope::bare(Output::notice(t))
}

#[tokio::test]
async fn rate_limits_come_back_as_retry_after() {
    let (tg, adapter) = setup().await;
    let alice = alice();
    tg.register_user(&alice);
    tg.fail_next(1, 429);
    let err = adapter
        .send(&private(&alice), &note("hi"))
        .await
        .unwrap_err();
    assert_eq!(err, DeliveryError::RetryAfter(Duration::from_secs(1)));
    // Exactly one call: no retry inside the adapter.
    assert_eq!(tg.calls_to("sendMessage").len(), 1);
    // The fake's own flood control answers the same way once the chat's burst (3) is spent.
    for text in ["one", "two", "three"] {
        adapter.send(&private(&alice), &note(text)).await.unwrap();
    }
    let err = adapter
        .send(&private(&alice), &note("four"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, DeliveryError::RetryAfter(d) if d >= Duration::from_secs(1)),
        "{err:?}"
    );
}

#[tokio::test]
async fn blocked_users_and_unknown_chats_are_unreachable() {
    let (tg, adapter) = setup_unlimited().await;
    let alice = alice();
    tg.register_user(&alice);
    let id = adapter
        .send(&private(&alice), &note("before"))
        .await
        .unwrap();
    tg.set_blocked(alice.id, true);
    let err = adapter
        .send(&private(&alice), &note("after"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DeliveryError::Unreachable(m) if m.contains("blocked")),
        "{err:?}"
    );
    let err = adapter
        .edit(&private(&alice), &id, &note("edit"))
        .await
        .unwrap_err();
    assert!(matches!(err, DeliveryError::Unreachable(_)), "{err:?}");
    let stranger = ChatRef {
        platform: Platform::Telegram,
        chat_id: "999".into(),
        is_group: false,
    };
    assert!(matches!(
        adapter.send(&stranger, &note("x")).await,
        Err(DeliveryError::Unreachable(_))
    ));
    // Bad requests are refused for good.
    tg.set_blocked(alice.id, false);
    tg.fail_next(1, 400);
    assert!(matches!(
        adapter.send(&private(&alice), &note("x")).await,
        Err(DeliveryError::Rejected(_))
    ));
}

#[tokio::test]
async fn network_failures_are_transient() {
    let (tg, adapter) = setup_unlimited().await;
    let alice = alice();
    tg.register_user(&alice);
    tg.set_outage(Outage::Refuse);
    let err = adapter
        .send(&private(&alice), &note("x"))
        .await
        .unwrap_err();
    assert!(matches!(err, DeliveryError::Transient(_)), "{err:?}");
    tg.set_outage(Outage::Up);
    adapter.send(&private(&alice), &note("x")).await.unwrap();
}

#[tokio::test]
async fn a_half_delivered_split_resumes_instead_of_repeating() {
    let (tg, adapter) = setup().await;
    let alice = alice();
    tg.register_user(&alice);
    let long = (0..3)
        .map(|i| format!("part {i} ") + &"word ".repeat(700))
        .collect::<Vec<_>>()
        .join("\n\n");
    let env = Envelope::bare(Output::Text { text: long });
    assert_eq!(adapter.cost(&env), 3);
    // Part one goes out, part two is refused by a 429.
    let chat = private(&alice);
    let sending = {
        let (a, e, c) = (adapter.clone(), env.clone(), chat.clone());
        tokio::spawn(async move { a.send(&c, &e).await })
    };
    tg.wait_until(WAIT, |tg| {
        (tg.calls_to("sendMessage").len() == 1).then_some(())
    })
    .await
    .unwrap();
    tg.fail_next(1, 429);
    let err = sending.await.unwrap().unwrap_err();
    assert!(matches!(err, DeliveryError::RetryAfter(_)), "{err:?}");
    assert_eq!(tg.messages(alice.id).len(), 1);
    // The outbox's retry of the same envelope sends only what is missing.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    adapter.send(&chat, &env).await.unwrap();
    let texts = tg.texts(alice.id);
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert!(
        texts[0].starts_with("part 0")
            && texts[1].starts_with("part 1")
            && texts[2].starts_with("part 2")
    );
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// A short secret that teloxide's own URL scrubbing does not recognise as a token.
const TOKEN: &str = "4711:s3cretTokenValue";

#[tokio::test]
async fn the_token_never_reaches_logs_or_errors() {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (tg, adapter) = setup_with(Config {
        token: TOKEN.into(),
        ..Config::default()
    })
    .await;
    let alice = alice();
    tg.register_user(&alice);
    let mut errors = Vec::new();
    let mut rx = poll(&adapter);
    // Calls that fail in every way we map.
    tg.set_outage(Outage::Refuse);
    errors.push(adapter.send(&private(&alice), &note("x")).await.err());
    tg.set_outage(Outage::Up);
    // nginx's HTML 502 page (teloxide waits 10 s on any 5xx before reporting it).
    tg.fail_next(1, 502);
    errors.push(adapter.send(&private(&alice), &note("x")).await.err());
    tg.fail_next(1, 404);
    errors.push(adapter.send(&private(&alice), &note("x")).await.err());
    tg.set_blocked(alice.id, true);
    errors.push(adapter.send(&private(&alice), &note("x")).await.err());
    tg.set_blocked(alice.id, false);
    // The poller logs its failures too.
    tg.set_outage(Outage::Refuse);
    tokio::time::sleep(Duration::from_secs(2)).await;
    tg.set_outage(Outage::Up);
    tg.user_sends_text(&alice, "still there?");
    assert!(
        tokio::time::timeout(Duration::from_secs(90), rx.recv())
            .await
            .unwrap()
            .is_some()
    );
    // Nothing to connect to at all.
    let mut o = TelegramOptions::new(Secret::new(TOKEN));
    o.api_url = "http://127.0.0.1:9".into();
    let offline = TelegramAdapter::new(o.clone()).unwrap();
    errors.push(offline.send(&private(&alice), &note("x")).await.err());
    let connect = TelegramAdapter::connect(o).await.unwrap_err();
    assert!(matches!(connect, TelegramError::GetMe(_)));

    let errors: Vec<String> = errors
        .into_iter()
        .map(|e| {
            format!(
                "{:?} {}",
                e,
                e.as_ref().map(ToString::to_string).unwrap_or_default()
            )
        })
        .collect();
    assert!(
        errors.iter().filter(|e| e.contains("Transient")).count() >= 2,
        "{errors:#?}"
    );
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("getUpdates failed"),
        "the poller's failures were logged: {logs}"
    );
    let secret = TOKEN.split(':').nth(1).unwrap();
    for text in errors
        .iter()
        .chain([&logs, &connect.to_string(), &format!("{adapter:?}")])
    {
        assert!(!text.contains(secret), "token leaked: {text}");
    }
}
