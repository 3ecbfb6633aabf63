//! The Stream-mode WebSocket: ticket check, frame pushes, ACK validation, redelivery.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use axum::extract::ws::{
    Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::extract::{Query, State};
use axum::response::Response;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use super::model::{AckProblem, AckProblemKind, AckRecord, CardOp, Event, FrameKind, Push};
use super::state::{Conn, ConnCmd, ConnState, Outstanding, SharedRef, State as St, now_ms};

const CONNECT_PATH: &str = "/connect";

pub(crate) async fn connect(
    State(shared): State<SharedRef>,
    Query(q): Query<HashMap<String, String>>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    // The ticket is checked (and burnt) before the upgrade, like the real gateway.
    let registration_id = {
        let mut st = shared.lock();
        let ticket = q.get("ticket").and_then(|t| st.tickets.remove(t));
        match ticket {
            Some(t) if t.expires > Instant::now() => Some(t.registration_id),
            _ => None,
        }
    };
    let Some(registration_id) = registration_id else {
        return shared.api_error(CONNECT_PATH, 401, "invalidTicket", "ticket不合法或已过期");
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => return shared.api_error(CONNECT_PATH, 400, "notWebSocket", &e.to_string()),
    };
    ws.on_upgrade(move |socket| run_conn(shared, socket, registration_id))
}

async fn run_conn(shared: SharedRef, mut socket: WebSocket, registration_id: u64) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut shutdown = shared.shutdown.subscribe();
    let id = {
        let mut st = shared.lock();
        let id = st.next_id();
        let subscriptions = st
            .registrations
            .get(&registration_id)
            .cloned()
            .unwrap_or_default();
        st.conns.insert(
            id,
            Conn {
                tx,
                subscriptions,
                state: ConnState::Live,
            },
        );
        st.total_connections += 1;
        shared.record_locked(
            &mut st,
            Event::Connected {
                connection_id: id,
                registration_id,
            },
        );
        id
    };
    flush_backlog(&shared);
    let by_client = loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(ConnCmd::Frame(text)) => {
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        break true;
                    }
                }
                Some(ConnCmd::Binary(bytes)) => {
                    if socket.send(Message::Binary(bytes.into())).await.is_err() {
                        break true;
                    }
                }
                Some(ConnCmd::Silence) => {
                    // Keep the socket but never poll it again: no pongs, no ACKs, no close.
                    loop {
                        tokio::select! {
                            cmd = rx.recv() => if matches!(cmd, Some(ConnCmd::Drop) | None) { break },
                            _ = shutdown.changed() => break,
                        }
                    }
                    break false;
                }
                Some(ConnCmd::Drop) | None => break false,
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(text))) => handle_ack(&shared, id, text.as_str()),
                Some(Ok(Message::Ping(_))) => shared.record(Event::ClientWsPing { connection_id: id }),
                Some(Ok(Message::Binary(_))) => problem(&shared, id, AckProblemKind::Malformed("binary frame".into()), None, ""),
                Some(Ok(Message::Pong(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => break true,
            },
            _ = shutdown.changed() => break false,
        }
    };
    let mut st = shared.lock();
    st.conns.remove(&id);
    shared.record_locked(
        &mut st,
        Event::ConnectionClosed {
            connection_id: id,
            by_client,
        },
    );
}

fn problem(shared: &SharedRef, conn: u64, kind: AckProblemKind, mid: Option<&str>, raw: &str) {
    shared.record(Event::AckProblem(AckProblem {
        kind,
        message_id: mid.map(str::to_owned),
        connection_id: conn,
        raw: raw.into(),
    }));
}

/// Push a frame to a random eligible connection, or queue it until one connects.
/// Returns the frame's messageId when it went out.
pub(crate) fn push(shared: &SharedRef, frame: Outstanding) -> Option<String> {
    let mut st = shared.lock();
    push_locked(shared, &mut st, frame)
}

