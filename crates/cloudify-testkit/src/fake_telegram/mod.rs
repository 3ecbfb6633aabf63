//! A fake Telegram Bot API that behaves like the real one, errors and flood limits included.
//!
//! It serves `/bot<TOKEN>/<method>` (JSON, form-urlencoded and multipart bodies; method
//! names case-insensitive, as teloxide sends PascalCase) and `/file/bot<TOKEN>/<path>` on
//! `127.0.0.1:<ephemeral>`. Tests drive the user side and inspect the bot side through
//! [`FakeTelegram`], a Rust handle, not HTTP.
//!
//! ```no_run
//! # async fn demo() {
//! use std::time::Duration;
//! use cloudify_testkit::fake_telegram::{FakeTelegram, User};
//!
//! let tg = FakeTelegram::start().await;
//! // bot side: teloxide::Bot::new(tg.token()).set_api_url(tg.api_url())
//! let alice = User::new(42, "Alice").username("alice");
//! tg.user_starts(&alice, Some("bind-token"));
//! let reply = tg.wait_for_message(42, |m| m.text().contains("bound"), Duration::from_secs(5)).await;
//! tg.user_presses_button(&alice, 42, "perm:allow");
//! assert_eq!(tg.rate_limited_count(), 0);
//! # let _ = reply;
//! # }
//! ```

mod html;
mod inspect;
mod limits;
mod markdown;
mod media;
mod model;
mod ops;
mod params;
mod send;
mod server;
mod state;
mod text;
mod updates;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use html::parse_html;
pub use inspect::{explain_429s, peak_per_second};
pub use limits::{Bucket, Limits, Rate};
pub use model::{
    BotCommand, Call, CallbackAnswer, Document, Edit, Entity, Event, FormattedText, Group,
    Injected, Message, Outage, Photo, PhotoSize, RateLimited, User,
};

use params::Upload;
use server::Gate;
use state::Shared;
use state::{BotInfo, State};

/// How the fake presents itself.
#[derive(Clone, Debug)]
pub struct Config {
    pub token: String,
    pub bot_username: String,
    pub bot_first_name: String,
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            // The shape of a real token (id, colon, 35 characters), so clients that check it pass.
            token: "7000000001:AAHfakeTokenForCloudifyTests-000000".to_owned(),
            bot_username: "cloudify_test_bot".to_owned(),
            bot_first_name: "Cloudify Test".to_owned(),
            limits: Limits::telegram(),
        }
    }
}

/// The running fake. Cheap to clone; the server stops when the last clone is dropped.
#[derive(Clone)]
pub struct FakeTelegram {
    shared: Arc<Shared>,
    addr: SocketAddr,
    _server: Arc<ServerTask>,
}

struct ServerTask(JoinHandle<()>);

impl Drop for ServerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl FakeTelegram {
    /// Starts with the default token, bot and Telegram's limits.
    pub async fn start() -> Self {
        Self::start_with(Config::default()).await
    }

