//! sendMessage, sendPhoto, sendDocument, sendMediaGroup, sendChatAction.

use std::time::Instant;

use bytes::Bytes;
use serde_json::Value;

use super::limits::Counted;
use super::media::{self, MAX_UPLOAD_BYTES};
use super::model::{Document, Event, FormattedText, Message, RateLimited};
use super::params::{ApiError, InputFile, Params, Upload};
use super::state::{ChatKind, State};
use super::text::{self, MAX_CAPTION, MAX_TEXT};

/// The chat a call targets: known to the bot and not blocking it.
pub(crate) fn target(st: &State, p: &Params) -> Result<i64, ApiError> {
    let Some(raw) = p.str("chat_id").filter(|s| !s.is_empty()) else {
        return Err(ApiError::bad("chat_id is empty"));
    };
    let chat_id: i64 = raw.parse().map_err(|_| ApiError::bad("chat not found"))?;
    let chat = st
        .chats
        .get(&chat_id)
        .ok_or_else(|| ApiError::bad("chat not found"))?;
    if matches!(chat.kind, ChatKind::Private(_)) && st.blocked.contains(&chat_id) {
        return Err(ApiError::new(403, "Forbidden: bot was blocked by the user"));
    }
    Ok(chat_id)
}

/// Counts the call against the flood windows, answering 429 when one is full.
pub(crate) fn admit(
    st: &mut State,
    chat_id: i64,
    method: &str,
    kind: Counted,
    now: Instant,
) -> Result<(), ApiError> {
    let limits = st.limits.clone();
    st.limiter
        .admit(&limits, chat_id, kind, now)
        .map_err(|retry_after| {
            st.rate_limited.push(RateLimited {
                at: now,
                method: method.to_owned(),
                chat_id,
                retry_after,
            });
            ApiError::too_many(retry_after)
        })
}

/// `reply_markup`, checked like Telegram; only inline keyboards are kept on the message.
pub(crate) fn inline_markup(p: &Params) -> Result<Option<Value>, ApiError> {
    let Some(markup) = p.json("reply_markup")? else {
        return Ok(None);
    };
    let Some(rows) = markup.get("inline_keyboard") else {
        return Ok(None);
    };
    let rows = rows
        .as_array()
        .ok_or_else(|| ApiError::bad("can't parse reply keyboard markup JSON object"))?;
    for button in rows.iter().flat_map(|r| r.as_array().into_iter().flatten()) {
        if !button.get("text").is_some_and(Value::is_string) {
            return Err(ApiError::bad(
                "can't parse inline keyboard button: Text must be a String",
            ));
        }
        if let Some(data) = button.get("callback_data") {
            let len = data.as_str().map_or(0, str::len);
            if !(1..=64).contains(&len) {
                return Err(ApiError::bad("BUTTON_DATA_INVALID"));
            }
        } else if let Some(url) = button.get("url") {
            let url = url.as_str().unwrap_or_default();
            let schemes = ["http://", "https://", "tg://"];
            if !schemes.iter().any(|s| url.starts_with(s)) || url.len() <= 8 {
                return Err(ApiError::bad("BUTTON_URL_INVALID"));
            }
        } else if [
            "login_url",
            "switch_inline_query",
            "switch_inline_query_current_chat",
            "copy_text",
            "web_app",
            "pay",
        ]
        .iter()
        .all(|k| button.get(*k).is_none())
        {
            return Err(ApiError::bad(
                "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
            ));
        }
    }
    Ok(Some(markup))
}

fn reply_to(st: &State, chat_id: i64, p: &Params) -> Result<Option<i32>, ApiError> {
    let params = p.json("reply_parameters")?;
    let id = params
        .as_ref()
        .and_then(|r| r.get("message_id")?.as_i64())
        .or_else(|| p.int("reply_to_message_id"));
    let Some(id) = id else { return Ok(None) };
    let allow = params
        .as_ref()
        .and_then(|r| r.get("allow_sending_without_reply")?.as_bool())
        .unwrap_or(false)
        || p.flag("allow_sending_without_reply");
    let id = i32::try_from(id).unwrap_or(0);
    match st.live_message(chat_id, id) {
        Some(_) => Ok(Some(id)),
        None if allow => Ok(None),
        None => Err(ApiError::bad("message to be replied not found")),
    }
}

