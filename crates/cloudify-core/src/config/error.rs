use thiserror::Error;

/// A configuration problem, always naming the key and where its value came from.
#[derive(Debug, Error, PartialEq)]
pub enum ConfigError {
    #[error("config key `{key}` ({source_name}): {message}")]
    Invalid {
        key: String,
        source_name: String,
        message: String,
    },
    #[error("config file {file}: {message}")]
    File { file: String, message: String },
}

impl ConfigError {
    /// The key this error is about, if it is about one key.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            ConfigError::File { .. } => None,
        }
    }
}
