//! Public records: what the fake saw, in the order it saw it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

/// A DingTalk org member as the fake knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub staff_id: String,
    pub nick: String,
}

impl User {
    pub fn new(staff_id: impl Into<String>, nick: impl Into<String>) -> Self {
        Self {
            staff_id: staff_id.into(),
            nick: nick.into(),
        }
    }
}

/// Stream frame type (`type` of a downstream frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    System,
    Event,
    Callback,
}

impl FrameKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::System => "SYSTEM",
            Self::Event => "EVENT",
            Self::Callback => "CALLBACK",
        }
    }
}

/// One `{type, topic}` subscription from gateway registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub kind: String,
    pub topic: String,
}

#[derive(Debug, Clone)]
pub struct Registration {
    pub id: u64,
    pub subscriptions: Vec<Subscription>,
    pub ua: Option<String>,
    pub ticket: String,
}

/// A frame the fake pushed to a connection.
#[derive(Debug, Clone)]
pub struct Push {
    pub message_id: String,
    pub kind: FrameKind,
    pub topic: String,
    pub connection_id: u64,
    /// The messageId of the first delivery when this is a redelivery.
    pub redelivery_of: Option<String>,
    /// `msgId` / `eventId` / `outTrackId` / ping `opaque`: stable across redeliveries.
    pub payload_id: String,
    pub data: Value,
}

