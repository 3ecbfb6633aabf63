//! What a relay consumes: platform-neutral turn events.

use std::time::Duration;

use serde_json::Value;

use crate::types::{
    ApiErrorInfo, PermissionReply, PermissionRequest, QuestionRequest, Session, Todo,
};

/// One thing that happened to a session's turn, or to the connection.
///
/// Ordering per session is preserved: `Started` < `Progress`/`Tool`/`PermissionAsked`/… <
/// `PermissionResolved{reply:None}` for leftovers < `Done`. A `Progress` is always flushed
/// before any other event of the same session, so a relay never shows stale text after it.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnEvent {
    /// The `/event` stream is (re)connected and REST resync has been applied.
    Connected,
    /// The stream broke; the watcher reconnects with backoff. Turns stay open.
    Disconnected { reason: String },
    /// A session started working (status busy or retry).
    Started { session_id: String },
    /// Snapshot of the running turn; sent at most once per progress interval.
    Progress(Progress),
    /// A tool started, finished or failed (one line each in a chat).
    Tool(ToolUpdate),
    /// The LLM call failed transiently and OpenCode retries (it never gives up on 5xx).
    Retrying {
        session_id: String,
        attempt: u32,
        message: String,
    },
    /// The agent needs an approval (Allow once / Always / Reject).
    PermissionAsked { request: PermissionRequest },
    /// A permission was answered (`reply`), or dropped because the turn ended (`None`):
    /// an aborted turn leaves its request pending on the server, but it no longer matters.
    PermissionResolved {
        session_id: String,
        request_id: String,
        reply: Option<PermissionReply>,
    },
    /// The agent asks a question with options.
    QuestionAsked { request: QuestionRequest },
    /// A question was answered (`Some(answers)`), rejected (`Some(empty)`) or dropped (`None`).
    QuestionResolved {
        session_id: String,
        request_id: String,
        answers: Option<Vec<Vec<String>>>,
    },
    /// A session was created or its title changed.
    SessionUpdated { session: Session },
    /// The turn is over: idle and the last assistant message is final.
    Done(TurnResult),
}

impl TurnEvent {
    /// The session the event is about (`None` for connection events).
    #[must_use]
    pub fn session_id(&self) -> Option<&str> {
        match self {
            Self::Connected | Self::Disconnected { .. } => None,
            Self::Started { session_id }
            | Self::Retrying { session_id, .. }
            | Self::PermissionResolved { session_id, .. }
            | Self::QuestionResolved { session_id, .. } => Some(session_id),
            Self::Progress(p) => Some(&p.session_id),
            Self::Tool(t) => Some(&t.session_id),
            Self::PermissionAsked { request } => Some(&request.session_id),
            Self::QuestionAsked { request } => Some(&request.session_id),
            Self::SessionUpdated { session } => Some(&session.id),
            Self::Done(r) => Some(&r.session_id),
        }
    }
}

/// Live state of a running turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub session_id: String,
    /// The answer so far: text of the newest assistant message that has text.
    pub text: String,
    /// The tool running right now, if any.
    pub tool: Option<ToolActivity>,
    /// The session's todo list (from `todowrite`).
    pub todos: Vec<Todo>,
    /// Set while OpenCode is retrying a failed LLM call.
    pub retry: Option<RetryInfo>,
    pub elapsed: Duration,
}

/// A running tool, for the live message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolActivity {
    pub tool: String,
    /// One-line summary: the command, the file path or OpenCode's title.
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryInfo {
    pub attempt: u32,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolStatus {
    Running,
    Completed,
    Error,
}

/// A tool state change.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolUpdate {
    pub session_id: String,
    pub message_id: String,
    pub part_id: String,
    pub call_id: String,
    /// `bash`, `edit`, `write`, `read`, `todowrite`, `question`, …
    pub tool: String,
    pub status: ToolStatus,
    /// One-line summary (command, file path, title).
    pub summary: String,
    pub input: Value,
    /// Output of a completed tool.
    pub output: Option<String>,
    /// Error text of a failed tool (e.g. the user rejected the permission).
    pub error: Option<String>,
}

/// Outcome of a finished turn.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnResult {
    pub session_id: String,
    /// The final answer: text of the last assistant message (or the newest one with text).
    pub text: String,
    /// Id of the last assistant message of the turn, if there was one.
    pub message_id: Option<String>,
    pub duration: Duration,
    /// Why the turn failed; `None` = success.
    pub error: Option<TurnError>,
    /// Tools that ran in this turn.
    pub tools: usize,
}

/// Why a turn failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnError {
    pub kind: TurnErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnErrorKind {
    /// Someone aborted the turn.
    Aborted,
    /// The turn was stuck in `retry` longer than the turn timeout and was aborted by us.
    TimedOut,
    /// The LLM provider answered an error (`APIError`; `status` = HTTP status).
    Api { status: Option<u16> },
    /// The turn ended without a final message (OpenCode restarted mid-turn).
    Interrupted,
    /// Any other OpenCode error name (`UnknownError`, `ProviderAuthError`, …).
    Other(String),
}

impl TurnError {
    pub(crate) fn from_api(e: &ApiErrorInfo) -> Self {
        let kind = match e.name.as_str() {
            "MessageAbortedError" => TurnErrorKind::Aborted,
            "APIError" => TurnErrorKind::Api {
                status: e.status_code(),
            },
            other => TurnErrorKind::Other(other.to_owned()),
        };
        Self {
            kind,
            message: e.message(),
        }
    }
}

impl std::fmt::Display for TurnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}
