//! DingTalk's Markdown subset (IM.md §1.11). The real API accepts anything and shows unsupported
//! syntax raw, so the fake records what would render badly instead of refusing it.

/// Constructs in `text` that DingTalk Markdown does not render.
pub fn unsupported_markdown(text: &str) -> Vec<String> {
    let mut issues = Vec::new();
    let mut note = |what: &str| {
        if !issues.iter().any(|i| i == what) {
            issues.push(what.to_string());
        }
    };
    if text.contains("```") {
        note("code block");
    }
    for line in text.lines() {
        let trimmed = line.trim_start();
        if !line.contains("```") && line.matches('`').count() >= 2 {
            note("inline code");
        }
        if trimmed.starts_with('|') && trimmed[1..].contains('|') {
            note("table");
        }
        if line.contains("~~") {
            note("strikethrough");
        }
        let indent = line.len() - trimmed.len();
        let bullet = trimmed.starts_with("- ")
            || trimmed.starts_with("* ")
            || trimmed
                .split_once(". ")
                .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if indent >= 2 && bullet {
            note("nested list");
        }
    }
    let mut rest = text;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let tag = rest.trim_start_matches('/');
        let name: String = tag.chars().take_while(char::is_ascii_alphabetic).collect();
        if !name.is_empty() && !name.eq_ignore_ascii_case("font") {
            note("html");
        }
    }
    issues
}

#[cfg(test)]
mod tests {
    use super::unsupported_markdown;

    #[test]
    fn flags_what_dingtalk_shows_raw() {
        assert!(
            unsupported_markdown(
                "# Title\n\n**b** *i* [l](u) ![x](@m)\n\n- a\n1. b\n> q <font color=#f00>r</font>"
            )
            .is_empty()
        );
        let text = "```rust\nfn x(){}\n```\nuse `x`\n| a | b |\n~~no~~\n- a\n  - b\n<b>x</b>";
        assert_eq!(
            unsupported_markdown(text),
            [
                "code block",
                "inline code",
                "table",
                "strikethrough",
                "nested list",
                "html"
            ]
        );
    }
}
