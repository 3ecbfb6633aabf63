//! Client configuration.

use std::fmt;
use std::time::Duration;

use url::Url;

use crate::error::{Error, Result};

/// A password that never shows up in logs (`Debug`/`Display` print `***`).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    #[must_use]
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself; only for building the `Authorization` header.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How to reach one OpenCode instance (server URL + project directory).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// e.g. `http://127.0.0.1:4096`.
    pub base_url: Url,
    /// Project directory sent as `x-opencode-directory`; `None` = the server's cwd.
    pub directory: Option<String>,
    /// Basic-auth user (OpenCode's default is `opencode`).
    pub username: String,
    /// Basic-auth password; `None` or empty = no auth.
    pub password: Option<Secret>,
    /// Total timeout of an ordinary request.
    pub request_timeout: Duration,
    /// TCP connect timeout (also for the event stream).
    pub connect_timeout: Duration,
    /// Per-try timeout of `/global/health`: the port hangs during start-up (API.md §2).
    pub health_timeout: Duration,
    /// Tries of [`crate::Client::health`] before giving up.
    pub health_attempts: u32,
}

impl ClientConfig {
    /// Config with defaults for the given server URL.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] when `base_url` is not an absolute http(s) URL.
    pub fn new(base_url: &str) -> Result<Self> {
        let mut url =
            Url::parse(base_url).map_err(|e| Error::InvalidUrl(format!("{base_url}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
            return Err(Error::InvalidUrl(base_url.to_owned()));
        }
        // Joining relative paths needs a trailing slash on the base.
        if !url.path().ends_with('/') {
            let p = format!("{}/", url.path());
            url.set_path(&p);
        }
        Ok(Self {
            base_url: url,
            directory: None,
            username: "opencode".to_owned(),
            password: None,
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            health_timeout: Duration::from_millis(800),
            health_attempts: 5,
        })
    }

    /// Sets the project directory.
    #[must_use]
    pub fn directory(mut self, dir: impl Into<String>) -> Self {
        self.directory = Some(dir.into());
        self
    }

    /// Sets basic-auth credentials; an empty password disables auth.
    #[must_use]
    pub fn basic_auth(mut self, username: impl Into<String>, password: Secret) -> Self {
        self.username = username.into();
        self.password = (!password.expose().is_empty()).then_some(password);
        self
    }

    /// Sets the ordinary request timeout.
    #[must_use]
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.request_timeout = t;
        self
    }
}

/// `encodeURIComponent`: the server decodes the directory header exactly once.
pub(crate) fn encode_uri_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_hidden() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "*** ***");
        let c = ClientConfig::new("http://x:1").unwrap().basic_auth("u", s);
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn base_url_gets_slash_and_rejects_garbage() {
        assert_eq!(
            ClientConfig::new("http://h:1/oc")
                .unwrap()
                .base_url
                .as_str(),
            "http://h:1/oc/"
        );
        assert!(ClientConfig::new("ftp://h").is_err());
        assert!(ClientConfig::new("nope").is_err());
    }

    #[test]
    fn uri_component() {
        assert_eq!(encode_uri_component("/a b/ü"), "%2Fa%20b%2F%C3%BC");
    }
}
