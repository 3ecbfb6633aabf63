//! `cloudify setup`: the first-run wizard. Asks, checks each answer against the real
//! endpoint (`*_api_url`, so tests point it at fakes), writes config.yaml (0600), shows the QR.

use crate::app::App;
use crate::checks;
use anyhow::{Context, Result};
use cloudify_core::{Config, EnvVars, Secret};
use std::io::{BufRead, Write};
use std::process::ExitCode;

pub fn run(env: &EnvVars) -> Result<ExitCode> {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut out = std::io::stdout();
    wizard(env, &mut input, &mut out)
}

fn ask(input: &mut impl BufRead, out: &mut impl Write, question: &str) -> Result<Option<String>> {
    write!(out, "{question} ")?;
    out.flush()?;
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Ok(None); // end of input: treat as "skip"
    }
    Ok(Some(line.trim().to_string()))
}

/// Runs the wizard on any input/output (tests drive it with a byte buffer).
pub fn wizard(env: &EnvVars, input: &mut impl BufRead, out: &mut impl Write) -> Result<ExitCode> {
    let app = App::open(env)?;
    // Edit what the file says, not the environment's overrides, so env-only secrets stay out of it.
    let mut config = Config::load(&app.data_dir, &EnvVars::default())
        .context("the existing config.yaml is invalid")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    writeln!(out, "OpenCode Cloudify setup / 初始设置\n")?;

    writeln!(
        out,
        "1) Telegram: create a bot with @BotFather and paste its token. 在 @BotFather 创建机器人并粘贴 token。"
    )?;
    for _ in 0..3 {
        let Some(token) = ask(input, out, "Telegram bot token (Enter to skip / 回车跳过):")?
        else {
            break;
        };
        if token.is_empty() {
            break;
        }
        let secret = Secret::new(token);
        match rt.block_on(checks::telegram_get_me(
            &app.config.telegram.api_url,
            &secret,
            None,
        )) {
            Ok(bot) => {
                writeln!(out, "   ✓ bot @{bot}")?;
                config.telegram.token = secret;
                // The QR shown next is then a t.me deep link right away.
                app.store
                    .call_now(|s| s.set_setting(crate::cli::qr::BOT_USERNAME_SETTING, &bot))?;
                break;
            }
            Err(e) => writeln!(out, "   ✗ {e}")?,
        }
    }

    writeln!(
        out,
        "\n2) DingTalk 钉钉: internal app with Stream mode; AppKey and AppSecret from the developer console."
    )?;
    for _ in 0..3 {
        let Some(key) = ask(input, out, "DingTalk AppKey (Enter to skip / 回车跳过):")? else {
            break;
        };
        if key.is_empty() {
            break;
        }
        let Some(secret) = ask(input, out, "DingTalk AppSecret:")? else {
            break;
        };
        let secret = Secret::new(secret);
        match rt.block_on(checks::dingtalk_token(
            &app.config.dingtalk.api_url,
            &key,
            &secret,
            None,
        )) {
            Ok(()) => {
                writeln!(out, "   ✓ credentials accepted")?;
                config.dingtalk.app_key = key;
                config.dingtalk.app_secret = secret;
                break;
            }
            Err(e) => writeln!(out, "   ✗ {e}")?,
        }
    }

    writeln!(
        out,
        "\n3) Proxy (optional). Telegram and model APIs often block or throttle datacenter IPs; a residential \
         proxy makes the bot look like a home connection. 数据中心 IP 常被限制，住宅代理更稳定。\n   \
         e.g. http://user:pass@host:port — one option: {}",
        cloudify_core::links::PROXY_REFERRAL
    )?;
    for _ in 0..3 {
        let Some(url) = ask(input, out, "Proxy URL (Enter for none / 回车跳过):")? else {
            break;
        };
        if url.is_empty() {
            break;
        }
        match url::Url::parse(&url) {
            Ok(u)
                if ["http", "https", "socks5", "socks5h"].contains(&u.scheme()) && u.has_host() =>
            {
                config.proxy.url = Secret::new(url);
                config.proxy.enabled = true;
                writeln!(out, "   ✓ proxy saved")?;
                break;
            }
            _ => writeln!(out, "   ✗ not a proxy URL (http://, https://, socks5://)")?,
        }
    }

    let path = config
        .write_to(&app.data_dir)
        .context("cannot write config.yaml")?;
    writeln!(out, "\nSaved {} (mode 0600). 已保存。", path.display())?;
    if !config.telegram_enabled() && !config.dingtalk_enabled() {
        writeln!(
            out,
            "No IM platform configured yet; run `cloudify setup` again when you have a token."
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let app = App::open(env)?;
    let inst = app.instance(None)?;
    crate::cli::qr::print_qr(&app, &inst, None)?;
    writeln!(
        out,
        "\nNext: `cloudify run`, then scan the QR code. 下一步：运行 `cloudify run` 并扫码。"
    )?;
    Ok(ExitCode::SUCCESS)
}
