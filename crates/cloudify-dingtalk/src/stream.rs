//! The Stream-mode client (IM.md §1.2–1.6): register, connect, ACK every frame from a
//! writer task before any business work, answer `ping`, follow `disconnect`, notice a dead
//! connection, reconnect with capped exponential backoff and jitter.
//!
//! Business work (downloads, the sink) runs in one dispatcher task fed through an unbounded
//! queue, so a slow sink never delays an ACK, and messages keep their order.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloudify_core::adapter::{AdapterError, IncomingSink};
use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::api::{Api, BOT_TOPIC, CARD_TOPIC};
use crate::incoming::{Intake, bot_message, card_callback};
use crate::options::StreamTiming;
use crate::sync::lock;

/// Redelivered msgIds remembered.
const DEDUPE_WINDOW: usize = 2048;

/// The connection loop's parts: gateway registration (through the API client), the
/// intake that turns frames into `Incoming`, and the redelivery window, which outlives
/// single connections.
pub(crate) struct Stream {
    api: Arc<Api>,
    intake: Arc<Intake>,
    timing: StreamTiming,
    dedupe: Mutex<Dedupe>,
}

impl Stream {
    pub(crate) fn new(api: Arc<Api>, intake: Arc<Intake>, timing: StreamTiming) -> Self {
        Self {
            api,
            intake,
            timing,
            dedupe: Mutex::new(Dedupe::new(DEDUPE_WINDOW)),
        }
    }

    fn first_seen(&self, id: &str) -> bool {
        lock(&self.dedupe).first(id)
    }
}

/// Remembers the last `cap` ids so a redelivered frame is handled once.
#[derive(Debug)]
pub(crate) struct Dedupe {
    order: VecDeque<String>,
    seen: HashSet<String>,
    cap: usize,
}

impl Dedupe {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            order: VecDeque::new(),
            seen: HashSet::new(),
            cap,
        }
    }

    /// True the first time `id` is seen.
    pub(crate) fn first(&mut self, id: &str) -> bool {
        if self.seen.contains(id) {
            return false;
        }
        if self.order.len() == self.cap
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        self.order.push_back(id.to_owned());
        self.seen.insert(id.to_owned());
        true
    }
}

/// Work handed to the dispatcher after the ACK went out.
enum Job {
    Bot(Value),
    Card { message_id: String, data: Value },
}

/// Why one connection ended.
enum Ended {
    SinkClosed,
    /// Server asked us to move (`disconnect`): register again at once.
    Rotate,
    Failed(String),
}

/// Capped exponential backoff with 0–20 % jitter.
struct Backoff {
    next: Duration,
    min: Duration,
    max: Duration,
}

impl Backoff {
    fn new(t: &StreamTiming) -> Self {
        Self {
            next: t.backoff_min,
            min: t.backoff_min,
            max: t.backoff_max,
        }
    }

    fn reset(&mut self) {
        self.next = self.min;
    }

    fn step(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        let jitter = rand::rng().random_range(0.0..0.2);
        base.mul_f64(1.0 + jitter).min(self.max)
    }
}

/// Runs until `sink` closes.
pub(crate) async fn run(inner: Arc<Stream>, sink: IncomingSink) -> Result<(), AdapterError> {
    let (jobs, queue) = mpsc::unbounded_channel();
    let dispatcher = tokio::spawn(dispatch(inner.clone(), queue, sink.clone()));
    let timing = inner.timing.clone();
    let mut backoff = Backoff::new(&timing);
    let result = loop {
        let started = Instant::now();
        match connection(&inner, &jobs, &sink).await {
            Ended::SinkClosed => break Ok(()),
            Ended::Rotate => {
                tracing::info!("dingtalk stream: server rotated the connection; registering again");
                backoff.reset();
            }
            Ended::Failed(why) => {
                if started.elapsed() >= timing.healthy_after {
                    backoff.reset();
                }
                let wait = backoff.step();
                tracing::warn!(error = %why, retry_in_ms = wait.as_millis() as u64, "dingtalk stream down");
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = sink.closed() => break Ok(()),
                }
            }
        }
    };
    dispatcher.abort();
    result
}

async fn dispatch(inner: Arc<Stream>, mut queue: mpsc::UnboundedReceiver<Job>, sink: IncomingSink) {
    while let Some(job) = queue.recv().await {
        let items = match job {
            Job::Bot(data) => bot_message(&inner.intake, &data).await,
            Job::Card { message_id, data } => card_callback(&inner.intake, &message_id, &data)
                .into_iter()
                .collect(),
        };
        for item in items {
            if sink.send(item).await.is_err() {
                return;
            }
        }
    }
}

