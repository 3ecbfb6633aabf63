//! Robot sends: sessionWebhook replies, 1:1 batchSend, group send, recall, read status.

use std::collections::HashMap;
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::markdown::unsupported_markdown;
use super::model::{Event, RobotSend, WebhookReply};
use super::state::{FakeConfig, SharedRef, State as St, parse_body, str_field};

const WEBHOOK_PATH: &str = "/robot/sendBySession";
const BATCH_PATH: &str = "/v1.0/robot/oToMessages/batchSend";
const GROUP_PATH: &str = "/v1.0/robot/groupMessages/send";
const OTO_RECALL_PATH: &str = "/v1.0/robot/otoMessages/batchRecall";
const GROUP_RECALL_PATH: &str = "/v1.0/robot/groupMessages/recall";
const READ_STATUS_PATH: &str = "/v1.0/robot/oToMessages/readStatus";

/// Unsupported Markdown in the first of `pointers` present in `v`.
fn markdown_issues(v: &Value, pointers: &[&str]) -> Vec<String> {
    pointers
        .iter()
        .find_map(|p| v.pointer(p).and_then(Value::as_str))
        .map(unsupported_markdown)
        .unwrap_or_default()
}

/// `text` of Markdown-bearing msgKeys (`sampleMarkdown`, `sampleActionCard*`).
fn param_markdown_issues(key: &str, param: &Value) -> Vec<String> {
    if key == "sampleMarkdown" || key.starts_with("sampleActionCard") {
        markdown_issues(param, &["/text"])
    } else {
        Vec::new()
    }
}

fn has_str(v: &Value, pointer: &str) -> bool {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty())
}

/// Custom-robot message set accepted by sessionWebhook; `Err` names what is wrong.
fn check_webhook_body(body: &Value) -> Result<String, String> {
    let msgtype = body
        .get("msgtype")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let ok = match msgtype {
        "text" => has_str(body, "/text/content"),
        "markdown" => has_str(body, "/markdown/title") && has_str(body, "/markdown/text"),
        "actionCard" => {
            let single =
                has_str(body, "/actionCard/singleTitle") && has_str(body, "/actionCard/singleURL");
            let btns = body
                .pointer("/actionCard/btns")
                .and_then(Value::as_array)
                .is_some_and(|b| {
                    !b.is_empty()
                        && b.iter()
                            .all(|b| has_str(b, "/title") && has_str(b, "/actionURL"))
                });
            has_str(body, "/actionCard/title")
                && has_str(body, "/actionCard/text")
                && (single || btns)
        }
        "link" => ["/link/title", "/link/text", "/link/messageUrl"]
            .iter()
            .all(|p| has_str(body, p)),
        "feedCard" => body
            .pointer("/feedCard/links")
            .and_then(Value::as_array)
            .is_some_and(|l| {
                !l.is_empty()
                    && l.iter().all(|l| {
                        has_str(l, "/title") && has_str(l, "/messageURL") && has_str(l, "/picURL")
                    })
            }),
        "" => return Err("缺少参数 msgtype".into()),
        other => return Err(format!("不支持的消息类型 {other}")),
    };
    if !ok {
        return Err(format!("缺少参数或参数格式错误: {msgtype}"));
    }
    if let Some(at) = body.get("at") {
        let ids_ok = at.get("atUserIds").is_none_or(|ids| {
            ids.as_array()
                .is_some_and(|a| a.iter().all(Value::is_string))
        });
        if !ids_ok {
            return Err("at.atUserIds must be an array of staffIds".into());
        }
    }
    Ok(msgtype.into())
}

