//! Access tokens (new and legacy) and Stream gateway registration.

use std::collections::HashMap;
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::model::{Event, Registration, Subscription};
use super::state::{SharedRef, Ticket, parse_body, str_field};

const TOKEN_PATH: &str = "/v1.0/oauth2/accessToken";
const GETTOKEN_PATH: &str = "/gettoken";
const OPEN_PATH: &str = "/v1.0/gateway/connections/open";

/// Issue or renew: within its validity DingTalk hands back the same token with a fresh TTL.
fn issue_token(shared: &SharedRef, legacy: bool) -> (String, u64) {
    let ttl = shared.config().token_ttl;
    let mut st = shared.lock();
    let now = Instant::now();
    let existing = st
        .tokens
        .iter()
        .find(|(_, exp)| **exp > now)
        .map(|(t, _)| t.clone());
    let token = existing.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    st.tokens.insert(token.clone(), now + ttl);
    shared.record_locked(
        &mut st,
        Event::TokenIssued {
            token: token.clone(),
            legacy,
        },
    );
    (token, ttl.as_secs())
}

pub(crate) async fn access_token(State(shared): State<SharedRef>, body: Bytes) -> Response {
    if let Some(resp) = shared.gate(TOKEN_PATH, false) {
        return resp;
    }
    let Some(map) = parse_body(&body) else {
        return shared.api_error(
            TOKEN_PATH,
            400,
            "MissingBody",
            "body is mandatory for this action.",
        );
    };
    let cfg = shared.config();
    if str_field(&map, "appKey") != Some(cfg.app_key.as_str()) {
        return shared.api_error(TOKEN_PATH, 400, "invalidClientId", "无效的clientId");
    }
    if str_field(&map, "appSecret") != Some(cfg.app_secret.as_str()) {
        return shared.api_error(TOKEN_PATH, 400, "invalidClientSecret", "无效的clientSecret");
    }
    let (token, ttl) = issue_token(&shared, false);
    Json(json!({"accessToken": token, "expireIn": ttl})).into_response()
}

pub(crate) async fn gettoken(
    State(shared): State<SharedRef>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(resp) = shared.gate(GETTOKEN_PATH, true) {
        return resp;
    }
    let cfg = shared.config();
    if q.get("appkey") != Some(&cfg.app_key) || q.get("appsecret") != Some(&cfg.app_secret) {
        return shared.oapi_error(GETTOKEN_PATH, 40089, "不合法的appKey或appSecret");
    }
    let (token, ttl) = issue_token(&shared, true);
    Json(json!({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": ttl}))
        .into_response()
}

fn parse_subscriptions(v: Option<&Value>) -> Result<Vec<Subscription>, String> {
    let Some(Value::Array(items)) = v else {
        return Err("subscriptions must be an array".into());
    };
    if items.is_empty() {
        return Err("subscriptions is empty".into());
    }
    items
        .iter()
        .map(|item| {
            let kind = item.get("type").and_then(Value::as_str).unwrap_or_default();
            let topic = item
                .get("topic")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !matches!(kind, "EVENT" | "CALLBACK" | "SYSTEM") || topic.is_empty() {
                return Err(format!("invalid subscription {item}"));
            }
            // Only `*` is supported for events; which ones arrive is set in the console.
            if kind == "EVENT" && topic != "*" {
                return Err(format!("EVENT topic must be \"*\", got {topic:?}"));
            }
            Ok(Subscription {
                kind: kind.into(),
                topic: topic.into(),
            })
        })
        .collect()
}

pub(crate) async fn open_connection(
    State(shared): State<SharedRef>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(resp) = shared.gate(OPEN_PATH, false) {
        return resp;
    }
    // The Node SDK notes the gateway may answer XML without this header.
    let accepts_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    let Some(map) = parse_body(&body) else {
        return shared.api_error(
            OPEN_PATH,
            400,
            "MissingBody",
            "body is mandatory for this action.",
        );
    };
    let cfg = shared.config();
    if str_field(&map, "clientId") != Some(cfg.app_key.as_str())
        || str_field(&map, "clientSecret") != Some(cfg.app_secret.as_str())
    {
        return shared.api_error(OPEN_PATH, 401, "authFailed", "鉴权失败");
    }
    let subscriptions = match parse_subscriptions(map.get("subscriptions")) {
        Ok(s) => s,
        Err(msg) => return shared.api_error(OPEN_PATH, 400, "invalidParameter", &msg),
    };
    let ticket = uuid::Uuid::new_v4().to_string();
    let endpoint = format!("{}/connect", shared.base_url.replace("http://", "ws://"));
    {
        let mut st = shared.lock();
        let id = st.next_id();
        st.registrations.insert(id, subscriptions.clone());
        st.tickets.insert(
            ticket.clone(),
            Ticket {
                expires: Instant::now() + cfg.ticket_ttl,
                registration_id: id,
            },
        );
        let registration = Registration {
            id,
            subscriptions,
            ua: str_field(&map, "ua").map(str::to_owned),
            ticket: ticket.clone(),
        };
        shared.record_locked(&mut st, Event::Registered(registration));
    }
    if !accepts_json {
        let xml = format!(
            "<OpenConnectionResponse><endpoint>{endpoint}</endpoint><ticket>{ticket}</ticket></OpenConnectionResponse>"
        );
        return ([(header::CONTENT_TYPE, "application/xml")], xml).into_response();
    }
    Json(json!({"endpoint": endpoint, "ticket": ticket})).into_response()
}
