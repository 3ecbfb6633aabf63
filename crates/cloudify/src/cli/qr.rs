//! `cloudify qr` and `cloudify reset-qr`.

use crate::app::App;
use anyhow::{Context, Result};
use clap::Args;
use cloudify_core::EnvVars;
use cloudify_core::binding;
use cloudify_core::store::Instance;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Settings key where `cloudify run` remembers the Telegram bot's username (from getMe).
pub const BOT_USERNAME_SETTING: &str = "telegram.bot_username";

#[derive(Args)]
pub struct QrArgs {
    /// Instance name (default: the first instance).
    #[arg(long)]
    instance: Option<String>,
    /// Also write the QR code as a PNG to this path.
    #[arg(long, value_name = "PATH")]
    png: Option<PathBuf>,
    /// Print only while nobody is bound to the instance (for start scripts: once an owner
    /// is bound, the link stays out of the container log).
    #[arg(long)]
    if_unbound: bool,
}

#[derive(Args)]
pub struct ResetArgs {
    /// Instance name (default: the first instance).
    #[arg(long)]
    instance: Option<String>,
}

/// What a user scans: the Telegram deep link when the bot's username is known, else the
/// long form (which `/bind` accepts on every platform).
pub fn qr_target(app: &App, inst: &Instance) -> Result<(String, bool)> {
    let mut bot = app.store.call_now(|s| s.setting(BOT_USERNAME_SETTING))?;
    if bot.is_none() && app.config.telegram_enabled() {
        bot = learn_bot_username(app);
    }
    let issue = app.config.bind_issue(crate::app::now_secs());
    Ok(match bot {
        Some(bot) => (
            format!(
                "https://t.me/{bot}?start={}",
                binding::deep_link_token_at(inst, issue)
            ),
            true,
        ),
        None => {
            let endpoint = format!("http://{}", app.config.http.listen);
            (binding::long_payload_at(inst, &endpoint, issue), false)
        }
    })
}

/// Asks Telegram (getMe) for the bot's username and remembers it; `None` when unreachable.
fn learn_bot_username(app: &App) -> Option<String> {
    let c = &app.config;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    let name = rt
        .block_on(crate::checks::telegram_get_me(
            &c.telegram.api_url,
            &c.telegram.token,
            c.active_proxy(),
        ))
        .ok()?;
    let _ = app
        .store
        .call_now(|s| s.set_setting(BOT_USERNAME_SETTING, &name));
    Some(name)
}

/// Prints the QR block for an instance and saves `/data/qr/<instance>.png`.
pub fn print_qr(app: &App, inst: &Instance, extra_png: Option<&Path>) -> Result<()> {
    let (target, is_link) = qr_target(app, inst)?;
    let art = cloudify_render::qr::terminal(&target, true)?;
    let png = cloudify_render::qr::png(&target, 10)?;
    let qr_dir = app.data_dir.join("qr");
    // A name from before the naming rule never becomes a path: such instances use their id.
    let saved = cloudify_core::names::file_in(&qr_dir, &inst.name, "png")
        .unwrap_or_else(|| qr_dir.join(format!("{}.png", inst.id)));
    std::fs::write(&saved, &png).with_context(|| format!("cannot write {}", saved.display()))?;
    if let Some(p) = extra_png {
        std::fs::write(p, &png).with_context(|| format!("cannot write {}", p.display()))?;
    }
    println!(
        "Binding QR for [{}] / [{}] 的绑定二维码:\n",
        inst.name, inst.name
    );
    println!("{art}");
    if is_link {
        println!("Telegram: scan the QR or open / 扫码或打开: {target}");
    } else {
        println!(
            "Telegram is not configured (or `cloudify run` has not met the bot yet); the QR holds a"
        );
        println!("binding payload. Send it with /bind:  /bind {target}");
    }
    let issue = app.config.bind_issue(crate::app::now_secs());
    println!(
        "DingTalk 钉钉: send / 发送  /bind {}",
        binding::dingtalk_code_at(inst, issue)
    );
    if issue.expires() {
        println!(
            "Valid for {} s (binding.code_ttl) / 有效期 {} 秒",
            issue.ttl_secs, issue.ttl_secs
        );
    }
    println!("PNG: {}", saved.display());
    println!("Keep it private: anyone with this code can bind. / 请勿在群聊中分享。");
    Ok(())
}

pub fn show(env: &EnvVars, args: &QrArgs) -> Result<ExitCode> {
    let app = App::open(env)?;
    let inst = app.instance(args.instance.as_deref())?;
    if args.if_unbound && has_owner(&app, &inst) {
        println!(
            "[{}] has an owner, so the binding link is not printed. Show it with `cloudify qr`.",
            inst.name
        );
        return Ok(ExitCode::SUCCESS);
    }
    print_qr(&app, &inst, args.png.as_deref())?;
    Ok(ExitCode::SUCCESS)
}

/// Whether someone owns the instance (the first user bound; ownership passes on unbind).
/// A store error counts as owned: when unsure, keep the link out of the log.
pub fn has_owner(app: &App, inst: &Instance) -> bool {
    let id = inst.id;
    app.store
        .call_now(move |s| s.members(id))
        .map_or(true, |m| {
            m.iter()
                .any(|(b, _)| b.role == cloudify_core::store::Role::Owner)
        })
}

pub fn reset(env: &EnvVars, args: &ResetArgs) -> Result<ExitCode> {
    let app = App::open(env)?;
    let inst = app.instance(args.instance.as_deref())?;
    // Prefer the running bot: it can tell the removed users. Otherwise reset offline.
    let told = crate::http::client::reset_via_daemon(&app, &inst.name);
    match told {
        Ok(n) => println!("Reset through the running bot; {n} user(s) were removed and told."),
        Err(why) => {
            let id = inst.id;
            let (_, kicked) = app.store.call_now(|s| s.reset_qr(id))?;
            println!(
                "The bot is not running ({why}); reset offline: {} user(s) removed (they were not told).",
                kicked.len()
            );
        }
    }
    let fresh = app.instance(Some(&inst.name))?;
    print_qr(&app, &fresh, None)?;
    Ok(ExitCode::SUCCESS)
}
