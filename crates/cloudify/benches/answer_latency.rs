//! Answer latency (issue 18): how long a user waits for the answer, and how many Bot API
//! calls a prompt costs. The real release `cloudify run`, the real `opencode serve` (pinned,
//! via the e2e harness) on the testkit's fake LLM, and the testkit's fake Telegram Bot API
//! with Telegram's flood limits.
//!
//! **quick**: the fake LLM streams a one-line answer at once (OpenCode's turn takes a few
//! hundred ms). A sample is the time from the user's message (injected into the fake's
//! update queue) to the first Bot API call that shows the answer text, as the fake stamps
//! its arrival. The bench's own `/event` subscription gives the moment OpenCode's turn ended
//! (session idle), so the bot's share is reported too. Prompts are `GAP_MS` apart (counted
//! from the chat's last call), as a person reading the answer before typing again.
//!
//! **long**: the answer streams for ~3 s: when the live message appears, and how long after
//! OpenCode's turn ends the answer is out.
//!
//! ```sh
//! cargo bench -p cloudify --bench answer_latency                  # RUNS=10 quick, LONG_RUNS=3
//! RUNS=30 cargo bench -p cloudify --bench answer_latency -- quick
//! BENCH_VERBOSE=1 …                                                # the trace of every prompt
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench: a panic is the failure report

#[allow(dead_code)] // the e2e tests use the rest
#[path = "../tests/e2e/harness.rs"]
mod harness;

use cloudify_opencode::{Client, ClientConfig, Event, SessionStatus};
use cloudify_testkit::fake_llm::{Reply, Script};
use cloudify_testkit::fake_telegram::{Call, User};
use cloudify_testkit::opencode::{OpencodeOptions, OpencodeServer};
use futures::StreamExt as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(60);

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let want = |part: &str| args.is_empty() || args.iter().any(|a| part.contains(a.as_str()));
    let runs = env_usize("RUNS", 10);
    let long_runs = env_usize("LONG_RUNS", 3);
    let gap = Duration::from_millis(env_usize("GAP_MS", 3500) as u64);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let w = World::start().await;
        let user = User::new(4242, "Quick")
            .username("quick")
            .language_code("en");
        w.w.bind(&user, &w.w.qr_token(None)).await;
        println!("load average at start: {}", load_average());
        let mut all = Vec::new();
        if want("quick") && runs > 0 {
            let samples = prompts(&w, &user, Kind::Quick, runs, gap).await;
            report_quick(&samples);
            all.extend(samples);
        }
        if want("long") && long_runs > 0 {
            let samples = prompts(&w, &user, Kind::Long, long_runs, gap).await;
            report_long(&samples);
            all.extend(samples);
        }
        let limited: usize = all.iter().map(|s| s.limited).sum();
        println!();
        println!(
            "429 answers over all prompts: {limited} (fake Bot API total: {})",
            w.w.tg.rate_limited_count()
        );
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

fn verbose() -> bool {
    std::env::var_os("BENCH_VERBOSE").is_some()
}

/// The e2e world (production log filter) plus our own `/event` subscription.
struct World {
    w: harness::World,
    events: Arc<Mutex<Vec<(Instant, Event)>>>,
}

impl World {
    async fn start() -> World {
        let mut w = harness::World::build(OpencodeOptions::default(), false, None).await;
        w.extra_env.push(("RUST_LOG".into(), "info".into()));
        let events = subscribe(&w.opencode).await;
        w.start_bot().await;
        World { w, events }
    }

    fn events_since(&self, t: Instant) -> Vec<(Instant, Event)> {
        let all = self.events.lock().unwrap();
        all.iter().filter(|(at, _)| *at >= t).cloned().collect()
    }

    /// Calls to `chat` among the fake's calls from index `from`.
    fn calls_to(&self, chat: i64, from: usize) -> Vec<Call> {
        self.w.tg.calls()[from..]
            .iter()
            .filter(|c| c.chat_id == Some(chat))
            .cloned()
            .collect()
    }
}

/// Every `/event` frame of the bot's directory, stamped on arrival.
async fn subscribe(oc: &OpencodeServer) -> Arc<Mutex<Vec<(Instant, Event)>>> {
    let dir = oc.project_dir().to_string_lossy().to_string();
    let client = Client::new(ClientConfig::new(&oc.url()).unwrap().directory(dir)).unwrap();
    let frames = client.subscribe_frames("event").await.expect("subscribe");
    let log: Arc<Mutex<Vec<(Instant, Event)>>> = Arc::default();
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
            sink.lock().unwrap().push((at, Event::parse(&frame.data)));
        }
    });
    tokio::time::timeout(T, connected)
        .await
        .expect("server.connected")
        .unwrap();
    log
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Quick,
    Long,
}

