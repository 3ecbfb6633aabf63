//! In-process fake of DingTalk for end-to-end tests of the Stream-mode robot adapter.
//!
//! One axum server on `127.0.0.1:0` serves the `api.dingtalk.com` paths, the `oapi.dingtalk.com`
//! paths, the Stream WebSocket (`/connect`), sessionWebhooks and download URLs. It validates what
//! the real service validates (credentials, tokens and their expiry, single-use tickets,
//! subscriptions, ACK shape and timing, msgKey/msgParam shapes and sizes, media types and sizes,
//! card call order, QPS) and answers with the real error bodies (see `IM.md` Part 1).
//!
//! ```no_run
//! # async fn demo() {
//! use std::time::Duration;
//! use cloudify_testkit::fake_dingtalk::{Event, FakeDingTalk, User};
//! let fake = FakeDingTalk::start("dingkey", "secret").await;
//! // point the adapter's api_url and oapi_url at fake.api_url() / fake.oapi_url() ...
//! fake.wait_for(|e| matches!(e, Event::Connected { .. }), Duration::from_secs(5)).await.unwrap();
//! let sent = fake.inject_text(&User::new("staff1", "Alice"), "hello");
//! fake.wait_for(|e| matches!(e, Event::WebhookReply(_)), Duration::from_secs(5)).await.unwrap();
//! # let _ = sent; }
//! ```

mod auth;
mod cards;
mod inject;
mod markdown;
mod media;
mod model;
mod send;
mod state;
mod stream;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use serde_json::Value;
use tokio::sync::watch;

pub use inject::{Body, Chat, Message, RichPart};
pub use markdown::unsupported_markdown;
pub use model::*;
pub use state::FakeConfig;

use state::{ConnCmd, ConnState, Shared, SharedRef};

/// Handle to a running fake; dropping it stops the server and its connections.
pub struct FakeDingTalk {
    shared: SharedRef,
    server: tokio::task::JoinHandle<()>,
}

/// `wait_for` gave up; carries the log to make the failure readable.
#[derive(Debug)]
pub struct WaitTimeout {
    pub waited: Duration,
    pub events: Vec<Event>,
}

impl std::fmt::Display for WaitTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "fake DingTalk: no matching event within {:?}; log:",
            self.waited
        )?;
        for e in &self.events {
            writeln!(f, "  {e:?}")?;
        }
        Ok(())
    }
}

impl std::error::Error for WaitTimeout {}

fn router(shared: SharedRef) -> Router {
    Router::new()
        .route("/v1.0/oauth2/accessToken", post(auth::access_token))
        .route("/gettoken", get(auth::gettoken))
        .route(
            "/v1.0/gateway/connections/open",
            post(auth::open_connection),
        )
        .route("/connect", get(stream::connect))
        .route("/robot/sendBySession", post(send::session_webhook))
        .route("/v1.0/robot/oToMessages/batchSend", post(send::batch_send))
        .route("/v1.0/robot/groupMessages/send", post(send::group_send))
        .route(
            "/v1.0/robot/otoMessages/batchRecall",
            post(send::oto_recall),
        )
        .route("/v1.0/robot/groupMessages/recall", post(send::group_recall))
        .route("/v1.0/robot/oToMessages/readStatus", get(send::read_status))
        .route("/media/upload", post(media::upload))
        .route(
            "/v1.0/robot/messageFiles/download",
            post(media::message_file_download),
        )
        .route("/_fake/files/{token}", get(media::fetch_file))
        .route(
            "/v1.0/card/instances",
            post(cards::create_card).put(cards::update_card),
        )
        .route("/v1.0/card/instances/deliver", post(cards::deliver_card))
        .route(
            "/v1.0/card/instances/createAndDeliver",
            post(cards::create_and_deliver),
        )
        .route("/v1.0/card/streaming", put(cards::stream_card))
        // Uploads above the media caps must reach the handler to get DingTalk's own error.
        .layer(DefaultBodyLimit::max(64 << 20))
        .with_state(shared)
}

