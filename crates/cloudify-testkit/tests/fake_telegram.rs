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

#[path = "fake_telegram/limits.rs"]
mod limits;
#[path = "fake_telegram/media.rs"]
mod media;
#[path = "fake_telegram/messages.rs"]
mod messages;
#[path = "fake_telegram/polling.rs"]
mod polling;
