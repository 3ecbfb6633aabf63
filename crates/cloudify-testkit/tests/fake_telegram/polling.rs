//! getMe, long polling, offsets, conflicts, and the wait helpers.

use super::*;

#[tokio::test]
async fn get_me_and_wrong_token() {
    let (tg, bot) = relaxed().await;
    let me = bot.get_me().await.unwrap();
    assert_eq!(me.username(), "cloudify_test_bot");
    assert!(me.user.is_bot);
    assert_eq!(me.user.id.0, 7_000_000_001);

    let wrong = Bot::new("1:AAHfakeTokenForCloudifyTests-999999").set_api_url(tg.api_url());
    assert_eq!(api_err(wrong.get_me().await), ApiError::InvalidToken);
    let raw = reqwest::get(format!("{}bot{}/noSuchMethod", tg.api_url(), tg.token()))
        .await
        .unwrap();
    assert_eq!(raw.status(), 404);
    let body: serde_json::Value = raw.json().await.unwrap();
    assert_eq!(body["description"], "Not Found");
}

#[tokio::test]
async fn long_poll_wakes_on_injected_update_and_times_out_empty() {
    let (tg, bot) = relaxed().await;
    let started = Instant::now();
    let empty = bot.get_updates().timeout(1).await.unwrap();
    assert!(empty.is_empty());
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "the poll must wait its timeout"
    );

    let poll = tokio::spawn({
        let bot = bot.clone();
        async move { bot.get_updates().timeout(10).await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let injected_at = Instant::now();
    let sent = tg.user_sends_text(&alice(), "hello bot");
    let updates = poll.await.unwrap();
    assert!(
        injected_at.elapsed() < Duration::from_millis(500),
        "woke after {:?}",
        injected_at.elapsed()
    );
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].id.0, u32::try_from(sent.update_id).unwrap());
    let UpdateKind::Message(m) = &updates[0].kind else {
        panic!("not a message: {:?}", updates[0])
    };
    assert_eq!(m.text(), Some("hello bot"));
    assert_eq!(m.from.as_ref().unwrap().username.as_deref(), Some("alice"));
    assert!(m.chat.is_private());
}

#[tokio::test]
async fn offset_confirms_updates() {
    let (tg, bot) = relaxed().await;
    tg.user_starts(&alice(), Some("Tok3n_-x"));
    tg.user_sends_group_text(
        &Group::new(-100, "team"),
        &alice(),
        "/help@cloudify_test_bot",
    );
    let first = bot.get_updates().await.unwrap();
    assert_eq!(first.len(), 2);
    let UpdateKind::Message(start) = &first[0].kind else {
        panic!()
    };
    assert_eq!(start.text(), Some("/start Tok3n_-x"));
    let entity = &start.entities().unwrap()[0];
    assert_eq!(
        (entity.kind.clone(), entity.offset, entity.length),
        (MessageEntityKind::BotCommand, 0, 6)
    );
    let UpdateKind::Message(group) = &first[1].kind else {
        panic!()
    };
    assert!(group.chat.is_group());

    // Unconfirmed updates come again; an offset past them forgets them.
    assert_eq!(bot.get_updates().await.unwrap().len(), 2);
    let next = i32::try_from(first[1].id.0).unwrap() + 1;
    assert!(bot.get_updates().offset(next).await.unwrap().is_empty());
    assert_eq!(tg.pending_updates(), 0);
}

#[tokio::test]
async fn allowed_updates_and_second_poller_conflict() {
    let (tg, bot) = relaxed().await;
    let poll = tokio::spawn({
        let bot = bot.clone();
        async move { bot.get_updates().timeout(5).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = bot.get_updates().timeout(0).await.unwrap();
    assert!(second.is_empty());
    assert_eq!(
        api_err(poll.await.unwrap()),
        ApiError::TerminatedByOtherGetUpdates
    );

    use teloxide::types::AllowedUpdate;
    let _ = bot
        .get_updates()
        .allowed_updates(vec![AllowedUpdate::CallbackQuery])
        .await
        .unwrap();
    tg.user_sends_text(&alice(), "not wanted");
    assert!(bot.get_updates().await.unwrap().is_empty());
}

#[tokio::test]
async fn wait_helpers_see_what_a_bot_does() {
    let (tg, bot) = relaxed().await;
    let echo = tokio::spawn(async move {
        let mut offset = 0;
        loop {
            for u in bot.get_updates().offset(offset).timeout(10).await.unwrap() {
                offset = i32::try_from(u.id.0).unwrap() + 1;
                if let UpdateKind::Message(m) = u.kind {
                    bot.send_message(m.chat.id, format!("echo: {}", m.text().unwrap_or("")))
                        .await
                        .unwrap();
                }
            }
        }
    });
    tg.user_sends_text(&alice(), "ping");
    let reply = tg
        .wait_for_message(42, |m| m.text().starts_with("echo"), 5 * SEC)
        .await;
    assert_eq!(reply.text(), "echo: ping");
    assert!(tg.wait_updates_consumed(5 * SEC).await);
    echo.abort();
}

#[tokio::test]
async fn teloxide_dispatcher_runs_against_the_fake() {
    let (tg, bot) = relaxed().await;
    let handler = Update::filter_message().endpoint(|bot: Bot, msg: Message| async move {
        let text = format!("got {}", msg.text().unwrap_or_default());
        bot.send_message(msg.chat.id, text).await?;
        respond(())
    });
    let mut dispatcher = Dispatcher::builder(bot, handler).build();
    let task = tokio::spawn(async move { dispatcher.dispatch().await });
    tg.user_sends_text(&alice(), "hi");
    tg.wait_for_message(42, |m| m.text() == "got hi", 10 * SEC)
        .await;
    task.abort();
    // The Dispatcher's own start-up calls were served too.
    assert_eq!(tg.calls_to("getMe")[0].status, 200);
    assert_eq!(tg.calls_to("getWebhookInfo")[0].status, 200);
}
