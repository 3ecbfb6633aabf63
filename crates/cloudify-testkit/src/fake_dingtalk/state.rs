//! Shared server state, configuration and the real error bodies.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use super::model::{Card, Event, Fault, FrameKind, Recorded, Rejection, Subscription, User};

/// Knobs with real defaults; tests shorten the times.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    pub app_key: String,
    pub app_secret: String,
    /// Robot code callbacks carry and send APIs require (internal apps: the AppKey).
    pub robot_code: String,
    pub corp_id: String,
    pub token_ttl: Duration,
    pub ticket_ttl: Duration,
    pub session_webhook_ttl: Duration,
    pub download_url_ttl: Duration,
    /// ACKs later than this are recorded as late / missing.
    pub ack_deadline: Duration,
    /// Un-ACKed frames are pushed again after this (real: about 60 s).
    pub redeliver_after: Duration,
    pub redeliver_events: bool,
    /// The FAQ says robot messages are not redelivered; turn on to test dedupe.
    pub redeliver_callbacks: bool,
    /// Time between the `disconnect` frame and the forced close (real: 10 s).
    pub disconnect_grace: Duration,
    /// Calls per second per API path; `None` = unlimited.
    pub qps_limit: Option<u32>,
    pub max_msg_param_bytes: usize,
    pub max_webhook_bytes: usize,
    pub max_batch_users: usize,
    pub max_image_bytes: usize,
    pub max_voice_bytes: usize,
    pub max_video_bytes: usize,
    pub max_file_bytes: usize,
}

impl FakeConfig {
    pub fn new(app_key: impl Into<String>, app_secret: impl Into<String>) -> Self {
        let app_key = app_key.into();
        Self {
            robot_code: app_key.clone(),
            app_key,
            app_secret: app_secret.into(),
            corp_id: "ding9f50b15bccd16741".into(),
            token_ttl: Duration::from_secs(7200),
            ticket_ttl: Duration::from_secs(90),
            session_webhook_ttl: Duration::from_secs(90 * 60),
            download_url_ttl: Duration::from_secs(3600),
            ack_deadline: Duration::from_secs(1),
            redeliver_after: Duration::from_secs(60),
            redeliver_events: true,
            redeliver_callbacks: false,
            disconnect_grace: Duration::from_secs(10),
            qps_limit: Some(20),
            max_msg_param_bytes: 15_000,
            max_webhook_bytes: 20_000,
            max_batch_users: 20,
            max_image_bytes: 20 << 20,
            max_voice_bytes: 2 << 20,
            max_video_bytes: 20 << 20,
            max_file_bytes: 20 << 20,
        }
    }
}

