//! Edits, deletions, callback answers, commands, files, and the method table.

use std::time::Instant;

use serde_json::{Value, json};

use super::limits::Counted;
use super::media::MAX_DOWNLOAD_BYTES;
use super::model::{BotCommand, CallbackAnswer, Edit, Event};
use super::params::{ApiError, Params};
use super::send::{self, admit, formatted, inline_markup, target};
use super::state::State;
use super::text::{self, MAX_CAPTION, MAX_TEXT};

/// Bot API method names the fake serves; matched case-insensitively like Telegram does.
pub(crate) const METHODS: &[&str] = &[
    "getMe",
    "getUpdates",
    "getWebhookInfo",
    "deleteWebhook",
    "sendMessage",
    "editMessageText",
    "editMessageCaption",
    "editMessageReplyMarkup",
    "deleteMessage",
    "sendPhoto",
    "sendDocument",
    "sendMediaGroup",
    "sendChatAction",
    "answerCallbackQuery",
    "setMyCommands",
    "getMyCommands",
    "deleteMyCommands",
    "getFile",
];

pub(crate) fn canonical(method: &str) -> Option<&'static str> {
    METHODS
        .iter()
        .copied()
        .find(|m| m.eq_ignore_ascii_case(method))
}

/// Every method but getUpdates (which waits, see `updates`).
pub(crate) fn call(
    st: &mut State,
    method: &'static str,
    p: &Params,
    now: Instant,
) -> Result<Value, ApiError> {
    match method {
        "getMe" => {
            let mut me = st.bot_json();
            for (k, v) in [
                ("can_join_groups", true),
                ("can_read_all_group_messages", false),
                ("supports_inline_queries", false),
                ("can_connect_to_business", false),
                ("has_main_web_app", false),
            ] {
                me[k] = v.into();
            }
            Ok(me)
        }
        "getWebhookInfo" => Ok(json!({"url": "", "has_custom_certificate": false,
                                      "pending_update_count": st.updates.len()})),
        "deleteWebhook" => {
            if p.flag("drop_pending_updates") {
                st.updates.clear();
            }
            Ok(Value::Bool(true))
        }
        "sendMessage" => send::send_message(st, p, now),
        "sendPhoto" => send::send_photo(st, p, now),
        "sendDocument" => send::send_document(st, p, now),
        "sendMediaGroup" => send::send_media_group(st, p, now),
        "sendChatAction" => send::send_chat_action(st, p, now),
        "editMessageText" | "editMessageCaption" | "editMessageReplyMarkup" => {
            edit(st, method, p, now)
        }
        "deleteMessage" => delete(st, p, now),
        "answerCallbackQuery" => answer_callback(st, p, now),
        "setMyCommands" => set_commands(st, p),
        "getMyCommands" => Ok(get_commands(st, p)?),
        "deleteMyCommands" => {
            let key = commands_key(p)?;
            st.commands.remove(&key);
            Ok(Value::Bool(true))
        }
        "getFile" => get_file(st, p),
        _ => Err(ApiError::new(404, "Not Found")),
    }
}

fn message_id(p: &Params) -> Result<i32, ApiError> {
    if p.str("inline_message_id").is_some() {
        return Err(ApiError::bad("MESSAGE_ID_INVALID")); // the fake has no inline messages
    }
    let id = p
        .int("message_id")
        .ok_or_else(|| ApiError::bad("message identifier is not specified"))?;
    Ok(i32::try_from(id).unwrap_or(0))
}

fn edit(st: &mut State, method: &'static str, p: &Params, now: Instant) -> Result<Value, ApiError> {
    let chat_id = target(st, p)?;
    let message_id = message_id(p)?;
    let current = st
        .live_message(chat_id, message_id)
        .ok_or_else(|| ApiError::bad("message to edit not found"))?;
    if !current.from_bot() {
        return Err(ApiError::bad("message can't be edited"));
    }
    let new_text = match method {
        "editMessageText" => {
            if current.text.is_none() {
                return Err(ApiError::bad("there is no text in the message to edit"));
            }
            let t = formatted(p, "text", "entities")?;
            if t.text.is_empty() {
                return Err(ApiError::bad("message text is empty"));
            }
            if text::length(&t) > MAX_TEXT {
                return Err(ApiError::bad("MESSAGE_TOO_LONG"));
            }
            Some(t)
        }
        "editMessageCaption" => {
            if current.text.is_some() {
                return Err(ApiError::bad("there is no caption in the message to edit"));
            }
            let t = formatted(p, "caption", "caption_entities")?;
            if text::length(&t) > MAX_CAPTION {
                return Err(ApiError::bad("MEDIA_CAPTION_TOO_LONG"));
            }
            Some(t)
        }
        _ => None,
    };
    let markup = inline_markup(p)?;
    let old = current.text.as_ref().or(current.caption.as_ref());
    let same_text = match (&new_text, old) {
        (None, _) => true,
        (Some(new), Some(old)) => new.text == old.text && new.entities == old.entities,
        (Some(new), None) => new.text.is_empty(),
    };
    if same_text && markup == current.reply_markup {
        return Err(ApiError::bad(
            "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
        ));
    }
    admit(st, chat_id, method, Counted::Edit, now)?;
    let edit = Edit {
        at: now,
        method,
        text: new_text.clone(),
        reply_markup: markup.clone(),
    };
    let chat = st.chats.get_mut(&chat_id).expect("target checked the chat");
    let m = chat.messages.get_mut(&message_id).expect("checked above");
    match (method, new_text) {
        ("editMessageText", Some(t)) => m.text = Some(t),
        ("editMessageCaption", Some(t)) => m.caption = (!t.text.is_empty()).then_some(t),
        _ => {}
    }
    m.reply_markup = markup;
    m.edits.push(edit.clone());
    chat.events.push(Event::Edited { message_id, edit });
    let m = chat.messages[&message_id].clone();
    Ok(st.message_json(&m))
}

