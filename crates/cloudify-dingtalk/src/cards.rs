//! Interactive cards (IM.md §1.9d): the AI card that carries a turn's live progress
//! (create+deliver, streaming updates, finalize) and prompt cards whose buttons call back
//! over the stream.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use cloudify_core::adapter::ChatRef;
use cloudify_core::output::Button;
use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{Api, ApiError};
use crate::sync::lock;

/// The AI card template's streaming Markdown variable and status variable.
pub(crate) const CONTENT_KEY: &str = "msgContent";
const FLOW_STATUS: &str = "flowStatus";
/// `flowStatus` values of the AI card flow: inputting, finished.
const INPUTTING: &str = "2";
const FINISHED: &str = "3";

const MAX_CARDS: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CardKind {
    Ai,
    Prompt,
}

#[derive(Debug)]
struct CardState {
    kind: CardKind,
    /// The card showed an answer, a tool or todos (so an empty update is the final summary).
    had_content: bool,
    finalized: bool,
    /// `(action id, command)` of the prompt's buttons.
    buttons: Vec<(String, String)>,
    at: Instant,
}

/// Cards we created, by `outTrackId`. Bounded: the oldest are forgotten.
#[derive(Debug, Default)]
pub(crate) struct CardBook(HashMap<String, CardState>);

impl CardBook {
    fn insert(&mut self, track: String, state: CardState) {
        if self.0.len() >= MAX_CARDS
            && let Some(oldest) = self
                .0
                .iter()
                .min_by_key(|(_, s)| s.at)
                .map(|(k, _)| k.clone())
        {
            self.0.remove(&oldest);
        }
        self.0.insert(track, state);
    }

    fn remove(&mut self, track: &str) {
        self.0.remove(track);
    }

    pub(crate) fn kind(&self, track: &str) -> Option<CardKind> {
        self.0.get(track).map(|s| s.kind)
    }

    pub(crate) fn button_command(&self, track: &str, action: &str) -> Option<String> {
        self.0
            .get(track)?
            .buttons
            .iter()
            .find(|(id, _)| id == action)
            .map(|(_, c)| c.clone())
    }
}

/// The card calls and the book of the cards we created. The book is shared with the
/// intake, which looks up what a pressed button means.
pub(crate) struct Cards {
    pub api: Arc<Api>,
    pub book: Arc<Mutex<CardBook>>,
}

impl Cards {
    pub(crate) fn cards(&self) -> MutexGuard<'_, CardBook> {
        lock(&self.book)
    }
}

/// Action ids for prompt buttons: `btn_<row>_<col>`.
fn action_id(row: usize, col: usize) -> String {
    format!("btn_{row}_{col}")
}

fn space(chat: &ChatRef) -> String {
    if chat.is_group {
        format!("dtv1.card//IM_GROUP.{}", chat.chat_id)
    } else {
        format!("dtv1.card//IM_ROBOT.{}", chat.chat_id)
    }
}

/// createAndDeliver in one call; returns the `outTrackId`. The card is known (`state`)
/// before the call: DingTalk shows it, and a button can be pressed, before the answer.
async fn create(
    inner: &Cards,
    chat: &ChatRef,
    template: &str,
    params: BTreeMap<String, String>,
    state: CardState,
) -> Result<String, ApiError> {
    let track = format!("cloudify-{}", uuid::Uuid::new_v4().simple());
    inner.cards().insert(track.clone(), state);
    let result = create_and_deliver(inner, chat, template, params, &track).await;
    if result.is_err() {
        inner.cards().remove(&track);
    }
    result.map(|()| track)
}

async fn create_and_deliver(
    inner: &Cards,
    chat: &ChatRef,
    template: &str,
    params: BTreeMap<String, String>,
    track: &str,
) -> Result<(), ApiError> {
    let robot = inner.api.robot_code.clone();
    let mut body = json!({
        "cardTemplateId": template,
        "outTrackId": track,
        "cardData": {"cardParamMap": params},
        "callbackType": "STREAM",
        "openSpaceId": space(chat),
        "userIdType": 1,
    });
    if chat.is_group {
        body["imGroupOpenSpaceModel"] = json!({"supportForward": true});
        body["imGroupOpenDeliverModel"] = json!({"robotCode": robot});
    } else {
        body["imRobotOpenSpaceModel"] = json!({"supportForward": true});
        body["imRobotOpenDeliverModel"] = json!({"spaceType": "IM_ROBOT", "robotCode": robot});
    }
    let answer = inner
        .api
        .call(Method::POST, "/v1.0/card/instances/createAndDeliver", &body)
        .await?;
    let results = answer
        .pointer("/result/deliverResults")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(failed) = results
        .iter()
        .find(|r| r.get("success").and_then(Value::as_bool) == Some(false))
    {
        let why = failed
            .get("errorMsg")
            .and_then(Value::as_str)
            .unwrap_or("not delivered");
        return Err(ApiError::Unreachable(format!("card delivery: {why}")));
    }
    Ok(())
}

