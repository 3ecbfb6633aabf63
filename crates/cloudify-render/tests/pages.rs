//! Page-level behaviour through the public API: sizes against Telegram's photo rules,
//! wrapping properties, bad input, the cache.

// Helpers outside #[test] functions panic on failure just like the tests do.
#![allow(clippy::unwrap_used)]

use cloudify_render::{
    PageOptions, RenderCache, RenderError, Renderer, plan_telegram, telegram_photo_ok,
    text_columns, wrap_line,
};
use proptest::prelude::*;

const S1000: &str = include_str!("../benches/data/s1000.rs");
const D300: &str = include_str!("../benches/data/d300.diff");

fn renderer() -> &'static Renderer {
    Renderer::global().unwrap()
}

fn png_size(png: &[u8]) -> (u32, u32) {
    let be = |i: usize| u32::from_be_bytes([png[i], png[i + 1], png[i + 2], png[i + 3]]);
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    (be(16), be(20))
}

#[test]
fn every_page_of_a_1000_line_file_is_a_valid_telegram_photo() {
    let opts = PageOptions::default();
    let pages = renderer()
        .render_code(S1000, Some("parser.rs"), &opts)
        .unwrap();
    // 1000 lines, eleven longer than 100 columns (one of 268): 17 pages of ≤ 60 rows.
    assert_eq!(pages.len(), 17);
    let width = pages[0].width;
    for (i, p) in pages.iter().enumerate() {
        assert_eq!((p.index, p.total), (i, 17));
        assert_eq!(
            png_size(&p.png),
            (p.width, p.height),
            "header matches metadata"
        );
        assert!(
            telegram_photo_ok(p.width, p.height, p.png.len()),
            "page {i}: {}x{} {} B",
            p.width,
            p.height,
            p.png.len()
        );
        assert!(p.png.len() < 400_000, "page {i} is {} bytes", p.png.len());
        assert_eq!(p.width, width, "all pages of a document share the width");
    }
    assert_eq!(pages[0].first_line, 1);
    assert_eq!(pages[16].last_line, 1000);
    assert!(pages.windows(2).all(|w| w[1].first_line >= w[0].last_line));
    let plan = plan_telegram(&pages);
    assert_eq!(plan.photos.len(), 10);
    assert_eq!(plan.rest.len(), 7);
}

#[test]
fn diff_pages_obey_the_rules_too() {
    let pages = renderer()
        .render_diff(D300, &PageOptions::default())
        .unwrap();
    assert!((5..=7).contains(&pages.len()), "{} pages", pages.len());
    assert!(
        pages
            .iter()
            .all(|p| telegram_photo_ok(p.width, p.height, p.png.len()))
    );
}

#[test]
fn page_height_follows_rows_and_options() {
    let r = renderer();
    let text: String = (0..25).map(|i| format!("let x{i} = {i};\n")).collect();
    let opts = PageOptions {
        lines_per_page: 10,
        ..PageOptions::default()
    };
    let pages = r.render_code(&text, Some("a.rs"), &opts).unwrap();
    assert_eq!(pages.len(), 3);
    assert_eq!(pages[0].height, pages[1].height);
    // The last page has 5 rows instead of 10: shorter by 5 row heights (28 px at 20 px).
    assert_eq!(pages[0].height - pages[2].height, 5 * 28);
    // Bigger font, bigger page.
    let big = r
        .render_code(
            &text,
            Some("a.rs"),
            &PageOptions {
                font_px: 30,
                ..opts.clone()
            },
        )
        .unwrap();
    assert!(big[0].width > pages[0].width && big[0].height > pages[0].height);
}

#[test]
fn extreme_options_do_not_panic() {
    let r = renderer();
    let text: String = (0..50)
        .map(|i| format!("line {i} 中文 🦀 {}\n", "x".repeat(i)))
        .collect();
    for opts in [
        PageOptions {
            max_columns: 8,
            lines_per_page: 1,
            font_px: 8,
            tab_width: 8,
            ..PageOptions::default()
        },
        PageOptions {
            max_columns: 1000,
            lines_per_page: 1000,
            font_px: 96,
            ..PageOptions::default()
        },
        PageOptions {
            line_numbers: false,
            title: Some("a very long title ".repeat(20)),
            ..PageOptions::default()
        },
    ] {
        let pages = r.render_code(&text, Some("x.rs"), &opts).unwrap();
        assert!(!pages.is_empty());
        let diff = r.render_diff(D300, &opts).unwrap();
        assert!(diff.iter().all(|p| p.width > 0 && p.height > 0));
    }
}

