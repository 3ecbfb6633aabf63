//! Telegram's MarkdownV2 and legacy Markdown parse modes, after TDLib's parsers.

use super::html::Parsed;
use super::model::Entity;

const RESERVED: &[u8] = b"_*[]()~`>#+-=|{}.!";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Bold,
    Italic,
    Underline,
    Strike,
    Spoiler,
    Code,
    Pre,
    TextUrl,
    Emoji,
}

struct Open {
    kind: Kind,
    offset: usize,
    begin: usize,
    arg: String,
}

fn unclosed(begin: usize) -> String {
    format!("Can't find end of the entity starting at byte offset {begin}")
}

fn next_char(src: &str, i: usize) -> char {
    src[i..].chars().next().unwrap_or_default()
}

/// MarkdownV2; the error is the part after "Bad Request: can't parse entities: ".
pub(crate) fn parse_v2(src: &str) -> Result<Parsed, String> {
    let b = src.as_bytes();
    let mut out = Parsed::default();
    let mut stack: Vec<Open> = Vec::new();
    let mut quote: Option<(usize, bool)> = None;
    let mut i = 0;
    while i < b.len() {
        let top = stack.last().map(|o| o.kind);
        let in_code = matches!(top, Some(Kind::Code | Kind::Pre));
        if !in_code && (i == 0 || b[i - 1] == b'\n') {
            let marker = if b[i] == b'>' {
                Some((1, false))
            } else {
                src[i..].starts_with("**>").then_some((3, true))
            };
            if let Some((len, expandable)) = marker {
                quote.get_or_insert((out.utf16_len(), expandable));
                i += len;
                continue;
            }
            if let Some((start, expandable)) = quote.take() {
                // The quote ended with the previous line; its newline is not part of it.
                let end = out.utf16_len() - 1;
                end_quote(&mut out, start, end, expandable);
            }
        }
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == b'\\' && next.is_some_and(|n| (1..=126).contains(&n)) {
            out.push(char::from(b[i + 1]));
            i += 2;
            continue;
        }
        if in_code {
            let closes = if top == Some(Kind::Code) {
                c == b'`'
            } else {
                src[i..].starts_with("```")
            };
            if closes {
                let open = stack.pop().unwrap_or_else(|| unreachable!());
                i += if open.kind == Kind::Pre { 3 } else { 1 };
                close(&mut out, open, None);
            } else {
                out.push(next_char(src, i));
                i += next_char(src, i).len_utf8();
            }
            continue;
        }
        if !RESERVED.contains(&c) {
            out.push(next_char(src, i));
            i += next_char(src, i).len_utf8();
            continue;
        }
        let closes = match top {
            Some(Kind::Bold) => c == b'*',
            Some(Kind::Italic) => c == b'_',
            Some(Kind::Underline) => c == b'_' && next == Some(b'_'),
            Some(Kind::Strike) => c == b'~',
            Some(Kind::Spoiler) => c == b'|' && next == Some(b'|'),
            Some(Kind::TextUrl | Kind::Emoji) => c == b']',
            _ => false,
        };
        if closes {
            let open = stack.pop().unwrap_or_else(|| unreachable!());
            i += if matches!(open.kind, Kind::Underline | Kind::Spoiler) {
                2
            } else {
                1
            };
            let url = if matches!(open.kind, Kind::TextUrl | Kind::Emoji) {
                Some(link_url(src, &mut i)?)
            } else {
                None
            };
            close(&mut out, open, url);
            continue;
        }
        // `||` closing the last line of an expandable quote.
        if quote.is_some()
            && c == b'|'
            && next == Some(b'|')
            && matches!(b.get(i + 2), None | Some(b'\n'))
        {
            quote = quote.map(|(start, _)| (start, true));
            i += 2;
            continue;
        }
        let (kind, len) = match c {
            b'_' if next == Some(b'_') => (Kind::Underline, 2),
            b'_' => (Kind::Italic, 1),
            b'*' => (Kind::Bold, 1),
            b'~' => (Kind::Strike, 1),
            b'|' if next == Some(b'|') => (Kind::Spoiler, 2),
            b'[' => (Kind::TextUrl, 1),
            b'!' if next == Some(b'[') => (Kind::Emoji, 2),
            b'`' if src[i..].starts_with("```") => (Kind::Pre, 3),
            b'`' => (Kind::Code, 1),
            _ => {
                return Err(format!(
                    "Character '{}' is reserved and must be escaped with the preceding '\\'",
                    char::from(c)
                ));
            }
        };
        let begin = i;
        i += len;
        let arg = if kind == Kind::Pre {
            pre_language(src, &mut i)
        } else {
            String::new()
        };
        stack.push(Open {
            kind,
            offset: out.utf16_len(),
            begin,
            arg,
        });
    }
    if let Some(open) = stack.last() {
        return Err(unclosed(open.begin));
    }
    if let Some((start, expandable)) = quote {
        let end = out.utf16_len();
        end_quote(&mut out, start, end, expandable);
    }
    out.entities
        .sort_by_key(|e| (e.offset, std::cmp::Reverse(e.length)));
    Ok(out)
}

