//! Test-only: a checker for Telegram's HTML parse mode (the tag set, balanced nesting,
//! attribute syntax and entity decoding of TDLib's `parse_html`), returning the visible text.

const TAGS: &[&str] = &[
    "a",
    "b",
    "strong",
    "i",
    "em",
    "s",
    "strike",
    "del",
    "u",
    "ins",
    "tg-spoiler",
    "pre",
    "code",
    "blockquote",
];

pub(crate) fn visible(src: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut stack: Vec<String> = Vec::new();
    let mut rest = src;
    while let Some(c) = rest.chars().next() {
        match c {
            '&' => {
                let (ch, len) = entity(rest)
                    .ok_or_else(|| format!("bare & at {:?}", &rest[..rest.len().min(12)]))?;
                out.push(ch);
                rest = &rest[len..];
            }
            '>' => return Err("bare >".into()),
            '<' => {
                let end = rest.find('>').ok_or("unclosed tag")?;
                let inner = &rest[1..end];
                if let Some(name) = inner.strip_prefix('/') {
                    let open = stack.pop().ok_or("unexpected end tag")?;
                    if name != open {
                        return Err(format!("</{name}> closes <{open}>"));
                    }
                } else {
                    let name = inner.split(' ').next().unwrap_or_default();
                    if !TAGS.contains(&name) {
                        return Err(format!("unsupported tag <{name}>"));
                    }
                    let attrs = inner[name.len()..].trim();
                    if !attrs.is_empty() {
                        let value = match (name, attrs.strip_suffix('"')) {
                            ("a", Some(a)) => a.strip_prefix("href=\""),
                            ("code", Some(a)) => a.strip_prefix("class=\"language-"),
                            _ => None,
                        }
                        .ok_or_else(|| format!("bad attributes {attrs:?}"))?;
                        if value.contains('"') || value.contains('<') {
                            return Err(format!("unescaped attribute {value:?}"));
                        }
                    }
                    if matches!(stack.last().map(String::as_str), Some("code"))
                        || (name != "code" && stack.last().is_some_and(|t| t == "pre"))
                    {
                        return Err(format!("<{name}> inside code"));
                    }
                    stack.push(name.to_owned());
                }
                rest = &rest[end + 1..];
            }
            c => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("<{open}> never closed"));
    }
    Ok(out)
}

fn entity(s: &str) -> Option<(char, usize)> {
    for (name, ch) in [
        ("&lt;", '<'),
        ("&gt;", '>'),
        ("&amp;", '&'),
        ("&quot;", '"'),
    ] {
        if s.starts_with(name) {
            return Some((ch, name.len()));
        }
    }
    None
}

#[test]
fn checker_refuses_what_telegram_refuses() {
    assert_eq!(visible("<b>a &lt; b</b>").as_deref(), Ok("a < b"));
    assert!(visible("a < b").is_err());
    assert!(visible("<b>x").is_err());
    assert!(visible("<b><i>x</b></i>").is_err());
    assert!(visible("<script>").is_err());
    assert!(visible("AT&T").is_err(), "we always escape &");
    assert!(visible("<pre><code class=\"language-rs\">x</code></pre>").is_ok());
}
