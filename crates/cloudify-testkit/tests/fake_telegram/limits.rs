//! Flood limits (429 + retry_after) and injected faults: outages, 5xx, blocked users.

use super::*;

#[tokio::test]
async fn a_burst_of_three_passes_the_fourth_gets_429_edits_included() {
    let tg = FakeTelegram::start().await;
    let bot = bot(&tg);
    tg.register_user(&alice());
    let chat = ChatId(42);
    let first = bot.send_message(chat, "one").await.unwrap();
    bot.send_message(chat, "two").await.unwrap();
    bot.edit_message_text(chat, first.id, "1").await.unwrap();
    match bot.send_message(chat, "three").await {
        Err(RequestError::RetryAfter(s)) => assert_eq!(s.seconds(), 1),
        other => panic!("expected RetryAfter, got {other:?}"),
    }
    assert!(matches!(
        bot.edit_message_text(chat, first.id, "uno").await,
        Err(RequestError::RetryAfter(_))
    ));
    assert_eq!(tg.rate_limited_count(), 2);
    let raw = tg.calls_to("sendMessage");
    assert_eq!(
        raw.iter().map(|c| c.status).collect::<Vec<_>>(),
        [200, 200, 429]
    );

    tokio::time::sleep(SEC).await;
    bot.edit_message_text(chat, first.id, "uno").await.unwrap();
    assert_eq!(tg.texts(42), ["uno", "two"], "refused calls change nothing");
}

#[tokio::test]
async fn a_stream_over_one_a_second_gets_429_once_the_burst_is_spent() {
    let tg = FakeTelegram::start().await;
    let bot = bot(&tg);
    tg.register_user(&alice());
    let started = Instant::now();
    let mut refused_at = None;
    for i in 0..20 {
        if let Err(e) = bot.send_message(ChatId(42), format!("m{i}")).await {
            assert!(matches!(e, RequestError::RetryAfter(_)), "{e:?}");
            refused_at = Some(i);
            break;
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    // 2.5 calls a second: the burst of 3 lasts about 2 s, i.e. until the 5th call.
    let i = refused_at.expect("a fast stream must be refused");
    assert!((4..=6).contains(&i), "refused at call {i}");
    assert!(started.elapsed() < 4 * SEC);
}

#[tokio::test]
async fn bot_wide_limit_is_30_per_second() {
    let tg = FakeTelegram::start().await;
    let bot = bot(&tg);
    for id in 1..=31 {
        tg.register_user(&User::new(id, "u"));
    }
    let mut refused = Vec::new();
    for id in 1..=31 {
        if let Err(e) = bot.send_message(ChatId(id), "broadcast").await {
            refused.push((id, e));
        }
    }
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].0, 31);
    assert!(matches!(refused[0].1, RequestError::RetryAfter(_)));
    assert_eq!(tg.rate_limited()[0].chat_id, 31);
}

#[tokio::test]
async fn group_limit_is_per_minute_and_limits_are_configurable() {
    let limits = Limits {
        per_chat: None,
        per_group: Some(Rate::new(3, 60 * SEC)),
        ..Limits::telegram()
    };
    let tg = FakeTelegram::start_with(Config {
        limits,
        ..Config::default()
    })
    .await;
    let bot = bot(&tg);
    let group = Group::new(-200, "team").supergroup();
    tg.user_sends_group_text(&group, &alice(), "hi all");
    for _ in 0..3 {
        bot.send_message(ChatId(-200), "ok").await.unwrap();
    }
    match bot.send_message(ChatId(-200), "too many").await {
        Err(RequestError::RetryAfter(s)) => assert!((59..=60).contains(&s.seconds()), "{s:?}"),
        other => panic!("{other:?}"),
    }
    tg.set_limits(Limits::unlimited());
    bot.send_message(ChatId(-200), "now fine").await.unwrap();
}

#[tokio::test]
async fn down_refused_and_hanging_api() {
    let (tg, bot) = relaxed().await;
    tg.register_user(&alice());
    let http = reqwest::Client::new();
    let url = format!("{}bot{}/getMe", tg.api_url(), tg.token());

    bot.get_me().await.unwrap(); // leaves a kept-alive connection in teloxide's pool
    tg.set_down(true);
    let resp = http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 502);
    assert!(resp.text().await.unwrap().contains("502 Bad Gateway"));

    tg.set_outage(Outage::Refuse);
    assert!(matches!(
        bot.send_message(ChatId(42), "lost").await,
        Err(RequestError::Network(_))
    ));
    assert!(tg.messages(42).is_empty());

    tg.hang_for(Duration::from_millis(800));
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    assert!(quick.get(&url).send().await.unwrap_err().is_timeout());
    let started = Instant::now();
    bot.send_message(ChatId(42), "late").await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "held until the hang ended"
    );

    tg.set_down(false);
    bot.send_message(ChatId(42), "back").await.unwrap();
    assert_eq!(tg.texts(42), ["late", "back"]);
}

#[tokio::test]
async fn injected_failures_and_blocked_user() {
    let (tg, bot) = relaxed().await;
    tg.register_user(&alice());
    tg.fail_next(1, 429);
    assert!(matches!(
        bot.send_message(ChatId(42), "x").await,
        Err(RequestError::RetryAfter(_))
    ));
    assert_eq!(tg.rate_limited_count(), 1);

    tg.fail_next(1, 500);
    let url = format!("{}bot{}/sendMessage", tg.api_url(), tg.token());
    let resp = reqwest::Client::new()
        .post(&url)
        .form(&[("chat_id", "42"), ("text", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
    // Form bodies work like JSON once the failure is spent.
    let resp = reqwest::Client::new()
        .post(&url)
        .form(&[("chat_id", "42"), ("text", "form")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    tg.set_blocked(42, true);
    assert_eq!(
        api_err(bot.send_message(ChatId(42), "hi").await),
        ApiError::BotBlocked
    );
    tg.set_blocked(42, false);
    bot.send_message(ChatId(42), "hi again").await.unwrap();
    assert_eq!(tg.texts(42), ["form", "hi again"]);
}