/// The live message as an AI card (content shown at once, status "inputting").
pub(crate) async fn create_ai(
    inner: &Cards,
    chat: &ChatRef,
    template: &str,
    content: &str,
    has_content: bool,
) -> Result<String, ApiError> {
    let params = BTreeMap::from([
        (CONTENT_KEY.to_owned(), content.to_owned()),
        (FLOW_STATUS.to_owned(), INPUTTING.to_owned()),
    ]);
    let state = CardState {
        kind: CardKind::Ai,
        had_content: has_content,
        finalized: false,
        buttons: Vec::new(),
        at: Instant::now(),
    };
    create(inner, chat, template, params, state).await
}

/// Replaces the AI card's content by streaming (`isFull`). An update without content
/// after the card had some is the turn's closing summary: it finalizes the card.
pub(crate) async fn update_ai(
    inner: &Cards,
    track: &str,
    content: &str,
    has_content: bool,
) -> Result<(), ApiError> {
    let (finalize, finalized) = {
        let mut book = inner.cards();
        let Some(st) = book.0.get_mut(track) else {
            return Ok(()); // forgotten (restart, eviction): nothing to update
        };
        let finalize = st.had_content && !has_content;
        st.had_content |= has_content;
        (finalize, st.finalized)
    };
    if finalized {
        // Streaming is closed once finalized; later changes go through card data.
        let params = BTreeMap::from([(CONTENT_KEY.to_owned(), content.to_owned())]);
        return update_data(inner, track, params).await;
    }
    let body = json!({
        "outTrackId": track,
        "guid": uuid::Uuid::new_v4().to_string(),
        "key": CONTENT_KEY,
        "content": content,
        "isFull": true,
        "isFinalize": finalize,
        "isError": false,
    });
    inner
        .api
        .call(Method::PUT, "/v1.0/card/streaming", &body)
        .await?;
    if finalize {
        if let Some(st) = inner.cards().0.get_mut(track) {
            st.finalized = true;
        }
        let params = BTreeMap::from([(FLOW_STATUS.to_owned(), FINISHED.to_owned())]);
        update_data(inner, track, params).await?;
    }
    Ok(())
}

async fn update_data(
    inner: &Cards,
    track: &str,
    params: BTreeMap<String, String>,
) -> Result<(), ApiError> {
    let body = json!({
        "outTrackId": track,
        "cardData": {"cardParamMap": params},
        "cardUpdateOptions": {"updateCardDataByKey": true},
    });
    inner
        .api
        .call(Method::PUT, "/v1.0/card/instances", &body)
        .await
        .map(drop)
}

/// Card parameters of a prompt: `content` (Markdown, the typed commands included) and
/// `buttons` (JSON list of `{id, label, command}`; each button's callback parameter
/// `command` is what comes back).
fn prompt_params(content: &str, buttons: &[Vec<Button>]) -> BTreeMap<String, String> {
    let list: Vec<Value> = buttons
        .iter()
        .enumerate()
        .flat_map(|(r, row)| {
            row.iter().enumerate().map(move |(c, b)| {
                json!({"id": action_id(r, c), "label": b.label, "command": b.command})
            })
        })
        .collect();
    BTreeMap::from([
        ("content".to_owned(), content.to_owned()),
        ("buttons".to_owned(), Value::Array(list).to_string()),
    ])
}

pub(crate) async fn create_prompt(
    inner: &Cards,
    chat: &ChatRef,
    template: &str,
    content: &str,
    buttons: &[Vec<Button>],
) -> Result<String, ApiError> {
    let ids = buttons
        .iter()
        .enumerate()
        .flat_map(|(r, row)| {
            row.iter()
                .enumerate()
                .map(move |(c, b)| (action_id(r, c), b.command.clone()))
        })
        .collect();
    let state = CardState {
        kind: CardKind::Prompt,
        had_content: true,
        finalized: false,
        buttons: ids,
        at: Instant::now(),
    };
    create(
        inner,
        chat,
        template,
        prompt_params(content, buttons),
        state,
    )
    .await
}

/// Replaces a prompt card's text and buttons (an answered prompt loses its buttons).
pub(crate) async fn update_prompt(
    inner: &Cards,
    track: &str,
    content: &str,
    buttons: &[Vec<Button>],
) -> Result<(), ApiError> {
    update_data(inner, track, prompt_params(content, buttons)).await
}
