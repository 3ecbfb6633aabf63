//! The command menu (`setMyCommands`), in English by default and in Chinese for `zh` clients.

use teloxide::prelude::*;
use teloxide::types::BotCommand;

/// One menu entry. `name` may use the dashed form (`reset-qr`); Telegram gets `reset_qr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuCommand {
    pub name: String,
    pub en: String,
    pub zh: String,
}

impl MenuCommand {
    pub fn new(name: impl Into<String>, en: impl Into<String>, zh: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            en: en.into(),
            zh: zh.into(),
        }
    }

    /// Every command of the core's table (SPEC §5), the one source for `/help` and menus.
    pub fn core_menu() -> Vec<Self> {
        cloudify_core::commands::COMMANDS
            .iter()
            .map(|c| Self::new(c.name, c.en, c.zh))
            .collect()
    }

    /// The name Telegram accepts: 1–32 of `[a-z0-9_]`.
    pub fn telegram_name(&self) -> Option<String> {
        let name = self
            .name
            .trim_start_matches('/')
            .to_ascii_lowercase()
            .replace('-', "_");
        let ok = (1..=32).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        ok.then_some(name)
    }
}

/// Descriptions must be 1–256 characters (3 in older docs): pad short ones, cut long ones.
fn description(text: &str, fallback: &str) -> String {
    let text = if text.trim().is_empty() {
        fallback
    } else {
        text.trim()
    };
    let mut d: String = text.chars().take(256).collect();
    while d.chars().count() < 3 {
        d.push('.');
    }
    d
}

/// The menu for a language; invalid names are left out (and logged).
pub(crate) fn menu(commands: &[MenuCommand], zh: bool) -> Vec<BotCommand> {
    commands
        .iter()
        .filter_map(|c| {
            let Some(name) = c.telegram_name() else {
                tracing::warn!(command = %c.name, "command name unusable in Telegram's menu; left out");
                return None;
            };
            let text = if zh { description(&c.zh, &c.en) } else { description(&c.en, &c.zh) };
            Some(BotCommand::new(name, text))
        })
        .take(100)
        .collect()
}

/// Registers the menu; returns false when Telegram refused or could not be reached.
pub(crate) async fn register(
    bot: &Bot,
    commands: &[MenuCommand],
    redact: &crate::errors::Redactor,
) -> bool {
    if commands.is_empty() {
        return true;
    }
    let en = bot.set_my_commands(menu(commands, false)).await;
    let zh = match &en {
        Ok(_) => {
            bot.set_my_commands(menu(commands, true))
                .language_code("zh")
                .await
        }
        Err(_) => Ok(teloxide::types::True),
    };
    match en.and(zh) {
        Ok(_) => {
            tracing::info!(
                commands = commands.len(),
                "command menu registered (en, zh)"
            );
            true
        }
        Err(e) => {
            tracing::warn!(error = %redact.describe(&e), "setMyCommands failed; will retry");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_descriptions() {
        let cmds = vec![
            MenuCommand::new("reset-qr", "Owner: new QR", "重置二维码"),
            MenuCommand::new("web-terminal", "Switch terminal kind", ""),
            MenuCommand::new("Bad Name!", "x", "y"),
            MenuCommand::new("qr", "QR", "码"),
        ];
        let en = menu(&cmds, false);
        let names: Vec<&str> = en.iter().map(|c| c.command.as_str()).collect();
        assert_eq!(names, ["reset_qr", "web_terminal", "qr"]);
        let zh = menu(&cmds, true);
        assert_eq!(zh[0].description, "重置二维码");
        assert_eq!(
            zh[1].description, "Switch terminal kind",
            "falls back to English"
        );
        assert_eq!(zh[2].description, "码..");
    }

    #[test]
    fn the_core_menu_is_complete_and_valid() {
        let core = MenuCommand::core_menu();
        assert!(core.len() >= 20, "every SPEC §5 command");
        let en = menu(&core, false);
        assert_eq!(en.len(), core.len(), "every name usable in Telegram");
        for name in [
            "start",
            "reset_qr",
            "web_terminal",
            "sessions",
            "cancel",
            "lang",
        ] {
            assert!(en.iter().any(|c| c.command == name), "{name}");
        }
        assert!(
            menu(&core, true).iter().all(|c| !c.description.is_ascii()),
            "Chinese descriptions"
        );
    }
}