impl FakeDingTalk {
    /// Start with real defaults (token 7200 s, ticket 90 s, ACK deadline 1 s, QPS 20).
    pub async fn start(app_key: &str, app_secret: &str) -> Self {
        Self::start_with(FakeConfig::new(app_key, app_secret)).await
    }

    pub async fn start_with(config: FakeConfig) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake DingTalk");
        let addr = listener.local_addr().expect("local addr");
        let (seq_tx, _) = watch::channel(0);
        let (shutdown, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            config: Mutex::new(config),
            state: Mutex::default(),
            seq_tx,
            base_url: format!("http://{addr}"),
            shutdown,
        });
        let app = router(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { shared, server }
    }

    /// Base URL for `api.dingtalk.com` calls.
    pub fn api_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// Base URL for `oapi.dingtalk.com` calls (same server).
    pub fn oapi_url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn config(&self) -> FakeConfig {
        self.shared.config()
    }

    /// Change knobs at run time (QPS, TTLs, deadlines, redelivery).
    pub fn configure(&self, f: impl FnOnce(&mut FakeConfig)) {
        f(&mut self
            .shared
            .config
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner));
    }

    /// Make a staffId known (in the app's visible range) without them sending anything.
    pub fn add_user(&self, user: &User) {
        self.shared
            .lock()
            .users
            .insert(user.staff_id.clone(), user.clone());
    }

    /// Put the robot into a group so group sends and card deliveries succeed.
    pub fn add_group(&self, open_conversation_id: &str, title: &str) {
        self.shared
            .lock()
            .groups
            .insert(open_conversation_id.into(), title.into());
    }

    // ---- injection ----

    /// Deliver a user message on the stream (queued until a connection subscribes the topic).
    pub fn inject(&self, message: Message) -> Injected {
        inject::inject_message(&self.shared, message)
    }

    pub fn inject_text(&self, from: &User, text: &str) -> Injected {
        self.inject(Message::text(from.clone(), text))
    }

    /// A group message that @-mentions the robot.
    pub fn inject_group_text(
        &self,
        from: &User,
        conversation_id: &str,
        title: &str,
        text: &str,
    ) -> Injected {
        self.inject(Message::text(from.clone(), text).in_group(conversation_id, title))
    }

    pub fn inject_rich_text(&self, from: &User, parts: Vec<RichPart>) -> Injected {
        self.inject(Message::rich_text(from.clone(), parts))
    }

    pub fn inject_audio(
        &self,
        from: &User,
        recognition: &str,
        bytes: impl Into<bytes::Bytes>,
    ) -> Injected {
        self.inject(Message::audio(from.clone(), recognition, bytes))
    }

    pub fn inject_picture(&self, from: &User, bytes: impl Into<bytes::Bytes>) -> Injected {
        self.inject(Message::picture(from.clone(), bytes))
    }

    pub fn inject_file(&self, from: &User, name: &str, bytes: impl Into<bytes::Bytes>) -> Injected {
        self.inject(Message::file(from.clone(), name, bytes))
    }

    /// A button press on a delivered STREAM-callback card; `params` are the button's 回传参数.
    pub fn inject_card_callback(
        &self,
        out_track_id: &str,
        from: &User,
        action_id: &str,
        params: &Value,
    ) -> Injected {
        inject::inject_card_callback(&self.shared, out_track_id, from, action_id, params)
    }

    pub fn inject_event(&self, event_type: &str, data: Value) -> Injected {
        inject::inject_event(&self.shared, event_type, data)
    }

    /// Push an already delivered frame again (DingTalk may duplicate even after an ACK).
    pub fn redeliver(&self, message_id: &str) -> Option<String> {
        stream::duplicate(&self.shared, message_id)
    }

    // ---- connection control ----

    /// Sends `text` verbatim as a WebSocket text frame to every live connection: junk, JSON
    /// without headers or data, unknown topics. Returns how many connections got it.
    pub fn send_raw_frame(&self, text: &str) -> usize {
        stream::for_live(&self.shared, |conn, _| {
            let _ = conn.tx.send(ConnCmd::Frame(text.to_owned()));
        })
    }

    /// Sends a binary WebSocket frame to every live connection.
    pub fn send_binary_frame(&self, bytes: &[u8]) -> usize {
        stream::for_live(&self.shared, |conn, _| {
            let _ = conn.tx.send(ConnCmd::Binary(bytes.to_vec()));
        })
    }

    /// SYSTEM `ping` with a fresh `opaque` to every live connection; returns the messageIds.
    pub fn send_ping(&self) -> Vec<String> {
        let ids: Vec<u64> = {
            let st = self.shared.lock();
            st.conns
                .iter()
                .filter(|(_, c)| c.state == ConnState::Live)
                .map(|(id, _)| *id)
                .collect()
        };
        ids.into_iter()
            .filter_map(|id| {
                let data = serde_json::json!({"opaque": uuid::Uuid::new_v4().to_string()});
                let mut frame = inject::frame(FrameKind::System, "ping", data, vec![]);
                frame.pin = Some(id);
                stream::push(&self.shared, frame)
            })
            .collect()
    }

    /// SYSTEM `disconnect` to every live connection, then force-close after `disconnect_grace`.
    pub fn send_disconnect(&self) -> usize {
        let grace = self.shared.config().disconnect_grace;
        let text = serde_json::json!({
            "specVersion": "1.0",
            "type": "SYSTEM",
            "headers": {"topic": "disconnect", "contentType": "application/json", "time": state::now_ms().to_string()},
            "data": serde_json::json!({"reason": "connection is expired"}).to_string(),
        })
        .to_string();
        stream::for_live(&self.shared, |conn, _| {
            let _ = conn.tx.send(ConnCmd::Frame(text.clone()));
            conn.state = ConnState::Draining;
            let tx = conn.tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                let _ = tx.send(ConnCmd::Drop);
            });
        })
    }

    /// Live connections go silent: no pongs, no ACK reading, no pushes, socket kept open.
    pub fn stop_answering_pings(&self) -> usize {
        stream::for_live(&self.shared, |conn, _| {
            let _ = conn.tx.send(ConnCmd::Silence);
            conn.state = ConnState::Silent;
        })
    }

    /// The network path of live connections dies without a trace (no FIN, no `disconnect`):
    /// nothing reaches the client, no pongs, but the server keeps pushing frames into the
    /// void until one misses its ACK deadline; from then on it holds frames for the next
    /// connection. Un-ACKed frames come back only as `redeliver_*` configures.
    pub fn go_half_open(&self) -> usize {
        stream::for_live(&self.shared, |conn, _| {
            let _ = conn.tx.send(ConnCmd::Silence);
            conn.state = ConnState::HalfOpen;
        })
    }

    /// Close every connection's TCP stream without a `disconnect` frame or close handshake.
    pub fn drop_connection(&self) -> usize {
        let st = self.shared.lock();
        for conn in st.conns.values() {
            let _ = conn.tx.send(ConnCmd::Drop);
        }
        st.conns.len()
    }

    // ---- faults ----

    /// The next `times` calls to `path` (e.g. `"/v1.0/robot/oToMessages/batchSend"`) fail.
    pub fn fail_next(&self, path: &str, times: usize, fault: Fault) {
        let mut st = self.shared.lock();
        st.faults
            .entry(path.into())
            .or_default()
            .extend(std::iter::repeat_n(fault, times));
    }

    /// Every issued access token stops working now.
    pub fn expire_tokens(&self) {
        let now = std::time::Instant::now();
        self.shared
            .lock()
            .tokens
            .values_mut()
            .for_each(|e| *e = now);
    }

    /// Every sessionWebhook stops working now.
    pub fn expire_session_webhooks(&self) {
        let now = std::time::Instant::now();
        self.shared
            .lock()
            .sessions
            .values_mut()
            .for_each(|s| s.expires = now);
    }

    // ---- inspection ----

    pub fn events(&self) -> Vec<Event> {
        self.shared
            .lock()
            .events
            .iter()
            .map(|r| r.event.clone())
            .collect()
    }

    pub fn recorded(&self) -> Vec<Recorded> {
        self.shared.lock().events.clone()
    }

    /// Position in the log, for `wait_for_since`.
    pub fn mark(&self) -> usize {
        self.shared.lock().events.len()
    }

    /// What the bot sent users, in order (webhook replies, sends, recalls, uploads, card calls).
    pub fn outgoing(&self) -> Vec<Event> {
        self.filter(|e| e.is_outgoing().then(|| e.clone()))
    }

    pub fn acks(&self) -> Vec<AckRecord> {
        self.filter(|e| match e {
            Event::Acked(a) => Some(a.clone()),
            _ => None,
        })
    }

    pub fn ack_problems(&self) -> Vec<AckProblem> {
        self.filter(|e| match e {
            Event::AckProblem(p) => Some(p.clone()),
            _ => None,
        })
    }

    pub fn rejections(&self) -> Vec<Rejection> {
        self.filter(|e| match e {
            Event::Rejected(r) => Some(r.clone()),
            _ => None,
        })
    }

    pub fn uploads(&self) -> Vec<Upload> {
        self.filter(|e| match e {
            Event::Upload(u) => Some(u.clone()),
            _ => None,
        })
    }

    pub fn registrations(&self) -> Vec<Registration> {
        self.filter(|e| match e {
            Event::Registered(r) => Some(r.clone()),
            _ => None,
        })
    }

    pub fn registration_count(&self) -> usize {
        self.registrations().len()
    }

    /// Connections currently open and not silenced.
    pub fn connection_count(&self) -> usize {
        let st = self.shared.lock();
        st.conns
            .values()
            .filter(|c| !matches!(c.state, ConnState::Silent | ConnState::HalfOpen))
            .count()
    }

    /// Connections ever accepted.
    pub fn total_connections(&self) -> usize {
        self.shared.lock().total_connections
    }

    pub fn card(&self, out_track_id: &str) -> Option<Card> {
        self.shared.lock().cards.get(out_track_id).cloned()
    }

    fn filter<T>(&self, f: impl Fn(&Event) -> Option<T>) -> Vec<T> {
        self.shared
            .lock()
            .events
            .iter()
            .filter_map(|r| f(&r.event))
            .collect()
    }

    /// First event (from the start of the log) matching `pred`, waiting up to `timeout`.
    pub async fn wait_for(
        &self,
        pred: impl Fn(&Event) -> bool,
        timeout: Duration,
    ) -> Result<Event, WaitTimeout> {
        self.wait_for_since(0, pred, timeout).await
    }

    /// First event at or after log position `mark` matching `pred`.
    pub async fn wait_for_since(
        &self,
        mark: usize,
        pred: impl Fn(&Event) -> bool,
        timeout: Duration,
    ) -> Result<Event, WaitTimeout> {
        let mut rx = self.shared.seq_tx.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            rx.borrow_and_update();
            let found = {
                let st = self.shared.lock();
                st.events
                    .iter()
                    .skip(mark)
                    .find(|r| pred(&r.event))
                    .map(|r| r.event.clone())
            };
            if let Some(e) = found {
                return Ok(e);
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                return Err(WaitTimeout {
                    waited: timeout,
                    events: self.events(),
                });
            }
        }
    }

    /// The ACK of the frame with `message_id`.
    pub async fn wait_for_ack(
        &self,
        message_id: &str,
        timeout: Duration,
    ) -> Result<AckRecord, WaitTimeout> {
        let e = self
            .wait_for(
                |e| matches!(e, Event::Acked(a) if a.message_id == message_id),
                timeout,
            )
            .await?;
        match e {
            Event::Acked(a) => Ok(a),
            _ => unreachable!("predicate only matches Acked"),
        }
    }

    /// The ACK of the injected message (any delivery of it), even if it was queued at injection.
    pub async fn wait_for_ack_of(
        &self,
        injected: &Injected,
        timeout: Duration,
    ) -> Result<AckRecord, WaitTimeout> {
        let id = injected.payload_id.as_str();
        let e = self
            .wait_for(
                |e| matches!(e, Event::Acked(a) if a.payload_id == id),
                timeout,
            )
            .await?;
        match e {
            Event::Acked(a) => Ok(a),
            _ => unreachable!("predicate only matches Acked"),
        }
    }
}

impl Drop for FakeDingTalk {
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
        self.server.abort();
    }
}
