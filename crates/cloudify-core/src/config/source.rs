//! Where a config value came from, for error messages that name it.

use std::path::Path;

use super::env::{ENV_SOURCE, EnvVars};
use super::error::ConfigError;

impl ConfigError {
    pub(super) fn from_figment(err: &figment::Error, file: &Path) -> Self {
        let source_name = describe_source(err.metadata.as_ref(), &err.path.join("."), file);
        let message = err.kind.to_string();
        if err.path.is_empty() {
            // Syntax errors in the YAML file have no key path.
            return ConfigError::File {
                file: file.display().to_string(),
                message,
            };
        }
        ConfigError::Invalid {
            key: err.path.join("."),
            source_name,
            message,
        }
    }
}

/// "environment variable TELEGRAM_API_URL", "/data/config.yaml", or "built-in default".
pub(super) fn describe_source(meta: Option<&figment::Metadata>, key: &str, file: &Path) -> String {
    match meta {
        Some(m) if m.name == ENV_SOURCE => match EnvVars::var_for_key(key) {
            Some(var) => format!("environment variable {var}"),
            None => "environment".into(),
        },
        Some(m) if m.source.is_some() => file.display().to_string(),
        Some(m) if m.name.contains("YAML") => file.display().to_string(),
        _ => "built-in default".into(),
    }
}
