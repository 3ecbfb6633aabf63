//! Building realistic callback payloads for messages users send and buttons they press.

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Value, json};

use super::model::{FrameKind, Injected, User};
use super::state::{Outstanding, Session, SharedRef, StoredFile, now_ms};
use super::stream::push;

pub(crate) const BOT_TOPIC: &str = "/v1.0/im/bot/messages/get";
pub(crate) const CARD_TOPIC: &str = "/v1.0/card/instances/callback";

/// Where a message is sent.
#[derive(Debug, Clone)]
pub enum Chat {
    /// 1:1 chat with the robot.
    Direct,
    /// A group, the robot @-mentioned.
    Group {
        conversation_id: String,
        title: String,
    },
}

#[derive(Debug, Clone)]
pub enum RichPart {
    Text(String),
    Picture(Bytes),
}

#[derive(Debug, Clone)]
pub enum Body {
    Text(String),
    RichText(Vec<RichPart>),
    Audio {
        recognition: String,
        duration_ms: Option<u64>,
        bytes: Bytes,
    },
    Picture(Bytes),
    File {
        name: String,
        bytes: Bytes,
    },
    /// Any other msgtype, `content` passed through.
    Raw {
        msgtype: String,
        content: Value,
    },
}

/// A message a user sends to the robot.
#[derive(Debug, Clone)]
pub struct Message {
    pub sender: User,
    pub chat: Chat,
    pub body: Body,
    /// Overrides `FakeConfig::session_webhook_ttl` for this message's sessionWebhook.
    pub session_ttl: Option<Duration>,
}

impl Message {
    pub fn new(sender: User, body: Body) -> Self {
        Self {
            sender,
            chat: Chat::Direct,
            body,
            session_ttl: None,
        }
    }
    pub fn text(sender: User, text: impl Into<String>) -> Self {
        Self::new(sender, Body::Text(text.into()))
    }
    pub fn rich_text(sender: User, parts: Vec<RichPart>) -> Self {
        Self::new(sender, Body::RichText(parts))
    }
    pub fn audio(sender: User, recognition: impl Into<String>, bytes: impl Into<Bytes>) -> Self {
        let body = Body::Audio {
            recognition: recognition.into(),
            duration_ms: Some(3000),
            bytes: bytes.into(),
        };
        Self::new(sender, body)
    }
    pub fn picture(sender: User, bytes: impl Into<Bytes>) -> Self {
        Self::new(sender, Body::Picture(bytes.into()))
    }
    pub fn file(sender: User, name: impl Into<String>, bytes: impl Into<Bytes>) -> Self {
        let body = Body::File {
            name: name.into(),
            bytes: bytes.into(),
        };
        Self::new(sender, body)
    }
    /// Send it in a group instead, @-mentioning the robot.
    pub fn in_group(
        mut self,
        conversation_id: impl Into<String>,
        title: impl Into<String>,
    ) -> Self {
        self.chat = Chat::Group {
            conversation_id: conversation_id.into(),
            title: title.into(),
        };
        self
    }
    pub fn session_ttl(mut self, ttl: Duration) -> Self {
        self.session_ttl = Some(ttl);
        self
    }
}

/// Stable fake ids derived from a string (FNV-1a), so the same user keeps the same ids.
fn fake_id(prefix: &str, s: &str) -> String {
    let hash = s.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{prefix}{hash:016x}")
}

pub(crate) fn direct_conversation_id(staff_id: &str) -> String {
    fake_id("cid1to1", staff_id)
}

fn store_file(shared: &SharedRef, bytes: Bytes) -> String {
    let code = format!("dc{}", uuid::Uuid::new_v4().simple());
    shared.lock().files.insert(
        code.clone(),
        StoredFile {
            bytes,
            url_expires: None,
        },
    );
    code
}

