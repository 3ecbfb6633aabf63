//! Warm in-process render times (what a long-running bot sees): the renderer, syntaxes and
//! glyph cache are loaded by a first render, then each input is rendered repeatedly.
//! Targets (issue 5): 100 lines ≤ 15 ms, 1000 lines ≤ 250 ms.
//!
//! `cargo bench -p cloudify-render --bench render`

// A benchmark whose input fails to render has nothing to measure: panicking is right.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use cloudify_render::{PageOptions, Renderer};
use criterion::{Criterion, criterion_group, criterion_main};

const S10: &str = include_str!("data/s10.rs");
const S100: &str = include_str!("data/s100.rs");
const S1000: &str = include_str!("data/s1000.rs");
const D300: &str = include_str!("data/d300.diff");
const CJK: &str = include_str!("data/cjk.rs");

fn bench(c: &mut Criterion) {
    let r = Renderer::global().expect("embedded fonts parse");
    let opts = PageOptions::default();
    let mut g = c.benchmark_group("render");
    g.warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(6))
        .sample_size(20);
    for (name, text) in [("s10", S10), ("s100", S100), ("s1000", S1000), ("cjk", CJK)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                r.render_code(black_box(text), Some("x.rs"), &opts)
                    .expect("renders")
            });
        });
    }
    g.bench_function("d300", |b| {
        b.iter(|| r.render_diff(black_box(D300), &opts).expect("renders"));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
