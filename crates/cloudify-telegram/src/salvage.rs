//! getUpdates answers teloxide cannot decode as a whole.
//!
//! teloxide decodes a batch in one go: one update with a lone UTF-16 surrogate escape, an
//! `update_id` that is not a `u32`, or an item that is not an object fails the whole batch
//! with `InvalidJson`, and polling again from the same offset fails again, forever. Here the
//! batch is decoded update by update instead: good ones are kept, bad ones skipped, and the
//! offset moves past all of them.

use serde_json::Value;
use teloxide::RequestError;
use teloxide::types::Update;

/// Turns an undecodable getUpdates answer into the updates that can be used, moving
/// `offset` past every update of the batch. Other errors pass through.
pub(crate) fn recover(e: RequestError, offset: &mut i32) -> Result<Vec<Update>, RequestError> {
    let RequestError::InvalidJson { raw, .. } = &e else {
        return Err(e);
    };
    let Some((updates, next)) = salvage(raw, *offset) else {
        return Err(e);
    };
    *offset = (*offset).max(next);
    Ok(updates)
}

/// The decodable updates of a raw answer and the offset confirming the whole batch; `None`
/// when the answer is not an `ok` batch or no update id can be found.
fn salvage(raw: &str, offset: i32) -> Option<(Vec<Update>, i32)> {
    let v: Value = serde_json::from_str(raw)
        .or_else(|_| serde_json::from_str(&replace_lone_surrogates(raw)))
        .ok()?;
    if v.get("ok") != Some(&Value::Bool(true)) {
        return None;
    }
    let items = v.get("result")?.as_array()?;
    let ids = update_ids(items, offset)?;
    let mut updates = Vec::new();
    for (item, id) in items.iter().zip(&ids) {
        // From text, not from the `Value`: teloxide's `UpdateKind` only reads borrowed keys.
        match serde_json::from_str::<Update>(&item.to_string()) {
            Ok(u) => updates.push(u),
            Err(error) => {
                tracing::warn!(update_id = id, %error, "skipping an update that cannot be decoded");
            }
        }
    }
    let last = ids.iter().max().copied().unwrap_or(0);
    Some((
        updates,
        i32::try_from(last.saturating_add(1)).unwrap_or(i32::MAX),
    ))
}

/// Each item's `update_id`; one that is missing or not a number is inferred from its
/// neighbours (Telegram numbers updates sequentially) or, first in a batch, from `offset`.
fn update_ids(items: &[Value], offset: i32) -> Option<Vec<u64>> {
    let read = |item: &Value| {
        let id = item.get("update_id")?;
        id.as_u64()
            .or_else(|| id.as_str().and_then(|s| s.trim().parse().ok()))
            .filter(|id| *id > 0 && *id <= u64::from(u32::MAX))
    };
    let mut ids: Vec<Option<u64>> = items.iter().map(read).collect();
    if ids.first().is_some_and(Option::is_none) {
        // Before the first known id, or where the request said the batch starts.
        let first_known = ids.iter().position(Option::is_some);
        ids[0] = match first_known {
            Some(k) => ids[k].and_then(|id| id.checked_sub(k as u64)),
            None => u64::try_from(offset).ok().filter(|o| *o > 0),
        };
    }
    let mut prev: Option<u64> = None;
    ids.into_iter()
        .map(|id| {
            let id = id.or_else(|| prev.map(|p| p + 1))?;
            prev = Some(id);
            Some(id)
        })
        .collect()
}

/// `\uD800`–`\uDFFF` escapes that do not form a pair become `\uFFFD`, so the text parses.
fn replace_lone_surrogates(raw: &str) -> String {
    let b = raw.as_bytes();
    let hex = |i: usize| -> Option<u16> {
        let h = raw.get(i..i + 4)?;
        u16::from_str_radix(h, 16).ok()
    };
    let is_u_escape = |i: usize| b.get(i) == Some(&b'\\') && b.get(i + 1) == Some(&b'u');
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        if !is_u_escape(i) {
            i += 2; // `\\`, `\"`, …: the escaped byte is never the start of an escape
            continue;
        }
        let Some(unit) = hex(i + 2) else {
            i += 2;
            continue;
        };
        let low_follows =
            is_u_escape(i + 6) && hex(i + 8).is_some_and(|u| (0xDC00..0xE000).contains(&u));
        let len = match unit {
            0xD800..=0xDBFF if low_follows => 12,
            0xD800..=0xDFFF => {
                out.push_str(&raw[copied..i]);
                out.push_str("\\uFFFD");
                copied = i + 6;
                6
            }
            _ => 6,
        };
        i += len;
    }
    out.push_str(&raw[copied.min(raw.len())..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use teloxide::types::UpdateKind;

    #[test]
    fn lone_surrogates_are_replaced_pairs_kept() {
        assert_eq!(
            replace_lone_surrogates(r#""a\ud800b\udc00\ud83d\ude00\\ud800""#),
            r#""a\uFFFDb\uFFFD\ud83d\ude00\\ud800""#
        );
    }

    #[test]
    fn ids_are_inferred_from_neighbours() {
        let items: Vec<Value> = serde_json::from_str(
            r#"[7, {"update_id": "11"}, {"update_id": -1}, {"update_id": 13}, null]"#,
        )
        .unwrap_or_default();
        assert_eq!(update_ids(&items, 0), Some(vec![10, 11, 12, 13, 14]));
        assert_eq!(update_ids(&items[..1], 5), Some(vec![5]));
        assert_eq!(update_ids(&items[..1], 0), None);
    }

    #[test]
    fn a_batch_with_a_bad_update_keeps_the_good_ones() {
        let raw = r#"{"ok":true,"result":[{"update_id":"x"},{"update_id":8,"message":{"message_id":1,"date":0,"chat":{"id":1,"type":"private","first_name":"A"},"text":"hi \udfff"}}]}"#;
        let (updates, next) = salvage(raw, 0).unwrap_or_default();
        assert_eq!(updates.len(), 1);
        assert!(
            matches!(&updates[0].kind, UpdateKind::Message(m) if m.text() == Some("hi \u{FFFD}"))
        );
        assert_eq!(next, 9);
    }
}
