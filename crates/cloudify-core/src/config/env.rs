//! Environment variables of SPEC §6, passed in as a map so tests can run in parallel.

use super::ConfigError;
use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};
use std::collections::BTreeMap;

/// Every environment variable the config reads, with the key it sets.
pub const ENV_KEYS: &[(&str, &str)] = &[
    ("TELEGRAM_TOKEN", "telegram.token"),
    ("TELEGRAM_API_URL", "telegram.api_url"),
    ("DINGTALK_APP_KEY", "dingtalk.app_key"),
    ("DINGTALK_APP_SECRET", "dingtalk.app_secret"),
    ("DINGTALK_AGENT_ID", "dingtalk.agent_id"),
    ("DINGTALK_API_URL", "dingtalk.api_url"),
    ("DINGTALK_OAPI_URL", "dingtalk.oapi_url"),
    ("OPENCODE_URL", "opencode.url"),
    ("OPENCODE_SERVER_PASSWORD", "opencode.password"),
    ("OPENCODE_DIRECTORY", "opencode.directory"),
    ("RESIDENTIAL_PROXY_URL", "proxy.url"),
    ("WEB_TERMINAL_URL", "web_terminal.public_url"),
    ("CLOUDIFY_HTTP_LISTEN", "http.listen"),
    ("CLOUDIFY_UPDATE_CHECK", "update_check.enabled"),
];

/// A snapshot of the environment variables relevant to configuration.
#[derive(Debug, Clone, Default)]
pub struct EnvVars(BTreeMap<String, String>);

impl EnvVars {
    /// Reads the process environment once (only the binary calls this).
    pub fn from_process() -> Self {
        Self(std::env::vars().collect())
    }

    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The env var that sets `key`, if any (used to name the source of a bad value).
    pub fn var_for_key(key: &str) -> Option<&'static str> {
        ENV_KEYS.iter().find(|(_, k)| *k == key).map(|(v, _)| *v)
    }

    pub(super) fn provider(&self) -> Result<EnvProvider, ConfigError> {
        let mut root = Dict::new();
        for (var, key) in ENV_KEYS {
            // An empty variable is treated as unset, as docker `-e VAR=` users expect.
            let Some(raw) = self.get(var).filter(|v| !v.is_empty()) else {
                continue;
            };
            let value = if *var == "CLOUDIFY_UPDATE_CHECK" {
                Value::from(parse_bool(raw).ok_or_else(|| ConfigError::Invalid {
                    key: (*key).into(),
                    source_name: format!("environment variable {var}"),
                    message: format!("`{raw}` is not a boolean (use true or false)"),
                })?)
            } else {
                Value::from(raw.to_string())
            };
            insert_dotted(&mut root, key, value);
            if *var == "RESIDENTIAL_PROXY_URL" {
                // SPEC §6: setting the proxy URL enables the proxy.
                insert_dotted(&mut root, "proxy.enabled", Value::from(true));
            }
        }
        Ok(EnvProvider(root))
    }
}

fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn insert_dotted(root: &mut Dict, key: &str, value: Value) {
    match key.split_once('.') {
        None => {
            root.insert(key.to_string(), value);
        }
        Some((head, rest)) => {
            let entry = root
                .entry(head.to_string())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, dict) = entry {
                insert_dotted(dict, rest, value);
            }
        }
    }
}

pub(super) struct EnvProvider(Dict);

/// Source name used in error messages for values that came from the environment.
pub(super) const ENV_SOURCE: &str = "environment";

impl Provider for EnvProvider {
    fn metadata(&self) -> Metadata {
        Metadata::named(ENV_SOURCE)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.0.clone()))
    }
}
