//! Added latency and fan-out of `cloudify run` (issue 8), measured on the real release binary:
//! fake LLM → real `opencode serve` ← `cloudify run` → fake Telegram Bot API (Telegram's limits).
//!
//! **Latency.** The bot reaches OpenCode through a loopback proxy in this process that stamps
//! each `/event` frame (by event id) when it has handed the bytes to the bot's socket: the
//! moment the bot could read the event. The fake Bot API stamps every call on arrival. A
//! sample is call time − event time for events whose output the outbox may send at once:
//! a turn start (`session.status` busy → the live "Working…" sendMessage), `question.asked`
//! and `permission.asked` (→ their prompts). The fake LLM waits 2.7 s before each tool call
//! and turns start ≥ 1.2 s after the previous answer, so the per-chat 1 msg/s pacing has
//! nothing to hold; a sample it held anyway (another call to the chat less than 1 s before
//! the event, e.g. a coalesced progress edit) is dropped and counted. A sample is our
//! processing (SSE parse, turn tracker, relay, store, router, outbox, Telegram adapter) plus
//! one loopback HTTP request. The same samples are also reported from the stamps of a second
//! `/event` subscription (how this bench measured first): OpenCode writes to each stream in
//! turn, so that start is off by its delivery order, up to a few ms either way.
//!
//! **Fan-out.** `FANOUT_USERS` (default 100) Telegram users bound to one instance, one turn
//! streaming for ~10 s with a permission prompt that one user approves: time until every
//! user has the final answer, Bot API calls, the busiest 1-second window, 429s.
//!
//! ```sh
//! cargo bench -p cloudify --bench relay_latency                 # both parts
//! RUNS=60 cargo bench -p cloudify --bench relay_latency -- latency
//! FANOUT_USERS=50 cargo bench -p cloudify --bench relay_latency -- fanout
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench: a panic is the failure report

#[allow(dead_code)] // the e2e tests use the rest
#[path = "../tests/e2e/harness.rs"]
mod harness;

use cloudify_opencode::{Client, ClientConfig, Event, SessionStatus};
use cloudify_testkit::fake_llm::{Reply, Script};
use cloudify_testkit::fake_telegram::{Call, Message, User, explain_429s, peak_per_second};
use cloudify_testkit::opencode::{OpencodeOptions, OpencodeServer};
use futures::StreamExt as _;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const T: Duration = Duration::from_secs(60);
/// Telegram's per-chat pace as the outbox applies it.
const PER_CHAT: Duration = Duration::from_secs(1);
/// Longer than the per-chat pace, so the previous message never holds the next one.
const GAP: Duration = Duration::from_millis(1200);
/// The LLM's pause before a tool call: a progress edit flushed on the relay's 1.5 s tick
/// after the previous step's changes is then over 1 s old when the prompt comes.
const THINK: Duration = Duration::from_millis(2700);
const GLOBAL_PER_SECOND: usize = 30;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let want = |part: &str| args.is_empty() || args.iter().any(|a| part.contains(a.as_str()));
    let runs = env_usize("RUNS", 200);
    let users = env_usize("FANOUT_USERS", 100);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let w = World::start().await;
        let bound: Vec<User> = (1..=env_usize("LATENCY_USERS", 2).max(1))
            .map(|i| {
                let name = format!("lat{i}");
                User::new(1000 + i as i64, &name)
                    .username(&name)
                    .language_code("en")
            })
            .collect();
        for u in &bound {
            w.bind(u).await;
        }
        println!("load average at start: {}", load_average());
        if want("latency") && runs > 0 {
            latency(&w, &bound, runs).await;
        }
        if want("fanout") && users > 0 {
            fanout(&w, &bound, users).await;
        }
        println!("load average at end: {}", load_average());
    });
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

// ---- the world: fake LLM → opencode ← cloudify run → fake Telegram ----

