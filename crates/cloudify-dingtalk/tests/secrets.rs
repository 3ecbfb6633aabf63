//! The app secret and access tokens never show in logs, errors or Debug output; tokens
//! are refreshed when they expire.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloudify_core::Secret;
use cloudify_core::adapter::{Adapter, DeliveryError};
use cloudify_core::output::{Envelope, Output};
use cloudify_dingtalk::DingTalkAdapter;
use cloudify_testkit::fake_dingtalk::{Event, FakeDingTalk, Fault, User};
use common::*;

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

fn tokens(fake: &FakeDingTalk) -> Vec<String> {
    fake.events()
        .into_iter()
        .filter_map(|e| match e {
            Event::TokenIssued { token, .. } => Some(token),
            _ => None,
        })
        .collect()
}

// current_thread: the thread-local subscriber sees every task of the test.
#[tokio::test(flavor = "current_thread")]
async fn secret_and_tokens_never_leak() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut h = start().await;
    let user = User::new("staff-dan", "Dan");
    h.fake.inject_text(&user, "hi");
    h.next().await;
    h.fake.expire_session_webhooks();
    let chat = private("staff-dan");
    let mut errors = Vec::new();
    h.adapter
        .send(&chat, &Envelope::bare(Output::plain("one")))
        .await
        .unwrap();
    // Failures of every kind, and an expired token (refreshed and retried once).
    h.fake.fail_next(
        "/v1.0/robot/oToMessages/batchSend",
        1,
        Fault::ServerError(502),
    );
    errors.push(
        h.adapter
            .send(&chat, &Envelope::bare(Output::plain("x")))
            .await
            .unwrap_err(),
    );
    h.fake.expire_tokens();
    h.adapter
        .send(&chat, &Envelope::bare(Output::plain("after expiry")))
        .await
        .unwrap();
    errors.push(
        h.adapter
            .send(&private("nobody"), &Envelope::bare(Output::plain("x")))
            .await
            .unwrap_err(),
    );
    // An upload with a refused token.
    h.fake.expire_tokens();
    let qr = cloudify_render::qr::png("x", 2).unwrap();
    h.adapter
        .send(
            &chat,
            &Envelope::bare(Output::Image {
                png: qr,
                caption: String::new(),
            }),
        )
        .await
        .unwrap();
    // A wrong secret: registration keeps failing, with backoff, without saying the secret.
    let mut bad = options(&h.fake);
    bad.app_secret = Secret::new("wrong-secret-value-123");
    let bad_adapter = DingTalkAdapter::new(bad.clone()).unwrap();
    let (tx, _rx) = tokio::sync::mpsc::channel(1);
    let _ = tokio::time::timeout(Duration::from_millis(400), bad_adapter.run(tx)).await;
    errors.push(
        bad_adapter
            .send(&chat, &Envelope::bare(Output::plain("x")))
            .await
            .unwrap_err(),
    );

    let issued = tokens(&h.fake);
    assert!(issued.len() >= 3, "tokens were refreshed: {issued:?}");
    let mut seen = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    for e in &errors {
        seen.push_str(&format!("{e} {e:?}\n"));
    }
    seen.push_str(&format!("{:?} {:?} {:?}", h.adapter, bad_adapter, bad));
    assert!(seen.contains("dingtalk"), "logs were captured: {seen}");
    for secret in [SECRET, "wrong-secret-value-123"]
        .iter()
        .map(ToString::to_string)
        .chain(issued)
    {
        assert!(!seen.contains(&secret), "{secret} leaked:\n{seen}");
    }
    assert!(matches!(errors[0], DeliveryError::Transient(_)));
    assert!(matches!(errors[1], DeliveryError::Unreachable(_)));
    assert!(matches!(errors[2], DeliveryError::Transient(_)));
}

#[tokio::test]
async fn short_token_ttls_are_refreshed_before_expiry() {
    let mut h = start_with(|c| c.token_ttl = Duration::from_secs(2), |_| {}, 8).await;
    h.fake.inject_text(&User::new("staff-eve", "Eve"), "hi");
    h.next().await;
    h.fake.expire_session_webhooks();
    let chat = private("staff-eve");
    h.adapter
        .send(&chat, &Envelope::bare(Output::plain("1")))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    h.adapter
        .send(&chat, &Envelope::bare(Output::plain("2")))
        .await
        .unwrap();
    assert_eq!(
        tokens(&h.fake).len(),
        2,
        "refreshed at half-life, never used expired"
    );
    let refused = h
        .fake
        .rejections()
        .into_iter()
        .filter(|r| r.code == "InvalidAuthentication")
        .count();
    assert_eq!(refused, 0);
}
