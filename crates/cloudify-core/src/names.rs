//! Instance names. A name shows up in chats, in `/switch <name>`, in the CLI and in file names
//! (`qr/<name>.png`), so it is kept to `[a-z0-9][a-z0-9_-]{0,31}` after ASCII case folding.
//! Only ASCII: a Cyrillic `а` that looks like a Latin `a` is refused, so two names that look
//! the same are the same name.
//!
//! Names stored by older builds that break the rule stay usable (lookups are by exact name),
//! but no new name may break it, and no path is built from them (see [`file_in`]).

use std::path::{Path, PathBuf};
use thiserror::Error;

/// Longest instance name.
pub const MAX_NAME_LEN: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    #[error(
        "`{0}` is not a valid instance name: use 1 to 32 of a-z, 0-9, `-` and `_`, starting with a letter or digit"
    )]
    Invalid(String),
}

/// Whether `name` already follows the rule (no folding).
pub fn is_valid(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_NAME_LEN
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_')
}

/// A name as typed (CLI, `/rename`, HTTP): trimmed and ASCII-lowercased, then checked.
pub fn check(raw: &str) -> Result<String, NameError> {
    let folded = raw.trim().to_ascii_lowercase();
    if is_valid(&folded) {
        Ok(folded)
    } else {
        Err(NameError::Invalid(shown(raw)))
    }
}

/// A name made from something that is not a name (a directory's base name for the default
/// instance): case folded, every run of other characters becomes `-`, cut to fit.
pub fn sanitize(raw: &str) -> Option<String> {
    let mut out = String::new();
    for c in raw.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out: String = out
        .trim_start_matches('_')
        .chars()
        .take(MAX_NAME_LEN)
        .collect();
    let out = out.trim_end_matches('-').to_string();
    is_valid(&out).then_some(out)
}

/// `base` with a `-n` suffix, `base` cut so the whole stays within [`MAX_NAME_LEN`].
pub fn with_suffix(base: &str, n: u32) -> String {
    let suffix = format!("-{n}");
    let keep = MAX_NAME_LEN.saturating_sub(suffix.len()).min(base.len());
    format!("{}{suffix}", &base[..keep])
}

/// The file `<dir>/<name>.<ext>` for an instance, only when the name is valid and the result
/// is a direct child of `dir`; `None` otherwise (callers fall back to the instance id).
pub fn file_in(dir: &Path, name: &str, ext: &str) -> Option<PathBuf> {
    if !is_valid(name) {
        return None;
    }
    let path = dir.join(format!("{name}.{ext}"));
    (path.parent() == Some(dir)).then_some(path)
}

/// The name for messages: control characters escaped, at most 40 characters.
fn shown(raw: &str) -> String {
    let escaped: String = raw.chars().flat_map(char::escape_debug).collect();
    let mut s: String = escaped.chars().take(40).collect();
    if escaped.chars().count() > 40 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_rule_after_case_folding() {
        assert_eq!(check("App").unwrap(), "app");
        assert_eq!(check(" my_app-2 ").unwrap(), "my_app-2");
        assert_eq!(check(&"a".repeat(32)).unwrap(), "a".repeat(32));
    }

    #[test]
    fn refuses_paths_controls_lookalikes_and_long_names() {
        let long = "a".repeat(300);
        for bad in [
            "../x",
            "a/b",
            "/abs",
            "..",
            "a\0b",
            "\0",
            long.as_str(),
            &"a".repeat(33),
            "\u{0430}pp", // Cyrillic а
            "ａｐｐ",     // full-width
            "-app",
            "_app",
            "my app",
            "",
            "a.png",
        ] {
            assert!(check(bad).is_err(), "{bad:?} was accepted");
        }
        let msg = check(&long).unwrap_err().to_string();
        assert!(msg.len() < 200, "{msg}");
        assert!(check("a\0b").unwrap_err().to_string().contains("\\0"));
    }

    #[test]
    fn sanitize_folds_directory_names() {
        assert_eq!(sanitize("My Project").as_deref(), Some("my-project"));
        assert_eq!(sanitize("workspace").as_deref(), Some("workspace"));
        assert_eq!(sanitize("..").as_deref(), None);
        assert_eq!(sanitize("проект").as_deref(), None);
        assert_eq!(sanitize(&"x".repeat(50)).unwrap().len(), MAX_NAME_LEN);
    }

    #[test]
    fn suffix_keeps_the_limit() {
        assert_eq!(with_suffix("app", 2), "app-2");
        let long = "a".repeat(32);
        let s = with_suffix(&long, 12);
        assert_eq!(s.len(), 32);
        assert!(is_valid(&s));
    }

    #[test]
    fn files_stay_in_their_directory() {
        let dir = Path::new("/data/qr");
        assert_eq!(
            file_in(dir, "app", "png"),
            Some(PathBuf::from("/data/qr/app.png"))
        );
        for bad in ["../evil", "/abs", "a/b", "..", "Bad", ""] {
            assert_eq!(file_in(dir, bad, "png"), None, "{bad}");
        }
    }
}