fn delete(st: &mut State, p: &Params, now: Instant) -> Result<Value, ApiError> {
    let chat_id = target(st, p)?;
    let message_id = message_id(p)?;
    if st.live_message(chat_id, message_id).is_none() {
        return Err(ApiError::bad("message to delete not found"));
    }
    admit(st, chat_id, "deleteMessage", Counted::Delete, now)?;
    let chat = st.chats.get_mut(&chat_id).expect("target checked the chat");
    if let Some(m) = chat.messages.get_mut(&message_id) {
        m.deleted_at = Some(now);
    }
    chat.events.push(Event::Deleted {
        message_id,
        at: now,
    });
    Ok(Value::Bool(true))
}

fn answer_callback(st: &mut State, p: &Params, now: Instant) -> Result<Value, ApiError> {
    let id = p.str("callback_query_id").unwrap_or_default();
    let invalid =
        || ApiError::bad("query is too old and response timeout expired or query ID is invalid");
    let pending = st
        .callbacks
        .get_mut(&id)
        .filter(|c| !c.answered)
        .ok_or_else(invalid)?;
    let text = p.str("text").filter(|t| !t.is_empty());
    if text.as_ref().is_some_and(|t| t.chars().count() > 200) {
        return Err(ApiError::bad("MESSAGE_TOO_LONG"));
    }
    pending.answered = true;
    let answer = CallbackAnswer {
        callback_query_id: id,
        chat_id: pending.chat_id,
        message_id: pending.message_id,
        data: pending.data.clone(),
        text,
        show_alert: p.flag("show_alert"),
        url: p.str("url"),
        at: now,
    };
    if let Some(chat) = st.chats.get_mut(&answer.chat_id) {
        chat.events.push(Event::CallbackAnswered(answer.clone()));
    }
    st.answers.push(answer);
    Ok(Value::Bool(true))
}

fn commands_key(p: &Params) -> Result<(String, String), ApiError> {
    let scope = p
        .json("scope")?
        .unwrap_or_else(|| json!({"type": "default"}));
    Ok((
        scope.to_string(),
        p.str("language_code").unwrap_or_default(),
    ))
}

fn set_commands(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    let list = p.json("commands")?.unwrap_or(Value::Array(vec![]));
    let list = list
        .as_array()
        .ok_or_else(|| ApiError::bad("can't parse commands JSON object"))?;
    if list.len() > 100 {
        return Err(ApiError::bad("BOT_COMMANDS_TOO_MUCH"));
    }
    let mut commands = Vec::new();
    for c in list {
        let field = |k: &str| {
            c.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let (command, description) = (field("command"), field("description"));
        let valid = |ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_';
        if command.is_empty() || command.len() > 32 || !command.chars().all(valid) {
            return Err(ApiError::bad("BOT_COMMAND_INVALID"));
        }
        if description.trim().is_empty() || description.chars().count() > 256 {
            return Err(ApiError::bad("BOT_COMMAND_DESCRIPTION_INVALID"));
        }
        commands.push(BotCommand {
            command,
            description,
        });
    }
    let key = commands_key(p)?;
    st.commands.insert(key, commands);
    Ok(Value::Bool(true))
}

fn get_commands(st: &State, p: &Params) -> Result<Value, ApiError> {
    let key = commands_key(p)?;
    let list = st.commands.get(&key).into_iter().flatten();
    Ok(list
        .map(|c| json!({"command": c.command, "description": c.description}))
        .collect())
}

fn get_file(st: &State, p: &Params) -> Result<Value, ApiError> {
    let file_id = p.str("file_id").unwrap_or_default();
    let file = st
        .files
        .get(&file_id)
        .ok_or_else(|| ApiError::bad("invalid file_id"))?;
    if file.bytes.len() > MAX_DOWNLOAD_BYTES {
        return Err(ApiError::bad("file is too big"));
    }
    Ok(
        json!({"file_id": file_id, "file_unique_id": file.file_unique_id,
              "file_size": file.bytes.len(), "file_path": file.path}),
    )
}