/// One registration + WebSocket, until it ends.
async fn connection(
    inner: &Stream,
    jobs: &mpsc::UnboundedSender<Job>,
    sink: &IncomingSink,
) -> Ended {
    let timing = &inner.timing;
    let opened = tokio::time::timeout(timing.connect_timeout, async {
        let (endpoint, ticket) = inner
            .api
            .open_connection()
            .await
            .map_err(|e| format!("gateway open: {e}"))?;
        let mut url = reqwest::Url::parse(&endpoint).map_err(|e| format!("bad endpoint: {e}"))?;
        if !matches!(url.scheme(), "ws" | "wss") {
            return Err(format!("endpoint scheme {} is not ws/wss", url.scheme()));
        }
        url.query_pairs_mut().append_pair("ticket", &ticket);
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            // The URL carries the single-use ticket: keep it out of the message.
            .map_err(|e| {
                format!(
                    "websocket connect: {}",
                    inner
                        .api
                        .redact
                        .scrub(&e.to_string())
                        .replace(&ticket, "***")
                )
            })?;
        Ok::<_, String>(ws)
    })
    .await;
    let ws = match opened {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => return Ended::Failed(e),
        Err(_) => return Ended::Failed("connect timed out".into()),
    };
    tracing::info!("dingtalk stream connected");
    let (mut write, mut read) = ws.split();
    let (out, mut outq) = mpsc::unbounded_channel::<Message>();
    let writer = tokio::spawn(async move {
        while let Some(m) = outq.recv().await {
            let close = matches!(m, Message::Close(_));
            if write.send(m).await.is_err() || close {
                break;
            }
        }
        let _ = write.close().await;
    });
    let mut last_seen = Instant::now();
    let mut ping = tokio::time::interval(timing.ping_interval);
    ping.tick().await;
    let ended = loop {
        let dead_at = last_seen + timing.dead_after;
        tokio::select! {
            msg = read.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    last_seen = Instant::now();
                    if let Some(end) = frame(inner, text.as_str(), &out, jobs) {
                        break end;
                    }
                }
                Some(Ok(Message::Close(_))) | None => break Ended::Failed("server closed the stream".into()),
                Some(Ok(_)) => last_seen = Instant::now(),
                Some(Err(e)) => break Ended::Failed(format!("websocket: {e}")),
            },
            _ = ping.tick() => {
                let _ = out.send(Message::Ping(Vec::new().into()));
            }
            () = tokio::time::sleep_until(dead_at) => {
                break Ended::Failed(format!("no traffic for {:?}; connection presumed dead", timing.dead_after));
            }
            () = sink.closed() => break Ended::SinkClosed,
        }
    };
    let _ = out.send(Message::Close(None));
    drop(out);
    // Let queued ACKs and the close go out, but never wait on a dead peer for long.
    let abort = writer.abort_handle();
    if tokio::time::timeout(Duration::from_secs(2), writer)
        .await
        .is_err()
    {
        abort.abort();
    }
    ended
}

fn ack(out: &mpsc::UnboundedSender<Message>, message_id: &str, data: &str) {
    let frame = json!({
        "code": 200,
        "headers": {"messageId": message_id, "contentType": "application/json"},
        "message": "OK",
        "data": data,
    });
    let _ = out.send(Message::Text(frame.to_string().into()));
}

/// Handles one downstream frame: ACK first, then queue the work. `Some` ends the connection.
fn frame(
    inner: &Stream,
    text: &str,
    out: &mpsc::UnboundedSender<Message>,
    jobs: &mpsc::UnboundedSender<Job>,
) -> Option<Ended> {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        tracing::warn!("dingtalk stream: frame is not JSON");
        return None;
    };
    let kind = v.get("type").and_then(Value::as_str).unwrap_or_default();
    let header = |k: &str| v.pointer(&format!("/headers/{k}")).and_then(Value::as_str);
    let topic = header("topic").unwrap_or_default();
    let message_id = header("messageId").unwrap_or_default().to_owned();
    let raw_data = v.get("data").and_then(Value::as_str).unwrap_or("{}");
    let data: Value = serde_json::from_str(raw_data).unwrap_or(Value::Null);
    match (kind, topic) {
        ("SYSTEM", "ping") => {
            ack(out, &message_id, raw_data);
            None
        }
        ("SYSTEM", "disconnect") => {
            if !message_id.is_empty() {
                ack(out, &message_id, raw_data);
            }
            let reason = data
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or_default();
            tracing::info!(reason, "dingtalk stream: disconnect");
            Some(Ended::Rotate)
        }
        ("SYSTEM", other) => {
            tracing::debug!(topic = other, "dingtalk stream: system frame");
            if !message_id.is_empty() {
                ack(out, &message_id, raw_data);
            }
            None
        }
        ("CALLBACK", BOT_TOPIC) => {
            ack(out, &message_id, r#"{"response":null}"#);
            let msg_id = data
                .get("msgId")
                .and_then(Value::as_str)
                .unwrap_or(&message_id);
            if inner.first_seen(&format!("msg:{msg_id}")) {
                let _ = jobs.send(Job::Bot(data));
            } else {
                tracing::debug!(msg_id, "dingtalk: redelivered message ignored");
            }
            None
        }
        ("CALLBACK", CARD_TOPIC) => {
            ack(out, &message_id, r#"{"response":{}}"#);
            if inner.first_seen(&format!("card:{message_id}")) {
                let _ = jobs.send(Job::Card { message_id, data });
            }
            None
        }
        ("EVENT", _) => {
            ack(
                out,
                &message_id,
                r#"{"status":"SUCCESS","message":"ignored"}"#,
            );
            None
        }
        _ => {
            tracing::debug!(kind, topic, "dingtalk stream: unhandled frame");
            ack(out, &message_id, r#"{"response":null}"#);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupe_is_bounded() {
        let mut d = Dedupe::new(2);
        assert!(d.first("a"));
        assert!(!d.first("a"));
        assert!(d.first("b"));
        assert!(d.first("c"));
        assert!(d.first("a"), "a fell out of the window");
        assert!(!d.first("c"));
    }

    #[test]
    fn backoff_grows_caps_and_resets() {
        let t = StreamTiming {
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_millis(1000),
            ..StreamTiming::default()
        };
        let mut b = Backoff::new(&t);
        let waits: Vec<Duration> = (0..6).map(|_| b.step()).collect();
        assert!(waits[0] >= Duration::from_millis(100) && waits[0] <= Duration::from_millis(120));
        assert!(waits[1] >= Duration::from_millis(200) && waits[1] <= Duration::from_millis(240));
        assert!(waits.iter().all(|w| *w <= Duration::from_millis(1000)));
        assert_eq!(waits[5], Duration::from_millis(1000));
        b.reset();
        assert!(b.step() <= Duration::from_millis(120));
    }
}
