//! Fuzzing the SSE parser, the event decoder and the turn tracker with arbitrary and
//! structure-aware input (sse_prop.rs covers chunking of well-formed streams).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use cloudify_opencode::{Event, GlobalEvent, SseFrame, SseParser, TurnTracker};
use cloudify_testkit::fuzz::{any_json, config, nasty_bytes, nasty_text};
use proptest::prelude::*;
use serde_json::{Value, json};

fn parse_chunks(bytes: &[u8], cuts: &[usize]) -> Vec<SseFrame> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.push(bytes.len());
    let mut p = SseParser::new();
    let mut out = Vec::new();
    let mut prev = 0;
    for c in cuts {
        p.push(&bytes[prev..c.max(prev)], &mut out);
        prev = c.max(prev);
    }
    p.finish();
    out
}

/// Every event of the recorded transcripts, as JSON (read once).
static RECORDED: std::sync::LazyLock<Vec<Value>> = std::sync::LazyLock::new(recorded_events);

fn recorded_events() -> Vec<Value> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out = Vec::new();
    for name in [
        "sse-permission.txt",
        "sse-tool.txt",
        "sse-question.txt",
        "sse-todo.txt",
        "sse-error-midstream.txt",
    ] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        for line in text.lines() {
            if let Some(data) = line.strip_prefix("data: ") {
                out.push(serde_json::from_str(data).unwrap());
            }
        }
    }
    out
}

/// A real event with some leaves replaced: strings by nasty text, any leaf by any JSON,
/// fields dropped. `seed` picks what to mutate.
fn mutate(v: &mut Value, seeds: &mut impl Iterator<Item = (u8, Value, String)>) {
    match v {
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                let Some((op, junk, text)) = seeds.next() else {
                    return;
                };
                match op % 8 {
                    0 => {
                        map.remove(&k);
                    }
                    1 => {
                        map.insert(k, junk);
                    }
                    2 if map[&k].is_string() => {
                        map.insert(k, Value::String(text));
                    }
                    _ => mutate(map.get_mut(&k).unwrap(), seeds),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                mutate(item, seeds);
            }
        }
        _ => {}
    }
}

fn junk_line() -> impl Strategy<Value = String> {
    nasty_text(6).prop_map(|s| {
        let line: String = s.chars().filter(|c| *c != '\n' && *c != '\r').collect();
        // A `data` field would add to the frame; every other line must be ignored or only
        // set `event`/`id`, which do not change the data.
        let field = line.split(':').next().unwrap_or_default();
        if line.is_empty() || field == "data" {
            format!(": {line}")
        } else {
            line
        }
    })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn fuzz_any_bytes_any_chunks_never_panic(bytes in nasty_bytes(4096), cuts in prop::collection::vec(any::<usize>(), 0..24)) {
        let mut tracker = TurnTracker::new();
        for f in parse_chunks(&bytes, &cuts) {
            let ev = Event::parse(&f.data);
            let _ = tracker.apply(&ev, Instant::now());
            let _ = GlobalEvent::parse(&f.data);
        }
    }

    #[test]
    fn fuzz_events_between_junk_lines_still_decode(
        deltas in prop::collection::vec((nasty_text(8), prop::collection::vec(junk_line(), 0..4)), 1..12),
        cuts in prop::collection::vec(any::<usize>(), 0..24),
        crlf in any::<bool>(),
    ) {
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut stream = String::new();
        for (i, (delta, junk)) in deltas.iter().enumerate() {
            for line in junk {
                stream.push_str(line);
                stream.push_str(nl);
            }
            let ev = json!({"type": "message.part.delta", "properties": {
                "sessionID": "ses_1", "messageID": "msg_1", "partID": format!("prt_{i}"),
                "field": "text", "delta": delta}});
            stream.push_str(&format!("data: {ev}{nl}{nl}"));
        }
        let frames = parse_chunks(stream.as_bytes(), &cuts);
        let got: Vec<String> = frames.iter().filter_map(|f| match Event::parse(&f.data) {
            Event::PartDelta { delta, .. } => Some(delta),
            _ => None,
        }).collect();
        let want: Vec<String> = deltas.into_iter().map(|(d, _)| d).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn fuzz_decoder_on_any_json(v in any_json(), kind in prop::sample::select(KINDS)) {
        let _ = Event::from_value(v.clone());
        let _ = GlobalEvent::parse(&v.to_string());
        // A known type with properties of any shape: decoded or kept raw, never a panic.
        let ev = Event::from_value(json!({"type": kind, "properties": v.clone()}));
        let unknown = matches!(ev, Event::Unknown { .. });
        prop_assert!(ev.kind() == kind || unknown, "{}", ev.kind());
        let _ = GlobalEvent::parse(&json!({"directory": v, "payload": {"type": kind}}).to_string());
    }

}

proptest! {
    // Each case generates hundreds of JSON values: a quarter of the cases of the others.
    #![proptest_config(ProptestConfig { cases: config(256).cases.div_ceil(4).max(64), ..config(256) })]

    #[test]
    fn fuzz_tracker_on_mutated_real_events(
        picks in prop::collection::vec((any::<prop::sample::Index>(), prop::collection::vec((any::<u8>(), any_json(), nasty_text(4)), 0..8)), 1..40),
        step_ms in 0u64..2000,
    ) {
        let events = &*RECORDED;
        let mut tracker = TurnTracker::new();
        let mut now = Instant::now();
        for (pick, seeds) in picks {
            let mut v = pick.get(events).clone();
            mutate(&mut v, &mut seeds.into_iter());
            let ev = Event::from_value(v);
            let _ = tracker.apply(&ev, now);
            now += Duration::from_millis(step_ms);
            let _ = tracker.take_progress(now);
            for sid in tracker.awaiting_final(now, Duration::from_millis(500)) {
                let _ = tracker.force_finish(&sid, now, None);
            }
            let _ = tracker.stuck(now, Duration::from_secs(1));
        }
    }
}

const KINDS: &[&str] = &[
    "server.connected",
    "session.created",
    "session.updated",
    "session.deleted",
    "session.status",
    "session.idle",
    "session.error",
    "session.diff",
    "message.updated",
    "message.removed",
    "message.part.updated",
    "message.part.delta",
    "message.part.removed",
    "permission.asked",
    "permission.replied",
    "question.asked",
    "question.replied",
    "question.rejected",
    "todo.updated",
    "file.edited",
    "file.watcher.updated",
    "server.instance.disposed",
    "global.disposed",
];
