//! Typed `/event` and `/global/event` payloads (API.md §4).
//!
//! Decoding never fails: an unknown `type`, or a known type whose properties do not match,
//! becomes [`Event::Unknown`] with the raw JSON kept, so a newer server cannot break the stream.

use serde::Deserialize;
use serde_json::Value;

use crate::types::{
    ApiErrorInfo, MessageInfo, Part, PermissionReply, PermissionRequest, QuestionRequest, Session,
    SessionStatus, Todo,
};

/// One server event of the classic `/event` stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    ServerConnected,
    ServerHeartbeat,
    SessionCreated {
        session: Session,
    },
    SessionUpdated {
        session: Session,
    },
    SessionDeleted {
        session: Session,
    },
    SessionStatus {
        session_id: String,
        status: SessionStatus,
    },
    SessionIdle {
        session_id: String,
    },
    SessionError {
        session_id: Option<String>,
        error: ApiErrorInfo,
    },
    SessionDiff {
        session_id: String,
        diff: Value,
    },
    MessageUpdated {
        info: MessageInfo,
    },
    MessageRemoved {
        session_id: String,
        message_id: String,
    },
    PartUpdated {
        part: Part,
    },
    PartDelta {
        session_id: String,
        message_id: String,
        part_id: String,
        field: String,
        delta: String,
    },
    PartRemoved {
        session_id: String,
        message_id: String,
        part_id: String,
    },
    PermissionAsked {
        request: PermissionRequest,
    },
    PermissionReplied {
        session_id: String,
        request_id: String,
        reply: PermissionReply,
    },
    QuestionAsked {
        request: QuestionRequest,
    },
    QuestionReplied {
        session_id: String,
        request_id: String,
        answers: Vec<Vec<String>>,
    },
    QuestionRejected {
        session_id: String,
        request_id: String,
    },
    TodoUpdated {
        session_id: String,
        todos: Vec<Todo>,
    },
    FileEdited {
        file: String,
    },
    FileWatcherUpdated {
        file: String,
        event: String,
    },
    /// The directory's instance was disposed; the `/event` stream closes next.
    InstanceDisposed {
        directory: String,
    },
    /// `/global/event` only.
    GlobalDisposed,
    /// Anything else (`plugin.added`, `sync`, v2 events, …) or a malformed known type.
    Unknown {
        kind: String,
        raw: Value,
    },
}

/// A `/global/event` item: the event plus the directory it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalEvent {
    /// Absent for `server.connected`/`heartbeat`, `"global"` for global events.
    pub directory: Option<String>,
    pub project: Option<String>,
    pub event: Event,
}

impl Event {
    /// `type` of the event as sent by the server.
    #[must_use]
    pub fn kind(&self) -> &str {
        match self {
            Self::ServerConnected => "server.connected",
            Self::ServerHeartbeat => "server.heartbeat",
            Self::SessionCreated { .. } => "session.created",
            Self::SessionUpdated { .. } => "session.updated",
            Self::SessionDeleted { .. } => "session.deleted",
            Self::SessionStatus { .. } => "session.status",
            Self::SessionIdle { .. } => "session.idle",
            Self::SessionError { .. } => "session.error",
            Self::SessionDiff { .. } => "session.diff",
            Self::MessageUpdated { .. } => "message.updated",
            Self::MessageRemoved { .. } => "message.removed",
            Self::PartUpdated { .. } => "message.part.updated",
            Self::PartDelta { .. } => "message.part.delta",
            Self::PartRemoved { .. } => "message.part.removed",
            Self::PermissionAsked { .. } => "permission.asked",
            Self::PermissionReplied { .. } => "permission.replied",
            Self::QuestionAsked { .. } => "question.asked",
            Self::QuestionReplied { .. } => "question.replied",
            Self::QuestionRejected { .. } => "question.rejected",
            Self::TodoUpdated { .. } => "todo.updated",
            Self::FileEdited { .. } => "file.edited",
            Self::FileWatcherUpdated { .. } => "file.watcher.updated",
            Self::InstanceDisposed { .. } => "server.instance.disposed",
            Self::GlobalDisposed => "global.disposed",
            Self::Unknown { kind, .. } => kind,
        }
    }

    /// Session the event belongs to, if any.
    #[must_use]
    pub fn session_id(&self) -> Option<&str> {
        match self {
            Self::SessionCreated { session }
            | Self::SessionUpdated { session }
            | Self::SessionDeleted { session } => Some(&session.id),
            Self::SessionStatus { session_id, .. }
            | Self::SessionIdle { session_id }
            | Self::SessionDiff { session_id, .. }
            | Self::MessageRemoved { session_id, .. }
            | Self::PartDelta { session_id, .. }
            | Self::PartRemoved { session_id, .. }
            | Self::PermissionReplied { session_id, .. }
            | Self::QuestionReplied { session_id, .. }
            | Self::QuestionRejected { session_id, .. }
            | Self::TodoUpdated { session_id, .. } => Some(session_id),
            Self::SessionError { session_id, .. } => session_id.as_deref(),
            Self::MessageUpdated { info } => Some(&info.session_id),
            Self::PartUpdated { part } => Some(&part.base().session_id),
            Self::PermissionAsked { request } => Some(&request.session_id),
            Self::QuestionAsked { request } => Some(&request.session_id),
            _ => None,
        }
    }