fn end_quote(out: &mut Parsed, start: usize, end: usize, expandable: bool) {
    if end > start {
        let kind = if expandable {
            "expandable_blockquote"
        } else {
            "blockquote"
        };
        out.entities.push(Entity::new(kind, start, end - start));
    }
}

/// ```` ```lang ```` : a language is a run of non-space characters followed by a space or
/// newline; one newline after the opening fence is not part of the text.
fn pre_language(src: &str, i: &mut usize) -> String {
    let b = src.as_bytes();
    let mut end = *i;
    while end < b.len() && !b[end].is_ascii_whitespace() && b[end] != b'`' {
        end += 1;
    }
    let mut lang = String::new();
    if end != *i && end < b.len() && b[end] != b'`' {
        lang = src[*i..end].to_owned();
        *i = end;
    }
    if *i < b.len() && (b[*i] == b'\n' || b[*i] == b'\r') {
        *i += 1;
    }
    lang
}

/// `(url)` after a link's `]`; inside it `)` and `\` are escaped.
fn link_url(src: &str, i: &mut usize) -> Result<String, String> {
    let b = src.as_bytes();
    if b.get(*i) != Some(&b'(') {
        return Ok(String::new());
    }
    let begin = *i;
    *i += 1;
    let mut url = String::new();
    while *i < b.len() && b[*i] != b')' {
        if b[*i] == b'\\' && *i + 1 < b.len() {
            *i += 1;
        }
        let c = next_char(src, *i);
        url.push(c);
        *i += c.len_utf8();
    }
    if *i >= b.len() {
        return Err(unclosed(begin));
    }
    *i += 1;
    Ok(url)
}

fn close(out: &mut Parsed, open: Open, url: Option<String>) {
    let length = out.utf16_len() - open.offset;
    if length == 0 {
        return;
    }
    let kind = match open.kind {
        Kind::Bold => "bold",
        Kind::Italic => "italic",
        Kind::Underline => "underline",
        Kind::Strike => "strikethrough",
        Kind::Spoiler => "spoiler",
        Kind::Code => "code",
        Kind::Pre => "pre",
        Kind::TextUrl => "text_link",
        Kind::Emoji => "custom_emoji",
    };
    let mut e = Entity::new(kind, open.offset, length);
    match open.kind {
        Kind::Pre if !open.arg.is_empty() => e.language = Some(open.arg),
        Kind::TextUrl => match url.filter(|u| !u.is_empty()) {
            Some(url) => e.url = Some(url),
            None => return,
        },
        Kind::Emoji => {
            let url = url.unwrap_or_default();
            e.custom_emoji_id = url.split_once("id=").map(|(_, id)| id.to_owned());
        }
        _ => {}
    }
    out.entities.push(e);
}

