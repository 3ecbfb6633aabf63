//! Robot callbacks and card button callbacks → [`Incoming`]; the per-conversation
//! sessionWebhook book.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use cloudify_core::adapter::{ChatRef, Incoming, IncomingKind};
use cloudify_core::identity::{Platform, UserKey};
use serde_json::Value;

use crate::api::{Api, Download};
use crate::cards::CardBook;
use crate::sync::lock;

/// A file too large to download arrives as `Text("/file_too_large <bytes> <name>")`, the
/// same command the Telegram adapter produces, so the router answers it.
pub const FILE_TOO_LARGE_COMMAND: &str = "/file_too_large";

/// What turning callbacks into `Incoming` needs: downloads, and the books it shares with
/// delivery (webhooks it fills, cards whose buttons it looks up).
pub(crate) struct Intake {
    pub api: Arc<Api>,
    pub max_download: usize,
    pub webhooks: Arc<Mutex<Webhooks>>,
    pub cards: Arc<Mutex<CardBook>>,
}

impl Intake {
    pub(crate) fn webhooks(&self) -> MutexGuard<'_, Webhooks> {
        lock(&self.webhooks)
    }

    fn cards(&self) -> MutexGuard<'_, CardBook> {
        lock(&self.cards)
    }
}

/// A conversation's reply URL and when it stops working (ms since the epoch).
#[derive(Debug, Clone)]
pub(crate) struct Webhook {
    pub url: String,
    pub expires_ms: u64,
}

/// sessionWebhooks by chat, from the latest message in each conversation.
#[derive(Debug, Default)]
pub(crate) struct Webhooks(HashMap<(bool, String), Webhook>);

impl Webhooks {
    pub(crate) fn remember(&mut self, chat: &ChatRef, hook: Webhook) {
        self.0.insert((chat.is_group, chat.chat_id.clone()), hook);
    }

    /// The webhook if it is still valid for a while (30 s margin for the call itself).
    pub(crate) fn valid(&self, chat: &ChatRef, now_ms: u64) -> Option<String> {
        self.0
            .get(&(chat.is_group, chat.chat_id.clone()))
            .filter(|h| h.expires_ms > now_ms + 30_000)
            .map(|h| h.url.clone())
    }

    pub(crate) fn forget(&mut self, chat: &ChatRef) {
        self.0.remove(&(chat.is_group, chat.chat_id.clone()));
    }
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn s<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// File name without path parts or control characters.
fn clean_name(name: Option<&str>, fallback: &str) -> String {
    let base = name
        .and_then(|n| n.rsplit(['/', '\\']).next())
        .map(|n| n.chars().filter(|c| !c.is_control()).collect::<String>())
        .filter(|n| !n.trim().is_empty() && n.len() <= 200);
    base.unwrap_or_else(|| fallback.to_owned())
}

/// MIME type from the bytes (images) or the file name.
pub(crate) fn mime_of(name: &str, bytes: &[u8]) -> String {
    let sniffed = if bytes.starts_with(b"\x89PNG") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF8") {
        Some("image/gif")
    } else {
        None
    };
    if let Some(m) = sniffed {
        return m.to_owned();
    }
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "bmp" => "image/bmp",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "txt" | "log" | "md" | "rs" | "py" | "js" | "ts" | "go" | "java" | "c" | "h" | "cpp"
        | "toml" | "yaml" | "yml" | "json" | "sh" | "csv" => "text/plain",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "mp4" => "video/mp4",
        "amr" => "audio/amr",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        _ => "application/octet-stream",
    }
    .to_owned()
}

/// Downloads one attachment into a `File` (or the too-large command). `None` when the
/// download failed (logged; the user sees nothing happen, like a lost message).
async fn file(
    inner: &Intake,
    code: &str,
    name: String,
    caption: Option<String>,
) -> Option<IncomingKind> {
    match inner.api.download(code, inner.max_download).await {
        Ok(Download::Bytes(bytes)) => Some(IncomingKind::File {
            mime: mime_of(&name, &bytes),
            name,
            bytes,
            caption,
        }),
        Ok(Download::TooLarge) => Some(IncomingKind::Text(format!(
            "{FILE_TOO_LARGE_COMMAND} {} {name}",
            inner.max_download + 1
        ))),
        Err(e) => {
            tracing::warn!(error = %e, file = %name, "dingtalk file download failed");
            None
        }
    }
}

fn picture_name(code_index: usize) -> String {
    if code_index == 0 {
        "image.jpg".into()
    } else {
        format!("image-{}.jpg", code_index + 1)
    }
}

