//! `cloudify doctor`: checks everything a deployment needs and says how to fix problems.

use crate::app::App;
use crate::checks;
use anyhow::Result;
use cloudify_core::EnvVars;
use cloudify_core::secret::mask_url_password;
use std::process::ExitCode;

struct Report {
    failures: usize,
}

impl Report {
    fn ok(&self, what: &str, detail: &str) {
        println!("✓ {what}: {detail}");
    }
    fn bad(&mut self, what: &str, detail: &str, fix: &str) {
        self.failures += 1;
        println!("✗ {what}: {detail}\n    fix: {fix}");
    }
    fn skip(&self, what: &str, detail: &str) {
        println!("– {what}: {detail}");
    }
}

pub fn run(env: &EnvVars) -> Result<ExitCode> {
    let mut r = Report { failures: 0 };
    let app = match App::open(env) {
        Ok(app) => {
            r.ok(
                "config",
                &format!(
                    "{} loaded",
                    cloudify_core::Config::file_in(&app.data_dir).display()
                ),
            );
            app
        }
        Err(e) => {
            r.bad(
                "config",
                &format!("{e:#}"),
                "correct the key named above in config.yaml or the environment",
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    let probe = app.data_dir.join(".doctor-write-test");
    match std::fs::write(&probe, b"ok").and_then(|()| std::fs::remove_file(&probe)) {
        Ok(()) => r.ok(
            "data directory",
            &format!("{} is writable", app.data_dir.display()),
        ),
        Err(e) => r.bad(
            "data directory",
            &e.to_string(),
            "mount a writable volume at the data directory",
        ),
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let c = &app.config;
    let proxy = c.active_proxy();
    rt.block_on(async {
        let instances = app.store.call_now(|s| s.instances()).unwrap_or_default();
        for inst in &instances {
            let pw = inst.password.clone().unwrap_or_else(|| c.opencode.password.clone());
            match checks::opencode_health(&inst.url, &c.opencode.username, &pw).await {
                Ok(v) => r.ok(&format!("OpenCode [{}]", inst.name), &format!("{} healthy, version {v}", inst.url)),
                Err(e) => r.bad(
                    &format!("OpenCode [{}]", inst.name),
                    &e,
                    "start `opencode serve --port 4096` (in the container: s6-svstat /run/service/svc-opencode)",
                ),
            }
        }
        if c.telegram_enabled() {
            match checks::telegram_get_me(&c.telegram.api_url, &c.telegram.token, proxy).await {
                Ok(bot) => r.ok("Telegram", &format!("bot @{bot}")),
                Err(e) => r.bad("Telegram", &e, "check TELEGRAM_TOKEN and that this host reaches the Bot API (proxy?)"),
            }
        } else {
            r.skip("Telegram", "not configured (TELEGRAM_TOKEN)");
        }
        if c.dingtalk_enabled() {
            match checks::dingtalk_token(&c.dingtalk.api_url, &c.dingtalk.app_key, &c.dingtalk.app_secret, proxy).await {
                Ok(()) => r.ok("DingTalk", "credentials accepted"),
                Err(e) => r.bad("DingTalk", &e, "copy AppKey/AppSecret from the DingTalk developer console"),
            }
        } else {
            r.skip("DingTalk", "not configured (DINGTALK_APP_KEY, DINGTALK_APP_SECRET)");
        }
        match proxy {
            Some(p) => match checks::through_proxy(p, &c.telegram.api_url).await {
                Ok(t) => r.ok("proxy", &format!("{} works ({} ms)", mask_url_password(p.expose()), t.as_millis())),
                Err(e) => r.bad("proxy", &e, "check RESIDENTIAL_PROXY_URL, or turn it off with /proxy disable"),
            },
            None => r.skip("proxy", "off"),
        }
        if !c.telegram_enabled() && !c.dingtalk_enabled() {
            r.bad("IM", "no platform configured", "run `cloudify setup`, or set TELEGRAM_TOKEN / DINGTALK_APP_KEY + DINGTALK_APP_SECRET");
        }
    });
    if r.failures == 0 {
        println!("\nAll good.");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("\n{} problem(s) found.", r.failures);
        Ok(ExitCode::FAILURE)
    }
}