/// The e2e tests' world, plus our own stamped `/event` subscription.
struct World {
    w: harness::World,
    /// Every `/event` frame of the bot's directory, stamped on arrival (parsed only when
    /// read: the bench does as little as it can while the bot works).
    events: Arc<Mutex<Vec<(Instant, String)>>>,
    /// When each event (by id) was handed to the bot's socket.
    handed: Stamps,
}

impl std::ops::Deref for World {
    type Target = harness::World;
    fn deref(&self) -> &harness::World {
        &self.w
    }
}

impl World {
    async fn start() -> World {
        let opts = OpencodeOptions {
            ask_permissions: true,
            ..Default::default()
        };
        let mut w = harness::World::build(opts, false, None).await;
        // The production log filter, not the tests' debug logging.
        w.extra_env.push(("RUST_LOG".into(), "info".into()));
        let (proxy, handed) = stamping_proxy(w.opencode.port()).await;
        w.extra_env.push(("OPENCODE_URL".into(), proxy));
        let events = subscribe(&w.opencode).await;
        w.start_bot().await;
        World { w, events, handed }
    }

    /// Binds by deep link, as a phone does, and waits for the welcome.
    async fn bind(&self, user: &User) {
        self.w.bind(user, &self.w.qr_token(None)).await;
    }

    /// Events seen by our own subscription since `t`: (our stamp, event, event id).
    fn events_since(&self, t: Instant) -> Vec<(Instant, Event, String)> {
        let all = self.events.lock().unwrap();
        all.iter()
            .filter(|(at, _)| *at >= t)
            .map(|(at, data)| {
                let id = serde_json::from_str::<serde_json::Value>(data)
                    .ok()
                    .and_then(|v| v["id"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                (*at, Event::parse(data), id)
            })
            .collect()
    }

    /// When the event was handed to the bot.
    fn handed(&self, id: &str) -> Option<Instant> {
        self.handed.lock().unwrap().get(id).copied()
    }

    fn last_message_id(&self, chat: i64) -> i32 {
        self.tg
            .all_messages(chat)
            .last()
            .map_or(0, |m| m.message_id)
    }

    async fn wait_new(&self, chat: i64, after: i32, needle: &str, buttons: bool) -> Message {
        let n = needle.to_string();
        self.tg
            .wait_for_message(
                chat,
                move |m| {
                    m.message_id > after
                        && m.text().contains(&n)
                        && (!buttons || !m.buttons().is_empty())
                        && !m.text().contains("Working…")
                },
                T,
            )
            .await
    }
}

/// Our own `/event` subscription with the bot's directory header; frames stamped on arrival.
async fn subscribe(oc: &OpencodeServer) -> Arc<Mutex<Vec<(Instant, String)>>> {
    let dir = oc.project_dir().to_string_lossy().to_string();
    let client = Client::new(ClientConfig::new(&oc.url()).unwrap().directory(dir)).unwrap();
    let frames = client.subscribe_frames("event").await.expect("subscribe");
    let log: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
    let sink = log.clone();
    let (ready, connected) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut frames = std::pin::pin!(frames);
        let mut ready = Some(ready);
        while let Some(Ok(frame)) = frames.next().await {
            let at = Instant::now();
            if let Some(r) = ready.take() {
                let _ = r.send(());
            }
            sink.lock().unwrap().push((at, frame.data));
        }
    });
    tokio::time::timeout(T, connected)
        .await
        .expect("server.connected")
        .unwrap();
    log
}

type Stamps = Arc<Mutex<HashMap<String, Instant>>>;

