//! SSE parse + decode + turn dispatch: throughput (events/s) over the recorded transcripts and
//! the latency of one streaming-delta event. Numbers in docs/BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Instant;

use cloudify_opencode::{Event, SseParser, TurnTracker};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

/// All classic `/event` transcripts, each terminated, concatenated `times` times.
fn corpus(times: usize) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("sse-") && !n.contains("global"))
        .collect();
    names.sort();
    let mut one = Vec::new();
    for n in names {
        one.extend(std::fs::read(dir.join(n)).unwrap());
        one.push(b'\n');
    }
    one.repeat(times)
}

/// What the watcher does per chunk: frame, decode, apply; progress every 64 events.
fn run(bytes: &[u8], chunk: usize) -> usize {
    let mut parser = SseParser::new();
    let mut tracker = TurnTracker::new();
    let mut frames = Vec::new();
    let mut n = 0usize;
    let mut out = 0usize;
    let now = Instant::now();
    for c in bytes.chunks(chunk) {
        parser.push(c, &mut frames);
        for f in frames.drain(..) {
            let ev = Event::parse(&f.data);
            out += tracker.apply(&ev, now).len();
            n += 1;
            if n.is_multiple_of(64) {
                out += tracker.take_progress(now).len();
            }
        }
    }
    std::hint::black_box(out);
    n
}

fn throughput(c: &mut Criterion) {
    let bytes = corpus(10);
    let events = run(&bytes, 4096);
    let mut g = c.benchmark_group("sse_parse_dispatch");
    g.throughput(Throughput::Elements(events as u64));
    g.bench_function("transcripts_x10_4k_chunks", |b| {
        b.iter(|| run(&bytes, 4096));
    });
    g.bench_function("transcripts_x10_64b_chunks", |b| {
        b.iter(|| run(&bytes, 64));
    });
    g.finish();
}

fn latency(c: &mut Criterion) {
    let busy = br#"data: {"id":"evt_1","type":"session.status","properties":{"sessionID":"ses_b","status":{"type":"busy"}}}

data: {"id":"evt_2","type":"message.updated","properties":{"sessionID":"ses_b","info":{"id":"msg_a","role":"assistant","sessionID":"ses_b","time":{"created":1}}}}

data: {"id":"evt_3","type":"message.part.updated","properties":{"sessionID":"ses_b","part":{"id":"prt_t","messageID":"msg_a","sessionID":"ses_b","type":"text","text":""},"time":1}}

"#;
    let delta = br#"data: {"id":"evt_1ff223c5a001","type":"message.part.delta","properties":{"sessionID":"ses_b","messageID":"msg_a","partID":"prt_t","field":"text","delta":" word"}}

"#;
    let mut g = c.benchmark_group("sse_event_latency");
    g.throughput(Throughput::Elements(1));
    g.bench_function("delta_event_parse_decode_apply", |b| {
        b.iter_batched_ref(
            || {
                let mut parser = SseParser::new();
                let mut tracker = TurnTracker::new();
                let mut frames = Vec::new();
                parser.push(busy, &mut frames);
                for f in frames.drain(..) {
                    tracker.apply(&Event::parse(&f.data), Instant::now());
                }
                (parser, tracker, frames)
            },
            |(parser, tracker, frames)| {
                parser.push(delta, frames);
                let mut n = 0;
                for f in frames.drain(..) {
                    n += tracker.apply(&Event::parse(&f.data), Instant::now()).len();
                }
                std::hint::black_box(n)
            },
            BatchSize::SmallInput,
        );
    });
    g.finish();
}

criterion_group!(benches, throughput, latency);
criterion_main!(benches);
