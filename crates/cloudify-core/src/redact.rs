//! Outbound secret redaction (SPEC §4): text bound for an IM is scrubbed of obvious
//! secrets — bearer tokens, `password=`-style pairs and well-known API-key shapes.

use regex::{Captures, Regex};
use std::borrow::Cow;
use std::sync::LazyLock;

/// `key=value` / `key: value` pairs whose value is a secret.
static PAIRS: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)\b((?:password|passwd|pwd|token|secret|api[_-]?key|access[_-]?key|client[_-]?secret|auth)["']?\s*[:=]\s*["']?)([^\s"'&,;]{3,})"#,
    )
    .ok()
});

/// `Authorization: Bearer …` / `Basic …`.
static BEARER: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i)\b(bearer|basic)\s+([A-Za-z0-9._~+/=-]{8,})").ok());

/// Key shapes that are secrets wherever they appear.
static SHAPES: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\b(?:sk-[A-Za-z0-9_-]{20,}",  // OpenAI / Anthropic style
        r"|gh[pousr]_[A-Za-z0-9]{30,}", // GitHub tokens
        r"|github_pat_[A-Za-z0-9_]{30,}",
        r"|xox[abprs]-[A-Za-z0-9-]{10,}",     // Slack
        r"|AKIA[0-9A-Z]{16}",                 // AWS access key id
        r"|AIza[0-9A-Za-z_-]{35}",            // Google API key
        r"|[0-9]{8,10}:[A-Za-z0-9_-]{35})\b", // Telegram bot token
    ))
    .ok()
});

/// `scheme://user:password@host` credentials in URLs.
static URL_CREDS: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+:)([^\s@/]+)(@)").ok());

/// This deployment's own secrets (bot token, app secret, passwords): redacted wherever they
/// appear, in any wording, since the agent can read them from the environment or config.
static KNOWN: std::sync::RwLock<Vec<String>> = std::sync::RwLock::new(Vec::new());

/// Shorter values would redact ordinary words.
const MIN_KNOWN_LEN: usize = 6;

/// Adds a value that must never leave for an IM (ignored when empty or too short to be a
/// secret). Longest first, so a secret containing another is scrubbed whole.
pub fn register_known(secret: &str) {
    let secret = secret.trim();
    if secret.chars().count() < MIN_KNOWN_LEN {
        return;
    }
    let mut known = KNOWN
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !known.iter().any(|k| k == secret) {
        known.push(secret.to_owned());
        known.sort_by_key(|k| std::cmp::Reverse(k.len()));
    }
}

/// Returns `text` with secrets replaced by `***`. Borrowed when nothing matched.
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    {
        let known = KNOWN
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for k in known.iter() {
            if out.contains(k.as_str()) {
                out = Cow::Owned(out.replace(k.as_str(), "***"));
            }
        }
    }
    if let Some(re) = URL_CREDS.as_ref() {
        out = replace(out, re, |c| format!("{}***{}", &c[1], &c[3]));
    }
    if let Some(re) = BEARER.as_ref() {
        out = replace(out, re, |c| format!("{} ***", &c[1]));
    }
    if let Some(re) = PAIRS.as_ref() {
        out = replace(out, re, |c| format!("{}***", &c[1]));
    }
    if let Some(re) = SHAPES.as_ref() {
        out = replace(out, re, |_| "***".to_string());
    }
    out
}