/// A robot message callback → zero or more `Incoming` (richText with pictures gives one
/// per picture, the text riding as the first one's caption). Remembers the sessionWebhook.
pub(crate) async fn bot_message(inner: &Intake, data: &Value) -> Vec<Incoming> {
    let Some(msg_id) = s(data, "/msgId") else {
        tracing::warn!("dingtalk robot message without msgId ignored");
        return Vec::new();
    };
    // People outside the org have no staffId; their encrypted id still identifies them.
    let Some(sender) = s(data, "/senderStaffId").or_else(|| s(data, "/senderId")) else {
        tracing::warn!(msg_id, "dingtalk robot message without sender ignored");
        return Vec::new();
    };
    let is_group = s(data, "/conversationType") == Some("2");
    let chat = match (is_group, s(data, "/conversationId")) {
        (true, Some(cid)) => ChatRef {
            platform: Platform::DingTalk,
            chat_id: cid.to_owned(),
            is_group: true,
        },
        _ => ChatRef {
            platform: Platform::DingTalk,
            chat_id: sender.to_owned(),
            is_group: false,
        },
    };
    if let Some(url) = s(data, "/sessionWebhook") {
        let expires_ms = data
            .get("sessionWebhookExpiredTime")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        inner.webhooks().remember(
            &chat,
            Webhook {
                url: url.to_owned(),
                expires_ms,
            },
        );
    }
    let msgtype = s(data, "/msgtype").unwrap_or("text");
    let kinds: Vec<IncomingKind> = match msgtype {
        "text" => s(data, "/text/content")
            .map(|t| IncomingKind::Text(t.trim().to_owned()))
            .into_iter()
            .collect(),
        "richText" => rich_text(inner, data).await,
        "audio" => match s(data, "/content/recognition") {
            Some(text) => vec![IncomingKind::Text(text.trim().to_owned())],
            None => match s(data, "/content/downloadCode") {
                Some(code) => file(inner, code, "voice.amr".into(), None)
                    .await
                    .into_iter()
                    .collect(),
                None => Vec::new(),
            },
        },
        "picture" => match s(data, "/content/downloadCode")
            .or_else(|| s(data, "/content/pictureDownloadCode"))
        {
            Some(code) => file(inner, code, picture_name(0), None)
                .await
                .into_iter()
                .collect(),
            None => Vec::new(),
        },
        "file" | "video" => {
            let fallback = if msgtype == "video" {
                "video.mp4"
            } else {
                "file"
            };
            let name = clean_name(s(data, "/content/fileName"), fallback);
            match s(data, "/content/downloadCode") {
                Some(code) => file(inner, code, name, None).await.into_iter().collect(),
                None => Vec::new(),
            }
        }
        other => {
            tracing::info!(msgtype = other, "dingtalk message type not handled");
            Vec::new()
        }
    };
    let user = UserKey::new(Platform::DingTalk, sender);
    let nick = s(data, "/senderNick").unwrap_or(sender).to_owned();
    kinds
        .into_iter()
        .filter(|k| !matches!(k, IncomingKind::Text(t) if t.is_empty()))
        .enumerate()
        .map(|(i, kind)| Incoming {
            update_id: if i == 0 {
                msg_id.to_owned()
            } else {
                format!("{msg_id}#{i}")
            },
            user: user.clone(),
            display_name: nick.clone(),
            username: None,
            // DingTalk does not tell; the core defaults DingTalk users to zh.
            language_code: None,
            chat: chat.clone(),
            kind,
        })
        .collect()
}

async fn rich_text(inner: &Intake, data: &Value) -> Vec<IncomingKind> {
    let parts = data
        .pointer("/content/richText")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let text: Vec<&str> = parts
        .iter()
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    let text = text.join("\n");
    let codes: Vec<&str> = parts
        .iter()
        .filter(|p| p.get("type").and_then(Value::as_str) == Some("picture"))
        .filter_map(|p| s(p, "/downloadCode").or_else(|| s(p, "/pictureDownloadCode")))
        .collect();
    let mut out = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        let caption = (i == 0 && !text.is_empty()).then(|| text.clone());
        if let Some(k) = file(inner, code, picture_name(i), caption).await {
            out.push(k);
        }
    }
    if codes.is_empty() && !text.is_empty() {
        out.push(IncomingKind::Text(text));
    }
    out
}

/// A card button callback → `Button { command }`. The command comes from the button's
/// callback parameter `command`, else from the action id (`btn_<row>_<col>`) looked up in
/// the card's buttons.
pub(crate) fn card_callback(inner: &Intake, message_id: &str, data: &Value) -> Option<Incoming> {
    let track = s(data, "/outTrackId")?;
    let user_id = s(data, "/userId")?;
    let content: Value = s(data, "/content")
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or(Value::Null);
    let private = content.pointer("/cardPrivateData").unwrap_or(&Value::Null);
    let command = s(private, "/params/command")
        .map(str::to_owned)
        .or_else(|| {
            let action = s(private, "/actionIds/0")?;
            inner.cards().button_command(track, action)
        });
    let Some(command) = command else {
        tracing::info!(
            out_track_id = track,
            "card callback without a known command"
        );
        return None;
    };
    let chat = match (s(data, "/spaceType"), s(data, "/spaceId")) {
        (Some("IM_GROUP"), Some(cid)) => ChatRef {
            platform: Platform::DingTalk,
            chat_id: cid.to_owned(),
            is_group: true,
        },
        _ => ChatRef {
            platform: Platform::DingTalk,
            chat_id: user_id.to_owned(),
            is_group: false,
        },
    };
    Some(Incoming {
        update_id: format!("card:{message_id}"),
        user: UserKey::new(Platform::DingTalk, user_id),
        display_name: user_id.to_owned(),
        username: None,
        language_code: None,
        chat,
        kind: IncomingKind::Button { command },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhooks_expire_with_margin() {
        let mut w = Webhooks::default();
        let chat = ChatRef {
            platform: Platform::DingTalk,
            chat_id: "u1".into(),
            is_group: false,
        };
        w.remember(
            &chat,
            Webhook {
                url: "http://x".into(),
                expires_ms: 100_000,
            },
        );
        assert_eq!(w.valid(&chat, 10_000).as_deref(), Some("http://x"));
        assert_eq!(w.valid(&chat, 80_000), None);
        let group = ChatRef {
            is_group: true,
            ..chat.clone()
        };
        assert_eq!(w.valid(&group, 0), None);
    }

    #[test]
    fn names_and_mimes() {
        assert_eq!(clean_name(Some("../a/b.pdf"), "f"), "b.pdf");
        assert_eq!(clean_name(Some(""), "f"), "f");
        assert_eq!(mime_of("x.bin", b"\x89PNG\r\n"), "image/png");
        assert_eq!(mime_of("report.PDF", b"%PDF"), "application/pdf");
        assert_eq!(mime_of("x", b"??"), "application/octet-stream");
    }
}