    /// Decodes one `/event` data line. Never fails: bad JSON gives `Unknown{kind:""}`.
    #[must_use]
    pub fn parse(data: &str) -> Self {
        match serde_json::from_str::<Value>(data) {
            Ok(v) => Self::from_value(v),
            Err(_) => Self::Unknown {
                kind: String::new(),
                raw: Value::String(data.to_owned()),
            },
        }
    }

    /// Decodes an `{type, properties}` envelope.
    #[must_use]
    pub fn from_value(v: Value) -> Self {
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        // Typed structs deserialize straight from the borrowed tree: no copy of `properties`.
        let props = v.get("properties").unwrap_or(&Value::Null);
        match decode(&kind, props) {
            Ok(Some(ev)) => ev,
            Ok(None) => Self::Unknown { kind, raw: v },
            Err(e) => {
                tracing::debug!(kind = %kind, error = %e, "event did not match its schema");
                Self::Unknown { kind, raw: v }
            }
        }
    }
}

impl GlobalEvent {
    /// Decodes one `/global/event` data line.
    #[must_use]
    pub fn parse(data: &str) -> Self {
        let Ok(mut v) = serde_json::from_str::<Value>(data) else {
            return Self {
                directory: None,
                project: None,
                event: Event::Unknown {
                    kind: String::new(),
                    raw: Value::String(data.to_owned()),
                },
            };
        };
        let directory = v
            .get("directory")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let project = v.get("project").and_then(Value::as_str).map(str::to_owned);
        let payload = v.get_mut("payload").map(Value::take).unwrap_or(Value::Null);
        Self {
            directory,
            project,
            event: Event::from_value(payload),
        }
    }
}

fn de<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, serde_json::Error> {
    T::deserialize(v)
}

#[derive(Deserialize)]
struct SessionProps {
    info: Session,
}
#[derive(Deserialize)]
struct StatusProps {
    #[serde(rename = "sessionID")]
    session_id: String,
    status: SessionStatus,
}
#[derive(Deserialize)]
struct SidProps {
    #[serde(rename = "sessionID")]
    session_id: String,
}
#[derive(Deserialize)]
struct ErrorProps {
    #[serde(rename = "sessionID", default)]
    session_id: Option<String>,
    #[serde(default)]
    error: Option<ApiErrorInfo>,
}
#[derive(Deserialize)]
struct DiffProps {
    #[serde(rename = "sessionID")]
    session_id: String,
    #[serde(default)]
    diff: Value,
}
#[derive(Deserialize)]
struct MessageProps {
    info: MessageInfo,
}
#[derive(Deserialize)]
struct MessageRemovedProps {
    #[serde(rename = "sessionID")]
    session_id: String,
    #[serde(rename = "messageID")]
    message_id: String,
}
#[derive(Deserialize)]
struct PartProps {
    part: Part,
}
#[derive(Deserialize)]
struct DeltaProps {
    #[serde(rename = "sessionID")]
    session_id: String,
    #[serde(rename = "messageID")]
    message_id: String,
    #[serde(rename = "partID")]
    part_id: String,
    #[serde(default)]
    field: String,
    #[serde(default)]
    delta: String,
}
#[derive(Deserialize)]
struct PartRemovedProps {
    #[serde(rename = "sessionID")]
    session_id: String,
    #[serde(rename = "messageID")]
    message_id: String,
    #[serde(rename = "partID")]
    part_id: String,
}
#[derive(Deserialize)]
struct RepliedProps {
    #[serde(rename = "sessionID")]
    session_id: String,
    #[serde(rename = "requestID")]
    request_id: String,
    reply: PermissionReply,
}
#[derive(Deserialize)]
struct QuestionRepliedProps {
    #[serde(rename = "sessionID")]
    session_id: String,
    #[serde(rename = "requestID")]
    request_id: String,
    #[serde(default)]
    answers: Vec<Vec<String>>,
}
#[derive(Deserialize)]
struct QuestionRejectedProps {
    #[serde(rename = "sessionID")]
    session_id: String,
    #[serde(rename = "requestID")]
    request_id: String,
}
#[derive(Deserialize)]
struct TodoProps {
    #[serde(rename = "sessionID")]
    session_id: String,
    #[serde(default)]
    todos: Vec<Todo>,
}
#[derive(Deserialize)]
struct FileProps {
    file: String,
    #[serde(default)]
    event: String,
}
#[derive(Deserialize)]
struct DisposedProps {
    #[serde(default)]
    directory: String,
}