fn push_locked(shared: &SharedRef, st: &mut St, mut frame: Outstanding) -> Option<String> {
    let candidates: Vec<u64> = st
        .conns
        .iter()
        .filter(|(_, c)| {
            matches!(c.state, ConnState::Live | ConnState::HalfOpen)
                && c.accepts(frame.kind, &frame.topic)
        })
        .filter(|(id, _)| frame.pin.is_none_or(|p| p == **id))
        .map(|(id, _)| *id)
        .collect();
    if candidates.is_empty() {
        // A pinned frame dies with its connection; others wait for the next one.
        if frame.pin.is_none() {
            st.backlog.push(frame);
        }
        return None;
    }
    // The real server picks one of the app's connections at random per push.
    let pick = (uuid::Uuid::new_v4().as_u128() % candidates.len() as u128) as usize;
    let conn_id = candidates[pick];
    let message_id = uuid::Uuid::new_v4().to_string();
    let cfg = shared.config();
    let mut headers = BTreeMap::from([
        ("topic".to_string(), frame.topic.clone()),
        ("messageId".to_string(), message_id.clone()),
        ("contentType".to_string(), "application/json".to_string()),
        ("time".to_string(), now_ms().to_string()),
        ("appId".to_string(), cfg.robot_code.clone()),
        ("connectionId".to_string(), format!("conn-{conn_id}")),
    ]);
    headers.extend(frame.extra_headers.iter().cloned());
    let text = json!({
        "specVersion": "1.0",
        "type": frame.kind.as_str(),
        "headers": headers,
        "data": frame.data.to_string(),
    })
    .to_string();
    if let Some(conn) = st.conns.get(&conn_id) {
        let _ = conn.tx.send(ConnCmd::Frame(text));
    }
    frame.connection_id = Some(conn_id);
    frame.sent_at = Instant::now();
    frame.missing_recorded = false;
    let kind = frame.kind;
    let redelivery_of = frame.first_id.clone();
    let payload_id = payload_id(&frame);
    if frame.first_id.is_none() {
        frame.first_id = Some(message_id.clone());
    }
    shared.record_locked(
        st,
        Event::Pushed(Push {
            message_id: message_id.clone(),
            kind,
            topic: frame.topic.clone(),
            connection_id: conn_id,
            redelivery_of,
            payload_id,
            data: frame.data.clone(),
        }),
    );
    st.outstanding.insert(message_id.clone(), frame);
    let redeliver = match kind {
        FrameKind::Event => cfg.redeliver_events,
        FrameKind::Callback => cfg.redeliver_callbacks,
        FrameKind::System => false,
    };
    let (s, id) = (shared.clone(), message_id.clone());
    tokio::spawn(async move {
        tokio::time::sleep(cfg.ack_deadline).await;
        let mut st = s.lock();
        if let Some(o) = st.outstanding.get_mut(&id)
            && !o.missing_recorded
        {
            o.missing_recorded = true;
            let conn = o.connection_id.unwrap_or_default();
            // The server gives up on a half-open connection once it misses an ACK.
            if let Some(c) = st.conns.get_mut(&conn)
                && c.state == ConnState::HalfOpen
            {
                c.state = ConnState::Silent;
            }
            let event = Event::AckProblem(AckProblem {
                kind: AckProblemKind::Missing,
                message_id: Some(id.clone()),
                connection_id: conn,
                raw: String::new(),
            });
            s.record_locked(&mut st, event);
        }
    });
    if redeliver {
        let (s, id) = (shared.clone(), message_id.clone());
        tokio::spawn(async move {
            tokio::time::sleep(cfg.redeliver_after).await;
            redeliver_now(&s, &id);
        });
    }
    Some(message_id)
}

/// Push an outstanding (un-ACKed) frame again under a new messageId.
pub(crate) fn redeliver_now(shared: &SharedRef, message_id: &str) -> Option<String> {
    let mut st = shared.lock();
    let frame = st.outstanding.remove(message_id)?;
    push_locked(shared, &mut st, frame)
}

/// Push a copy of any delivered frame again (duplicates happen even after a correct ACK).
pub(crate) fn duplicate(shared: &SharedRef, message_id: &str) -> Option<String> {
    let mut st = shared.lock();
    let original = st.events.iter().find_map(|r| match &r.event {
        Event::Pushed(p) if p.message_id == message_id => Some(p.clone()),
        _ => None,
    })?;
    let frame = Outstanding {
        kind: original.kind,
        topic: original.topic,
        data: original.data,
        extra_headers: Vec::new(),
        connection_id: None,
        sent_at: Instant::now(),
        first_id: Some(original.redelivery_of.unwrap_or(original.message_id)),
        missing_recorded: false,
        pin: None,
    };
    push_locked(shared, &mut st, frame)
}

/// The id inside the frame that survives redelivery.
fn payload_id(frame: &Outstanding) -> String {
    let from_data = ["msgId", "outTrackId", "opaque"]
        .iter()
        .find_map(|k| frame.data.get(*k).and_then(Value::as_str));
    let from_headers = || {
        frame
            .extra_headers
            .iter()
            .find(|(k, _)| k == "eventId")
            .map(|(_, v)| v.as_str())
    };
    from_data
        .or_else(from_headers)
        .unwrap_or_default()
        .to_string()
}

fn flush_backlog(shared: &SharedRef) {
    let mut st = shared.lock();
    for frame in std::mem::take(&mut st.backlog) {
        push_locked(shared, &mut st, frame);
    }
}