/// Legacy Markdown: `*bold*`, `_italic_`, `` `code` ``, ```` ```pre``` ````, `[text](url)`;
/// no nesting, and only `_*`[` can be escaped.
pub(crate) fn parse_v1(src: &str) -> Result<Parsed, String> {
    let b = src.as_bytes();
    let mut out = Parsed::default();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == b'\\' && next.is_some_and(|n| b"_*`[".contains(&n)) {
            out.push(char::from(b[i + 1]));
            i += 2;
            continue;
        }
        if !b"_*`[".contains(&c) {
            out.push(next_char(src, i));
            i += next_char(src, i).len_utf8();
            continue;
        }
        let begin = i;
        let (kind, end) = match c {
            b'*' => ("bold", "*"),
            b'_' => ("italic", "_"),
            b'[' => ("text_link", "]"),
            _ if src[i..].starts_with("```") => ("pre", "```"),
            _ => ("code", "`"),
        };
        i += end.len();
        let lang = if kind == "pre" {
            pre_language(src, &mut i)
        } else {
            String::new()
        };
        let offset = out.utf16_len();
        while !src[i..].starts_with(end) {
            if i >= b.len() {
                return Err(unclosed(begin));
            }
            out.push(next_char(src, i));
            i += next_char(src, i).len_utf8();
        }
        i += end.len();
        let mut e = Entity::new(kind, offset, out.utf16_len() - offset);
        if kind == "text_link" {
            let url = link_url_v1(src, &mut i);
            if url.is_empty() {
                continue;
            }
            e.url = Some(url);
        }
        if !lang.is_empty() {
            e.language = Some(lang);
        }
        if e.length > 0 {
            out.entities.push(e);
        }
    }
    Ok(out)
}

fn link_url_v1(src: &str, i: &mut usize) -> String {
    let rest = &src[*i..];
    match rest
        .strip_prefix('(')
        .and_then(|r| r.find(')').map(|end| &r[..end]))
    {
        Some(url) => {
            *i += url.len() + 2;
            url.to_owned()
        }
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_entities() {
        let p = parse_v2("*b* _i_ __u__ ~s~ ||sp|| `c` [l](https://e.x/a\\)) \\.").unwrap();
        assert_eq!(p.text, "b i u s sp c l .");
        let kinds: Vec<_> = p.entities.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "bold",
                "italic",
                "underline",
                "strikethrough",
                "spoiler",
                "code",
                "text_link"
            ]
        );
        assert_eq!(p.entities[6].url.as_deref(), Some("https://e.x/a)"));
    }

    #[test]
    fn v2_pre_and_quote() {
        let p = parse_v2("```rust\nlet x = 1.0;\n```\n>quoted\\.\\!\n>more\nafter").unwrap();
        assert_eq!(p.text, "let x = 1.0;\n\nquoted.!\nmore\nafter");
        assert_eq!(p.entities[0].language.as_deref(), Some("rust"));
        assert_eq!(p.entities[1].kind, "blockquote");
        assert_eq!(p.entities[1].length, "quoted.!\nmore".len());
    }

    #[test]
    fn v2_errors() {
        assert_eq!(
            parse_v2("Hello. World").unwrap_err(),
            "Character '.' is reserved and must be escaped with the preceding '\\'"
        );
        assert_eq!(
            parse_v2("a *bold").unwrap_err(),
            "Can't find end of the entity starting at byte offset 2"
        );
        assert!(parse_v2("x > y").is_err());
        assert!(parse_v2("a-b").is_err());
    }

    #[test]
    fn v1() {
        let p = parse_v1("*b* a.b-c [l](http://x) ```py\nx```").unwrap();
        assert_eq!(p.text, "b a.b-c l x");
        assert_eq!(p.entities.len(), 3);
        assert!(parse_v1("snake_case").is_err());
    }
}