pub(crate) fn formatted(
    p: &Params,
    key: &str,
    entities_key: &str,
) -> Result<FormattedText, ApiError> {
    let raw = p.str(key).unwrap_or_default();
    let parse_mode = p.str("parse_mode");
    let entities = p.json(entities_key)?;
    text::format(&raw, parse_mode.as_deref(), entities.as_ref())
}

fn caption(p: &Params) -> Result<Option<FormattedText>, ApiError> {
    let caption = formatted(p, "caption", "caption_entities")?;
    if text::length(&caption) > MAX_CAPTION {
        return Err(ApiError::bad("message caption is too long"));
    }
    Ok((!caption.text.is_empty()).then_some(caption))
}

fn sent(st: &mut State, message: Message) -> Value {
    let json = st.message_json(&message);
    st.store(message.clone(), Event::Sent(message));
    json
}

pub(crate) fn send_message(st: &mut State, p: &Params, now: Instant) -> Result<Value, ApiError> {
    let chat_id = target(st, p)?;
    let text = formatted(p, "text", "entities")?;
    if text.text.is_empty() {
        return Err(ApiError::bad("message text is empty"));
    }
    if text::length(&text) > MAX_TEXT {
        return Err(ApiError::bad("message is too long"));
    }
    let markup = inline_markup(p)?;
    let reply = reply_to(st, chat_id, p)?;
    admit(st, chat_id, "sendMessage", Counted::Send, now)?;
    let mut m = st.new_message(chat_id, None, now);
    m.text = Some(text);
    m.reply_markup = markup;
    m.reply_to = reply;
    Ok(sent(st, m))
}

/// The bytes of a file parameter: an upload, or a file the fake already stores.
fn file_bytes(st: &State, file: Option<InputFile>, what: &str) -> Result<Upload, ApiError> {
    match file {
        None => Err(ApiError::bad(&format!("there is no {what} in the request"))),
        Some(InputFile::Upload(u)) if u.bytes.is_empty() => {
            Err(ApiError::bad("file must be non-empty"))
        }
        Some(InputFile::Upload(u)) if u.bytes.len() > MAX_UPLOAD_BYTES => {
            Err(ApiError::new(413, "Request Entity Too Large"))
        }
        Some(InputFile::Upload(u)) => Ok(u),
        Some(InputFile::Id(id)) if id.starts_with("http://") || id.starts_with("https://") => {
            Err(ApiError::bad("failed to get HTTP URL content"))
        }
        Some(InputFile::Id(id)) => st
            .files
            .get(&id)
            .map(|f| Upload {
                file_name: None,
                content_type: None,
                bytes: f.bytes.clone(),
            })
            .ok_or_else(|| ApiError::bad("wrong file identifier/HTTP URL specified")),
    }
}

fn photo_message(
    st: &mut State,
    chat_id: i64,
    bytes: Bytes,
    now: Instant,
) -> Result<Message, ApiError> {
    let info = media::check_photo(&bytes)?;
    let mut m = st.new_message(chat_id, None, now);
    m.photo = Some(st.make_photo(bytes, info));
    Ok(m)
}

pub(crate) fn document(st: &mut State, upload: Upload) -> Document {
    let file_name = upload.file_name.filter(|n| !n.is_empty());
    let ext = file_name
        .as_deref()
        .and_then(|n| n.rsplit_once('.'))
        .map_or("dat", |(_, e)| e)
        .to_owned();
    let mime_type = upload
        .content_type
        .filter(|c| c != "application/octet-stream")
        .or_else(|| mime_for(&ext));
    let (file_id, file_unique_id) = st.store_file(upload.bytes.clone(), "documents", &ext);
    Document {
        file_id,
        file_unique_id,
        file_name,
        mime_type,
        bytes: upload.bytes,
    }
}

fn mime_for(ext: &str) -> Option<String> {
    let mime = match ext {
        "txt" | "log" => "text/plain",
        "md" => "text/markdown",
        "json" => "application/json",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "diff" | "patch" => "text/x-diff",
        _ => return None,
    };
    Some(mime.to_owned())
}

pub(crate) fn send_photo(st: &mut State, p: &Params, now: Instant) -> Result<Value, ApiError> {
    let chat_id = target(st, p)?;
    let upload = file_bytes(st, p.file("photo"), "photo")?;
    media::check_photo(&upload.bytes)?;
    let caption = caption(p)?;
    let markup = inline_markup(p)?;
    let reply = reply_to(st, chat_id, p)?;
    admit(st, chat_id, "sendPhoto", Counted::Media, now)?;
    let mut m = photo_message(st, chat_id, upload.bytes, now)?;
    m.caption = caption;
    m.reply_markup = markup;
    m.reply_to = reply;
    Ok(sent(st, m))
}