pub(crate) async fn session_webhook(
    State(shared): State<SharedRef>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let cfg = shared.config();
    let session = q.get("session").cloned().unwrap_or_default();
    let conversation_id = {
        let st = shared.lock();
        st.sessions
            .get(&session)
            .filter(|s| s.expires > Instant::now())
            .map(|s| s.conversation_id.clone())
    };
    let Some(conversation_id) = conversation_id else {
        return shared.oapi_error(WEBHOOK_PATH, 300001, "session 不存在");
    };
    if body.len() > cfg.max_webhook_bytes {
        let msg = format!("message too long, exceed {} bytes", cfg.max_webhook_bytes);
        return shared.oapi_error(WEBHOOK_PATH, 460101, &msg);
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return shared.oapi_error(
            WEBHOOK_PATH,
            43004,
            "无效的HTTP HEADER Content-Type 或 body 不是 JSON",
        );
    };
    let msgtype = match check_webhook_body(&body) {
        Ok(t) => t,
        Err(msg) => return shared.oapi_error(WEBHOOK_PATH, 40035, &msg),
    };
    let refs = check_media_refs(&shared.lock(), &body);
    if let Err(msg) = refs {
        return shared.oapi_error(WEBHOOK_PATH, 40035, &msg);
    }
    shared.record(Event::WebhookReply(WebhookReply {
        session,
        conversation_id,
        markdown_issues: markdown_issues(&body, &["/markdown/text", "/actionCard/text"]),
        msgtype,
        body,
    }));
    Json(json!({"errcode": 0, "errmsg": "ok"})).into_response()
}

