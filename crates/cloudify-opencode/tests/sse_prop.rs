//! Property tests of the SSE parser: any chunking and any line-ending style give the same frames.
#![allow(clippy::unwrap_used)]

use cloudify_opencode::{Event, SseFrame, SseParser};
use proptest::prelude::*;

fn parse(chunks: &[&[u8]]) -> Vec<SseFrame> {
    let mut p = SseParser::new();
    let mut out = Vec::new();
    for c in chunks {
        p.push(c, &mut out);
    }
    out
}

/// Splits `bytes` at the given (sorted, deduplicated) cut points.
fn split<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = Vec::new();
    let mut prev = 0;
    for c in cuts {
        out.push(&bytes[prev..c]);
        prev = c;
    }
    out.push(&bytes[prev..]);
    out
}

fn transcript() -> Vec<u8> {
    let p =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sse-permission.txt");
    let mut b = std::fs::read(p).unwrap();
    b.push(b'\n');
    b
}

/// A stream built from arbitrary frames: comments, multi-line data, unicode, other fields.
fn arb_stream() -> impl Strategy<Value = (Vec<u8>, Vec<String>)> {
    let line = "[a-zA-Z0-9 {}\":,é你😀]{0,20}";
    let frame = (
        prop::collection::vec(line, 1..4),
        any::<bool>(),
        any::<bool>(),
    );
    prop::collection::vec(frame, 0..12).prop_map(|frames| {
        let mut bytes = Vec::new();
        let mut expected = Vec::new();
        for (lines, comment, event) in frames {
            if comment {
                bytes.extend_from_slice(b": keep-alive\n");
            }
            if event {
                bytes.extend_from_slice(b"event: x\nid: 1\n");
            }
            for l in &lines {
                bytes.extend_from_slice(format!("data: {l}\n").as_bytes());
            }
            bytes.push(b'\n');
            expected.push(lines.join("\n"));
        }
        (bytes, expected)
    })
}

fn with_endings(bytes: &[u8], style: u8) -> Vec<u8> {
    let nl: &[u8] = match style % 3 {
        0 => b"\n",
        1 => b"\r\n",
        _ => b"\r",
    };
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for b in bytes {
        if *b == b'\n' {
            out.extend_from_slice(nl);
        } else {
            out.push(*b);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn chunking_never_changes_a_real_transcript(cuts in prop::collection::vec(any::<usize>(), 0..64), style in 0u8..3) {
        let bytes = with_endings(&transcript(), style);
        let whole = parse(&[&bytes]);
        prop_assert_eq!(whole.len(), 97);
        let pieces = split(&bytes, &cuts);
        prop_assert_eq!(parse(&pieces), whole.clone());
        let kinds = |f: &[SseFrame]| f.iter().map(|f| Event::parse(&f.data).kind().to_owned()).collect::<Vec<_>>();
        prop_assert_eq!(kinds(&parse(&pieces)), kinds(&whole));
    }

    #[test]
    fn arbitrary_streams_any_chunking((bytes, expected) in arb_stream(), cuts in prop::collection::vec(any::<usize>(), 0..32), style in 0u8..3) {
        let bytes = with_endings(&bytes, style);
        let got: Vec<String> = parse(&split(&bytes, &cuts)).into_iter().map(|f| f.data).collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2048), cuts in prop::collection::vec(any::<usize>(), 0..16)) {
        for f in parse(&split(&bytes, &cuts)) {
            let _ = Event::parse(&f.data);
        }
    }
}
