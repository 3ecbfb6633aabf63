//! Telegram's HTML parse mode, following TDLib's `parse_html`: the same tag set, the same
//! entity decoding and the same error texts, so a bot that passes here passes on Telegram.

use super::model::Entity;

/// Telegram's HTML parse mode as the fake applies it to every `parse_mode: HTML` text: the
/// visible text and its entities (UTF-16 offsets), or the "can't parse entities" reason.
/// For property tests that check formatter output without a server round trip.
pub fn parse_html(src: &str) -> Result<(String, Vec<Entity>), String> {
    parse(src).map(|p| (p.text, p.entities))
}

/// Text after parsing: what the user sees, plus entities (UTF-16 offsets).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub text: String,
    pub entities: Vec<Entity>,
}

impl Parsed {
    pub(crate) fn push(&mut self, c: char) {
        self.text.push(c);
    }

    pub(crate) fn utf16_len(&self) -> usize {
        self.text.encode_utf16().count()
    }
}

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
    "tg-emoji",
    "span",
    "pre",
    "code",
    "blockquote",
];

struct Open {
    tag: String,
    arg: String,
    offset: usize,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c)
}

/// Parses `src`; the error is the part after "Bad Request: can't parse entities: ".
pub(crate) fn parse(src: &str) -> Result<Parsed, String> {
    let b = src.as_bytes();
    let mut out = Parsed::default();
    let mut stack: Vec<Open> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'&'
            && let Some((c, len)) = decode_entity(&src[i..])
        {
            out.push(c);
            i += len;
            continue;
        }
        if b[i] != b'<' {
            let c = src[i..].chars().next().unwrap_or_default();
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        let begin = i;
        i += 1;
        if i >= b.len() || b[i] != b'/' {
            let open = open_tag(src, begin, &mut i)?;
            let offset = out.utf16_len();
            stack.push(Open { offset, ..open });
        } else {
            let Some(open) = stack.pop() else {
                return Err(format!("Unexpected end tag at byte offset {begin}"));
            };
            i += 1;
            let name_begin = i;
            while i < b.len() && !is_space(b[i]) && b[i] != b'>' {
                i += 1;
            }
            let end_name = src[name_begin..i].to_ascii_lowercase();
            while i < b.len() && is_space(b[i]) {
                i += 1;
            }
            if i >= b.len() || b[i] != b'>' {
                return Err(format!("Unclosed end tag at byte offset {begin}"));
            }
            i += 1;
            if !end_name.is_empty() && end_name != open.tag {
                return Err(format!(
                    "Unmatched end tag at byte offset {begin}, expected \"</{}>\", found \"</{end_name}>\"",
                    open.tag
                ));
            }
            close(&mut out, &mut stack, open);
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!(
            "Can't find end tag corresponding to start tag \"{}\"",
            open.tag
        ));
    }
    out.entities
        .sort_by_key(|e| (e.offset, std::cmp::Reverse(e.length)));
    Ok(out)
}

/// Reads `<tag attr=...>` starting after `<`; leaves `i` after `>`.
fn open_tag(src: &str, begin: usize, i: &mut usize) -> Result<Open, String> {
    let b = src.as_bytes();
    let unclosed = || format!("Unclosed start tag at byte offset {begin}");
    let name_begin = *i;
    while *i < b.len() && !is_space(b[*i]) && b[*i] != b'>' {
        *i += 1;
    }
    if *i >= b.len() {
        return Err(unclosed());
    }
    let tag = src[name_begin..*i].to_ascii_lowercase();
    if !TAGS.contains(&tag.as_str()) {
        return Err(format!(
            "Unsupported start tag \"{tag}\" at byte offset {begin}"
        ));
    }
    let mut arg = String::new();
    loop {
        while *i < b.len() && is_space(b[*i]) {
            *i += 1;
        }
        if *i >= b.len() {
            return Err(unclosed());
        }
        if b[*i] == b'>' {
            *i += 1;
            break;
        }
        let attr_begin = *i;
        while *i < b.len() && !is_space(b[*i]) && b[*i] != b'=' && b[*i] != b'>' {
            *i += 1;
        }
        let attr = src[attr_begin..*i].to_ascii_lowercase();
        if attr.is_empty() {
            return Err(format!(
                "Empty attribute name in the tag \"{tag}\" at byte offset {begin}"
            ));
        }
        while *i < b.len() && is_space(b[*i]) {
            *i += 1;
        }
        if *i >= b.len() {
            return Err(unclosed());
        }
        if b[*i] != b'=' {
            if tag == "blockquote" && attr == "expandable" {
                arg = "expandable".into();
                continue;
            }
            return Err(format!(
                "Expected equal sign in declaration of an attribute of the tag \"{tag}\" at byte offset {begin}"
            ));
        }
        *i += 1;
        while *i < b.len() && is_space(b[*i]) {
            *i += 1;
        }
        if *i >= b.len() {
            return Err(unclosed());
        }
        let value = attr_value(src, i)?;
        match (tag.as_str(), attr.as_str()) {
            ("a", "href") | ("tg-emoji", "emoji-id") => arg = value,
            ("code", "class") => {
                if let Some(lang) = value.strip_prefix("language-") {
                    arg = lang.to_owned();
                }
            }
            ("span", "class") => {
                if let Some(kind) = value.strip_prefix("tg-") {
                    arg = kind.to_owned();
                }
            }
            _ => {} // unknown attributes are ignored, as Telegram does
        }
    }
    if tag == "span" && arg != "spoiler" {
        return Err(format!(
            "Tag \"span\" must have class \"tg-spoiler\" at byte offset {begin}"
        ));
    }
    Ok(Open {
        tag,
        arg,
        offset: 0,
    })
}