fn handle_ack(shared: &SharedRef, conn: u64, raw: &str) {
    let malformed = |why: &str, mid: Option<&str>| {
        problem(
            shared,
            conn,
            AckProblemKind::Malformed(why.into()),
            mid,
            raw,
        );
    };
    let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(raw) else {
        return malformed("not a JSON object", None);
    };
    let Some(headers) = obj.get("headers").and_then(Value::as_object) else {
        return malformed("headers must be an object", None);
    };
    let mid = headers.get("messageId").and_then(Value::as_str);
    let draining = shared
        .lock()
        .conns
        .get(&conn)
        .is_some_and(|c| c.state == ConnState::Draining);
    let Some(mid) = mid else {
        // `disconnect` has no messageId; an ACK for it is harmless.
        if draining {
            return;
        }
        return malformed("headers.messageId must be a string", None);
    };
    let Some(code) = obj.get("code").and_then(Value::as_i64) else {
        return malformed("code must be an integer", Some(mid));
    };
    if headers.values().any(|v| !v.is_string()) {
        return malformed("header values must be strings", Some(mid));
    }
    if headers.get("contentType").and_then(Value::as_str) != Some("application/json") {
        return malformed("headers.contentType must be application/json", Some(mid));
    }
    let data = match obj.get("data") {
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(v) => v,
            Err(_) => return malformed("data is not a JSON document", Some(mid)),
        },
        _ => return malformed("data must be a string", Some(mid)),
    };
    let cfg = shared.config();
    let mut st = shared.lock();
    let Some(frame) = st.outstanding.get(mid).cloned() else {
        let kind = if st.acked.contains_key(mid) {
            AckProblemKind::Duplicate
        } else {
            AckProblemKind::UnknownMessageId
        };
        drop(st);
        return problem(shared, conn, kind, Some(mid), raw);
    };
    if frame.connection_id != Some(conn) {
        drop(st);
        return problem(
            shared,
            conn,
            AckProblemKind::WrongConnection,
            Some(mid),
            raw,
        );
    }
    st.outstanding.remove(mid);
    st.acked.insert(mid.to_string(), conn);
    let latency = frame.sent_at.elapsed();
    let late = latency > cfg.ack_deadline;
    let record = AckRecord {
        message_id: mid.into(),
        payload_id: payload_id(&frame),
        kind: frame.kind,
        topic: frame.topic.clone(),
        connection_id: conn,
        code,
        data: data.clone(),
        latency,
        late,
    };
    shared.record_locked(&mut st, Event::Acked(record));
    let mut issue = |kind| {
        let p = AckProblem {
            kind,
            message_id: Some(mid.into()),
            connection_id: conn,
            raw: raw.into(),
        };
        shared.record_locked(&mut st, Event::AckProblem(p));
    };
    if late {
        issue(AckProblemKind::Late(latency));
    }
    let topic = frame.topic.clone();
    match (frame.kind, topic.as_str()) {
        (FrameKind::System, "ping") if data.get("opaque") != frame.data.get("opaque") => {
            issue(AckProblemKind::BadPingEcho);
        }
        (FrameKind::Event, _) => {
            let status = data.get("status").and_then(Value::as_str);
            if !matches!(status, Some("SUCCESS" | "LATER")) {
                issue(AckProblemKind::BadEventStatus);
            }
            if (status == Some("LATER") || code != 200) && cfg.redeliver_events {
                let mut again = frame;
                again.first_id = again.first_id.or(Some(mid.into()));
                let s = shared.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(cfg.redeliver_after).await;
                    push(&s, again);
                });
            }
        }
        (FrameKind::Callback, "/v1.0/card/instances/callback") => match card_response(&data) {
            Ok(None) => {}
            Ok(Some(params)) => {
                let track = frame.data.get("outTrackId").and_then(Value::as_str);
                let track = track.unwrap_or_default().to_string();
                if let Some(card) = st.cards.get_mut(&track) {
                    card.param_map.extend(params.clone());
                }
                let op = CardOp::CallbackResponse { param_map: params };
                let event = Event::Card {
                    out_track_id: track,
                    op,
                };
                shared.record_locked(&mut st, event);
            }
            Err(why) => {
                let p = AckProblem {
                    kind: AckProblemKind::BadCardResponse(why),
                    message_id: Some(mid.into()),
                    connection_id: conn,
                    raw: raw.into(),
                };
                shared.record_locked(&mut st, Event::AckProblem(p));
            }
        },
        _ => {}
    }
}

/// `data.response.cardData.cardParamMap` of a card-callback ACK, which must be string → string.
fn card_response(data: &Value) -> Result<Option<BTreeMap<String, String>>, String> {
    let Some(map) = data.pointer("/response/cardData/cardParamMap") else {
        return Ok(None);
    };
    let Some(map) = map.as_object() else {
        return Err("cardParamMap must be an object".into());
    };
    string_map(map).map(Some)
}

pub(crate) fn string_map(map: &Map<String, Value>) -> Result<BTreeMap<String, String>, String> {
    map.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            other => Err(format!("cardParamMap.{k} must be a string, got {other}")),
        })
        .collect()
}

/// Apply `f` to every live connection, returning how many there were.
pub(crate) fn for_live(shared: &SharedRef, mut f: impl FnMut(&mut Conn, u64)) -> usize {
    let mut st = shared.lock();
    let mut n = 0;
    for (id, conn) in &mut st.conns {
        if conn.state == ConnState::Live {
            f(conn, *id);
            n += 1;
        }
    }
    n
}