fn decode(kind: &str, p: &Value) -> Result<Option<Event>, serde_json::Error> {
    Ok(Some(match kind {
        "server.connected" => Event::ServerConnected,
        "server.heartbeat" => Event::ServerHeartbeat,
        "session.created" => Event::SessionCreated {
            session: de::<SessionProps>(p)?.info,
        },
        "session.updated" => Event::SessionUpdated {
            session: de::<SessionProps>(p)?.info,
        },
        "session.deleted" => Event::SessionDeleted {
            session: de::<SessionProps>(p)?.info,
        },
        "session.status" => {
            let s: StatusProps = de(p)?;
            Event::SessionStatus {
                session_id: s.session_id,
                status: s.status,
            }
        }
        "session.idle" => Event::SessionIdle {
            session_id: de::<SidProps>(p)?.session_id,
        },
        "session.error" => {
            let e: ErrorProps = de(p)?;
            Event::SessionError {
                session_id: e.session_id,
                error: e.error.unwrap_or_default(),
            }
        }
        "session.diff" => {
            let d: DiffProps = de(p)?;
            Event::SessionDiff {
                session_id: d.session_id,
                diff: d.diff,
            }
        }
        "message.updated" => Event::MessageUpdated {
            info: de::<MessageProps>(p)?.info,
        },
        "message.removed" => {
            let m: MessageRemovedProps = de(p)?;
            Event::MessageRemoved {
                session_id: m.session_id,
                message_id: m.message_id,
            }
        }
        "message.part.updated" => Event::PartUpdated {
            part: de::<PartProps>(p)?.part,
        },
        "message.part.delta" => {
            let d: DeltaProps = de(p)?;
            Event::PartDelta {
                session_id: d.session_id,
                message_id: d.message_id,
                part_id: d.part_id,
                field: d.field,
                delta: d.delta,
            }
        }
        "message.part.removed" => {
            let r: PartRemovedProps = de(p)?;
            Event::PartRemoved {
                session_id: r.session_id,
                message_id: r.message_id,
                part_id: r.part_id,
            }
        }
        "permission.asked" => Event::PermissionAsked { request: de(p)? },
        "permission.replied" => {
            let r: RepliedProps = de(p)?;
            Event::PermissionReplied {
                session_id: r.session_id,
                request_id: r.request_id,
                reply: r.reply,
            }
        }
        "question.asked" => Event::QuestionAsked { request: de(p)? },
        "question.replied" => {
            let r: QuestionRepliedProps = de(p)?;
            Event::QuestionReplied {
                session_id: r.session_id,
                request_id: r.request_id,
                answers: r.answers,
            }
        }
        "question.rejected" => {
            let r: QuestionRejectedProps = de(p)?;
            Event::QuestionRejected {
                session_id: r.session_id,
                request_id: r.request_id,
            }
        }
        "todo.updated" => {
            let t: TodoProps = de(p)?;
            Event::TodoUpdated {
                session_id: t.session_id,
                todos: t.todos,
            }
        }
        "file.edited" => Event::FileEdited {
            file: de::<FileProps>(p)?.file,
        },
        "file.watcher.updated" => {
            let f: FileProps = de(p)?;
            Event::FileWatcherUpdated {
                file: f.file,
                event: f.event,
            }
        }
        "server.instance.disposed" => Event::InstanceDisposed {
            directory: de::<DisposedProps>(p)?.directory,
        },
        "global.disposed" => Event::GlobalDisposed,
        _ => return Ok(None),
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_malformed_are_kept_raw() {
        let e = Event::parse(r#"{"type":"plugin.added","properties":{"x":1}}"#);
        assert!(
            matches!(&e, Event::Unknown { kind, raw } if kind == "plugin.added" && raw["properties"]["x"] == 1)
        );
        let e = Event::parse(r#"{"type":"session.status","properties":{"nope":1}}"#);
        assert!(matches!(&e, Event::Unknown { kind, .. } if kind == "session.status"));
        assert!(matches!(Event::parse("not json"), Event::Unknown { .. }));
    }

    #[test]
    fn retry_status_decodes() {
        let e = Event::parse(
            r#"{"type":"session.status","properties":{"sessionID":"ses_1","status":{"type":"retry","attempt":2,"message":"boom","next":5}}}"#,
        );
        assert_eq!(
            e,
            Event::SessionStatus {
                session_id: "ses_1".into(),
                status: SessionStatus::Retry {
                    attempt: 2,
                    message: "boom".into(),
                    next: 5
                }
            }
        );
    }

    #[test]
    fn global_envelope() {
        let g = GlobalEvent::parse(
            r#"{"directory":"/p","project":"x","payload":{"type":"session.idle","properties":{"sessionID":"ses_1"}}}"#,
        );
        assert_eq!(g.directory.as_deref(), Some("/p"));
        assert_eq!(
            g.event,
            Event::SessionIdle {
                session_id: "ses_1".into()
            }
        );
    }
}
