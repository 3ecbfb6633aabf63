//! `/proxy set|status|disable` (SPEC §8). The proxy is saved in config.yaml (so the bot's
//! own clients use it after a restart) and in `/data/secrets/proxy.env`, which the
//! `svc-opencode` service reads; OpenCode is then restarted through s6. Under s6 the bot
//! restarts itself too, so every outbound client picks the new setting up.

use crate::checks;
use async_trait::async_trait;
use cloudify_core::i18n::Lang;
use cloudify_core::output::Output;
use cloudify_core::secret::mask_url_password;
use cloudify_core::services::{ProxyControl, ServiceError};
use cloudify_core::{Config, EnvVars, Secret};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

pub struct ProxySettings {
    data_dir: PathBuf,
    /// s6's live service directory (`/run/service` in the image), if running under s6.
    services: Option<PathBuf>,
    /// Set by `RESIDENTIAL_PROXY_URL`: the environment wins over `/proxy`.
    env_override: bool,
    current: Mutex<Option<Secret>>,
    probe_url: String,
}

impl ProxySettings {
    pub fn new(app: &crate::app::App, env: &EnvVars) -> Self {
        let services = s6_services(env, "svc-opencode");
        Self {
            data_dir: app.data_dir.clone(),
            services,
            env_override: env
                .get("RESIDENTIAL_PROXY_URL")
                .is_some_and(|v| !v.is_empty()),
            current: Mutex::new(app.config.active_proxy().cloned()),
            probe_url: app.config.telegram.api_url.clone(),
        }
    }

    /// Saves the proxy in config.yaml and proxy.env, then restarts what must re-read it.
    fn apply(&self, url: Option<&str>) -> Result<bool, ServiceError> {
        let fail = |e: String| ServiceError::Failed(e);
        let mut file_config =
            Config::load(&self.data_dir, &EnvVars::default()).map_err(|e| fail(e.to_string()))?;
        file_config.proxy.enabled = url.is_some();
        file_config.proxy.url = Secret::new(url.unwrap_or_default());
        file_config
            .write_to(&self.data_dir)
            .map_err(|e| fail(format!("cannot write config.yaml: {e}")))?;
        let env = match url {
            Some(u) => format!("HTTP_PROXY={u}\nHTTPS_PROXY={u}\n"),
            None => String::new(), // an empty file means "no proxy" to svc-opencode
        };
        let path = self.data_dir.join("secrets").join("proxy.env");
        cloudify_core::fsutil::write_private(&path, env.as_bytes())
            .map_err(|e| fail(format!("cannot write {}: {e}", path.display())))?;
        *self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = url.map(Secret::new);
        let Some(services) = &self.services else {
            return Ok(false);
        };
        restart(&services.join("svc-opencode"));
        if services.join("svc-cloudify").is_dir() {
            // Let the reply go out, then exit: s6 starts the bot again with the new config.
            tokio::spawn(async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                tracing::info!("restarting to apply the new proxy setting");
                std::process::exit(0);
            });
        }
        Ok(true)
    }
}

/// s6's live service directory (`CLOUDIFY_S6_SERVICES`, else `/run/service`) when it holds
/// `service`: the bot then runs under s6 and can restart it.
pub fn s6_services(env: &EnvVars, service: &str) -> Option<PathBuf> {
    env.get("CLOUDIFY_S6_SERVICES")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/run/service")))
        .filter(|d| d.join(service).is_dir())
}

pub fn restart(service: &std::path::Path) {
    match std::process::Command::new("s6-svc")
        .arg("-r")
        .arg(service)
        .status()
    {
        Ok(s) if s.success() => {
            tracing::info!(service = %service.display(), "service restarted");
        }
        Ok(s) => tracing::warn!(service = %service.display(), status = %s, "s6-svc -r failed"),
        Err(e) => tracing::warn!(error = %e, "s6-svc not available"),
    }
}

fn valid(url: &str) -> bool {
    url::Url::parse(url)
        .is_ok_and(|u| ["http", "https", "socks5", "socks5h"].contains(&u.scheme()) && u.has_host())
}

#[async_trait]
impl ProxyControl for ProxySettings {
    async fn set(&self, url: &str, l: Lang) -> Result<Output, ServiceError> {
        if !valid(url) {
            return Ok(Output::plain(l.pick(
                "❌ 不是有效的代理地址。格式：http://用户:密码@主机:端口 或 socks5://…",
                "❌ Not a proxy URL. Use http://user:pass@host:port or socks5://…",
            )));
        }
        let managed = self.apply(Some(url))?;
        let shown = mask_url_password(url);
        Ok(Output::plain(self.outcome(
            l,
            &format!("✅ {} {shown}", l.pick("代理已保存：", "Proxy saved:")),
            managed,
        )))
    }

    async fn status(&self, l: Lang) -> Result<Output, ServiceError> {
        let current = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let Some(p) = current else {
            return Ok(Output::plain(l.pick("🌐 代理：关闭", "🌐 Proxy: off")));
        };
        let shown = mask_url_password(p.expose());
        let check = match checks::through_proxy(&p, &self.probe_url).await {
            Ok(t) => format!("✅ {} ({} ms)", l.pick("可用", "works"), t.as_millis()),
            Err(e) => format!("❌ {e}"),
        };
        let env = if self.env_override {
            l.pick(
                "（来自 RESIDENTIAL_PROXY_URL）",
                " (from RESIDENTIAL_PROXY_URL)",
            )
        } else {
            ""
        };
        Ok(Output::plain(format!(
            "🌐 {}: {shown}{env}\n{check}",
            l.pick("代理", "Proxy")
        )))
    }

    async fn disable(&self, l: Lang) -> Result<Output, ServiceError> {
        let managed = self.apply(None)?;
        Ok(Output::plain(self.outcome(
            l,
            l.pick("✅ 代理已关闭。", "✅ Proxy disabled."),
            managed,
        )))
    }
}

impl ProxySettings {
    fn outcome(&self, l: Lang, head: &str, managed: bool) -> String {
        let mut text = head.to_string();
        text.push('\n');
        text.push_str(if managed {
            l.pick(
                "OpenCode 已重启；机器人将在几秒后重启以应用设置。",
                "OpenCode was restarted; the bot restarts in a few seconds to apply it.",
            )
        } else {
            l.pick(
                "请重启 `cloudify run` 与 OpenCode 以应用设置。",
                "Restart `cloudify run` and OpenCode to apply it.",
            )
        });
        if self.env_override {
            text.push('\n');
            text.push_str(l.pick(
                "⚠️ 环境变量 RESIDENTIAL_PROXY_URL 已设置，它优先于 /proxy。",
                "⚠️ RESIDENTIAL_PROXY_URL is set in the environment and takes precedence over /proxy.",
            ));
        }
        text
    }
}
