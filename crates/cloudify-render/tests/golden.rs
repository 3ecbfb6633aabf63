//! Golden images: small renders compared pixel by pixel with a tolerance, so font
//! rasterizer or zlib updates pass but layout, colour or glyph regressions fail.
//! Regenerate after an intended change: `UPDATE_GOLDEN=1 cargo nextest run -p cloudify-render golden`.

// Helpers outside #[test] functions panic on failure just like the tests do.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use cloudify_render::{PageOptions, Renderer};

const CODE: &str = "// 消息计数 🦀 — ℝ²\nfn count(msgs: &[&str]) -> usize {\n\tmsgs.iter().filter(|m| !m.is_empty()).count() // 한글\n}\n";
const DIFF: &str = "diff --git a/src/lib.rs b/src/lib.rs\n--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1,4 +1,4 @@ mod x;\n fn main() {\n-    let n = 1;\n+    let n = 2; // 改\n     println!(\"{n}\");\n }\n";

fn check(name: &str, png: &[u8]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, png).unwrap();
        return;
    }
    let want = image::load_from_memory(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
    .to_rgb8();
    let got = image::load_from_memory(png).unwrap().to_rgb8();
    assert_eq!(got.dimensions(), want.dimensions(), "{name}: size changed");
    let (mut total, mut far) = (0u64, 0usize);
    for (a, b) in got.pixels().zip(want.pixels()) {
        let d = (0..3).map(|i| a[i].abs_diff(b[i])).max().unwrap_or(0);
        total += u64::from(d);
        if d > 48 {
            far += 1;
        }
    }
    let n = (got.width() * got.height()) as usize;
    let mean = total as f64 / n as f64;
    assert!(
        far * 200 <= n && mean <= 1.5,
        "{name}: {far} of {n} pixels differ strongly, mean diff {mean:.2}"
    );
}

#[test]
fn golden_code_with_cjk_and_emoji() {
    let pages = Renderer::global()
        .unwrap()
        .render_code(CODE, Some("count.rs"), &PageOptions::default())
        .unwrap();
    assert_eq!(pages.len(), 1);
    check("code.png", &pages[0].png);
}

#[test]
fn golden_diff() {
    let pages = Renderer::global()
        .unwrap()
        .render_diff(DIFF, &PageOptions::default())
        .unwrap();
    assert_eq!(pages.len(), 1);
    check("diff.png", &pages[0].png);
}
