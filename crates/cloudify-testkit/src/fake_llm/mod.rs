//! A fake OpenAI-compatible LLM (`POST /v1/chat/completions`, streaming and not) that drives
//! a real `opencode serve` offline.
//!
//! ```no_run
//! # async fn demo() {
//! use cloudify_testkit::fake_llm::{FakeLlm, Reply, Script};
//! use serde_json::json;
//! let fake = FakeLlm::start().await;
//! fake.on("RUN_BASH", Script::tool_call("bash", json!({"command": "echo hi", "description": "say hi"}))
//!     .then_text("done"));
//! fake.on("SLOW", Reply::slow(600, std::time::Duration::from_millis(100)));
//! fake.on("FAIL", Script::error(500, "upstream down"));
//! let config = fake.opencode_config(); // provider JSON for OPENCODE_CONFIG_CONTENT
//! # }
//! ```
//!
//! Rules are matched against the text of the **latest user message** (first rule whose trigger
//! it contains wins; later `on` calls for the same trigger replace the rule). Title requests
//! (no `tools`) get [`TITLE`] and never consume a script. Everything received is logged.

mod script;
mod wire;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub use script::{Reply, Script};

/// The title every title request gets.
pub const TITLE: &str = "Fake title";
/// Model id the fake serves (any id is accepted).
pub const MODEL: &str = "fake-model";

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// A title request (no `tools`).
    pub title: bool,
    pub stream: bool,
    /// Text of the latest user message.
    pub user_text: String,
    /// Role of the last message (`user`, or `tool` after a tool ran).
    pub last_role: String,
    /// Contents of `tool` messages after the latest user message (tool results).
    pub tool_results: Vec<String>,
    /// Which reply of the script answered (assistant messages since the latest user message).
    pub step: usize,
    /// The trigger of the rule that answered, if any.
    pub rule: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct Inner {
    rules: Mutex<Vec<(String, Script)>>,
    default: Mutex<Option<Script>>,
    requests: Mutex<Vec<RecordedRequest>>,
    arrived: Notify,
}

/// The running fake; stops when dropped.
pub struct FakeLlm {
    addr: SocketAddr,
    inner: Arc<Inner>,
    task: JoinHandle<()>,
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeLlm {
    /// Starts on `127.0.0.1:0`. Default reply: "Hello from the fake LLM!".
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .route("/v1/models", get(models))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake llm");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, inner, task }
    }

    /// `http://127.0.0.1:PORT/v1`, the provider `baseURL`.
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// OpenCode config (`OPENCODE_CONFIG_CONTENT`) using this fake as the only model.
    #[must_use]
    pub fn opencode_config(&self) -> Value {
        json!({
            "$schema": "https://opencode.ai/config.json",
            "model": format!("fake/{MODEL}"),
            "small_model": format!("fake/{MODEL}"),
            "provider": {"fake": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Fake",
                "options": {"baseURL": self.base_url(), "apiKey": "fake-key"},
                "models": {MODEL: {"name": "Fake model"}},
            }},
            "autoupdate": false,
            "share": "disabled",
        })
    }

    /// Answers turns whose latest user message contains `trigger` with `script`.
    pub fn on(&self, trigger: &str, script: impl Into<Script>) -> &Self {
        let mut rules = self.inner.rules.lock().unwrap();
        rules.retain(|(t, _)| t != trigger);
        rules.push((trigger.to_owned(), script.into()));
        self
    }

    /// Replaces the answer for messages no rule matches.
    pub fn set_default(&self, script: impl Into<Script>) {
        *self.inner.default.lock().unwrap() = Some(script.into());
    }

    /// Everything received so far.
    #[must_use]
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.inner.requests.lock().unwrap().clone()
    }

    /// Agent-step requests (title requests left out).
    #[must_use]
    pub fn agent_requests(&self) -> Vec<RecordedRequest> {
        self.requests().into_iter().filter(|r| !r.title).collect()
    }

    /// Waits until a request matching `pred` has arrived (or the timeout passes).
    pub async fn wait_for(
        &self,
        timeout: Duration,
        pred: impl Fn(&RecordedRequest) -> bool,
    ) -> Option<RecordedRequest> {
        let until = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.inner.arrived.notified();
            if let Some(r) = self.requests().into_iter().find(|r| pred(r)) {
                return Some(r);
            }
            if tokio::time::timeout_at(until, notified).await.is_err() {
                return None;
            }
        }
    }
}

async fn models() -> Json<Value> {
    Json(json!({"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "fake"}]}))
}

async fn completions(State(inner): State<Arc<Inner>>, Json(body): Json<Value>) -> Response {
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let role = |m: &Value| {
        m.get("role")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let last_user = messages.iter().rposition(|m| role(m) == "user");
    let user_text = last_user
        .map(|i| wire::content_text(&messages[i]["content"]))
        .unwrap_or_default();
    let after: &[Value] = last_user.map_or(&[], |i| &messages[i + 1..]);
    let step = after.iter().filter(|m| role(m) == "assistant").count();
    let tool_results = after
        .iter()
        .filter(|m| role(m) == "tool")
        .map(|m| wire::content_text(&m["content"]))
        .collect();
    let title = body
        .get("tools")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or(MODEL)
        .to_owned();

    let (reply, rule) = if title {
        (Reply::text(TITLE), None)
    } else {
        let rules = inner.rules.lock().unwrap();
        let hit = rules.iter().find(|(t, _)| user_text.contains(t.as_str()));
        let script = hit
            .map(|(_, s)| s.clone())
            .or_else(|| inner.default.lock().unwrap().clone());
        let reply = script
            .and_then(|s| s.replies.get(step).cloned())
            .unwrap_or_else(|| Reply::text("Hello from the fake LLM!"));
        (reply, hit.map(|(t, _)| t.clone()))
    };
    tracing::debug!(title, step, rule = ?rule, "fake llm request");
    inner.requests.lock().unwrap().push(RecordedRequest {
        title,
        stream,
        user_text,
        last_role: messages.last().map(role).unwrap_or_default(),
        tool_results,
        step,
        rule,
        body,
    });
    inner.arrived.notify_waiters();
    wire::respond(reply, model, stream).into_response()
}

#[cfg(test)]
mod tests;