fn replace<'a>(
    text: Cow<'a, str>,
    re: &Regex,
    f: impl Fn(&Captures<'_>) -> String,
) -> Cow<'a, str> {
    if !re.is_match(&text) {
        return text;
    }
    Cow::Owned(re.replace_all(&text, |c: &Captures<'_>| f(c)).into_owned())
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn scrubs_common_secrets() {
        let cases = [
            (
                "curl -H 'Authorization: Bearer abcdef123456789'",
                "abcdef123456789",
            ),
            ("export PASSWORD=hunter22", "hunter22"),
            ("db url?token=s3cr3tvalue&x=1", "s3cr3tvalue"),
            ("api_key: \"AAAABBBBCCCC\"", "AAAABBBBCCCC"),
            (
                "key sk-proj-abcdefghijklmnopqrstuvwx",
                "sk-proj-abcdefghijklmnopqrstuvwx",
            ),
            (
                "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
                "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            ),
            ("AKIAABCDEFGHIJKLMNOP in env", "AKIAABCDEFGHIJKLMNOP"),
            (
                "bot 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0 ok",
                "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0",
            ),
            ("proxy http://bob:pa55word@proxy:8080", "pa55word"),
        ];
        for (input, secret) in cases {
            let out = redact(input);
            assert!(!out.contains(secret), "{input} -> {out}");
            assert!(out.contains("***"), "{input} -> {out}");
        }
    }

    #[test]
    fn this_deployments_own_secrets_are_scrubbed_in_any_wording() {
        super::register_known("dt-Secret-Value-for-redact-test-77");
        super::register_known("abc"); // too short to be a secret: ignored
        let out = redact("the app secret is dt-Secret-Value-for-redact-test-77, see abc");
        assert_eq!(out, "the app secret is ***, see abc");
    }

    #[test]
    fn leaves_ordinary_text_alone() {
        for t in [
            "fn main() { println!(\"hi\"); }",
            "the password field is empty",
            "cargo test -- --nocapture",
        ] {
            assert!(matches!(redact(t), std::borrow::Cow::Borrowed(_)), "{t}");
        }
    }
}

use crate::output::{Output, Prompt};

/// Scrubs every text field of an output before it leaves for an IM (SPEC §4). Images are
/// already pixels; code and diffs are still text here, so they are covered before rendering.
pub fn redact_output(out: Output) -> Output {
    let r = |s: String| match redact(&s) {
        Cow::Borrowed(_) => s,
        Cow::Owned(o) => o,
    };
    match out {
        Output::Text { text } => Output::Text { text: r(text) },
        Output::Plain { text } => Output::Plain { text: r(text) },
        Output::Notice { text } => Output::Notice { text: r(text) },
        Output::Tool { line } => Output::Tool { line: r(line) },
        Output::Code {
            language,
            code,
            file_name,
        } => Output::Code {
            language,
            code: r(code),
            file_name,
        },
        Output::Diff { title, patch } => Output::Diff {
            title,
            patch: r(patch),
        },
        Output::Error { message, trace } => Output::Error {
            message: r(message),
            trace: trace.map(r),
        },
        Output::Progress(mut p) => {
            p.status = r(p.status);
            p.answer = r(p.answer);
            p.tool = p.tool.map(r);
            for t in &mut p.todos {
                t.text = r(std::mem::take(&mut t.text));
            }
            Output::Progress(p)
        }
        Output::Prompt(Prompt {
            text,
            detail,
            buttons,
        }) => {
            let buttons = buttons
                .into_iter()
                .map(|row| {
                    row.into_iter()
                        .map(|mut b| {
                            b.label = r(b.label);
                            b
                        })
                        .collect()
                })
                .collect();
            Output::Prompt(Prompt {
                text: r(text),
                detail: detail.map(r),
                buttons,
            })
        }
        img @ Output::Image { .. } => img,
    }
}

#[cfg(test)]
mod output_tests {
    use super::redact_output;
    use crate::output::{Output, Progress, Prompt, TodoLine};

    #[test]
    fn every_text_field_is_scrubbed() {
        let secret = "password=hunter22";
        let p = redact_output(Output::Progress(Progress {
            status: secret.into(),
            answer: secret.into(),
            tool: Some(secret.into()),
            todos: vec![TodoLine {
                done: false,
                active: true,
                text: secret.into(),
            }],
        }));
        assert!(!format!("{p:?}").contains("hunter22"), "{p:?}");
        let q = redact_output(Output::Prompt(Prompt {
            text: secret.into(),
            detail: Some(secret.into()),
            buttons: vec![],
        }));
        assert!(!format!("{q:?}").contains("hunter22"));
        let d = redact_output(Output::Diff {
            title: None,
            patch: format!("+{secret}\n"),
        });
        assert!(!format!("{d:?}").contains("hunter22"));
    }
}
