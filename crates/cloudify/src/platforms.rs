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

/// Builds the DingTalk adapter (Stream mode; it connects when `run` starts).
pub fn dingtalk(app: &App) -> Result<Arc<cloudify_dingtalk::DingTalkAdapter>> {
    let c = &app.config;
    let mut opts = cloudify_dingtalk::DingTalkOptions::new(
        c.dingtalk.app_key.clone(),
        c.dingtalk.app_secret.clone(),
    );
    opts.robot_code = c.dingtalk_robot_code().to_string();
    opts.api_url = c.dingtalk.api_url.clone();
    opts.oapi_url = c.dingtalk.oapi_url.clone();
    opts.proxy = c.active_proxy().cloned();
    opts.render_cache = Some(app.data_dir.join("cache").join("rendered"));
    let template = |t: &str| (!t.is_empty()).then(|| t.to_string());
    opts.ai_card_template = template(&c.dingtalk.ai_card_template);
    opts.prompt_card_template = template(&c.dingtalk.prompt_card_template);
    let adapter = cloudify_dingtalk::DingTalkAdapter::new(opts)
        .context("cannot set up the DingTalk client")?;
    Ok(Arc::new(adapter))
}
