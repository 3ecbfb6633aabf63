//! Builds the platform adapters from the config.

use crate::app::App;
use anyhow::{Context, Result};
use cloudify_core::commands::COMMANDS;
use cloudify_telegram::{MenuCommand, TelegramAdapter, TelegramError, TelegramOptions};
use std::sync::Arc;
use std::time::Duration;

/// Connects to Telegram (getMe), retrying with backoff so a network blink at start-up
/// does not kill the bot; a wrong token fails at once with a clear message.
pub async fn telegram(app: &App) -> Result<Arc<TelegramAdapter>> {
    let c = &app.config;
    let mut opts = TelegramOptions::new(c.telegram.token.clone());
    opts.api_url = c.telegram.api_url.clone();
    opts.proxy = c.active_proxy().cloned();
    opts.inline_code_max_lines = c.message_image_threshold as usize;
    opts.render_cache = Some(app.data_dir.join("cache").join("rendered"));
    opts.commands = COMMANDS
        .iter()
        .map(|s| MenuCommand::new(s.name, s.en, s.zh))
        .collect();
    let mut delay = Duration::from_secs(1);
    loop {
        match TelegramAdapter::connect(opts.clone()).await {
            Ok(tg) => return Ok(Arc::new(tg)),
            Err(TelegramError::Unauthorized) => {
                anyhow::bail!(
                    "Telegram refused the bot token (telegram.token / TELEGRAM_TOKEN); get a new one from @BotFather"
                );
            }
            Err(e @ TelegramError::GetMe(_)) => {
                tracing::warn!(error = %e, retry_in = ?delay, "cannot reach Telegram yet");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(60));
            }
            Err(e) => return Err(e).context("cannot set up the Telegram client"),
        }
    }
}
