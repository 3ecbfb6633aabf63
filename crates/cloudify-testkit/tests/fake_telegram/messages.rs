//! Sending, editing, deleting, markup validation, buttons and commands.

use super::*;

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
