//! Platform-neutral output. The relay and the commands produce it; each adapter turns it
//! into its own messages (Telegram HTML, DingTalk Markdown/cards), the way ripgrep's
//! printers implement `Sink`. Strings here are already in the recipient's language.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One piece of output for one chat, with the framing the router adds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// The instance this is about (`None` for bot-level replies such as `/help`).
    pub instance_id: Option<Uuid>,
    /// `[my-project]`, set when the recipient is bound to more than one instance.
    pub header: Option<String>,
    pub body: Output,
    /// `📡 Online: @alice, @bob`, localized.
    pub footer: Option<String>,
}

impl Envelope {
    pub fn bare(body: Output) -> Self {
        Self {
            instance_id: None,
            header: None,
            body,
            footer: None,
        }
    }

    pub fn about(instance_id: Uuid, body: Output) -> Self {
        Self {
            instance_id: Some(instance_id),
            header: None,
            body,
            footer: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Output {
    /// Conversation text in Markdown as the agent wrote it (adapters escape and split it).
    Text { text: String },
    /// Plain text that must not be interpreted as Markdown (bot replies, user data).
    Plain { text: String },
    /// A code block. Short ones may go inline; long ones become images (SPEC §4 policy).
    Code {
        language: Option<String>,
        code: String,
        file_name: Option<String>,
    },
    /// A unified diff (always an image).
    Diff {
        title: Option<String>,
        patch: String,
    },
    /// A failure, with an optional stack trace shown as an image.
    Error {
        message: String,
        trace: Option<String>,
    },
    /// One folded tool line, e.g. `🔧 bash: cargo test`.
    Tool { line: String },
    /// The live "working" message of a turn, edited in place.
    Progress(Progress),
    /// A question with buttons: permissions, agent questions, `/list`, `/sessions`.
    Prompt(Prompt),
    /// Start / done / failed / needs-confirmation notices, and other short bot messages.
    Notice { text: String },
    /// A ready image such as the binding QR.
    Image {
        #[serde(with = "b64")]
        png: Vec<u8>,
        caption: String,
    },
}

impl Output {
    /// Output that is worthless later (live progress): never kept in the offline backlog.
    pub fn is_ephemeral(&self) -> bool {
        matches!(self, Output::Progress(_))
    }

    pub fn plain(text: impl Into<String>) -> Self {
        Output::Plain { text: text.into() }
    }

    pub fn notice(text: impl Into<String>) -> Self {
        Output::Notice { text: text.into() }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Progress {
    /// "⏳ Working… 12s" in the recipient's language.
    pub status: String,
    /// The answer so far (Markdown, may be cut to fit by the adapter from the front).
    pub answer: String,
    /// The tool in progress, as a folded line.
    pub tool: Option<String>,
    pub todos: Vec<TodoLine>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TodoLine {
    pub done: bool,
    pub active: bool,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    pub text: String,
    /// Optional detail shown as code (the command to run, the diff to apply).
    pub detail: Option<String>,
    /// Rows of buttons.
    pub buttons: Vec<Vec<Button>>,
}

/// A button whose `command` is the text command it stands for (e.g. `/approve per_1 once`),
/// so a press and a typed command take the same path. Kept ≤ 64 bytes (Telegram's limit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Button {
    pub label: String,
    pub command: String,
}

impl Button {
    pub fn new(label: impl Into<String>, command: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            command: command.into(),
        }
    }
}

mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD.decode(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_survive_json_for_the_backlog() {
        let e = Envelope {
            instance_id: Some(Uuid::new_v4()),
            header: Some("[proj]".into()),
            body: Output::Image {
                png: vec![0x89, b'P', b'N', b'G'],
                caption: "qr".into(),
            },
            footer: Some("📡 Online: @a".into()),
        };
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<Envelope>(&json).unwrap(), e);
    }

    #[test]
    fn only_progress_is_ephemeral() {
        assert!(Output::Progress(Progress::default()).is_ephemeral());
        assert!(!Output::notice("done").is_ephemeral());
    }
}
