//! Every sentence the bot says, in Chinese and English. Nothing else builds user text.

mod messages;
mod trust;
pub mod turn;

pub use messages::*;
pub use trust::*;

use crate::config::LanguageSetting;
use crate::identity::Platform;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    /// Picks the sentence for this language.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "zh" | "cn" | "中文" | "zh-cn" | "zh-hans" => Some(Lang::Zh),
            "en" | "english" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The language to answer in: the user's `/lang` choice, else the config's `language`,
    /// else the client's language (Telegram), else the platform's default (DingTalk: zh).
    pub fn resolve(
        user_choice: Option<&str>,
        setting: LanguageSetting,
        client_code: Option<&str>,
        platform: Platform,
    ) -> Lang {
        if let Some(l) = user_choice.and_then(Lang::parse) {
            return l;
        }
        match setting {
            LanguageSetting::Zh => Lang::Zh,
            LanguageSetting::En => Lang::En,
            LanguageSetting::Auto => match (client_code, platform) {
                (Some(c), _) if c.to_ascii_lowercase().starts_with("zh") => Lang::Zh,
                (Some(_), _) => Lang::En,
                (None, Platform::DingTalk) => Lang::Zh,
                (None, Platform::Telegram) => Lang::En,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_order() {
        use LanguageSetting::*;
        assert_eq!(
            Lang::resolve(Some("en"), Zh, Some("zh-hans"), Platform::DingTalk),
            Lang::En
        );
        assert_eq!(
            Lang::resolve(None, Zh, Some("en"), Platform::Telegram),
            Lang::Zh
        );
        assert_eq!(
            Lang::resolve(None, Auto, Some("zh-hans"), Platform::Telegram),
            Lang::Zh
        );
        assert_eq!(
            Lang::resolve(None, Auto, Some("de"), Platform::Telegram),
            Lang::En
        );
        assert_eq!(
            Lang::resolve(None, Auto, None, Platform::DingTalk),
            Lang::Zh
        );
        assert_eq!(
            Lang::resolve(None, Auto, None, Platform::Telegram),
            Lang::En
        );
    }
}