/// A loopback TCP proxy to OpenCode for the bot. In the direction OpenCode → bot it stamps
/// every event id (`{"id":"evt_…`) just before writing the bytes that complete it to the
/// bot's socket. Returns the URL for the bot and the stamps.
async fn stamping_proxy(opencode_port: u16) -> (String, Stamps) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let stamps: Stamps = Arc::default();
    let sink = stamps.clone();
    tokio::spawn(async move {
        while let Ok((bot, _)) = listener.accept().await {
            let Ok(upstream) = tokio::net::TcpStream::connect(("127.0.0.1", opencode_port)).await
            else {
                continue;
            };
            let _ = (bot.set_nodelay(true), upstream.set_nodelay(true));
            let (mut bot_rx, mut bot_tx) = bot.into_split();
            let (mut up_rx, mut up_tx) = upstream.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut bot_rx, &mut up_tx).await;
                let _ = up_tx.shutdown().await;
            });
            let sink = sink.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                // The end of the previous read, for an id split across two reads.
                let mut tail: Vec<u8> = Vec::new();
                loop {
                    let n = match up_rx.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    tail.extend_from_slice(&buf[..n]);
                    let ids = event_ids(&tail);
                    // Stamped before the write: the bot cannot have read the bytes earlier,
                    // so a delay of this task never shortens a sample.
                    let at = Instant::now();
                    if bot_tx.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    let mut stamps = sink.lock().unwrap();
                    for id in ids {
                        stamps.entry(id).or_insert(at);
                    }
                    drop(stamps);
                    let keep = tail.len().saturating_sub(64);
                    tail.drain(..keep);
                }
                let _ = bot_tx.shutdown().await;
            });
        }
    });
    (url, stamps)
}

/// The complete event ids in `bytes`.
fn event_ids(bytes: &[u8]) -> Vec<String> {
    const MARK: &[u8] = b"{\"id\":\"evt_";
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(p) = bytes[from..].windows(MARK.len()).position(|w| w == MARK) {
        let start = from + p + MARK.len() - 4; // keep the `evt_` prefix
        match bytes[start..].iter().position(|&b| b == b'"') {
            Some(len) => out.push(String::from_utf8_lossy(&bytes[start..start + len]).into()),
            None => break, // completed by the next read
        }
        from = start;
    }
    out
}

// ---- statistics ----

/// `later − earlier` in milliseconds, negative when `later` is not later.
fn signed_ms(later: Instant, earlier: Instant) -> f64 {
    if later >= earlier {
        later.duration_since(earlier).as_secs_f64() * 1000.0
    } else {
        -(earlier.duration_since(later).as_secs_f64() * 1000.0)
    }
}

/// Nearest-rank percentile of sorted values.
fn pct(sorted: &[f64], p: f64) -> f64 {
    let rank = (p * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// Calls the outbox makes for a chat (sends, edits, deletes), which its pacing spaces.
fn paced(c: &Call) -> bool {
    ["send", "edit", "delete"]
        .iter()
        .any(|p| c.method.starts_with(p))
}

/// Whether the outbox may have held a call made for an event at `event_at`: the chat had a
/// call less than a second before the event, or the bot-wide second was full.
fn held(calls: &[Call], chat: i64, event_at: Instant, call_at: Instant) -> bool {
    let prev = calls
        .iter()
        .filter(|c| c.chat_id == Some(chat) && paced(c) && c.at < call_at)
        .map(|c| c.at)
        .max();
    let busy = calls
        .iter()
        .filter(|c| paced(c) && c.at <= event_at && event_at.duration_since(c.at) < PER_CHAT)
        .count();
    prev.is_some_and(|p| event_at < p + PER_CHAT) || busy >= GLOBAL_PER_SECOND
}

fn verbose() -> bool {
    std::env::var_os("BENCH_VERBOSE").is_some()
}

/// What was sent to the chat around a held sample (BENCH_VERBOSE=1).
fn explain_hold(calls: &[Call], chat: i64, event_at: Instant, call_at: Instant, kind: Kind) {
    let around: Vec<String> = calls
        .iter()
        .filter(|c| c.chat_id == Some(chat) && paced(c))
        .filter(|c| c.at + Duration::from_secs(2) > event_at && c.at <= call_at)
        .map(|c| {
            let rel = c.at.duration_since(event_at.min(c.at)).as_secs_f64()
                - event_at.duration_since(event_at.min(c.at)).as_secs_f64();
            let text = c.params["text"].as_str().unwrap_or_default();
            let text: String = text.chars().take(40).collect();
            format!("{} {:+.0} ms {text:?}", c.method, rel * 1000.0)
        })
        .collect();
    eprintln!("held {kind:?}: calls relative to the event: {around:?}");
}

// ---- part 1: added latency ----

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Start,
    Question,
    Permission,
}

impl Kind {
    /// What the bot's message for the event says.
    fn needle(self) -> &'static str {
        match self {
            Kind::Start => "Working…",
            Kind::Question => "❓ OpenCode asks: Which way",
            Kind::Permission => "🔐 OpenCode asks for permission",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Start => "turn start → live message",
            Kind::Question => "question.asked → prompt",
            Kind::Permission => "permission.asked → prompt",
        }
    }
}