    pub async fn start_with(config: Config) -> Self {
        let bot_id = config
            .token
            .split(':')
            .next()
            .and_then(|id| id.parse().ok())
            .unwrap_or(7_000_000_001);
        let bot = BotInfo {
            id: bot_id,
            first_name: config.bot_first_name,
            username: config.bot_username,
        };
        let (outage, outage_rx) = watch::channel(Outage::Up);
        let shared = Arc::new(Shared {
            token: config.token,
            state: Mutex::new(State::new(bot, config.limits)),
            changed: watch::channel(0).0,
            outage,
            server_errors: std::sync::atomic::AtomicU64::new(0),
        });
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Bot API");
        let addr = listener.local_addr().expect("bound address");
        let gate = Gate {
            listener,
            outage: outage_rx,
        };
        let app = server::router(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(gate, app).await;
        });
        Self {
            shared,
            addr,
            _server: Arc::new(ServerTask(task)),
        }
    }

    /// The base URL for `Bot::set_api_url` (or `TELEGRAM_API_URL`).
    pub fn api_url(&self) -> reqwest::Url {
        reqwest::Url::parse(&format!("http://{}", self.addr)).expect("valid loopback URL")
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn token(&self) -> &str {
        &self.shared.token
    }

    pub fn bot_id(&self) -> i64 {
        self.shared.lock().bot.id
    }

    pub fn bot_username(&self) -> String {
        self.shared.lock().bot.username.clone()
    }

    /// Replaces the flood limits (windows already counted are kept).
    pub fn set_limits(&self, limits: Limits) {
        self.shared.lock().limits = limits;
    }

    // ---- the user side ----

    /// Makes a private chat known without a message (as if the user had pressed Start long ago).
    pub fn register_user(&self, user: &User) {
        self.shared.lock().ensure_private(user);
        self.shared.notify();
    }

    /// The user writes `text` to the bot in their private chat. A leading `/command` gets a
    /// `bot_command` entity, as Telegram clients add.
    pub fn user_sends_text(&self, user: &User, text: &str) -> Injected {
        self.with_notify(|st| st.inject_text(None, user, text))
    }

    /// The user writes `text` in a group the bot is a member of.
    pub fn user_sends_group_text(&self, group: &Group, user: &User, text: &str) -> Injected {
        self.with_notify(|st| st.inject_text(Some(group), user, text))
    }

    /// The user opens `t.me/<bot>?start=<payload>` and presses Start: `/start <payload>`.
    pub fn user_starts(&self, user: &User, payload: Option<&str>) -> Injected {
        let text = payload.map_or_else(|| "/start".to_owned(), |p| format!("/start {p}"));
        self.user_sends_text(user, &text)
    }

    /// The user sends a PNG or JPEG; the bot can getFile and download it.
    pub fn user_sends_photo(
        &self,
        user: &User,
        image: impl Into<Bytes>,
        caption: Option<&str>,
    ) -> Injected {
        let bytes = image.into();
        self.with_notify(|st| st.inject_photo(user, bytes, caption))
    }

    pub fn user_sends_document(
        &self,
        user: &User,
        bytes: impl Into<Bytes>,
        file_name: &str,
        mime_type: &str,
        caption: Option<&str>,
    ) -> Injected {
        let upload = Upload {
            file_name: Some(file_name.to_owned()),
            content_type: Some(mime_type.to_owned()),
            bytes: bytes.into(),
        };
        self.with_notify(|st| st.inject_document(user, upload, caption))
    }

    /// The user presses the inline button with `callback_data` on the newest bot message in
    /// `chat_id` that has one. Returns the callback query id. Panics if there is no such button.
    pub fn user_presses_button(&self, user: &User, chat_id: i64, callback_data: &str) -> String {
        let message_id = self.shared.lock().find_button(chat_id, callback_data);
        let Some(message_id) = message_id else {
            panic!(
                "no live bot message in chat {chat_id} has a button {callback_data:?}; messages: {:#?}",
                self.messages(chat_id)
            );
        };
        self.press_button_on(user, chat_id, message_id, callback_data)
    }

    /// Presses a button on a given message (Telegram would accept any data a client sends).
    pub fn press_button_on(
        &self,
        user: &User,
        chat_id: i64,
        message_id: i32,
        callback_data: &str,
    ) -> String {
        assert!(
            self.message(chat_id, message_id).is_some(),
            "message {chat_id}/{message_id} does not exist"
        );
        self.with_notify(|st| st.inject_press(user, chat_id, message_id, callback_data))
    }

    // ---- faults ----

    /// `true`: every request gets 502 Bad Gateway, as when Telegram's backend is down.
    pub fn set_down(&self, down: bool) {
        self.set_outage(if down { Outage::BadGateway } else { Outage::Up });
    }

    pub fn set_outage(&self, outage: Outage) {
        self.shared.outage.send_replace(outage);
    }

    pub fn outage(&self) -> Outage {
        *self.shared.outage.borrow()
    }

    /// Accepts requests but answers none for `duration` (client timeouts), then serves them.
    pub fn hang_for(&self, duration: Duration) {
        self.set_outage(Outage::Hang);
        let me = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            if me.outage() == Outage::Hang {
                me.set_outage(Outage::Up);
            }
        });
    }

    /// The next `n` calls other than getUpdates answer `status` (JSON error; 429 carries
    /// `retry_after: 1`; 502 is nginx's HTML page). teloxide waits 10 s after any 5xx.
    pub fn fail_next(&self, n: usize, status: u16) {
        self.shared
            .lock()
            .fail_next
            .extend(std::iter::repeat_n(status, n));
    }

    /// The user blocked (or unblocked) the bot: calls to their chat get 403.
    pub fn set_blocked(&self, user_id: i64, blocked: bool) {
        let mut st = self.shared.lock();
        if blocked {
            st.blocked.insert(user_id);
        } else {
            st.blocked.remove(&user_id);
        }
    }

    fn with_notify<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let out = f(&mut self.shared.lock());
        self.shared.notify();
        out
    }
}
