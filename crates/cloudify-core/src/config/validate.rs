//! Checks serde cannot express: URLs, ranges, absolute paths.

use super::source::describe_source;
use super::{Config, ConfigError};
use figment::Figment;
use std::path::Path;

pub(super) fn check(c: &Config, figment: &Figment, file: &Path) -> Result<(), ConfigError> {
    let fail = |key: &str, message: String| ConfigError::Invalid {
        key: key.into(),
        source_name: describe_source(figment.find_metadata(key), key, file),
        message,
    };
    let url = |key: &str, value: &str, schemes: &[&str]| -> Result<(), ConfigError> {
        match url::Url::parse(value) {
            Ok(u) if schemes.contains(&u.scheme()) && u.has_host() => Ok(()),
            Ok(u) => Err(fail(
                key,
                format!(
                    "scheme `{}` is not allowed here; use {}",
                    u.scheme(),
                    schemes.join(" or ")
                ),
            )),
            // Never echo a proxy URL back: it may hold a password.
            Err(e) => Err(fail(key, format!("not a valid URL ({e})"))),
        }
    };
    let range = |key: &str, value: u64, min: u64, max: u64| -> Result<(), ConfigError> {
        if (min..=max).contains(&value) {
            Ok(())
        } else {
            Err(fail(key, format!("{value} is out of range {min}..={max}")))
        }
    };
    let web = &["http", "https"];
    url("telegram.api_url", &c.telegram.api_url, web)?;
    url("dingtalk.api_url", &c.dingtalk.api_url, web)?;
    url("dingtalk.oapi_url", &c.dingtalk.oapi_url, web)?;
    url("opencode.url", &c.opencode.url, web)?;
    url("update_check.url", &c.update_check.url, web)?;
    if !c.web_terminal.public_url.is_empty() {
        url("web_terminal.public_url", &c.web_terminal.public_url, web)?;
    }
    if !c.proxy.url.is_empty() {
        url(
            "proxy.url",
            c.proxy.url.expose(),
            &["http", "https", "socks5", "socks5h"],
        )?;
    } else if c.proxy.enabled {
        return Err(fail(
            "proxy.enabled",
            "the proxy is enabled but proxy.url is empty".into(),
        ));
    }
    if !c.opencode.directory.starts_with('/') {
        return Err(fail(
            "opencode.directory",
            "must be an absolute path".into(),
        ));
    }
    if c.opencode.username.is_empty() {
        return Err(fail("opencode.username", "must not be empty".into()));
    }
    if !c.telegram.token.is_empty() && !looks_like_bot_token(c.telegram.token.expose()) {
        return Err(fail(
            "telegram.token",
            "does not look like a bot token from @BotFather (digits:letters)".into(),
        ));
    }
    if c.dingtalk.app_key.is_empty() != c.dingtalk.app_secret.is_empty() {
        let key = if c.dingtalk.app_key.is_empty() {
            "dingtalk.app_key"
        } else {
            "dingtalk.app_secret"
        };
        return Err(fail(
            key,
            "DingTalk needs both app_key and app_secret".into(),
        ));
    }
    range(
        "opencode.turn_timeout_secs",
        c.opencode.turn_timeout_secs,
        10,
        7 * 24 * 3600,
    )?;
    range(
        "message_image_threshold",
        c.message_image_threshold.into(),
        1,
        10_000,
    )?;
    range(
        "max_offline_messages",
        c.max_offline_messages.into(),
        1,
        1000,
    )?;
    range("presence_minutes", c.presence_minutes.into(), 1, 24 * 60)?;
    range(
        "stream_edit_interval_ms",
        c.stream_edit_interval_ms,
        500,
        60_000,
    )?;
    if c.binding.code_ttl != 0 {
        // Tokens carry their issue minute: shorter lifetimes cannot be told apart.
        range("binding.code_ttl", c.binding.code_ttl, 60, 365 * 24 * 3600)?;
    }
    if c.web_terminal.port == 0 {
        return Err(fail("web_terminal.port", "must not be 0".into()));
    }
    Ok(())
}

/// `123456789:AA...`: a numeric bot id, a colon, then the secret part.
fn looks_like_bot_token(t: &str) -> bool {
    match t.split_once(':') {
        Some((id, rest)) => {
            !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_digit())
                && rest.len() >= 8
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        }
        None => false,
    }
}
