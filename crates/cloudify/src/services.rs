//! Service implementations that live in the binary: QR images and the web-terminal link.

use crate::app::{App, read_secret};
use async_trait::async_trait;
use cloudify_core::config::WebTerminalKind;
use cloudify_core::i18n::Lang;
use cloudify_core::output::Output;
use cloudify_core::services::{QrImages, ServiceError, WebTerminal};
use cloudify_core::{EnvVars, Secret};
use std::path::PathBuf;

pub struct QrPng;

impl QrImages for QrPng {
    fn png(&self, text: &str) -> Result<Vec<u8>, String> {
        cloudify_render::qr::png(text, 10).map_err(|e| e.to_string())
    }
}

/// `/web`: the terminal link from `web_terminal.public_url`; credentials (from
/// `/data/secrets`, read on each request so a rotation shows at once) only in private chats.
pub struct WebTerminalLink {
    url: String,
    kind: WebTerminalKind,
    data_dir: PathBuf,
    /// s6's live service directory, when the terminal runs under s6 (`svc-ttyd` in it).
    services: Option<PathBuf>,
}

impl WebTerminalLink {
    pub fn new(app: &App, env: &EnvVars) -> Self {
        Self {
            url: app.config.web_terminal.public_url.clone(),
            kind: app.config.web_terminal.kind,
            data_dir: app.data_dir.clone(),
            services: crate::proxy::s6_services(env, "svc-ttyd"),
        }
    }

    /// Writes new random credentials to `secrets/ttyd_user` and `secrets/ttyd_password`
    /// (0600, atomic). Returns them for tests.
    pub fn write_new_credentials(&self) -> std::io::Result<(Secret, Secret)> {
        let mut raw = [0u8; 20];
        crate::app::rand_fill(&mut raw);
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let (user, password) = (format!("cloudify-{}", &hex[..6]), hex[6..].to_string());
        let secrets = self.data_dir.join("secrets");
        cloudify_core::fsutil::write_private(&secrets.join("ttyd_user"), user.as_bytes())?;
        cloudify_core::fsutil::write_private(&secrets.join("ttyd_password"), password.as_bytes())?;
        Ok((Secret::new(user), Secret::new(password)))
    }
}

#[async_trait]
impl WebTerminal for WebTerminalLink {
    async fn describe(&self, private: bool, l: Lang) -> Result<Output, ServiceError> {
        if self.url.is_empty() {
            return Ok(Output::plain(l.pick(
                "🖥 网页终端的公开地址未配置。请设置 WEB_TERMINAL_URL（例如 https://dev.example.com），或通过 SSH 隧道访问 7681 端口。",
                "🖥 The web terminal has no public address yet. Set WEB_TERMINAL_URL (e.g. https://dev.example.com), or reach port 7681 through an SSH tunnel.",
            )));
        }
        let kind = match self.kind {
            WebTerminalKind::Ttyd => "ttyd",
            WebTerminalKind::CodeServer => "code-server",
        };
        let mut text = format!(
            "🖥 {} ({kind}): {}",
            l.pick("网页终端", "Web terminal"),
            self.url
        );
        let user = read_secret(&self.data_dir, "ttyd_user");
        let password = read_secret(&self.data_dir, "ttyd_password");
        match (private, &user, &password) {
            (true, Some(u), Some(p)) => {
                text.push_str(&format!(
                    "\n{}: {} / {}",
                    l.pick("登录", "Login"),
                    u.expose(),
                    p.expose()
                ));
            }
            (true, _, _) => text.push_str(l.pick(
                "\n凭据位于服务器的 /data/secrets/ 中。",
                "\nThe credentials are in /data/secrets/ on the server.",
            )),
            (false, _, _) => text.push_str(l.pick(
                "\n🔒 登录凭据只在私聊中发送。",
                "\n🔒 Login credentials are only sent in a private chat.",
            )),
        }
        Ok(Output::plain(text))
    }

    async fn rotate(&self) -> Result<(), ServiceError> {
        self.write_new_credentials().map_err(|e| {
            ServiceError::Failed(format!("cannot write the terminal credentials: {e}"))
        })?;
        match &self.services {
            Some(dir) => crate::proxy::restart(&dir.join("svc-ttyd")),
            None => tracing::warn!(
                "web terminal credentials rotated; not under s6, so restart the terminal yourself for them to take effect"
            ),
        }
        tracing::info!("web terminal credentials rotated");
        Ok(())
    }

    async fn switch(&self, kind: &str, l: Lang) -> Result<Output, ServiceError> {
        match kind {
            "ttyd" => Ok(Output::plain(
                l.pick("🖥 当前终端为 ttyd。", "🖥 The terminal is ttyd."),
            )),
            "code-server" if which("code-server") => Err(ServiceError::NotAvailable(
                "switching to code-server at run time",
            )),
            "code-server" => Ok(Output::plain(l.pick(
                "🖥 此镜像没有安装 code-server。请使用 `full` 镜像标签。",
                "🖥 code-server is not installed in this image. Use the `full` image tag.",
            ))),
            _ => Ok(Output::plain(cloudify_core::i18n::usage(
                l,
                "/web-terminal ttyd|code-server",
            ))),
        }
    }
}

fn which(bin: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(bin).is_file()))
}