fn attr_value(src: &str, i: &mut usize) -> Result<String, String> {
    let b = src.as_bytes();
    let mut value = String::new();
    if b[*i] == b'"' || b[*i] == b'\'' {
        let quote = b[*i];
        *i += 1;
        while *i < b.len() && b[*i] != quote {
            if b[*i] == b'&'
                && let Some((c, len)) = decode_entity(&src[*i..])
            {
                value.push(c);
                *i += len;
                continue;
            }
            let c = src[*i..].chars().next().unwrap_or_default();
            value.push(c);
            *i += c.len_utf8();
        }
        if *i < b.len() {
            *i += 1;
        }
        return Ok(value);
    }
    // An unquoted name token: letters, digits, periods and hyphens.
    let begin = *i;
    while *i < b.len() && (b[*i].is_ascii_alphanumeric() || b[*i] == b'.' || b[*i] == b'-') {
        *i += 1;
    }
    if *i < b.len() && !is_space(b[*i]) && b[*i] != b'>' {
        return Err(format!(
            "Unexpected end of name token at byte offset {begin}"
        ));
    }
    Ok(src[begin..*i].to_ascii_lowercase())
}

fn close(out: &mut Parsed, stack: &mut [Open], open: Open) {
    let length = out.utf16_len() - open.offset;
    if length == 0 {
        return; // Telegram drops empty entities
    }
    let kind = match open.tag.as_str() {
        "b" | "strong" => "bold",
        "i" | "em" => "italic",
        "u" | "ins" => "underline",
        "s" | "strike" | "del" => "strikethrough",
        "tg-spoiler" | "span" => "spoiler",
        "a" if open.arg.is_empty() => return,
        "a" => "text_link",
        "tg-emoji" => "custom_emoji",
        "pre" => "pre",
        "code" => {
            // <pre><code class="language-x">…</code></pre> is one pre entity with a language.
            if let Some(pre) = stack.last_mut()
                && pre.tag == "pre"
                && pre.offset == open.offset
                && !open.arg.is_empty()
            {
                pre.arg = open.arg;
                return;
            }
            "code"
        }
        "blockquote" if open.arg == "expandable" => "expandable_blockquote",
        _ => "blockquote",
    };
    let mut e = Entity::new(kind, open.offset, length);
    match kind {
        "text_link" => e.url = Some(open.arg),
        "custom_emoji" => e.custom_emoji_id = Some(open.arg),
        "pre" if !open.arg.is_empty() => e.language = Some(open.arg),
        _ => {}
    }
    out.entities.push(e);
}

/// `&lt; &gt; &amp; &quot;` and numeric references; anything else stays a literal `&`.
fn decode_entity(s: &str) -> Option<(char, usize)> {
    let end = s.find(';')?;
    let body = &s[1..end];
    let c = match body {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        _ => {
            let num = body.strip_prefix('#')?;
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) if !hex.is_empty() && hex.len() <= 8 => u32::from_str_radix(hex, 16),
                None if !num.is_empty() && num.len() <= 10 => num.parse(),
                _ => return None,
            }
            .ok()?;
            char::from_u32(code).filter(|c| *c != '\0')?
        }
    };
    Some((c, end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Parsed {
        parse(s).unwrap()
    }

    #[test]
    fn tags_and_entities() {
        let p =
            ok("<b>bold</b> &lt;x&gt; &amp; &#128512; <a href=\"https://e.x/?a=1&amp;b=2\">l</a>");
        assert_eq!(p.text, "bold <x> & 😀 l");
        assert_eq!(p.entities[0], Entity::new("bold", 0, 4));
        assert_eq!(p.entities[1].url.as_deref(), Some("https://e.x/?a=1&b=2"));
        assert_eq!(p.entities[1].offset, 14); // the emoji is two UTF-16 units
    }

    #[test]
    fn pre_with_language_and_spoilers() {
        let p = ok(
            "<pre><code class=\"language-rust\">fn x() {}</code></pre><span class=\"tg-spoiler\">s</span><blockquote expandable>q</blockquote>",
        );
        assert_eq!(p.entities[0].kind, "pre");
        assert_eq!(p.entities[0].language.as_deref(), Some("rust"));
        assert_eq!(p.entities[1].kind, "spoiler");
        assert_eq!(p.entities[2].kind, "expandable_blockquote");
    }

    #[test]
    fn telegram_errors() {
        let err = |s: &str| parse(s).unwrap_err();
        assert_eq!(err("a < b"), "Unsupported start tag \"\" at byte offset 2");
        assert_eq!(
            err("<div>x</div>"),
            "Unsupported start tag \"div\" at byte offset 0"
        );
        assert_eq!(
            err("<b>x"),
            "Can't find end tag corresponding to start tag \"b\""
        );
        assert_eq!(err("x</b>"), "Unexpected end tag at byte offset 1");
        assert_eq!(
            err("<b><i>x</b></i>"),
            "Unmatched end tag at byte offset 7, expected \"</i>\", found \"</b>\""
        );
        assert_eq!(err("<b"), "Unclosed start tag at byte offset 0");
        assert_eq!(err("x <"), "Unclosed start tag at byte offset 2");
        assert!(err("<span>x</span>").starts_with("Tag \"span\" must have class"));
    }

    #[test]
    fn bare_ampersand_is_literal() {
        assert_eq!(ok("AT&T &nbsp; &#xZZ;").text, "AT&T &nbsp; &#xZZ;");
    }
}
