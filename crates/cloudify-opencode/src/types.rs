//! Wire types of the classic OpenCode API (1.18.33), tolerant of unknown fields.
//!
//! Only what the bot reads is typed; everything else stays in `serde_json::Value` so a newer
//! server with extra fields still decodes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Token counters of a session or message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Tokens {
    pub input: f64,
    pub output: f64,
    pub reasoning: f64,
}

/// Provider + model of a session (`model.id`) or a prompt (`modelID`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelRef {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    #[serde(rename = "modelID", alias = "id")]
    pub model_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionTime {
    pub created: i64,
    pub updated: i64,
}

/// `Session` object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Session {
    pub id: String,
    pub title: String,
    pub directory: String,
    #[serde(rename = "projectID")]
    pub project_id: String,
    #[serde(rename = "parentID", skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    pub agent: Option<String>,
    pub model: Option<ModelRef>,
    pub version: String,
    pub cost: f64,
    pub tokens: Tokens,
    pub time: SessionTime,
}

/// `SessionStatus`: what a session's agent loop is doing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SessionStatus {
    Idle,
    Busy,
    /// A transient LLM failure being retried; OpenCode retries 5xx forever.
    Retry {
        #[serde(default)]
        attempt: u32,
        #[serde(default)]
        message: String,
        /// Epoch milliseconds of the next attempt.
        #[serde(default)]
        next: i64,
    },
}

/// `{name, data:{message,…}}` error object carried by messages and `session.error`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiErrorInfo {
    pub name: String,
    pub data: Value,
}

impl ApiErrorInfo {
    /// `data.message`, or the name when there is none.
    #[must_use]
    pub fn message(&self) -> String {
        self.data
            .get("message")
            .and_then(Value::as_str)
            .map_or_else(|| self.name.clone(), str::to_owned)
    }

    /// `data.statusCode` of an `APIError`.
    #[must_use]
    pub fn status_code(&self) -> Option<u16> {
        self.data
            .get("statusCode")
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MessageTime {
    pub created: i64,
    /// Set when an assistant message is final.
    pub completed: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    User,
    Assistant,
}

/// `Message` (user or assistant), flattened: fields of the other role stay `None`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MessageInfo {
    pub id: String,
    #[serde(rename = "sessionID")]
    pub session_id: String,
    pub role: Role,
    #[serde(rename = "parentID")]
    pub parent_id: Option<String>,
    pub time: MessageTime,
    pub agent: Option<String>,
    #[serde(rename = "modelID")]
    pub model_id: Option<String>,
    #[serde(rename = "providerID")]
    pub provider_id: Option<String>,
    /// `"stop"`, `"tool-calls"`, … (assistant).
    pub finish: Option<String>,
    pub error: Option<ApiErrorInfo>,
    pub cost: f64,
    pub tokens: Tokens,
}

impl MessageInfo {
    /// An assistant message is final once completed or failed (API.md §5.3).
    #[must_use]
    pub fn is_final(&self) -> bool {
        self.time.completed.is_some() || self.error.is_some()
    }
}

/// Tool execution state (`part.state`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum ToolState {
    Pending {
        #[serde(default)]
        input: Value,
    },
    Running {
        #[serde(default)]
        input: Value,
        #[serde(default)]
        title: Option<String>,
        #[serde(default)]
        metadata: Value,
    },
    Completed {
        #[serde(default)]
        input: Value,
        #[serde(default)]
        output: String,
        #[serde(default)]
        title: Option<String>,
        #[serde(default)]
        metadata: Value,
    },
    Error {
        #[serde(default)]
        input: Value,
        #[serde(default)]
        error: String,
    },
}

impl ToolState {
    #[must_use]
    pub fn input(&self) -> &Value {
        match self {
            Self::Pending { input }
            | Self::Running { input, .. }
            | Self::Completed { input, .. }
            | Self::Error { input, .. } => input,
        }
    }
}

/// A message part. Unknown part types decode as [`Part::Other`].
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text {
        base: PartBase,
        text: String,
        end: Option<i64>,
        synthetic: bool,
    },
    Reasoning {
        base: PartBase,
        text: String,
    },
    Tool {
        base: PartBase,
        call_id: String,
        tool: String,
        state: ToolState,
    },
    StepStart {
        base: PartBase,
    },
    StepFinish {
        base: PartBase,
        reason: String,
    },
    Patch {
        base: PartBase,
        files: Vec<String>,
    },
    File {
        base: PartBase,
        mime: String,
        filename: Option<String>,
        url: String,
    },
    /// Any other part type (`agent`, `subtask`, `retry`, …), kept raw.
    Other {
        base: PartBase,
        kind: String,
        raw: Value,
    },
}

/// Identity fields every part has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PartBase {
    pub id: String,
    #[serde(rename = "messageID")]
    pub message_id: String,
    #[serde(rename = "sessionID")]
    pub session_id: String,
}

impl Part {
    #[must_use]
    pub fn base(&self) -> &PartBase {
        match self {
            Self::Text { base, .. }
            | Self::Reasoning { base, .. }
            | Self::Tool { base, .. }
            | Self::StepStart { base }
            | Self::StepFinish { base, .. }
            | Self::Patch { base, .. }
            | Self::File { base, .. }
            | Self::Other { base, .. } => base,
        }
    }