/// Markdown images given as a mediaId (`![x](@lA…)`) must name an uploaded file.
fn check_media_refs(st: &St, body: &Value) -> Result<(), String> {
    let text = body
        .pointer("/markdown/text")
        .or_else(|| body.pointer("/text"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    for part in text.split("](").skip(1) {
        let target = part.split(')').next().unwrap_or_default();
        if target.starts_with('@') && !st.media.contains_key(target) {
            return Err(format!("unknown mediaId {target}"));
        }
    }
    Ok(())
}

/// A mediaId must exist with the right type; URLs pass.
fn media_ok(st: &St, value: &str, media_type: &str, url_allowed: bool) -> bool {
    if value.starts_with('@') {
        return st.media.get(value).is_some_and(|t| t == media_type);
    }
    url_allowed && (value.starts_with("http://") || value.starts_with("https://"))
}

/// Validate `msgKey` + `msgParam` (a JSON string) against the catalogue.
fn check_msg(
    cfg: &FakeConfig,
    st: &St,
    map: &Map<String, Value>,
) -> Result<(String, Value), String> {
    let key = str_field(map, "msgKey").ok_or("msgKey is required")?;
    let raw = map
        .get("msgParam")
        .and_then(Value::as_str)
        .ok_or("msgParam must be a JSON string")?;
    if raw.len() > cfg.max_msg_param_bytes {
        return Err(format!(
            "msgParam exceeds {} bytes",
            cfg.max_msg_param_bytes
        ));
    }
    let param: Value = serde_json::from_str(raw).map_err(|_| "msgParam is not valid JSON")?;
    let Some(obj) = param.as_object() else {
        return Err("msgParam must encode an object".into());
    };
    let mut required: Vec<String> = match key {
        "sampleText" => vec!["content".into()],
        "sampleMarkdown" => vec!["title".into(), "text".into()],
        "sampleImageMsg" => vec!["photoURL".into()],
        "sampleLink" => ["text", "title", "picUrl", "messageUrl"]
            .map(String::from)
            .to_vec(),
        "sampleActionCard" => ["title", "text", "singleTitle", "singleURL"]
            .map(String::from)
            .to_vec(),
        "sampleAudio" => vec!["mediaId".into(), "duration".into()],
        "sampleFile" => ["mediaId", "fileName", "fileType"]
            .map(String::from)
            .to_vec(),
        "sampleVideo" => ["duration", "videoMediaId", "videoType", "picMediaId"]
            .map(String::from)
            .to_vec(),
        _ => Vec::new(),
    };
    let buttons = match key {
        "sampleActionCard2" | "sampleActionCard6" => 2,
        "sampleActionCard3" => 3,
        "sampleActionCard4" => 4,
        "sampleActionCard5" => 5,
        _ if required.is_empty() => return Err(format!("unknown msgKey {key}")),
        _ => 0,
    };
    if buttons > 0 {
        required = vec!["title".into(), "text".into()];
        for i in 1..=buttons {
            let title = obj.get(&format!("actionTitle{i}")).and_then(Value::as_str);
            let url = obj.get(&format!("actionURL{i}")).and_then(Value::as_str);
            if title.is_none_or(|t| t.chars().count() > 20) || url.is_none_or(|u| u.len() > 500) {
                return Err(format!(
                    "{key}: actionTitle{i} (≤ 20 chars) / actionURL{i} (≤ 500) required"
                ));
            }
        }
    }
    for field in &required {
        if obj
            .get(field)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(format!(
                "{key}: msgParam.{field} must be a non-empty string"
            ));
        }
    }
    let s = |f: &str| obj.get(f).and_then(Value::as_str).unwrap_or_default();
    let media = match key {
        "sampleImageMsg" => media_ok(st, s("photoURL"), "image", true),
        "sampleLink" => media_ok(st, s("picUrl"), "image", true),
        "sampleAudio" => media_ok(st, s("mediaId"), "voice", false),
        "sampleFile" => media_ok(st, s("mediaId"), "file", false),
        "sampleVideo" => {
            media_ok(st, s("videoMediaId"), "video", false)
                && media_ok(st, s("picMediaId"), "image", false)
        }
        _ => true,
    };
    if !media {
        return Err(format!("{key}: unknown or wrong-typed mediaId"));
    }
    let md = if key == "sampleMarkdown" {
        json!({"markdown": {"text": s("text")}})
    } else {
        json!({})
    };
    check_media_refs(st, &md)?;
    Ok((key.into(), param))
}

/// Shared checks of both robot send APIs; `Err` is the finished error response.
fn front(
    shared: &SharedRef,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Map<String, Value>, Box<Response>> {
    if let Some(resp) = shared.guard(path, headers) {
        return Err(Box::new(resp));
    }
    let map = parse_body(body).ok_or_else(|| {
        Box::new(shared.api_error(
            path,
            400,
            "MissingBody",
            "body is mandatory for this action.",
        ))
    })?;
    if str_field(&map, "robotCode") != Some(shared.config().robot_code.as_str()) {
        return Err(Box::new(shared.api_error(
            path,
            400,
            "invalidParameter.robotCode",
            "robotCode 不存在或无权限",
        )));
    }
    Ok(map)
}

pub(crate) async fn batch_send(
    State(shared): State<SharedRef>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let map = match front(&shared, BATCH_PATH, &headers, &body) {
        Ok(m) => m,
        Err(resp) => return *resp,
    };
    let cfg = shared.config();
    let user_ids: Option<Vec<String>> = map.get("userIds").and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    });
    let user_ids = match user_ids {
        Some(ids) if !ids.is_empty() && ids.len() <= cfg.max_batch_users => ids,
        _ => {
            let msg = format!("userIds must hold 1..={} staffIds", cfg.max_batch_users);
            return shared.api_error(BATCH_PATH, 400, "invalidParameter.userIds", &msg);
        }
    };
    let mut st = shared.lock();
    let (msg_key, msg_param) = match check_msg(&cfg, &st, &map) {
        Ok(m) => m,
        Err(msg) => {
            drop(st);
            return shared.api_error(BATCH_PATH, 400, "invalidParameter.msgParam", &msg);
        }
    };
    // Staff outside the app's visible range come back as invalid; the call still succeeds.
    let (known, invalid): (Vec<String>, Vec<String>) = user_ids
        .into_iter()
        .partition(|id| st.users.contains_key(id));
    let key = format!("pqk{}", uuid::Uuid::new_v4().simple());
    st.process_keys.insert(key.clone(), (None, known.clone()));
    let send = RobotSend {
        robot_code: cfg.robot_code.clone(),
        markdown_issues: param_markdown_issues(&msg_key, &msg_param),
        msg_key,
        msg_param,
        process_query_key: key.clone(),
        user_ids: known,
        open_conversation_id: None,
    };
    shared.record_locked(&mut st, Event::BatchSend(send));
    Json(json!({
        "processQueryKey": key,
        "invalidStaffIdList": invalid,
        "flowControlledStaffIdList": [],
        "filteredStaffIdList": [],
    }))
    .into_response()
}

