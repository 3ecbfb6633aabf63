//! Turning a `text`/`caption` parameter into what Telegram stores, with Telegram's errors.

use serde_json::Value;

use super::html::{self, Parsed};
use super::markdown;
use super::model::{Entity, FormattedText};
use super::params::ApiError;

pub(crate) const MAX_TEXT: usize = 4096;
pub(crate) const MAX_CAPTION: usize = 1024;

/// Parses markup (or takes explicit `entities`, which win over `parse_mode`) and trims
/// surrounding whitespace as Telegram does. Lengths are checked by the caller.
pub(crate) fn format(
    raw: &str,
    parse_mode: Option<&str>,
    entities: Option<&Value>,
) -> Result<FormattedText, ApiError> {
    let cant_parse = |e: String| ApiError::bad(&format!("can't parse entities: {e}"));
    let parsed = if let Some(list) = entities.and_then(Value::as_array) {
        let entities = list.iter().filter_map(Entity::from_json).collect();
        Parsed {
            text: raw.to_owned(),
            entities,
        }
    } else {
        match parse_mode.map(str::to_ascii_lowercase).as_deref() {
            None | Some("") => Parsed {
                text: raw.to_owned(),
                entities: vec![],
            },
            Some("html") => html::parse(raw).map_err(cant_parse)?,
            Some("markdownv2") => markdown::parse_v2(raw).map_err(cant_parse)?,
            Some("markdown") => markdown::parse_v1(raw).map_err(cant_parse)?,
            Some(_) => return Err(ApiError::bad("unsupported parse_mode")),
        }
    };
    let Parsed { text, entities } = trim(parsed);
    Ok(FormattedText {
        raw: raw.to_owned(),
        parse_mode: parse_mode.map(str::to_owned),
        text,
        entities,
    })
}

/// Length as Telegram counts it for the 4096/1024 limits: Unicode code points.
pub(crate) fn length(t: &FormattedText) -> usize {
    t.text.chars().count()
}

fn trim(p: Parsed) -> Parsed {
    let lead = p.text.len() - p.text.trim_start().len();
    let shift = p.text[..lead].encode_utf16().count();
    let text = p.text.trim().to_owned();
    let end = text.encode_utf16().count();
    let entities = p
        .entities
        .into_iter()
        .filter_map(|mut e| {
            let start = e.offset.saturating_sub(shift).min(end);
            let stop = (e.offset + e.length).saturating_sub(shift).min(end);
            e.offset = start;
            e.length = stop - start;
            (e.length > 0).then_some(e)
        })
        .collect();
    Parsed { text, entities }
}

/// `/cmd` or `/cmd@bot` at the start of a user's text, as Telegram clients mark it: command
/// names are `[A-Za-z0-9_]`, so `/reset-qr` is marked as `/reset` only.
pub(crate) fn command_entities(text: &str) -> Vec<Entity> {
    let word = |s: &str| {
        s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len())
    };
    let Some(rest) = text.strip_prefix('/') else {
        return vec![];
    };
    let mut end = 1 + word(rest);
    if end == 1 {
        return vec![];
    }
    if let Some(bot) = text[end..].strip_prefix('@') {
        let len = word(bot);
        if len > 0 {
            end += 1 + len;
        }
    }
    vec![Entity::new("bot_command", 0, end)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_shifts_entities() {
        let t = format("\n  <b>hi</b> there \n", Some("HTML"), None).unwrap();
        assert_eq!(t.text, "hi there");
        assert_eq!(t.entities, vec![Entity::new("bold", 0, 2)]);
    }

    #[test]
    fn command_entity_stops_where_telegram_does() {
        let len = |t: &str| command_entities(t).first().map(|e| e.length);
        assert_eq!(len("/start abc"), Some(6));
        assert_eq!(len("/start@cloudify_test_bot x"), Some(24));
        assert_eq!(len("/reset-qr"), Some(6));
        assert_eq!(len("/ x"), None);
        assert_eq!(len("hi /start"), None);
    }

    #[test]
    fn errors_are_telegrams() {
        let e = format("<x>", Some("HTML"), None).unwrap_err();
        assert_eq!(
            e.description,
            "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0"
        );
        assert_eq!(format("x", Some("foo"), None).unwrap_err().status, 400);
    }
}
