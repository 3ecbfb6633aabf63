use super::*;

fn html(md: &str) -> String {
    parse(md)
        .iter()
        .map(|b| match b {
            Block::Rich(s) => s.html(0..s.len()),
            Block::Code { lang, code } => format!("[code {lang:?}]{code}[/code]"),
        })
        .collect::<Vec<_>>()
        .join("|")
}

#[test]
fn emphasis_code_and_links() {
    assert_eq!(
        html("**bold** and *it* and `a<b`"),
        "<b>bold</b> and <i>it</i> and <code>a&lt;b</code>"
    );
    assert_eq!(html("__b__ _i_ ~~s~~"), "<b>b</b> <i>i</i> <s>s</s>");
    assert_eq!(
        html("see [the docs](https://x.y/a_b?c=1&d=2)"),
        "see <a href=\"https://x.y/a_b?c=1&amp;d=2\">the docs</a>"
    );
    assert_eq!(
        html("**bold with `code` inside**"),
        "<b>bold with </b><code>code</code><b> inside</b>"
    );
    assert_eq!(html("***both***"), "<b><i>both</i></b>");
}

#[test]
fn literal_when_unsure() {
    assert_eq!(html("a < b && c > d"), "a &lt; b &amp;&amp; c &gt; d");
    assert_eq!(html("**unbalanced"), "**unbalanced");
    assert_eq!(
        html("snake_case_name and 2 * 3 * 4"),
        "snake_case_name and 2 * 3 * 4"
    );
    assert_eq!(
        html("<script>alert(1)</script>"),
        "&lt;script&gt;alert(1)&lt;/script&gt;"
    );
    assert_eq!(html("[x](javascript:alert(1))"), "[x](javascript:alert(1))");
    assert_eq!(html("`` a ` b ``"), "<code>a ` b</code>");
    assert_eq!(html("\\*not italic\\*"), "*not italic*");
}

#[test]
fn blocks() {
    assert_eq!(
        html("# Title\n- item\n> q1\n> q2"),
        "<b>Title</b>\n• item\n<blockquote>q1\nq2</blockquote>"
    );
    assert_eq!(
        html("before\n```rust\nfn x() {}\n```\nafter"),
        "before|[code Some(\"rust\")]fn x() {}[/code]|after"
    );
    assert_eq!(
        html("```\nunclosed\nstill code"),
        "[code None]unclosed\nstill code[/code]"
    );
    assert_eq!(
        html("  ```py\n  x = 1\n  ```"),
        "[code Some(\"py\")]x = 1[/code]"
    );
    assert_eq!(html("```one line```"), "<code>one line</code>");
}

#[test]
fn adversarial_lines_stay_fast() {
    let started = std::time::Instant::now();
    for unit in [
        "`",
        "*",
        "_a ",
        "**",
        "~~",
        "[",
        "[a](",
        "[a](https://x",
        "\\",
        "` `` ```",
    ] {
        let line = unit.repeat(200_000 / unit.len());
        let blocks = parse(&format!("x {line} y"));
        assert!(!blocks.is_empty());
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn fence_language_is_sanitized() {
    assert_eq!(sanitize_lang("c++\"><b>"), Some("c++b".into()));
    assert_eq!(sanitize_lang("\"\""), None);
}
