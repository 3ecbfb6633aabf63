//! The fake Bot API driven by the real client library (teloxide 0.17).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Cursor;
use std::time::{Duration, Instant};

use cloudify_testkit::fake_telegram::{
    Config, Event, FakeTelegram, Group, Limits, Outage, Rate, User,
};
use teloxide::net::Download;
use teloxide::prelude::*;
use teloxide::types::{
    BotCommand, CallbackQueryId, ChatAction, FileId, InlineKeyboardButton, InlineKeyboardMarkup,
    InputFile, InputMedia, InputMediaPhoto, MessageEntityKind, ParseMode, UpdateKind,
};
use teloxide::{ApiError, RequestError};

const SEC: Duration = Duration::from_secs(1);

fn bot(tg: &FakeTelegram) -> Bot {
    Bot::new(tg.token()).set_api_url(tg.api_url())
}

/// A fake without flood limits, for tests about something else.
async fn relaxed() -> (FakeTelegram, Bot) {
    let tg = FakeTelegram::start_with(Config {
        limits: Limits::unlimited(),
        ..Config::default()
    })
    .await;
    let bot = bot(&tg);
    (tg, bot)
}

fn alice() -> User {
    User::new(42, "Alice").username("alice").language_code("en")
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image::RgbImage::new(width, height)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

fn api_err<T: std::fmt::Debug>(r: Result<T, RequestError>) -> ApiError {
    match r {
        Err(RequestError::Api(e)) => e,
        other => panic!("expected an API error, got {other:?}"),
    }
}

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
async fn send_edit_delete_round_trip() {
    let (tg, bot) = relaxed().await;
    tg.register_user(&alice());
    let chat = ChatId(42);
    let keyboard = InlineKeyboardMarkup::new(vec![vec![
        InlineKeyboardButton::callback("Allow", "perm:allow"),
        InlineKeyboardButton::url("Docs", "https://example.com/docs".parse().unwrap()),
    ]]);
    let sent = bot
        .send_message(chat, "<b>Working</b> &amp; thinking")
        .parse_mode(ParseMode::Html)
        .reply_markup(keyboard)
        .await
        .unwrap();
    assert_eq!(sent.text(), Some("Working & thinking"));
    assert_eq!(sent.entities().unwrap()[0].kind, MessageEntityKind::Bold);
    assert!(sent.reply_markup().is_some());
    assert_eq!(sent.from.as_ref().unwrap().id.0, 7_000_000_001);

    let edited = bot
        .edit_message_text(chat, sent.id, "Done in 3 s")
        .await
        .unwrap();
    assert_eq!(edited.text(), Some("Done in 3 s"));
    assert!(edited.edit_date().is_some());
    let view = tg.message(42, sent.id.0).unwrap();
    assert_eq!(view.text(), "Done in 3 s");
    assert!(
        view.reply_markup.is_none(),
        "an edit without reply_markup removes the keyboard"
    );
    assert_eq!(view.edits.len(), 1);

    bot.send_chat_action(chat, ChatAction::Typing)
        .await
        .unwrap();
    bot.delete_message(chat, sent.id).await.unwrap();
    assert!(tg.messages(42).is_empty());
    let missing = bot.edit_message_text(chat, sent.id, "again").await;
    assert_eq!(api_err(missing), ApiError::MessageToEditNotFound);
    assert_eq!(
        api_err(bot.delete_message(chat, sent.id).await),
        ApiError::MessageToDeleteNotFound
    );

    let kinds: Vec<&str> = tg
        .events(42)
        .iter()
        .map(|e| match e {
            Event::Sent(_) => "sent",
            Event::Edited { .. } => "edited",
            Event::ChatAction { .. } => "action",
            Event::Deleted { .. } => "deleted",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["sent", "edited", "action", "deleted"]);
    assert_eq!(
        api_err(bot.send_message(ChatId(777), "who?").await),
        ApiError::ChatNotFound
    );
}

#[tokio::test]
async fn identical_edit_is_not_modified() {
    let (tg, bot) = relaxed().await;
    tg.register_user(&alice());
    let m = bot.send_message(ChatId(42), "same").await.unwrap();
    let again = bot.edit_message_text(ChatId(42), m.id, "same").await;
    assert_eq!(api_err(again), ApiError::MessageNotModified);
    // Same text, new keyboard: modified.
    let markup = InlineKeyboardMarkup::new(vec![vec![InlineKeyboardButton::callback("x", "x")]]);
    bot.edit_message_text(ChatId(42), m.id, "same")
        .reply_markup(markup.clone())
        .await
        .unwrap();
    let again = bot
        .edit_message_reply_markup(ChatId(42), m.id)
        .reply_markup(markup)
        .await;
    assert_eq!(api_err(again), ApiError::MessageNotModified);
}

#[tokio::test]
async fn length_limits_count_text_after_entity_parsing() {
    let (tg, bot) = relaxed().await;
    tg.register_user(&alice());
    let chat = ChatId(42);
    assert_eq!(
        api_err(bot.send_message(chat, "x".repeat(4097)).await),
        ApiError::MessageIsTooLong
    );
    assert_eq!(
        api_err(bot.send_message(chat, "  \n").await),
        ApiError::MessageTextIsEmpty
    );
    // 4096 visible characters wrapped in markup are fine.
    let html = format!("<b>{}</b>", "é".repeat(4096));
    let m = bot
        .send_message(chat, html)
        .parse_mode(ParseMode::Html)
        .await
        .unwrap();
    let too_long = bot.edit_message_text(chat, m.id, "y".repeat(4097)).await;
    assert_eq!(api_err(too_long), ApiError::EditedMessageIsTooLong);

    let photo = InputFile::memory(png(10, 10)).file_name("p.png");
    let caption = bot.send_photo(chat, photo).caption("c".repeat(1025)).await;
    assert_eq!(
        api_err(caption),
        ApiError::Unknown("Bad Request: message caption is too long".into())
    );
}

#[tokio::test]
async fn bad_markup_is_refused_like_telegram() {
    let (tg, bot) = relaxed().await;
    tg.register_user(&alice());
    let chat = ChatId(42);
    let cases = [
        (
            ParseMode::Html,
            "<b>unclosed",
            "Can't find end tag corresponding to start tag \"b\"",
        ),
        (
            ParseMode::Html,
            "if a < b",
            "Unsupported start tag \"\" at byte offset 5",
        ),
        (
            ParseMode::Html,
            "<div>x</div>",
            "Unsupported start tag \"div\"",
        ),
        (ParseMode::Html, "<b><i>x</b></i>", "Unmatched end tag"),
        (
            ParseMode::MarkdownV2,
            "Done. 2 files",
            "Character '.' is reserved",
        ),
        (
            ParseMode::MarkdownV2,
            "*bold",
            "Can't find end of the entity",
        ),
    ];
    for (mode, text, expected) in cases {
        match api_err(bot.send_message(chat, text).parse_mode(mode).await) {
            ApiError::CantParseEntities(e) => assert!(e.contains(expected), "{text:?}: {e}"),
            other => panic!("{text:?}: {other:?}"),
        }
    }
    let ok = "<pre><code class=\"language-rust\">fn main() {}</code></pre> AT&amp;T <a href=\"https://x.y\">l</a> <tg-spoiler>s</tg-spoiler> <blockquote expandable>q</blockquote>";
    let m = bot
        .send_message(chat, ok)
        .parse_mode(ParseMode::Html)
        .await
        .unwrap();
    assert_eq!(m.text(), Some("fn main() {} AT&T l s q"));
    let v2 = bot
        .send_message(chat, "*Done\\.* `a.b` 2\\-3")
        .parse_mode(ParseMode::MarkdownV2)
        .await
        .unwrap();
    assert_eq!(v2.text(), Some("Done. a.b 2-3"));
    assert!(tg.messages(42).iter().all(|m| !m.entities().is_empty()));
}

#[tokio::test]
async fn second_message_within_a_second_gets_429_edits_included() {
    let tg = FakeTelegram::start().await;
    let bot = bot(&tg);
    tg.register_user(&alice());
    let chat = ChatId(42);
    let first = bot.send_message(chat, "one").await.unwrap();
    match bot.send_message(chat, "two").await {
        Err(RequestError::RetryAfter(s)) => assert_eq!(s.seconds(), 1),
        other => panic!("expected RetryAfter, got {other:?}"),
    }
    assert!(matches!(
        bot.edit_message_text(chat, first.id, "1").await,
        Err(RequestError::RetryAfter(_))
    ));
    assert_eq!(tg.rate_limited_count(), 2);
    let raw = tg.calls_to("sendMessage");
    assert_eq!(raw.iter().map(|c| c.status).collect::<Vec<_>>(), [200, 429]);

    tokio::time::sleep(SEC).await;
    bot.edit_message_text(chat, first.id, "1").await.unwrap();
    assert_eq!(tg.messages(42).len(), 1, "refused calls change nothing");
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
async fn photo_upload_is_decoded_and_checked() {
    let (tg, bot) = relaxed().await;
    tg.register_user(&alice());
    let photo = InputFile::memory(png(800, 600)).file_name("diff.png");
    let m = bot
        .send_photo(ChatId(42), photo)
        .caption("<i>page 1</i>")
        .parse_mode(ParseMode::Html)
        .await
        .unwrap();
    let largest = m.photo().unwrap().last().unwrap();
    assert_eq!((largest.width, largest.height), (800, 600));
    assert_eq!(m.caption(), Some("page 1"));
    let stored = tg.messages(42)[0].photo.clone().unwrap();
    assert_eq!(
        (stored.format, stored.width, stored.height),
        ("png", 800, 600)
    );
    let call = &tg.calls_to("sendPhoto")[0];
    assert!(
        call.params["photo"]
            .as_str()
            .unwrap()
            .starts_with("attach://"),
        "teloxide sent multipart"
    );

    for (w, h) in [(2100, 100), (100, 2100), (6000, 4100)] {
        let wide = InputFile::memory(png(w, h)).file_name("wide.png");
        let err = api_err(bot.send_photo(ChatId(42), wide).await);
        assert_eq!(
            err,
            ApiError::Unknown("Bad Request: PHOTO_INVALID_DIMENSIONS".into()),
            "{w}x{h}"
        );
    }
    let junk = InputFile::memory(b"not an image".to_vec()).file_name("x.png");
    assert_eq!(
        api_err(bot.send_photo(ChatId(42), junk).await),
        ApiError::ImageProcessFailed
    );
}

#[tokio::test]
async fn media_group_of_two_to_ten() {
    let (tg, bot) = relaxed().await;
    tg.register_user(&alice());
    let item = |n: u32| {
        InputMedia::Photo(InputMediaPhoto::new(
            InputFile::memory(png(100 + n, 100)).file_name(format!("{n}.png")),
        ))
    };
    let album = bot
        .send_media_group(ChatId(42), (0..3).map(item))
        .await
        .unwrap();
    assert_eq!(album.len(), 3);
    assert!(
        album.iter().all(
            |m| m.media_group_id() == album[0].media_group_id() && m.media_group_id().is_some()
        )
    );
    let Some(Event::MediaGroup { messages, .. }) = tg.events(42).pop() else {
        panic!("no album event")
    };
    assert_eq!(
        messages
            .iter()
            .map(|m| m.photo.as_ref().unwrap().width)
            .collect::<Vec<_>>(),
        [100, 101, 102]
    );

    assert_eq!(
        api_err(bot.send_media_group(ChatId(42), (0..11).map(item)).await),
        ApiError::TooMuchMessages
    );
    assert!(
        bot.send_media_group(ChatId(42), (0..1).map(item))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn user_files_can_be_fetched_and_documents_sent() {
    let (tg, bot) = relaxed().await;
    let image = png(64, 32);
    tg.user_sends_photo(&alice(), image.clone(), Some("look"));
    tg.user_sends_document(
        &alice(),
        b"log line\n".to_vec(),
        "app.log",
        "text/plain",
        None,
    );
    let updates = bot.get_updates().await.unwrap();
    let UpdateKind::Message(photo_msg) = &updates[0].kind else {
        panic!()
    };
    let UpdateKind::Message(doc_msg) = &updates[1].kind else {
        panic!()
    };
    assert_eq!(photo_msg.caption(), Some("look"));

    let largest = photo_msg.photo().unwrap().last().unwrap();
    let file = bot.get_file(largest.file.id.clone()).await.unwrap();
    let mut downloaded = Vec::new();
    bot.download_file(&file.path, &mut downloaded)
        .await
        .unwrap();
    assert_eq!(downloaded, image);

    let doc = doc_msg.document().unwrap();
    assert_eq!(doc.file_name.as_deref(), Some("app.log"));
    let file = bot.get_file(doc.file.id.clone()).await.unwrap();
    let mut bytes = Vec::new();
    bot.download_file(&file.path, &mut bytes).await.unwrap();
    assert_eq!(bytes, b"log line\n");
    assert!(bot.get_file(FileId("nope".into())).await.is_err());

    let sent = bot
        .send_document(
            ChatId(42),
            InputFile::memory(b"diff".to_vec()).file_name("a.diff"),
        )
        .await
        .unwrap();
    assert_eq!(
        sent.document().unwrap().file_name.as_deref(),
        Some("a.diff")
    );
    assert_eq!(
        tg.messages(42)[0].document.as_ref().unwrap().bytes.as_ref(),
        b"diff"
    );
}

#[tokio::test]
async fn button_press_and_callback_answer() {
    let (tg, bot) = relaxed().await;
    tg.register_user(&alice());
    let markup = InlineKeyboardMarkup::new(vec![vec![
        InlineKeyboardButton::callback("Allow once", "perm:once"),
        InlineKeyboardButton::callback("Reject", "perm:reject"),
    ]]);
    let prompt = bot
        .send_message(ChatId(42), "Allow `rm`?")
        .reply_markup(markup)
        .await
        .unwrap();
    let id = tg.user_presses_button(&alice(), 42, "perm:reject");
    let updates = bot.get_updates().await.unwrap();
    let UpdateKind::CallbackQuery(q) = &updates[0].kind else {
        panic!("{updates:?}")
    };
    assert_eq!(q.id.0, id);
    assert_eq!(q.data.as_deref(), Some("perm:reject"));
    assert_eq!(q.regular_message().unwrap().id, prompt.id);

    bot.answer_callback_query(q.id.clone())
        .text("Rejected")
        .await
        .unwrap();
    // Telegram writes "query ID"; teloxide 0.17 expects "query id", so this is `Unknown` there.
    let invalid = ApiError::Unknown(
        "Bad Request: query is too old and response timeout expired or query ID is invalid".into(),
    );
    assert_eq!(
        api_err(bot.answer_callback_query(q.id.clone()).await),
        invalid
    );
    assert_eq!(
        api_err(bot.answer_callback_query(CallbackQueryId("1".into())).await),
        invalid
    );
    let answers = tg.callback_answers();
    assert_eq!(
        (
            answers.len(),
            answers[0].data.as_str(),
            answers[0].text.as_deref()
        ),
        (1, "perm:reject", Some("Rejected"))
    );

    let long = InlineKeyboardMarkup::new(vec![vec![InlineKeyboardButton::callback(
        "x",
        "d".repeat(65),
    )]]);
    assert_eq!(
        api_err(bot.send_message(ChatId(42), "x").reply_markup(long).await),
        ApiError::ButtonDataInvalid
    );
}

#[tokio::test]
async fn commands_are_validated_and_kept() {
    let (tg, bot) = relaxed().await;
    bot.set_my_commands(vec![
        BotCommand::new("start", "Bind this chat"),
        BotCommand::new("reset_qr", "New QR"),
    ])
    .await
    .unwrap();
    assert_eq!(
        tg.commands()
            .iter()
            .map(|c| c.command.as_str())
            .collect::<Vec<_>>(),
        ["start", "reset_qr"]
    );
    assert_eq!(bot.get_my_commands().await.unwrap().len(), 2);
    let hyphen = bot
        .set_my_commands(vec![BotCommand::new("reset-qr", "New QR")])
        .await;
    assert_eq!(
        api_err(hyphen),
        ApiError::Unknown("Bad Request: BOT_COMMAND_INVALID".into())
    );
}

#[tokio::test]
async fn down_refused_and_hanging_api() {
    let (tg, bot) = relaxed().await;
    tg.register_user(&alice());
    let http = reqwest::Client::new();
    let url = format!("{}bot{}/getMe", tg.api_url(), tg.token());

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
