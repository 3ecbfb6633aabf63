//! Options (from config `dingtalk.*`), the adapter's setup errors and the stream timing knobs.

use std::path::PathBuf;
use std::time::Duration;

use cloudify_core::Secret;
use thiserror::Error;

/// Received files up to this size are downloaded (DingTalk's own file cap is 20 MB).
pub const MAX_DOWNLOAD_BYTES: usize = 20 * 1024 * 1024;

/// How to reach DingTalk and how to behave on it.
#[derive(Debug, Clone)]
pub struct DingTalkOptions {
    /// `dingtalk.app_key` (clientId).
    pub app_key: String,
    /// `dingtalk.app_secret` (clientSecret). Never logged.
    pub app_secret: Secret,
    /// `dingtalk.robot_code`; internal-app robots use the AppKey (see `Config::dingtalk_robot_code`).
    pub robot_code: String,
    /// `dingtalk.api_url`: `https://api.dingtalk.com` or a fake.
    pub api_url: String,
    /// `dingtalk.oapi_url`: `https://oapi.dingtalk.com` or a fake (media upload).
    pub oapi_url: String,
    /// Outbound proxy for HTTP calls (the Stream WebSocket always connects directly).
    pub proxy: Option<Secret>,
    /// Directory for rendered pages (`/data/cache/rendered`); `None` renders every time.
    pub render_cache: Option<PathBuf>,
    /// AI card template (a streaming Markdown variable `msgContent` and `flowStatus`).
    /// With it the live "working" message is one card updated in place; without it
    /// DingTalk cannot edit messages, so only the first status line is sent.
    pub ai_card_template: Option<String>,
    /// Interactive card template for prompts. Its buttons carry a callback parameter
    /// `command` (or use action ids `btn_<row>_<col>`); without it prompts go out as Markdown
    /// listing the commands to type.
    pub prompt_card_template: Option<String>,
    /// Files larger than this are not downloaded (the user is told via `/file_too_large`).
    pub max_download_bytes: usize,
    pub timing: StreamTiming,
    /// Total time allowed for one HTTP call (uploads included).
    pub request_timeout: Duration,
}

impl DingTalkOptions {
    /// Production defaults; `robot_code` is the AppKey.
    pub fn new(app_key: impl Into<String>, app_secret: Secret) -> Self {
        let app_key = app_key.into();
        Self {
            robot_code: app_key.clone(),
            app_key,
            app_secret,
            api_url: "https://api.dingtalk.com".into(),
            oapi_url: "https://oapi.dingtalk.com".into(),
            proxy: None,
            render_cache: None,
            ai_card_template: None,
            prompt_card_template: None,
            max_download_bytes: MAX_DOWNLOAD_BYTES,
            timing: StreamTiming::default(),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Keepalive and reconnect timing (IM.md §1.6); tests shorten them.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamTiming {
    /// WebSocket ping interval.
    pub ping_interval: Duration,
    /// No frame, pong or other traffic for this long → the connection is dead.
    pub dead_after: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// A connection that lived this long resets the backoff.
    pub healthy_after: Duration,
    /// Gateway registration + WebSocket handshake must finish within this.
    pub connect_timeout: Duration,
}

impl Default for StreamTiming {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_secs(20),
            dead_after: Duration::from_secs(30),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            healthy_after: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(15),
        }
    }
}

#[derive(Debug, Error)]
pub enum DingTalkError {
    #[error("dingtalk.app_key and dingtalk.app_secret are both required")]
    MissingCredentials,
    #[error("invalid {key} {url:?}: expected an http(s) base URL")]
    BadUrl { key: &'static str, url: String },
    #[error("invalid proxy URL {0}")]
    Proxy(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}
