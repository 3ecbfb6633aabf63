//! The typed configuration of SPEC §6: built-in defaults < `config.yaml` in the data dir
//! < environment. Loaded once, validated, then passed down; nothing else reads env vars.

mod env;
mod error;
mod source;
mod validate;

pub use env::{ENV_KEYS, EnvVars};
pub use error::ConfigError;

use crate::secret::Secret;
use figment::Figment;
use figment::providers::{Format, Serialized, Yaml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// File name of the config inside the data directory.
pub const CONFIG_FILE: &str = "config.yaml";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub language: LanguageSetting,
    pub telegram: TelegramConfig,
    pub dingtalk: DingTalkConfig,
    pub opencode: OpenCodeConfig,
    pub proxy: ProxyConfig,
    pub web_terminal: WebTerminalConfig,
    pub http: HttpConfig,
    pub binding: BindingConfig,
    pub message_image_threshold: u32,
    pub max_offline_messages: u32,
    pub presence_minutes: u32,
    pub stream_edit_interval_ms: u64,
    pub update_check: UpdateCheckConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LanguageSetting {
    #[default]
    Auto,
    Zh,
    En,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelegramConfig {
    pub token: Secret,
    pub api_url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DingTalkConfig {
    pub app_key: String,
    pub app_secret: Secret,
    pub agent_id: String,
    /// Empty means "same as `app_key`" (internal-app robots use the AppKey as robot code).
    pub robot_code: String,
    pub api_url: String,
    pub oapi_url: String,
    /// AI card template id for the live "working" card (streamed, then finalized); empty =
    /// no card, the final answer only.
    pub ai_card_template: String,
    /// Interactive card template id for permission/question buttons; empty = text commands.
    pub prompt_card_template: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenCodeConfig {
    pub url: String,
    pub username: String,
    pub password: Secret,
    pub directory: String,
    pub turn_timeout_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ProxyType {
    #[default]
    Residential,
    Datacenter,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxyConfig {
    pub enabled: bool,
    /// May carry credentials (`http://user:pass@host:port`), hence a secret.
    pub url: Secret,
    #[serde(rename = "type")]
    pub kind: ProxyType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum WebTerminalKind {
    #[default]
    Ttyd,
    CodeServer,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebTerminalConfig {
    pub kind: WebTerminalKind,
    pub port: u16,
    pub public_url: String,
    /// `/web` for members too; by default only the owner gets the terminal.
    pub members: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    /// Generated on first start when empty (see `cloudify run`).
    pub notify_token: Secret,
}

/// SPEC §3's optional binding rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct BindingConfig {
    /// Seconds a binding link or code stays valid; 0 = until `/reset-qr`.
    pub code_ttl: u64,
    /// New binders wait until the owner approves them.
    pub approve_new_users: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpdateCheckConfig {
    pub enabled: bool,
    pub url: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            language: LanguageSetting::Auto,
            telegram: TelegramConfig::default(),
            dingtalk: DingTalkConfig::default(),
            opencode: OpenCodeConfig::default(),
            proxy: ProxyConfig::default(),
            web_terminal: WebTerminalConfig::default(),
            http: HttpConfig::default(),
            binding: BindingConfig::default(),
            message_image_threshold: 10,
            max_offline_messages: 20,
            presence_minutes: 15,
            stream_edit_interval_ms: 1500,
            update_check: UpdateCheckConfig::default(),
        }
    }
}

impl Default for TelegramConfig {
    fn default() -> Self {
        Self {
            token: Secret::default(),
            api_url: "https://api.telegram.org".into(),
        }
    }
}

impl Default for DingTalkConfig {
    fn default() -> Self {
        Self {
            app_key: String::new(),
            app_secret: Secret::default(),
            agent_id: String::new(),
            robot_code: String::new(),
            api_url: "https://api.dingtalk.com".into(),
            oapi_url: "https://oapi.dingtalk.com".into(),
            ai_card_template: String::new(),
            prompt_card_template: String::new(),
        }
    }
}

impl Default for OpenCodeConfig {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:4096".into(),
            username: "opencode".into(),
            password: Secret::default(),
            directory: "/workspace".into(),
            turn_timeout_secs: 1800,
        }
    }
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            url: Secret::default(),
            kind: ProxyType::Residential,
        }
    }
}

impl Default for WebTerminalConfig {
    fn default() -> Self {
        Self {
            kind: WebTerminalKind::Ttyd,
            port: 7681,
            public_url: String::new(),
            members: false,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 4097)),
            notify_token: Secret::default(),
        }
    }
}