/// One prompt, seconds from the user's message.
struct Sample {
    /// First successful call whose text holds the answer.
    visible: f64,
    /// The answer's own message (sendMessage).
    answer_sent: f64,
    /// The first message of the turn (the live message, or the answer itself).
    first_message: f64,
    /// OpenCode's turn ended (session idle on our subscription).
    idle: f64,
    sends: usize,
    edits: usize,
    deletes: usize,
    limited: usize,
    trace: Vec<String>,
}

impl Sample {
    fn calls(&self) -> usize {
        self.sends + self.edits + self.deletes
    }
}

fn secs(later: Instant, earlier: Instant) -> f64 {
    later.saturating_duration_since(earlier).as_secs_f64()
}

fn text_of(c: &Call) -> &str {
    c.params["text"]
        .as_str()
        .or_else(|| c.params["caption"].as_str())
        .unwrap_or_default()
}

fn is_paced(c: &Call) -> bool {
    c.is_counted() || c.method == "deleteMessage"
}

async fn prompts(w: &World, user: &User, kind: Kind, runs: usize, gap: Duration) -> Vec<Sample> {
    wait_quiet(w, user.id, gap).await;
    let mut out = Vec::new();
    for i in 1..=runs {
        let marker = format!("answer{kind:?}{i}");
        let trigger = format!("{kind:?}PROMPT").to_uppercase();
        let script = match kind {
            Kind::Quick => Script::text(&format!("{marker} is ready.")),
            // 15 deltas 200 ms apart (~3 s), the marker last.
            Kind::Long => Script::new(vec![
                Reply::chunks((0..15).map(|k| {
                    if k == 14 {
                        format!("{marker} ")
                    } else {
                        format!("long-{i}-{k} ")
                    }
                }))
                .chunk_delay(Duration::from_millis(200)),
            ]),
        };
        w.w.llm.on(&trigger, script);
        let from = w.w.tg.calls().len();
        let t0 = Instant::now();
        w.w.tg
            .user_sends_text(user, &format!("{trigger} number {i}"));
        let has_answer =
            |c: &Call| c.status == 200 && c.method == "sendMessage" && text_of(c).contains(&marker);
        let got =
            w.w.tg
                .wait_until(T, |_| {
                    w.calls_to(user.id, from)
                        .iter()
                        .any(has_answer)
                        .then_some(())
                })
                .await;
        assert!(
            got.is_some(),
            "prompt {i}: no answer; calls: {:#?}",
            w.calls_to(user.id, from)
        );
        // Everything the prompt causes (e.g. the live message's summary edit) is in by then.
        wait_quiet(w, user.id, gap).await;
        let calls = w.calls_to(user.id, from);
        let ok: Vec<&Call> = calls.iter().filter(|c| c.status == 200).collect();
        let at = |c: &Call| secs(c.at, t0);
        let visible = ok
            .iter()
            .find(|c| text_of(c).contains(&marker))
            .map(|c| at(c))
            .unwrap();
        let answer_sent = ok.iter().find(|c| has_answer(c)).map(|c| at(c)).unwrap();
        let first_message = ok
            .iter()
            .find(|c| c.method.starts_with("send"))
            .map(|c| at(c))
            .unwrap();
        let events = w.events_since(t0);
        let busy = events.iter().find(|(_, e)| {
            matches!(
                e,
                Event::SessionStatus {
                    status: SessionStatus::Busy,
                    ..
                }
            )
        });
        // The last idle before the answer: OpenCode may report idle for a moment between
        // the steps of one turn.
        let answer_at = t0 + Duration::from_secs_f64(visible);
        let idle = events
            .iter()
            .rev()
            .find(|(at, e)| {
                busy.is_some_and(|(b, _)| at >= b)
                    && *at <= answer_at
                    && matches!(
                        e,
                        Event::SessionIdle { .. }
                            | Event::SessionStatus {
                                status: SessionStatus::Idle,
                                ..
                            }
                    )
            })
            .map(|(at, _)| secs(*at, t0))
            .expect("session idle");
        let count = |f: &dyn Fn(&Call) -> bool| ok.iter().filter(|c| f(c)).count();
        let mut trace = vec![format!("| +0.000 s | user message {trigger:?} |")];
        if let Some((b, _)) = busy {
            trace.push(format!("| +{:.3} s | OpenCode busy |", secs(*b, t0)));
        }
        trace.push(format!("| +{idle:.3} s | OpenCode idle (turn over) |"));
        for c in calls.iter().filter(|c| is_paced(c)) {
            let text: String = text_of(c)
                .chars()
                .take(48)
                .collect::<String>()
                .replace('\n', " ");
            trace.push(format!(
                "| +{:.3} s | {} {}{text:?} |",
                at(c),
                c.method,
                if c.status == 200 {
                    String::new()
                } else {
                    format!("→ {} ", c.status)
                }
            ));
        }
        trace.sort_by(|a, b| {
            let t = |s: &str| {
                s.trim_start_matches("| +")
                    .split(' ')
                    .next()
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or(0.0)
            };
            t(a).total_cmp(&t(b))
        });
        let sample = Sample {
            visible,
            answer_sent,
            first_message,
            idle,
            sends: count(&|c| c.method.starts_with("send")),
            edits: count(&|c| c.method.starts_with("edit")),
            deletes: count(&|c| c.method == "deleteMessage"),
            limited: calls.iter().filter(|c| c.status == 429).count(),
            trace,
        };
        if verbose() {
            eprintln!("{kind:?} prompt {i}:\n{}", sample.trace.join("\n"));
        }
        out.push(sample);
    }
    out
}