/// Commands to a connection task.
#[derive(Debug)]
pub(crate) enum ConnCmd {
    Frame(String),
    /// A binary WebSocket frame (DingTalk never sends one; for junk tests).
    Binary(Vec<u8>),
    /// Stop reading and writing but keep the socket open (no pongs, no ACKs).
    Silence,
    /// Close TCP without a close frame.
    Drop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnState {
    Live,
    Draining,
    Silent,
    /// The path died silently: nothing reaches the client, but the server still pushes here
    /// until a push misses its ACK deadline (then it is `Silent`).
    HalfOpen,
}

pub(crate) struct Conn {
    pub tx: mpsc::UnboundedSender<ConnCmd>,
    pub subscriptions: Vec<Subscription>,
    pub state: ConnState,
}

impl Conn {
    pub fn accepts(&self, kind: FrameKind, topic: &str) -> bool {
        match kind {
            FrameKind::System => true,
            FrameKind::Event => self.subscriptions.iter().any(|s| s.kind == "EVENT"),
            FrameKind::Callback => self
                .subscriptions
                .iter()
                .any(|s| s.kind == "CALLBACK" && s.topic == topic),
        }
    }
}

/// A frame waiting for its ACK (or for a connection, when `connection_id` is `None`).
#[derive(Debug, Clone)]
pub(crate) struct Outstanding {
    pub kind: FrameKind,
    pub topic: String,
    pub data: Value,
    pub extra_headers: Vec<(String, String)>,
    pub connection_id: Option<u64>,
    pub sent_at: Instant,
    pub first_id: Option<String>,
    pub missing_recorded: bool,
    /// Only this connection may carry it (pings are per connection).
    pub pin: Option<u64>,
}

pub(crate) struct Ticket {
    pub expires: Instant,
    pub registration_id: u64,
}

pub(crate) struct Session {
    pub conversation_id: String,
    pub expires: Instant,
}

pub(crate) struct StoredFile {
    pub bytes: bytes::Bytes,
    pub url_expires: Option<Instant>,
}

#[derive(Default)]
pub(crate) struct State {
    pub events: Vec<Recorded>,
    pub tokens: HashMap<String, Instant>,
    pub tickets: HashMap<String, Ticket>,
    pub registrations: HashMap<u64, Vec<Subscription>>,
    pub conns: HashMap<u64, Conn>,
    pub total_connections: usize,
    /// messageId → frame awaiting ACK.
    pub outstanding: HashMap<String, Outstanding>,
    pub acked: HashMap<String, u64>,
    /// Frames with no eligible connection yet.
    pub backlog: Vec<Outstanding>,
    pub sessions: HashMap<String, Session>,
    pub users: HashMap<String, User>,
    /// openConversationId → title of groups the robot is in.
    pub groups: HashMap<String, String>,
    /// downloadCode → file a user sent.
    pub files: HashMap<String, StoredFile>,
    /// download URL token → downloadCode.
    pub download_urls: HashMap<String, String>,
    pub media: HashMap<String, String>,
    pub cards: HashMap<String, Card>,
    /// processQueryKey → (openConversationId for group sends, staffIds for 1:1).
    pub process_keys: HashMap<String, (Option<String>, Vec<String>)>,
    pub qps: HashMap<String, VecDeque<Instant>>,
    pub faults: HashMap<String, VecDeque<Fault>>,
    pub next_id: u64,
}

impl State {
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

pub(crate) struct Shared {
    pub config: Mutex<FakeConfig>,
    pub state: Mutex<State>,
    pub seq_tx: watch::Sender<usize>,
    pub base_url: String,
    pub shutdown: watch::Sender<bool>,
}

pub(crate) type SharedRef = Arc<Shared>;

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn config(&self) -> FakeConfig {
        self.config
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Append to the log while holding the state lock, so order matches causality.
    pub fn record_locked(&self, st: &mut State, event: Event) {
        let seq = st.events.len();
        st.events.push(Recorded {
            seq,
            at: Instant::now(),
            event,
        });
        self.seq_tx.send_replace(seq + 1);
    }

    pub fn record(&self, event: Event) {
        let mut st = self.lock();
        self.record_locked(&mut st, event);
    }

    /// New-API error body: `{code, message, requestid}` with an HTTP 4xx/5xx.
    pub fn api_error(&self, path: &str, status: u16, code: &str, message: &str) -> Response {
        self.record(Event::Rejected(Rejection {
            path: path.into(),
            status,
            code: code.into(),
            message: message.into(),
        }));
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        let body = json!({"code": code, "message": message, "requestid": request_id()});
        (status, Json(body)).into_response()
    }

    /// Legacy oapi error: HTTP 200 with `{errcode≠0, errmsg}`.
    pub fn oapi_error(&self, path: &str, errcode: i64, errmsg: &str) -> Response {
        self.record(Event::Rejected(Rejection {
            path: path.into(),
            status: 200,
            code: errcode.to_string(),
            message: errmsg.into(),
        }));
        Json(json!({"errcode": errcode, "errmsg": errmsg, "request_id": request_id()}))
            .into_response()
    }

    /// Injected faults, then the per-path QPS window. `legacy` picks the oapi error style.
    pub fn gate(&self, path: &str, legacy: bool) -> Option<Response> {
        let limit = self.config().qps_limit;
        let fault = {
            let mut st = self.lock();
            let injected = st.faults.get_mut(path).and_then(VecDeque::pop_front);
            injected.or_else(|| {
                let limit = limit?;
                let now = Instant::now();
                let window = st.qps.entry(path.to_string()).or_default();
                while window
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
                {
                    window.pop_front();
                }
                if window.len() >= limit as usize {
                    return Some(Fault::QpsLimit);
                }
                window.push_back(now);
                None
            })
        }?;
        Some(match (fault, legacy) {
            (Fault::QpsLimit, false) => self.api_error(
                path,
                403,
                "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",
                "请求被拒绝，超过了该应用该API的QPS限制",
            ),
            (Fault::QpsLimit, true) => self.oapi_error(path, 90018, "当前应用调用该接口超过限流"),
            (Fault::ServerError(status), _) => self.api_error(
                path,
                status,
                "ServiceUnavailable",
                "服务暂时不可用，请稍后重试",
            ),
        })
    }

    fn token_valid(&self, token: Option<&str>) -> bool {
        let st = self.lock();
        token
            .and_then(|t| st.tokens.get(t))
            .is_some_and(|exp| *exp > Instant::now())
    }

    /// New-API auth via `x-acs-dingtalk-access-token`.
    pub fn check_token_header(&self, path: &str, headers: &HeaderMap) -> Option<Response> {
        let token = headers
            .get("x-acs-dingtalk-access-token")
            .and_then(|v| v.to_str().ok());
        (!self.token_valid(token))
            .then(|| self.api_error(path, 400, "InvalidAuthentication", "不合法的access_token"))
    }

    /// Legacy auth via `?access_token=`.
    pub fn check_token_query(&self, path: &str, token: Option<&str>) -> Option<Response> {
        (!self.token_valid(token)).then(|| self.oapi_error(path, 40014, "不合法的access_token"))
    }

    /// Shared front door of every new-API call: faults, QPS, token.
    pub fn guard(&self, path: &str, headers: &HeaderMap) -> Option<Response> {
        self.gate(path, false)
            .or_else(|| self.check_token_header(path, headers))
    }
}

pub(crate) fn request_id() -> String {
    uuid::Uuid::new_v4().to_string().to_uppercase()
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Parse a JSON body leniently so shape errors get the API's own error, not axum's.
pub(crate) fn parse_body(body: &[u8]) -> Option<serde_json::Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// `Some(&str)` when `map[key]` is a non-empty string.
pub(crate) fn str_field<'a>(map: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}