#[test]
fn bad_input_is_handled() {
    let r = renderer();
    let opts = PageOptions::default();
    assert!(matches!(
        r.render_code_bytes(b"\x7fELF\x02\x01\0\0\0", None, &opts),
        Err(RenderError::Binary)
    ));
    let lossy = r
        .render_code_bytes(b"caf\xe9 = 1\n", Some("latin1.py"), &opts)
        .unwrap();
    assert_eq!(lossy.len(), 1);
    let empty = r.render_code("", Some("empty.rs"), &opts).unwrap();
    assert_eq!(empty.len(), 1);
    let no_changes = r.render_diff("", &opts).unwrap();
    assert_eq!(no_changes.len(), 1);
    let crlf = r.render_code("a\r\nb\r\n", None, &opts).unwrap();
    let lf = r.render_code("a\nb\n", None, &opts).unwrap();
    assert_eq!(crlf[0].png, lf[0].png, "CRLF renders like LF");
    let long = "x".repeat(100_000);
    let pages = r.render_code(&long, None, &opts).unwrap();
    assert_eq!(pages[0].total, 17, "1000 rows of 100 columns");
    assert!(matches!(
        r.render_code(
            "x",
            None,
            &PageOptions {
                max_columns: 0,
                ..opts.clone()
            }
        ),
        Err(RenderError::InvalidOptions(_))
    ));
}

#[test]
fn cache_round_trip_and_graceful_failure() {
    let r = renderer();
    let dir = tempfile::tempdir().unwrap();
    let cache = RenderCache::new(dir.path().join("rendered"));
    let opts = PageOptions::default();
    let first = cache
        .code(r, S1000.as_bytes(), Some("parser.rs"), &opts)
        .unwrap();
    let key = RenderCache::key("code", S1000.as_bytes(), Some("parser.rs"), &opts);
    let hit = cache.get(&key).expect("stored");
    assert_eq!(hit, first);
    assert_eq!(
        cache
            .code(r, S1000.as_bytes(), Some("parser.rs"), &opts)
            .unwrap(),
        first
    );
    // Different options, different key.
    assert_ne!(
        key,
        RenderCache::key(
            "code",
            S1000.as_bytes(),
            Some("parser.rs"),
            &PageOptions {
                font_px: 22,
                ..opts.clone()
            }
        )
    );
    // A corrupt entry is a miss, not an error.
    std::fs::write(
        dir.path().join("rendered").join(&key).join("manifest"),
        "garbage",
    )
    .unwrap();
    assert!(cache.get(&key).is_none());
    // Pruning to zero removes everything.
    assert!(cache.prune(0) > 0);
    assert!(cache.get(&key).is_none());
    // The cache "directory" is a file: writes fail, rendering still works.
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let broken = RenderCache::new(&file);
    assert_eq!(
        broken.diff(r, D300, &opts).unwrap().len(),
        r.render_diff(D300, &opts).unwrap().len()
    );
}

fn line_strategy() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        4 => "[a-z ]{1,12}",
        1 => "[中文字한글]{1,4}",
        1 => Just("\t".to_owned()),
        1 => Just("🦀".to_owned()),
        1 => Just("e\u{301}".to_owned()),
    ];
    prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]
    /// Columns from the tab width up (PageOptions rejects a wrap narrower than a tab).
    #[test]
    fn wrapping_keeps_text_and_respects_the_width(line in line_strategy(), cols in 4usize..120) {
        let rows = wrap_line(&line, cols, 4);
        prop_assert!(!rows.is_empty());
        // Rows are contiguous and cover the line exactly.
        let mut pos = 0;
        for (r, used) in &rows {
            prop_assert_eq!(r.start, pos);
            pos = r.end;
            prop_assert!(*used <= cols, "row uses {} > {} cols", used, cols);
            prop_assert_eq!(*used, text_columns(&line[r.clone()], 4));
        }
        prop_assert_eq!(pos, line.len());
        // Only the single row of an empty line is empty.
        if !line.is_empty() {
            prop_assert!(rows.iter().all(|(r, _)| !r.is_empty()));
        }
        // Breaks happen only when the next character did not fit.
        for w in rows.windows(2) {
            let next = line[w[1].0.clone()].chars().next().unwrap();
            let width = text_columns(&format!("{}{next}", &line[w[0].0.clone()]), 4) - w[0].1;
            prop_assert!(w[0].1 + width > cols, "needless break before {:?}", next);
        }
    }
}