pub(crate) fn inject_message(shared: &SharedRef, msg: Message) -> Injected {
    let cfg = shared.config();
    let group = matches!(msg.chat, Chat::Group { .. });
    // DingTalk only lets users @ the robot in groups with text, picture or richText.
    assert!(
        !group
            || matches!(
                msg.body,
                Body::Text(_) | Body::Picture(_) | Body::RichText(_)
            ),
        "fake DingTalk: audio/video/file messages reach the robot in 1:1 chats only"
    );
    let mut codes = Vec::new();
    let (msgtype, text, content) = match msg.body {
        // In groups the @-mention is stripped but a leading space stays.
        Body::Text(t) => (
            "text".to_string(),
            Some(if group { format!(" {t}") } else { t }),
            None,
        ),
        Body::RichText(parts) => {
            let items: Vec<Value> = parts
                .into_iter()
                .map(|p| match p {
                    RichPart::Text(t) => json!({"text": t}),
                    RichPart::Picture(b) => {
                        let code = store_file(shared, b);
                        codes.push(code.clone());
                        json!({"type": "picture", "downloadCode": code, "pictureDownloadCode": code})
                    }
                })
                .collect();
            (
                "richText".to_string(),
                None,
                Some(json!({"richText": items})),
            )
        }
        Body::Audio {
            recognition,
            duration_ms,
            bytes,
        } => {
            let code = store_file(shared, bytes);
            codes.push(code.clone());
            let mut c = json!({"downloadCode": code, "recognition": recognition});
            if let Some(d) = duration_ms {
                c["duration"] = json!(d);
            }
            ("audio".to_string(), None, Some(c))
        }
        Body::Picture(bytes) => {
            let code = store_file(shared, bytes);
            codes.push(code.clone());
            let c = json!({"downloadCode": code, "pictureDownloadCode": code});
            ("picture".to_string(), None, Some(c))
        }
        Body::File { name, bytes } => {
            let code = store_file(shared, bytes);
            codes.push(code.clone());
            let c = json!({"downloadCode": code, "fileName": name});
            ("file".to_string(), None, Some(c))
        }
        Body::Raw { msgtype, content } => (msgtype, None, Some(content)),
    };
    let user = &msg.sender;
    let (conversation_id, title) = match &msg.chat {
        Chat::Direct => (direct_conversation_id(&user.staff_id), None),
        Chat::Group {
            conversation_id,
            title,
        } => (conversation_id.clone(), Some(title.clone())),
    };
    let session = uuid::Uuid::new_v4().simple().to_string();
    let ttl = msg.session_ttl.unwrap_or(cfg.session_webhook_ttl);
    let webhook = format!("{}/robot/sendBySession?session={session}", shared.base_url);
    let now = now_ms();
    let robot_dingtalk_id = fake_id("$:LWCP_v1:$robot", &cfg.robot_code);
    let msg_id = format!("msg{}", uuid::Uuid::new_v4().simple());
    let mut data = json!({
        "conversationId": conversation_id,
        "conversationType": if group { "2" } else { "1" },
        "msgId": msg_id,
        "msgtype": msgtype,
        "createAt": now,
        "senderStaffId": user.staff_id,
        "senderId": fake_id("$:LWCP_v1:$", &user.staff_id),
        "senderNick": user.nick,
        "senderCorpId": cfg.corp_id,
        "chatbotCorpId": cfg.corp_id,
        "chatbotUserId": robot_dingtalk_id,
        "robotCode": cfg.robot_code,
        "isAdmin": false,
        "sessionWebhook": webhook,
        "sessionWebhookExpiredTime": now + ttl.as_millis() as u64,
    });
    if let Some(t) = text {
        data["text"] = json!({"content": t});
    }
    if let Some(c) = content {
        data["content"] = c;
    }
    if let Some(t) = &title {
        data["conversationTitle"] = json!(t);
        data["isInAtList"] = json!(true);
        data["atUsers"] = json!([{"dingtalkId": robot_dingtalk_id}]);
    }
    {
        let mut st = shared.lock();
        st.users.insert(user.staff_id.clone(), user.clone());
        if let Some(t) = title {
            st.groups.insert(conversation_id.clone(), t);
        }
        st.sessions.insert(
            session,
            Session {
                conversation_id: conversation_id.clone(),
                expires: Instant::now() + ttl,
            },
        );
    }
    let message_id = push(
        shared,
        frame(FrameKind::Callback, BOT_TOPIC, data.clone(), vec![]),
    );
    Injected {
        message_id,
        payload_id: msg_id,
        session_webhook: Some(webhook),
        conversation_id: Some(conversation_id),
        download_codes: codes,
        data,
    }
}