impl Default for UpdateCheckConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            url: "https://api.opencode-cloudify.dev/v1/check-update".into(),
        }
    }
}

impl Config {
    /// Loads defaults < `<data_dir>/config.yaml` < `env`, then validates every value.
    pub fn load(data_dir: &Path, env: &EnvVars) -> Result<Config, ConfigError> {
        let file = data_dir.join(CONFIG_FILE);
        let figment = Figment::from(Serialized::defaults(Config::default()))
            .merge(Yaml::file(&file))
            .merge(env.provider()?);
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::from_figment(&e, &file))?;
        validate::check(&config, &figment, &file)?;
        Ok(config)
    }

    /// Path of the config file inside a data directory.
    pub fn file_in(data_dir: &Path) -> PathBuf {
        data_dir.join(CONFIG_FILE)
    }

    pub fn telegram_enabled(&self) -> bool {
        !self.telegram.token.is_empty()
    }

    pub fn dingtalk_enabled(&self) -> bool {
        !self.dingtalk.app_key.is_empty() && !self.dingtalk.app_secret.is_empty()
    }

    /// The robot code DingTalk sends with: `robot_code`, else the AppKey.
    pub fn dingtalk_robot_code(&self) -> &str {
        if self.dingtalk.robot_code.is_empty() {
            &self.dingtalk.app_key
        } else {
            &self.dingtalk.robot_code
        }
    }

    /// How binding credentials issued or checked at `now` (Unix seconds) expire.
    pub fn bind_issue(&self, now: i64) -> crate::binding::Issue {
        crate::binding::Issue::new(now, self.binding.code_ttl)
    }

    /// The proxy URL the bot's clients should use, if the proxy is on.
    pub fn active_proxy(&self) -> Option<&Secret> {
        (self.proxy.enabled && !self.proxy.url.is_empty()).then_some(&self.proxy.url)
    }

    /// Every secret value this config holds, for outbound redaction: tokens, the app secret,
    /// passwords, and the password inside the proxy URL. Empty ones are left out.
    pub fn secret_values(&self) -> Vec<String> {
        let mut out: Vec<String> = [
            &self.telegram.token,
            &self.dingtalk.app_secret,
            &self.opencode.password,
            &self.http.notify_token,
            &self.proxy.url,
        ]
        .iter()
        .map(|s| s.expose().to_owned())
        .collect();
        // The part after the bot id is what makes a Telegram token a secret.
        if let Some((_, tail)) = self.telegram.token.expose().split_once(':') {
            out.push(tail.to_owned());
        }
        if let Ok(u) = url::Url::parse(self.proxy.url.expose())
            && let Some(pw) = u.password()
        {
            out.push(pw.to_owned());
            // A password with special characters is typed percent-encoded in the URL.
            if let Ok(decoded) = percent_encoding::percent_decode_str(pw).decode_utf8() {
                out.push(decoded.into_owned());
            }
        }
        out.retain(|s| !s.is_empty());
        out
    }

    /// Writes this config as YAML with mode 0600 (it may hold tokens).
    pub fn write_to(&self, data_dir: &Path) -> std::io::Result<PathBuf> {
        let path = Self::file_in(data_dir);
        let yaml = serde_yaml::to_string(self).map_err(std::io::Error::other)?;
        crate::fsutil::write_private(&path, yaml.as_bytes())?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests;
