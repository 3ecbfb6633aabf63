//! Fault modes of the fake Bot API used by the e2e fault suite (5xx mix, flood, hang).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use cloudify_testkit::fake_telegram::{Config, FakeTelegram, Limits, Outage, User};
use teloxide::RequestError;
use teloxide::prelude::*;

async fn fake() -> (FakeTelegram, Bot) {
    let tg = FakeTelegram::start_with(Config {
        limits: Limits::unlimited(),
        ..Config::default()
    })
    .await;
    tg.register_user(&User::new(42, "Alice"));
    let bot = Bot::new(tg.token()).set_api_url(tg.api_url());
    (tg, bot)
}

#[tokio::test]
async fn server_errors_alternate_html_502_and_json_500() {
    let (tg, bot) = fake().await;
    tg.set_outage(Outage::ServerErrors);
    // Raw HTTP: teloxide sleeps 10 s after every 5xx.
    let http = reqwest::Client::new();
    let url = format!("{}bot{}/sendMessage", tg.api_url(), tg.token());
    let body = serde_json::json!({"chat_id": 42, "text": "a"});
    let first = http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(first.status(), 502);
    assert!(
        first
            .text()
            .await
            .unwrap()
            .contains("<center><h1>502 Bad Gateway</h1></center>")
    );
    let second = http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(second.status(), 500);
    let json: serde_json::Value = second.json().await.unwrap();
    assert_eq!(
        json,
        serde_json::json!({"ok": false, "error_code": 500, "description": "Internal Server Error"})
    );
    let poll = format!("{}bot{}/getUpdates", tg.api_url(), tg.token());
    assert_eq!(http.get(&poll).send().await.unwrap().status(), 502);
    assert!(tg.messages(42).is_empty());
    let statuses: Vec<u16> = tg.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [502, 500, 502]);
    tg.set_outage(Outage::Up);
    bot.send_message(ChatId(42), "c").await.unwrap();
    assert_eq!(tg.texts(42), ["c"]);
}

#[tokio::test]
async fn flood_answers_every_call_with_retry_after() {
    let (tg, bot) = fake().await;
    tg.set_outage(Outage::Flood { retry_after: 7 });
    let e = bot.send_message(ChatId(42), "a").await.unwrap_err();
    assert!(
        matches!(e, RequestError::RetryAfter(s) if s.seconds() == 7),
        "{e:?}"
    );
    let e = bot.get_updates().await.unwrap_err();
    assert!(matches!(e, RequestError::RetryAfter(_)), "{e:?}");
    assert!(tg.messages(42).is_empty());
    let limited = tg.rate_limited();
    assert_eq!(limited.len(), 2);
    assert_eq!(limited[0].chat_id, 42);
    assert_eq!(limited[0].retry_after, 7);
    assert_eq!(limited[1].method, "getUpdates");
    tg.set_outage(Outage::Up);
    bot.send_message(ChatId(42), "b").await.unwrap();
    assert_eq!(tg.texts(42), ["b"]);
}

#[tokio::test]
async fn a_hung_request_whose_client_gave_up_is_never_served() {
    let (tg, _) = fake().await;
    let impatient = Bot::with_client(
        tg.token(),
        reqwest::Client::builder()
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap(),
    )
    .set_api_url(tg.api_url());
    tg.hang_for(Duration::from_millis(800));
    let e = impatient
        .send_message(ChatId(42), "lost")
        .await
        .unwrap_err();
    assert!(
        matches!(e, RequestError::Network(ref n) if n.is_timeout()),
        "{e:?}"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(tg.outage(), Outage::Up);
    assert!(tg.messages(42).is_empty(), "{:?}", tg.texts(42));
    impatient.send_message(ChatId(42), "kept").await.unwrap();
    assert_eq!(tg.texts(42), ["kept"]);
}