    /// Decodes a part from JSON; never fails for an object with an unknown `type`.
    pub fn from_value(v: Value) -> Result<Self, serde_json::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(rename = "type", default)]
            kind: String,
            #[serde(flatten)]
            base: PartBase,
            #[serde(default)]
            text: String,
            #[serde(default)]
            time: Option<Value>,
            #[serde(default)]
            synthetic: bool,
            #[serde(rename = "callID", default)]
            call_id: String,
            #[serde(default)]
            tool: String,
            #[serde(default)]
            state: Option<Value>,
            #[serde(default)]
            reason: String,
            #[serde(default)]
            files: Vec<String>,
            #[serde(default)]
            mime: String,
            #[serde(default)]
            filename: Option<String>,
            #[serde(default)]
            url: String,
        }
        let r = Raw::deserialize(&v)?;
        Ok(match r.kind.as_str() {
            "text" => Self::Text {
                base: r.base,
                text: r.text,
                end: r
                    .time
                    .as_ref()
                    .and_then(|t| t.get("end"))
                    .and_then(Value::as_i64),
                synthetic: r.synthetic,
            },
            "reasoning" => Self::Reasoning {
                base: r.base,
                text: r.text,
            },
            "tool" => {
                let state = match r.state {
                    Some(s) => ToolState::deserialize(s)?,
                    None => ToolState::Pending { input: Value::Null },
                };
                Self::Tool {
                    base: r.base,
                    call_id: r.call_id,
                    tool: r.tool,
                    state,
                }
            }
            "step-start" => Self::StepStart { base: r.base },
            "step-finish" => Self::StepFinish {
                base: r.base,
                reason: r.reason,
            },
            "patch" => Self::Patch {
                base: r.base,
                files: r.files,
            },
            "file" => Self::File {
                base: r.base,
                mime: r.mime,
                filename: r.filename,
                url: r.url,
            },
            _ => Self::Other {
                base: r.base,
                kind: r.kind,
                raw: v,
            },
        })
    }
}

impl<'de> Deserialize<'de> for Part {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Self::from_value(v).map_err(serde::de::Error::custom)
    }
}

/// One entry of `GET /session/{id}/message`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MessageWithParts {
    pub info: MessageInfo,
    #[serde(default)]
    pub parts: Vec<Part>,
}

/// A page of messages (chronological) plus the cursor for older ones.
#[derive(Debug, Clone, PartialEq)]
pub struct MessagePage {
    pub messages: Vec<MessageWithParts>,
    /// Pass as `before` to get the previous page; from `X-Next-Cursor`.
    pub next_cursor: Option<String>,
}

/// Todo item of `todo.updated` / `GET /session/{id}/todo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Todo {
    pub content: String,
    /// `pending`, `in_progress`, `completed`, `cancelled`.
    pub status: String,
    /// `high`, `medium`, `low`.
    pub priority: String,
}

/// `tool` reference of a permission or question request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ToolRef {
    #[serde(rename = "messageID")]
    pub message_id: String,
    #[serde(rename = "callID")]
    pub call_id: String,
}

/// A pending permission (`permission.asked`, `GET /permission`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PermissionRequest {
    pub id: String,
    #[serde(rename = "sessionID")]
    pub session_id: String,
    /// `bash`, `edit`, …
    pub permission: String,
    pub patterns: Vec<String>,
    /// bash: `{command}`; edit/write: `{filepath, diff}`.
    pub metadata: Value,
    /// Patterns an `always` reply would approve from now on.
    pub always: Vec<String>,
    pub tool: Option<ToolRef>,
}

/// Reply to a permission request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PermissionReply {
    Once,
    Always,
    Reject,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QuestionOption {
    pub label: String,
    pub description: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QuestionInfo {
    pub question: String,
    pub header: String,
    pub options: Vec<QuestionOption>,
    pub multiple: Option<bool>,
}

/// A pending agent question (`question.asked`, `GET /question`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QuestionRequest {
    pub id: String,
    #[serde(rename = "sessionID")]
    pub session_id: String,
    pub questions: Vec<QuestionInfo>,
    pub tool: Option<ToolRef>,
}

/// One file of a diff (`GET /vcs/diff`, `GET /session/{id}/diff`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FileDiff {
    pub file: String,
    /// Unified diff.
    pub patch: String,
    pub additions: u64,
    pub deletions: u64,
    /// `added`, `deleted`, `modified`.
    pub status: String,
}

/// `GET /config/providers`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ProvidersResponse {
    pub providers: Vec<Provider>,
    /// providerID → default modelID.
    pub default: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Provider {
    pub id: String,
    pub name: String,
    /// modelID → model object (kept raw).
    pub models: std::collections::BTreeMap<String, Value>,
}

/// `GET /agent` entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Agent {
    pub name: String,
    pub description: Option<String>,
    /// `primary`, `subagent`, `all`.
    pub mode: String,
    pub hidden: Option<bool>,
}

/// `GET /global/health`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Health {
    pub healthy: bool,
    pub version: String,
}