/// Waits until the chat had no paced call for `gap`.
async fn wait_quiet(w: &World, chat: i64, gap: Duration) {
    let deadline = Instant::now() + T;
    loop {
        let last =
            w.w.tg
                .calls()
                .iter()
                .filter(|c| c.chat_id == Some(chat) && is_paced(c))
                .map(|c| c.at)
                .max();
        let quiet_since = last.map_or(Duration::MAX, |t| t.elapsed());
        if quiet_since >= gap {
            return;
        }
        assert!(Instant::now() < deadline, "chat {chat} never went quiet");
        tokio::time::sleep(
            gap.saturating_sub(quiet_since)
                .max(Duration::from_millis(20)),
        )
        .await;
    }
}

// ---- statistics ----

/// Nearest-rank percentile of sorted values.
fn pct(sorted: &[f64], p: f64) -> f64 {
    let rank = (p * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

fn row(label: &str, values: impl Iterator<Item = f64>, unit: &str) {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    let f = |x: f64| {
        if unit == "s" {
            format!("{x:.3} s")
        } else {
            format!("{x:.1}")
        }
    };
    println!(
        "| {label} | {} | **{}** | {} | {} |",
        f(v[0]),
        f(pct(&v, 0.5)),
        f(pct(&v, 0.9)),
        f(v[v.len() - 1])
    );
}

fn header(title: &str, n: usize) {
    println!();
    println!("## {title} ({n} prompts)");
    println!();
    println!("| measure | min | median | p90 | max |");
    println!("|---|---|---|---|---|");
}

fn calls_summary(samples: &[Sample]) {
    row(
        "Bot API calls per prompt (send + edit + delete)",
        samples.iter().map(|s| s.calls() as f64),
        "",
    );
    let n = samples.len() as f64;
    let sum = |f: &dyn Fn(&Sample) -> usize| samples.iter().map(f).sum::<usize>() as f64 / n;
    println!();
    println!(
        "Calls per prompt, mean: sendMessage {:.1}, edits {:.1}, deletes {:.1}; 429 answers {}",
        sum(&|s| s.sends),
        sum(&|s| s.edits),
        sum(&|s| s.deletes),
        samples.iter().map(|s| s.limited).sum::<usize>()
    );
}

/// The trace of the prompt with the median answer time.
fn median_trace(samples: &[Sample]) {
    let mut order: Vec<&Sample> = samples.iter().collect();
    order.sort_by(|a, b| a.visible.total_cmp(&b.visible));
    let median = order[(order.len() - 1) / 2];
    println!();
    println!(
        "Trace of the median prompt (as the fake Bot API and our `/event` subscriber saw it):"
    );
    println!();
    println!("| at | what |");
    println!("|---|---|");
    for line in &median.trace {
        println!("{line}");
    }
}

fn report_quick(samples: &[Sample]) {
    header("Answer latency: quick turn", samples.len());
    row(
        "user message → answer visible (first call showing it)",
        samples.iter().map(|s| s.visible),
        "s",
    );
    row(
        "user message → answer message (sendMessage)",
        samples.iter().map(|s| s.answer_sent),
        "s",
    );
    row(
        "user message → OpenCode idle (the model's part)",
        samples.iter().map(|s| s.idle),
        "s",
    );
    row(
        "OpenCode idle → answer visible (the bot's part)",
        samples.iter().map(|s| s.visible - s.idle),
        "s",
    );
    calls_summary(samples);
    median_trace(samples);
}

fn report_long(samples: &[Sample]) {
    header(
        "Answer latency: long turn (~3 s of streaming)",
        samples.len(),
    );
    row(
        "user message → first message (live message)",
        samples.iter().map(|s| s.first_message),
        "s",
    );
    row(
        "user message → OpenCode idle",
        samples.iter().map(|s| s.idle),
        "s",
    );
    row(
        "OpenCode idle → answer message (sendMessage)",
        samples.iter().map(|s| s.answer_sent - s.idle),
        "s",
    );
    calls_summary(samples);
    median_trace(samples);
}
