//! Who is talking: a platform and that platform's user id.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Telegram,
    DingTalk,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Telegram => "telegram",
            Platform::DingTalk => "dingtalk",
        }
    }

    pub fn parse(s: &str) -> Option<Platform> {
        match s {
            "telegram" => Some(Platform::Telegram),
            "dingtalk" => Some(Platform::DingTalk),
            _ => None,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One person on one platform. Output to a user goes to their private chat with the bot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UserKey {
    pub platform: Platform,
    pub user_id: String,
}

impl UserKey {
    pub fn new(platform: Platform, user_id: impl Into<String>) -> Self {
        Self {
            platform,
            user_id: user_id.into(),
        }
    }
}

impl fmt::Display for UserKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.platform, self.user_id)
    }
}
