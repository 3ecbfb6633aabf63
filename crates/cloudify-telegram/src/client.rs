//! Options and the HTTP clients behind the two `Bot`s (one for calls, one for long polls).

use std::path::PathBuf;
use std::time::Duration;

use cloudify_core::Secret;
use cloudify_core::secret::mask_url_password;
use teloxide::Bot;
use thiserror::Error;

use crate::commands::MenuCommand;

/// How to reach Telegram and how to format for it.
#[derive(Debug, Clone)]
pub struct TelegramOptions {
    pub token: Secret,
    /// `telegram.api_url` (`TELEGRAM_API_URL`): the Bot API or a fake / self-hosted one.
    pub api_url: String,
    /// Outbound proxy URL (`http://`, `https://`, `socks5://`, `socks5h://`), if enabled.
    pub proxy: Option<Secret>,
    /// `message_image_threshold`: code blocks up to this many lines stay inline text.
    pub inline_code_max_lines: usize,
    /// The menu registered with `setMyCommands` (English default, Chinese for `zh`);
    /// `new` fills in every command of the core's table.
    pub commands: Vec<MenuCommand>,
    /// Directory for rendered pages (`/data/cache/rendered`); `None` renders every time.
    pub render_cache: Option<PathBuf>,
    /// How long one getUpdates waits on Telegram's side.
    pub poll_timeout: Duration,
    /// Total time allowed for any other call (uploads included).
    pub request_timeout: Duration,
}

impl TelegramOptions {
    pub fn new(token: Secret) -> Self {
        Self {
            token,
            api_url: "https://api.telegram.org".to_owned(),
            proxy: None,
            inline_code_max_lines: 10,
            commands: MenuCommand::core_menu(),
            render_cache: None,
            poll_timeout: Duration::from_secs(25),
            request_timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Error)]
pub enum TelegramError {
    #[error("telegram.token is empty")]
    MissingToken,
    #[error("invalid telegram.api_url {url:?}: {reason}")]
    ApiUrl { url: String, reason: String },
    #[error("invalid proxy URL {0}")]
    Proxy(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    #[error("the Bot API refused the token (check telegram.token)")]
    Unauthorized,
    #[error("getMe failed: {0}")]
    GetMe(String),
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

fn client(timeout: Duration, proxy: Option<&Secret>) -> Result<reqwest::Client, TelegramError> {
    let mut b = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(timeout)
        .tcp_nodelay(true);
    if let Some(p) = proxy.filter(|p| !p.is_empty()) {
        // reqwest's error would echo the URL, password included: show it masked instead.
        let shown = || match reqwest::Url::parse(p.expose()) {
            Ok(_) => mask_url_password(p.expose()),
            Err(_) => "(not a URL)".to_owned(),
        };
        let proxy = reqwest::Proxy::all(p.expose()).map_err(|_| TelegramError::Proxy(shown()))?;
        b = b.proxy(proxy);
    }
    b.build()
        .map_err(|e| TelegramError::Client(e.without_url().to_string()))
}

/// The bot for calls and the bot for long polls (whose timeout must outlast the poll).
pub(crate) fn bots(o: &TelegramOptions) -> Result<(Bot, Bot), TelegramError> {
    if o.token.is_empty() {
        return Err(TelegramError::MissingToken);
    }
    let raw = o.api_url.trim().trim_end_matches('/');
    let bad = |reason: &str| TelegramError::ApiUrl {
        url: raw.to_owned(),
        reason: reason.to_owned(),
    };
    let url = reqwest::Url::parse(raw).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(bad("expected an http(s) base URL"));
    }
    let proxy = o.proxy.as_ref();
    let calls = client(o.request_timeout, proxy)?;
    let polls = client(o.poll_timeout + Duration::from_secs(15), proxy)?;
    let token = o.token.expose();
    Ok((
        Bot::with_client(token, calls).set_api_url(url.clone()),
        Bot::with_client(token, polls).set_api_url(url),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_named() {
        let mut o = TelegramOptions::new(Secret::new(""));
        assert!(matches!(bots(&o), Err(TelegramError::MissingToken)));
        o.token = Secret::new("1:x");
        o.api_url = "ftp://x".into();
        assert!(matches!(bots(&o), Err(TelegramError::ApiUrl { .. })));
        o.api_url = "http://127.0.0.1:1/".into();
        o.proxy = Some(Secret::new("socks5://bob:hunter2@[::1"));
        let e = bots(&o).unwrap_err().to_string();
        assert!(!e.contains("hunter2"), "{e}");
        o.proxy = Some(Secret::new("socks5h://bob:hunter2@127.0.0.1:1080"));
        assert!(bots(&o).is_ok());
    }
}