/// A well-formed ACK matched to a pushed frame.
#[derive(Debug, Clone)]
pub struct AckRecord {
    pub message_id: String,
    /// Same as `Push::payload_id` (matches `Injected::payload_id`).
    pub payload_id: String,
    pub kind: FrameKind,
    pub topic: String,
    pub connection_id: u64,
    pub code: i64,
    /// `data` parsed from its JSON string.
    pub data: Value,
    pub latency: Duration,
    /// Later than `FakeConfig::ack_deadline`.
    pub late: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AckProblemKind {
    /// Not JSON, wrong field types, `data` not a JSON string, ...
    Malformed(String),
    UnknownMessageId,
    Duplicate,
    /// ACKed on a different connection than the frame was pushed to.
    WrongConnection,
    Late(Duration),
    /// No ACK within the deadline.
    Missing,
    /// Ping ACK that does not echo `opaque`.
    BadPingEcho,
    /// EVENT ACK without `status` SUCCESS/LATER.
    BadEventStatus,
    /// Card callback ACK whose `response.cardData.cardParamMap` is not string → string.
    BadCardResponse(String),
}

#[derive(Debug, Clone)]
pub struct AckProblem {
    pub kind: AckProblemKind,
    pub message_id: Option<String>,
    pub connection_id: u64,
    pub raw: String,
}

/// Reply posted to a sessionWebhook.
#[derive(Debug, Clone)]
pub struct WebhookReply {
    pub session: String,
    pub conversation_id: String,
    pub msgtype: String,
    pub body: Value,
    /// Markdown DingTalk would show raw (code blocks, tables, ...), see `unsupported_markdown`.
    pub markdown_issues: Vec<String>,
}

/// A send through `oToMessages/batchSend` or `groupMessages/send`.
#[derive(Debug, Clone)]
pub struct RobotSend {
    pub robot_code: String,
    pub msg_key: String,
    /// `msgParam` decoded from its JSON string.
    pub msg_param: Value,
    pub process_query_key: String,
    /// Delivered staffIds (batchSend) — unknown ones are reported as invalid instead.
    pub user_ids: Vec<String>,
    pub open_conversation_id: Option<String>,
    /// Markdown DingTalk would show raw (code blocks, tables, ...), see `unsupported_markdown`.
    pub markdown_issues: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Upload {
    pub media_id: String,
    pub media_type: String,
    pub file_name: String,
    pub size: usize,
    /// Sniffed image format (`"png"`, `"jpeg"`, ...), images only.
    pub image_format: Option<String>,
    /// Decoded PNG width × height.
    pub png_size: Option<(u32, u32)>,
    pub bytes: bytes::Bytes,
}

#[derive(Debug, Clone)]
pub enum CardOp {
    Create {
        template_id: String,
        param_map: BTreeMap<String, String>,
        callback_type: Option<String>,
    },
    Deliver {
        open_space_id: String,
    },
    Update {
        param_map: BTreeMap<String, String>,
        by_key: bool,
    },
    Stream {
        key: String,
        content: String,
        is_full: bool,
        is_finalize: bool,
        is_error: bool,
    },
    /// Card callback ACK that carried a `cardData` update.
    CallbackResponse {
        param_map: BTreeMap<String, String>,
    },
}

/// Current state of a card instance (per `outTrackId`).
#[derive(Debug, Clone, Default)]
pub struct Card {
    pub out_track_id: String,
    pub template_id: String,
    pub callback_type: Option<String>,
    pub param_map: BTreeMap<String, String>,
    /// `dtv1.card//IM_ROBOT.<staffId>` / `dtv1.card//IM_GROUP.<cid>` it was delivered to.
    pub delivered_to: Vec<String>,
    pub streams: BTreeMap<String, StreamedField>,
    pub(crate) space_models: Vec<String>,
    pub(crate) guids: std::collections::HashSet<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamedField {
    pub content: String,
    pub finalized: bool,
    pub error: bool,
    pub updates: usize,
}

/// An API call the fake refused (the real error body was returned).
#[derive(Debug, Clone)]
pub struct Rejection {
    pub path: String,
    pub status: u16,
    /// `code` (new API) or `errcode` (legacy) as a string.
    pub code: String,
    pub message: String,
}

/// Everything observable, recorded in order.
#[derive(Debug, Clone)]
pub enum Event {
    TokenIssued {
        token: String,
        legacy: bool,
    },
    Registered(Registration),
    Connected {
        connection_id: u64,
        registration_id: u64,
    },
    /// `by_client`: the client closed (or vanished); false when the fake dropped it.
    ConnectionClosed {
        connection_id: u64,
        by_client: bool,
    },
    ClientWsPing {
        connection_id: u64,
    },
    Pushed(Push),
    Acked(AckRecord),
    AckProblem(AckProblem),
    WebhookReply(WebhookReply),
    BatchSend(RobotSend),
    GroupSend(RobotSend),
    Recall {
        process_query_keys: Vec<String>,
        open_conversation_id: Option<String>,
    },
    Upload(Upload),
    FileDownloadUrl {
        download_code: String,
    },
    FileFetched {
        download_code: String,
    },
    Card {
        out_track_id: String,
        op: CardOp,
    },
    Rejected(Rejection),
}

impl Event {
    /// True for calls by which the bot produced output visible to users.
    pub fn is_outgoing(&self) -> bool {
        matches!(
            self,
            Self::WebhookReply(_)
                | Self::BatchSend(_)
                | Self::GroupSend(_)
                | Self::Recall { .. }
                | Self::Upload(_)
                | Self::Card { .. }
        )
    }
}

/// An event with its position and time.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub seq: usize,
    pub at: Instant,
    pub event: Event,
}

/// What an injection pushed.
#[derive(Debug, Clone)]
pub struct Injected {
    /// Stream `headers.messageId` of the (first) push; `None` while queued for lack of a connection.
    pub message_id: Option<String>,
    /// `msgId` (robot) / `eventId` (event) / `outTrackId` (card) inside `data`.
    pub payload_id: String,
    pub session_webhook: Option<String>,
    pub conversation_id: Option<String>,
    pub download_codes: Vec<String>,
    pub data: Value,
}

/// Fault to return from an API path instead of handling the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `5xx` with the gateway's JSON error body.
    ServerError(u16),
    /// 403 `Forbidden.AccessDenied.QpsLimitForAppkeyAndApi` (legacy: errcode 90018).
    QpsLimit,
}