pub(crate) fn send_document(st: &mut State, p: &Params, now: Instant) -> Result<Value, ApiError> {
    let chat_id = target(st, p)?;
    let upload = file_bytes(st, p.file("document"), "document")?;
    let caption = caption(p)?;
    let markup = inline_markup(p)?;
    let reply = reply_to(st, chat_id, p)?;
    admit(st, chat_id, "sendDocument", Counted::Media, now)?;
    let mut m = st.new_message(chat_id, None, now);
    m.document = Some(document(st, upload));
    m.caption = caption;
    m.reply_markup = markup;
    m.reply_to = reply;
    Ok(sent(st, m))
}

pub(crate) fn send_media_group(
    st: &mut State,
    p: &Params,
    now: Instant,
) -> Result<Value, ApiError> {
    let chat_id = target(st, p)?;
    let Some(media) = p.json("media")? else {
        return Err(ApiError::bad("parameter \"media\" is required"));
    };
    let items = media
        .as_array()
        .ok_or_else(|| ApiError::bad("expected an Array of InputMedia"))?;
    if items.len() > 10 {
        return Err(ApiError::bad("Too much messages to send as an album"));
    }
    if items.len() < 2 {
        return Err(ApiError::bad("media group must include 2-10 items"));
    }
    // Validate every item before anything is stored: an album is all or nothing.
    let mut prepared = Vec::new();
    for item in items {
        let kind = item
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if kind != "photo" && kind != "document" {
            return Err(ApiError::bad(&format!(
                "can't parse InputMedia: type \"{kind}\" is not supported by the fake"
            )));
        }
        let value = item
            .get("media")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let file = p.resolve(value).filter(|_| !value.is_empty());
        let upload = match file {
            Some(f) => file_bytes(st, Some(f), &kind)?,
            None => return Err(ApiError::bad("can't parse InputMedia: media not found")),
        };
        if kind == "photo" {
            media::check_photo(&upload.bytes)?;
        }
        let raw = item
            .get("caption")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let mode = item.get("parse_mode").and_then(Value::as_str);
        let caption = text::format(raw, mode, item.get("caption_entities"))?;
        if text::length(&caption) > MAX_CAPTION {
            return Err(ApiError::bad("message caption is too long"));
        }
        prepared.push((kind, upload, caption));
    }
    let kinds: Vec<&str> = prepared.iter().map(|(k, ..)| k.as_str()).collect();
    if kinds.contains(&"document") && kinds.contains(&"photo") {
        return Err(ApiError::bad(
            "document can't be mixed with other media types",
        ));
    }
    let reply = reply_to(st, chat_id, p)?;
    admit(st, chat_id, "sendMediaGroup", Counted::Media, now)?;
    let group_id = format!("13{:015}", st.next_id());
    let mut messages = Vec::new();
    for (kind, upload, caption) in prepared {
        let mut m = if kind == "photo" {
            photo_message(st, chat_id, upload.bytes, now)?
        } else {
            let mut m = st.new_message(chat_id, None, now);
            m.document = Some(document(st, upload));
            m
        };
        m.caption = (!caption.text.is_empty()).then_some(caption);
        m.media_group_id = Some(group_id.clone());
        m.reply_to = reply;
        messages.push(m);
    }
    let json = messages.iter().map(|m| st.message_json(m)).collect();
    let chat = st.chats.get_mut(&chat_id).expect("target checked the chat");
    for m in &messages {
        chat.messages.insert(m.message_id, m.clone());
    }
    chat.events.push(Event::MediaGroup { messages, at: now });
    Ok(Value::Array(json))
}

const CHAT_ACTIONS: &[&str] = &[
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
];

pub(crate) fn send_chat_action(
    st: &mut State,
    p: &Params,
    now: Instant,
) -> Result<Value, ApiError> {
    let chat_id = target(st, p)?;
    let action = p.str("action").unwrap_or_default();
    if !CHAT_ACTIONS.contains(&action.as_str()) {
        return Err(ApiError::bad("wrong parameter action in request"));
    }
    let chat = st.chats.get_mut(&chat_id).expect("target checked the chat");
    chat.events.push(Event::ChatAction { action, at: now });
    Ok(Value::Bool(true))
}
