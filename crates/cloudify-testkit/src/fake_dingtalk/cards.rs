//! Interactive / AI cards: create, deliver, update, streaming, with per-`outTrackId` state.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::model::{Card, CardOp, Event, StreamedField};
use super::state::{SharedRef, State as St, parse_body, str_field};
use super::stream::string_map;

const INSTANCES_PATH: &str = "/v1.0/card/instances";
const DELIVER_PATH: &str = "/v1.0/card/instances/deliver";
const CREATE_DELIVER_PATH: &str = "/v1.0/card/instances/createAndDeliver";
const STREAMING_PATH: &str = "/v1.0/card/streaming";

/// (code, message) of a 400 answer.
type Refusal = (&'static str, String);

fn refuse(code: &'static str, msg: impl Into<String>) -> Refusal {
    (code, msg.into())
}

fn param_map(
    map: &Map<String, Value>,
    required: bool,
) -> Result<Option<std::collections::BTreeMap<String, String>>, Refusal> {
    match map.get("cardData").and_then(|d| d.get("cardParamMap")) {
        None if required => Err(refuse("param.invalid", "cardData.cardParamMap is required")),
        None => Ok(None),
        Some(Value::Object(m)) => string_map(m)
            .map(Some)
            .map_err(|e| refuse("param.invalid", e)),
        Some(_) => Err(refuse(
            "param.invalid",
            "cardData.cardParamMap must be an object",
        )),
    }
}

fn create(shared: &SharedRef, st: &mut St, map: &Map<String, Value>) -> Result<String, Refusal> {
    let template = str_field(map, "cardTemplateId")
        .ok_or(refuse("param.invalid", "cardTemplateId is required"))?;
    let track =
        str_field(map, "outTrackId").ok_or(refuse("param.invalid", "outTrackId is required"))?;
    if st.cards.contains_key(track) {
        return Err(refuse(
            "param.outTrackIdDuplicated",
            format!("outTrackId {track} already exists"),
        ));
    }
    let params = param_map(map, true)?.unwrap_or_default();
    let callback_type = str_field(map, "callbackType").map(str::to_owned);
    match callback_type.as_deref() {
        None | Some("STREAM") => {}
        Some("HTTP") if str_field(map, "callbackRouteKey").is_some() => {}
        Some(other) => {
            return Err(refuse(
                "param.invalid",
                format!("callbackType {other} needs a valid route"),
            ));
        }
    }
    let space_models = ["imGroupOpenSpaceModel", "imRobotOpenSpaceModel"]
        .into_iter()
        .filter(|k| map.get(*k).is_some_and(Value::is_object))
        .map(str::to_owned)
        .collect();
    let card = Card {
        out_track_id: track.into(),
        template_id: template.into(),
        callback_type: callback_type.clone(),
        param_map: params.clone(),
        space_models,
        ..Card::default()
    };
    st.cards.insert(track.into(), card);
    let op = CardOp::Create {
        template_id: template.into(),
        param_map: params,
        callback_type,
    };
    shared.record_locked(
        st,
        Event::Card {
            out_track_id: track.into(),
            op,
        },
    );
    Ok(track.into())
}

fn deliver(
    shared: &SharedRef,
    st: &mut St,
    map: &Map<String, Value>,
) -> Result<Vec<Value>, Refusal> {
    let robot_code = shared.config().robot_code;
    let track =
        str_field(map, "outTrackId").ok_or(refuse("param.invalid", "outTrackId is required"))?;
    let Some(card) = st.cards.get(track) else {
        return Err(refuse(
            "param.cardNotExist",
            format!("card {track} does not exist"),
        ));
    };
    let spaces =
        str_field(map, "openSpaceId").ok_or(refuse("param.invalid", "openSpaceId is required"))?;
    let mut results = Vec::new();
    let mut delivered = Vec::new();
    for space in spaces.split(';') {
        let (space_type, id) = space
            .strip_prefix("dtv1.card//")
            .and_then(|s| s.split_once('.'))
            .ok_or(refuse("param.invalid", format!("bad openSpaceId {space}")))?;
        let known = match space_type {
            "IM_GROUP" => {
                let model = map.get("imGroupOpenDeliverModel");
                if model
                    .and_then(|m| m.get("robotCode"))
                    .and_then(Value::as_str)
                    != Some(robot_code.as_str())
                {
                    return Err(refuse(
                        "param.invalid",
                        "imGroupOpenDeliverModel.robotCode is required",
                    ));
                }
                if !card
                    .space_models
                    .iter()
                    .any(|m| m == "imGroupOpenSpaceModel")
                {
                    return Err(refuse(
                        "param.invalid",
                        "card created without imGroupOpenSpaceModel",
                    ));
                }
                st.groups.contains_key(id)
            }
            "IM_ROBOT" => {
                let model = map.get("imRobotOpenDeliverModel");
                if model
                    .and_then(|m| m.get("spaceType"))
                    .and_then(Value::as_str)
                    != Some("IM_ROBOT")
                {
                    return Err(refuse(
                        "param.invalid",
                        "imRobotOpenDeliverModel.spaceType must be IM_ROBOT",
                    ));
                }
                if !card
                    .space_models
                    .iter()
                    .any(|m| m == "imRobotOpenSpaceModel")
                {
                    return Err(refuse(
                        "param.invalid",
                        "card created without imRobotOpenSpaceModel",
                    ));
                }
                st.users.contains_key(id)
            }
            other => {
                return Err(refuse(
                    "param.invalid",
                    format!("unsupported space type {other}"),
                ));
            }
        };
        let error = if known {
            ""
        } else {
            "space not found or robot not in space"
        };
        results.push(json!({
            "spaceId": id, "spaceType": space_type, "success": known,
            "carrierId": if known { format!("carrier{}", uuid::Uuid::new_v4().simple()) } else { String::new() },
            "errorMsg": error,
        }));
        if known {
            delivered.push(space.to_string());
        }
    }
    if let Some(card) = st.cards.get_mut(track) {
        card.delivered_to.extend(delivered.iter().cloned());
    }
    for space in delivered {
        let op = CardOp::Deliver {
            open_space_id: space,
        };
        shared.record_locked(
            st,
            Event::Card {
                out_track_id: track.into(),
                op,
            },
        );
    }
    Ok(results)
}

fn update(shared: &SharedRef, st: &mut St, map: &Map<String, Value>) -> Result<(), Refusal> {
    let track =
        str_field(map, "outTrackId").ok_or(refuse("param.invalid", "outTrackId is required"))?;
    let params = param_map(map, false)?;
    let by_key = map
        .get("cardUpdateOptions")
        .and_then(|o| o.get("updateCardDataByKey"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let Some(card) = st.cards.get_mut(track) else {
        return Err(refuse(
            "param.cardNotExist",
            format!("card {track} does not exist"),
        ));
    };
    let params = params.unwrap_or_default();
    // Without updateCardDataByKey the whole map is replaced.
    if by_key {
        card.param_map.extend(params.clone());
    } else {
        card.param_map = params.clone();
    }
    let op = CardOp::Update {
        param_map: params,
        by_key,
    };
    shared.record_locked(
        st,
        Event::Card {
            out_track_id: track.into(),
            op,
        },
    );
    Ok(())
}

fn streaming(shared: &SharedRef, st: &mut St, map: &Map<String, Value>) -> Result<(), Refusal> {
    let track =
        str_field(map, "outTrackId").ok_or(refuse("param.invalid", "outTrackId is required"))?;
    let guid = str_field(map, "guid").ok_or(refuse("param.invalid", "guid is required"))?;
    let key = str_field(map, "key").ok_or(refuse("param.invalid", "key is required"))?;
    let content = map
        .get("content")
        .and_then(Value::as_str)
        .ok_or(refuse("param.invalid", "content must be a string"))?;
    let flag = |name: &str| map.get(name).and_then(Value::as_bool);
    let is_full = flag("isFull").ok_or(refuse("param.invalid", "isFull must be a boolean"))?;
    let (is_finalize, is_error) = (
        flag("isFinalize").unwrap_or(false),
        flag("isError").unwrap_or(false),
    );
    let Some(card) = st.cards.get_mut(track) else {
        return Err(refuse(
            "param.cardNotExist",
            format!("card {track} does not exist"),
        ));
    };
    if card.delivered_to.is_empty() {
        return Err(refuse(
            "param.cardNotDelivered",
            format!("card {track} has not been delivered"),
        ));
    }
    // guid makes a retried call idempotent.
    if !card.guids.insert(guid.into()) {
        return Ok(());
    }
    let field = card
        .streams
        .entry(key.into())
        .or_insert_with(StreamedField::default);
    if field.finalized {
        return Err(refuse(
            "param.streamingFinished",
            format!("{key} of card {track} is already finalized"),
        ));
    }
    if is_full {
        field.content = content.into();
    } else {
        field.content.push_str(content);
    }
    field.finalized = is_finalize;
    field.error = is_error;
    field.updates += 1;
    let current = field.content.clone();
    card.param_map.insert(key.into(), current);
    let op = CardOp::Stream {
        key: key.into(),
        content: content.into(),
        is_full,
        is_finalize,
        is_error,
    };
    shared.record_locked(
        st,
        Event::Card {
            out_track_id: track.into(),
            op,
        },
    );
    Ok(())
}

/// Common front door: faults, QPS, token, JSON body, then `f` under the state lock.
fn handle(
    shared: &SharedRef,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
    f: impl FnOnce(&SharedRef, &mut St, &Map<String, Value>) -> Result<Value, Refusal>,
) -> Response {
    if let Some(resp) = shared.guard(path, headers) {
        return resp;
    }
    let Some(map) = parse_body(body) else {
        return shared.api_error(
            path,
            400,
            "MissingBody",
            "body is mandatory for this action.",
        );
    };
    let result = f(shared, &mut shared.lock(), &map);
    match result {
        Ok(result) => Json(json!({"success": true, "result": result})).into_response(),
        Err((code, msg)) => shared.api_error(path, 400, code, &msg),
    }
}

pub(crate) async fn create_card(
    State(shared): State<SharedRef>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&shared, INSTANCES_PATH, &headers, &body, |s, st, m| {
        create(s, st, m).map(Value::String)
    })
}

pub(crate) async fn update_card(
    State(shared): State<SharedRef>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&shared, INSTANCES_PATH, &headers, &body, |s, st, m| {
        update(s, st, m).map(|()| json!(true))
    })
}

pub(crate) async fn deliver_card(
    State(shared): State<SharedRef>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&shared, DELIVER_PATH, &headers, &body, |s, st, m| {
        deliver(s, st, m).map(Value::Array)
    })
}

pub(crate) async fn create_and_deliver(
    State(shared): State<SharedRef>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&shared, CREATE_DELIVER_PATH, &headers, &body, |s, st, m| {
        // Validate delivery fields before creating, so a refused call leaves no card behind.
        if str_field(m, "openSpaceId").is_none() {
            return Err(refuse("param.invalid", "openSpaceId is required"));
        }
        let track = create(s, st, m)?;
        match deliver(s, st, m) {
            Ok(results) => Ok(json!({"outTrackId": track, "deliverResults": results})),
            Err(e) => {
                st.cards.remove(&track);
                Err(e)
            }
        }
    })
}

pub(crate) async fn stream_card(
    State(shared): State<SharedRef>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&shared, STREAMING_PATH, &headers, &body, |s, st, m| {
        streaming(s, st, m).map(|()| json!(true))
    })
}