async fn latency(w: &World, users: &[User], runs: usize) {
    let presser = &users[0];
    // (kind, ms from the event handed to the bot, ms from our own subscriber's stamp)
    let mut samples: Vec<(Kind, f64, f64)> = Vec::new();
    let mut dropped = 0;
    let mut early = 0;
    let mut turns = 0;
    let question = json!({"questions": [{"question": "Which way?", "header": "Way",
        "options": [{"label": "Left", "description": "go left"}, {"label": "Right", "description": "go right"}]}]});
    let began = Instant::now();
    tokio::time::sleep(GAP).await; // the welcome messages must not hold the first turn
    // Two samples per user a turn: its start and one prompt, a question or a permission in
    // turn (a turn with both keeps the chat's 1/s budget busy with resolution and progress
    // edits, and the second prompt waits behind them). Give up after twice the turns needed.
    while samples.len() < runs && turns < runs.div_ceil(users.len()) {
        turns += 1;
        let done = format!("lat-done-{turns}");
        let kind = if turns % 2 == 1 {
            Kind::Question
        } else {
            Kind::Permission
        };
        let (tool, args) = match kind {
            Kind::Question => ("question", question.clone()),
            _ => (
                "bash",
                json!({"command": format!("echo lat-{turns}"), "description": "echo"}),
            ),
        };
        // One empty delta after the pause, then the tool call: no text for the live message
        // to show, so no progress edit competes with the prompt.
        let first = Reply::chunks([""])
            .and_tool_call(tool, args)
            .chunk_delay(THINK);
        w.llm
            .on("LATENCY", Script::new(vec![first]).then_text(&done));
        let start = Instant::now();
        let mark = w.last_message_id(presser.id);
        w.tg.user_sends_text(presser, &format!("LATENCY turn {turns}"));
        let prompt = w.wait_new(presser.id, mark, kind.needle(), true).await;
        let button = prompt
            .buttons()
            .into_iter()
            .find(|(_, d)| kind == Kind::Question || d.ends_with(" once"));
        w.tg.press_button_on(presser, presser.id, prompt.message_id, &button.unwrap().1);
        for u in users {
            w.wait_new(u.id, 0, &done, false).await;
        }
        let events = w.events_since(start);
        let calls = w.tg.calls();
        let first_event = |f: &dyn Fn(&Event) -> bool| {
            events
                .iter()
                .find(|(_, e, _)| f(e))
                .map(|(at, _, id)| (*at, w.handed(id)))
        };
        let busy = first_event(&|e| {
            matches!(
                e,
                Event::SessionStatus {
                    status: SessionStatus::Busy,
                    ..
                }
            )
        });
        let asked = first_event(&|e| match kind {
            Kind::Question => matches!(e, Event::QuestionAsked { .. }),
            _ => matches!(e, Event::PermissionAsked { .. }),
        });
        for u in users {
            let sent = w.tg.sent_since(u.id, start);
            for (kind, event) in [(Kind::Start, busy), (kind, asked)] {
                let (seen_at, handed_at) =
                    event.unwrap_or_else(|| panic!("no {kind:?} event in turn {turns}"));
                let event_at =
                    handed_at.unwrap_or_else(|| panic!("the {kind:?} event never went to the bot"));
                let ours = |m: &&Message| m.text().contains(kind.needle());
                let Some(msg) = sent.iter().filter(ours).find(|m| m.at >= event_at) else {
                    // Sent before the event reached the bot through us: it knew from
                    // elsewhere (a status resync). Not a sample; never a slow one.
                    assert!(
                        sent.iter().any(|m| ours(&m)),
                        "no {kind:?} message in turn {turns}"
                    );
                    early += 1;
                    continue;
                };
                if held(&calls, u.id, event_at, msg.at) {
                    dropped += 1;
                    if verbose() {
                        explain_hold(&calls, u.id, event_at, msg.at, kind);
                    }
                } else {
                    samples.push((
                        kind,
                        signed_ms(msg.at, event_at),
                        signed_ms(msg.at, seen_at),
                    ));
                }
            }
        }
        tokio::time::sleep(GAP).await;
    }
    let took = began.elapsed();
    assert!(!samples.is_empty(), "no samples");
    println!();
    println!(
        "## Added latency: OpenCode event → Bot API call ({turns} turns in {:.0} s)",
        took.as_secs_f64()
    );
    println!();
    println!(
        "| samples ({} users bound) | min | p50 | p90 | p99 | max | held by pacing (dropped) | target |",
        users.len()
    );
    println!("|---|---|---|---|---|---|---|---|");
    let row = |label: String, v: Vec<f64>, extra: &str| {
        let mut v = v;
        v.sort_by(f64::total_cmp);
        println!(
            "| {label} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {extra} |",
            v[0],
            pct(&v, 0.5),
            pct(&v, 0.9),
            pct(&v, 0.99),
            v[v.len() - 1],
        );
    };
    row(
        format!("**{}**, from the event handed to the bot", samples.len()),
        samples.iter().map(|s| s.1).collect(),
        &format!("{dropped} (+{early} sent before the event reached the bot) | p99 ≤ 5 ms"),
    );
    for kind in [Kind::Start, Kind::Question, Kind::Permission] {
        let v: Vec<f64> = samples
            .iter()
            .filter(|s| s.0 == kind)
            .map(|s| s.1)
            .collect();
        if !v.is_empty() {
            row(format!("{} × {}", v.len(), kind.name()), v, " |");
        }
    }
    row(
        "the same, from a second `/event` subscriber's stamp".into(),
        samples.iter().map(|s| s.2).collect(),
        " |",
    );
}