pub(crate) fn frame(
    kind: FrameKind,
    topic: &str,
    data: Value,
    extra_headers: Vec<(String, String)>,
) -> Outstanding {
    Outstanding {
        kind,
        topic: topic.into(),
        data,
        extra_headers,
        connection_id: None,
        sent_at: Instant::now(),
        first_id: None,
        missing_recorded: false,
        pin: None,
    }
}

/// A button press on a delivered card whose `callbackType` is `STREAM`.
pub(crate) fn inject_card_callback(
    shared: &SharedRef,
    out_track_id: &str,
    user: &User,
    action_id: &str,
    params: &Value,
) -> Injected {
    let cfg = shared.config();
    let space = {
        let st = shared.lock();
        let card = st
            .cards
            .get(out_track_id)
            .unwrap_or_else(|| panic!("fake DingTalk: no card {out_track_id:?} to press"));
        assert_eq!(
            card.callback_type.as_deref(),
            Some("STREAM"),
            "fake DingTalk: card {out_track_id} was created without callbackType STREAM, so its callbacks never reach the stream"
        );
        card.delivered_to
            .first()
            .cloned()
            .unwrap_or_else(|| panic!("fake DingTalk: card {out_track_id} was never delivered"))
    };
    // "dtv1.card//IM_ROBOT.<id>" → spaceType IM_ROBOT, spaceId <id>.
    let (space_type, space_id) = space
        .trim_start_matches("dtv1.card//")
        .split_once('.')
        .map(|(t, id)| (t.to_string(), id.to_string()))
        .unwrap_or_default();
    let content = json!({"cardPrivateData": {"actionIds": [action_id], "params": params}});
    let data = json!({
        "outTrackId": out_track_id,
        "userId": user.staff_id,
        "userIdType": 1,
        "corpId": cfg.corp_id,
        "spaceType": space_type,
        "spaceId": space_id,
        "type": "actionCallback",
        "extension": "{}",
        "content": content.to_string(),
    });
    let message_id = push(
        shared,
        frame(FrameKind::Callback, CARD_TOPIC, data.clone(), vec![]),
    );
    Injected {
        message_id,
        payload_id: out_track_id.into(),
        session_webhook: None,
        conversation_id: None,
        download_codes: Vec::new(),
        data,
    }
}

/// An EVENT push; the topic is the event type, as on the real stream.
pub(crate) fn inject_event(shared: &SharedRef, event_type: &str, data: Value) -> Injected {
    let cfg = shared.config();
    let event_id = uuid::Uuid::new_v4().simple().to_string();
    let headers = vec![
        ("eventId".to_string(), event_id.clone()),
        ("eventType".to_string(), event_type.to_string()),
        ("eventCorpId".to_string(), cfg.corp_id.clone()),
        ("eventBornTime".to_string(), now_ms().to_string()),
        ("eventUnifiedAppId".to_string(), cfg.robot_code.clone()),
    ];
    let message_id = push(
        shared,
        frame(FrameKind::Event, event_type, data.clone(), headers),
    );
    Injected {
        message_id,
        payload_id: event_id,
        session_webhook: None,
        conversation_id: None,
        download_codes: Vec::new(),
        data,
    }
}
