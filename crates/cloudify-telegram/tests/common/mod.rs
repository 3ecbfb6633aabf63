//! Shared helpers: the fake Bot API, an adapter pointed at it, and sample envelopes.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use cloudify_core::adapter::{ChatRef, Incoming};
use cloudify_core::identity::Platform;
use cloudify_core::{Adapter, Secret};
use cloudify_telegram::{MenuCommand, TelegramAdapter, TelegramOptions};
use cloudify_testkit::fake_telegram::{Config, FakeTelegram, Limits, User};
use tokio::sync::mpsc;

pub const WAIT: Duration = Duration::from_secs(10);

pub fn options(tg: &FakeTelegram) -> TelegramOptions {
    let mut o = TelegramOptions::new(Secret::new(tg.token()));
    o.api_url = tg.api_url().to_string();
    o.poll_timeout = Duration::from_secs(2);
    o.commands = vec![
        MenuCommand::new(
            "start",
            "Help, or bind with a QR token",
            "帮助，或通过二维码绑定",
        ),
        MenuCommand::new(
            "reset-qr",
            "Owner: new QR, kick everyone",
            "所有者：重置二维码并移除所有人",
        ),
        MenuCommand::new("web-terminal", "Switch terminal kind", "切换终端类型"),
    ];
    o
}

/// A fake with Telegram's real flood limits, and an adapter connected to it.
pub async fn setup() -> (FakeTelegram, TelegramAdapter) {
    setup_with(Config::default()).await
}

pub async fn setup_with(config: Config) -> (FakeTelegram, TelegramAdapter) {
    let tg = FakeTelegram::start_with(config).await;
    let adapter = TelegramAdapter::connect(options(&tg))
        .await
        .expect("connect to the fake");
    (tg, adapter)
}

/// Without flood limits, for tests about content rather than pacing.
pub async fn setup_unlimited() -> (FakeTelegram, TelegramAdapter) {
    let (tg, adapter) = setup().await;
    tg.set_limits(Limits::unlimited());
    (tg, adapter)
}

pub fn alice() -> User {
    User::new(4242, "Alice")
        .username("alice")
        .language_code("zh-hans")
}

pub fn private(user: &User) -> ChatRef {
    ChatRef {
        platform: Platform::Telegram,
        chat_id: user.id.to_string(),
        is_group: false,
    }
}

/// Starts `run` and returns the receiving end of its sink (dropping it stops the poller).
pub fn poll(adapter: &TelegramAdapter) -> mpsc::Receiver<Incoming> {
    let (tx, rx) = mpsc::channel(16);
    let a = adapter.clone();
    tokio::spawn(async move { a.run(tx).await });
    rx
}

pub async fn next(rx: &mut mpsc::Receiver<Incoming>) -> Incoming {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("an incoming within the wait")
        .expect("poller alive")
}

/// A real PNG of the given size (the fake checks photo dimensions).
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(width, height, image::Rgb([200, 30, 30]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}