// ---- part 2: fan-out ----

async fn fanout(w: &World, bound: &[User], n: usize) {
    let owner = &bound[0];
    let mut users = bound.to_vec();
    users.extend(w.seed_members(2000 + bound.len() as i64..2000 + n as i64, "user"));
    // Let anything still queued from earlier go out first.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let chunk = Duration::from_millis(200);
    let second: Vec<String> = (0..25).map(|i| format!("fan-{i} ")).collect();
    w.llm.on(
        "FANOUT",
        Script::new(vec![
            Reply::slow(25, chunk).and_tool_call(
                "bash",
                json!({"command": "echo fan-out-ok", "description": "fan out"}),
            ),
            Reply::chunks(second).chunk_delay(chunk),
        ]),
    );
    let calls_before = w.tg.calls().len();
    let limited_before = w.tg.rate_limited_count();
    let t0 = Instant::now();
    let mark = w.last_message_id(owner.id);
    w.tg.user_sends_text(owner, "FANOUT now");
    let p = w
        .wait_new(owner.id, mark, "asks for permission", true)
        .await;
    let once = p.buttons().into_iter().find(|(_, d)| d.ends_with(" once"));
    w.tg.press_button_on(owner, owner.id, p.message_id, &once.unwrap().1);
    let is_answer = |m: &Message| m.text().contains("fan-24") && !m.text().contains("Working…");
    let deadline = Instant::now() + Duration::from_secs(300);
    let answers: Vec<Instant> = loop {
        let got: Vec<Instant> = users
            .iter()
            .filter_map(|u| {
                w.tg.sent_since(u.id, t0)
                    .into_iter()
                    .find(|m| is_answer(m))
                    .map(|m| m.at)
            })
            .collect();
        if got.len() == users.len() {
            break got;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} users have the answer",
            got.len(),
            users.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let t_all = answers.iter().max().copied().unwrap();
    let t_first = answers.iter().min().copied().unwrap();
    let idle = w
        .events_since(t0)
        .into_iter()
        .find(|(_, e, _)| {
            matches!(
                e,
                Event::SessionIdle { .. }
                    | Event::SessionStatus {
                        status: SessionStatus::Idle,
                        ..
                    }
            )
        })
        .map(|(at, ..)| at)
        .expect("session idle");
    let calls: Vec<Call> = w.tg.calls()[calls_before..]
        .iter()
        .filter(|c| c.at <= t_all)
        .cloned()
        .collect();
    let outbound: Vec<&Call> = calls.iter().filter(|c| c.is_counted()).collect();
    let times: Vec<Instant> = outbound.iter().map(|c| c.at).collect();
    let peak = peak_per_second(&calls);
    let limited = w.tg.rate_limited_count() - limited_before;
    let by_method = |m: &str| outbound.iter().filter(|c| c.method == m).count();
    let span = times
        .iter()
        .max()
        .unwrap()
        .duration_since(*times.iter().min().unwrap());
    let floor = outbound.len() as f64 / GLOBAL_PER_SECOND as f64;
    // After the turn ends each user still needs two calls: the live message's summary edit
    // and the answer.
    let tail_floor = 2.0 * n as f64 / GLOBAL_PER_SECOND as f64;
    let s = |d: Duration| d.as_secs_f64();
    if verbose() {
        eprintln!("{}", explain_429s(&calls));
    }
    println!();
    println!("## Fan-out: one turn to {n} users (Telegram limits: 1/s per chat, 30/s global)");
    println!();
    println!("| measure | result | target |");
    println!("|---|---|---|");
    println!(
        "| turn length in OpenCode (prompt → session idle) | {:.1} s | |",
        s(idle.duration_since(t0))
    );
    println!(
        "| prompt → all {n} users have the final answer (first / last) | {:.1} s / {:.1} s | |",
        s(t_first.duration_since(t0)),
        s(t_all.duration_since(t0))
    );
    println!(
        "| session idle → last user has the answer | {:.1} s (floor {:.1} s: 2 calls × {n} users at 30/s) | |",
        s(t_all.saturating_duration_since(idle)),
        tail_floor
    );
    println!(
        "| Bot API sends + edits (sendMessage / editMessageText / other) | {} ({} / {} / {}) = {:.1} per user | |",
        outbound.len(),
        by_method("sendMessage"),
        by_method("editMessageText"),
        outbound.len() - by_method("sendMessage") - by_method("editMessageText"),
        outbound.len() as f64 / n as f64
    );
    println!(
        "| those calls spread over (first → last) | {:.1} s = {:.1} calls/s (floor at 30/s: {:.1} s) | |",
        s(span),
        outbound.len() as f64 / s(span).max(0.001),
        floor
    );
    println!("| busiest 1-second window | {peak} calls | ≤ 30 |");
    println!("| 429 answers | {limited} | 0 |");
    println!(
        "| all Bot API calls in the window (incl. getUpdates, answerCallbackQuery) | {} | |",
        calls.len()
    );
}