pub(crate) async fn group_send(
    State(shared): State<SharedRef>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let map = match front(&shared, GROUP_PATH, &headers, &body) {
        Ok(m) => m,
        Err(resp) => return *resp,
    };
    let cfg = shared.config();
    let mut st = shared.lock();
    let cid = str_field(&map, "openConversationId")
        .unwrap_or_default()
        .to_string();
    if !st.groups.contains_key(&cid) {
        drop(st);
        return shared.api_error(
            GROUP_PATH,
            400,
            "invalidParameter.openConversationId",
            "机器人不在该群中或群不存在",
        );
    }
    let (msg_key, msg_param) = match check_msg(&cfg, &st, &map) {
        Ok(m) => m,
        Err(msg) => {
            drop(st);
            return shared.api_error(GROUP_PATH, 400, "invalidParameter.msgParam", &msg);
        }
    };
    let key = format!("pqk{}", uuid::Uuid::new_v4().simple());
    st.process_keys
        .insert(key.clone(), (Some(cid.clone()), Vec::new()));
    let send = RobotSend {
        robot_code: cfg.robot_code,
        markdown_issues: param_markdown_issues(&msg_key, &msg_param),
        msg_key,
        msg_param,
        process_query_key: key.clone(),
        user_ids: Vec::new(),
        open_conversation_id: Some(cid),
    };
    shared.record_locked(&mut st, Event::GroupSend(send));
    Json(json!({"processQueryKey": key})).into_response()
}

async fn recall(
    shared: SharedRef,
    path: &str,
    group: bool,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let map = match front(&shared, path, &headers, &body) {
        Ok(m) => m,
        Err(resp) => return *resp,
    };
    let Some(keys) = map.get("processQueryKeys").and_then(Value::as_array) else {
        return shared.api_error(
            path,
            400,
            "invalidParameter.processQueryKeys",
            "processQueryKeys is required",
        );
    };
    let keys: Vec<String> = keys
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    let cid = str_field(&map, "openConversationId").map(str::to_owned);
    if group && cid.is_none() {
        return shared.api_error(
            path,
            400,
            "invalidParameter.openConversationId",
            "openConversationId is required",
        );
    }
    let mut st = shared.lock();
    let (ok, failed): (Vec<String>, Vec<String>) = keys.into_iter().partition(|k| {
        st.process_keys
            .get(k)
            .is_some_and(|(c, _)| c.is_some() == group && (!group || *c == cid))
    });
    for k in &ok {
        st.process_keys.remove(k);
    }
    let event = Event::Recall {
        process_query_keys: ok.clone(),
        open_conversation_id: cid,
    };
    shared.record_locked(&mut st, event);
    let failed: Map<String, Value> = failed
        .into_iter()
        .map(|k| (k, json!("processQueryKey not found")))
        .collect();
    Json(json!({"successResult": ok, "failedResult": failed})).into_response()
}

pub(crate) async fn oto_recall(
    State(shared): State<SharedRef>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    recall(shared, OTO_RECALL_PATH, false, headers, body).await
}

pub(crate) async fn group_recall(
    State(shared): State<SharedRef>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    recall(shared, GROUP_RECALL_PATH, true, headers, body).await
}

pub(crate) async fn read_status(
    State(shared): State<SharedRef>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(resp) = shared.guard(READ_STATUS_PATH, &headers) {
        return resp;
    }
    let st = shared.lock();
    let users = q
        .get("processQueryKey")
        .and_then(|k| st.process_keys.get(k))
        .filter(|(cid, _)| cid.is_none())
        .map(|(_, users)| users.clone());
    let Some(users) = users else {
        drop(st);
        return shared.api_error(
            READ_STATUS_PATH,
            400,
            "invalidParameter.processQueryKey",
            "processQueryKey 不存在",
        );
    };
    let list: Vec<Value> = users
        .iter()
        .map(|id| {
            let name = st.users.get(id).map(|u| u.nick.clone()).unwrap_or_default();
            json!({"name": name, "userId": id, "readStatus": "UNREAD", "readTimestamp": 0})
        })
        .collect();
    Json(json!({"sendStatus": "SUCCESS", "messageReadInfoList": list})).into_response()
}
