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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    fn link(data_dir: &Path) -> WebTerminalLink {
        WebTerminalLink {
            url: "https://dev.example.com".into(),
            kind: WebTerminalKind::Ttyd,
            data_dir: data_dir.to_path_buf(),
            services: None,
        }
    }

    fn text(o: Output) -> String {
        match o {
            Output::Plain { text } => text,
            other => panic!("{other:?}"),
        }
    }

    /// What svc-ttyd's run script does on every (re)start: read the two secrets and start
    /// the terminal with them (here the s6 harness's ttyd stand-in, which checks Basic auth
    /// as ttyd does).
    fn start_terminal(data_dir: &Path, port: u16) -> Child {
        let user = read_secret(data_dir, "ttyd_user").unwrap();
        let pass = read_secret(data_dir, "ttyd_password").unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/s6/fake_ttyd.py");
        Command::new("python3")
            .arg(script)
            .args(["--port", &port.to_string(), "--writable", "--check-origin"])
            .args([
                "--credential",
                &format!("{}:{}", user.expose(), pass.expose()),
            ])
            .arg("true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs the ttyd stand-in")
    }

    async fn status(port: u16, user: &str, pass: &str) -> u16 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let r = reqwest::Client::new()
                .get(format!("http://127.0.0.1:{port}/"))
                .basic_auth(user, Some(pass))
                .send()
                .await;
            match r {
                Ok(r) => return r.status().as_u16(),
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("terminal never answered: {e}"),
            }
        }
    }

    #[tokio::test]
    async fn rotation_replaces_the_credentials_and_the_old_ones_get_401_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = dir.path().join("secrets");
        std::fs::create_dir_all(&secrets).unwrap();
        std::fs::write(secrets.join("ttyd_user"), "cloudify\n").unwrap();
        std::fs::write(secrets.join("ttyd_password"), "old-password-1234\n").unwrap();
        let t = link(dir.path());
        let before = text(t.describe(true, Lang::En).await.unwrap());
        assert!(before.contains("cloudify / old-password-1234"), "{before}");

        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut ttyd = start_terminal(dir.path(), port);
        assert_eq!(status(port, "cloudify", "old-password-1234").await, 200);

        t.rotate().await.unwrap();
        let user = read_secret(dir.path(), "ttyd_user").unwrap();
        let pass = read_secret(dir.path(), "ttyd_password").unwrap();
        assert_ne!(pass.expose(), "old-password-1234");
        assert!(pass.expose().len() >= 20);
        for f in ["ttyd_user", "ttyd_password"] {
            let mode = std::fs::metadata(secrets.join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
        let after = text(t.describe(true, Lang::En).await.unwrap());
        assert!(!after.contains("old-password-1234"), "{after}");
        assert!(after.contains(&format!("{} / {}", user.expose(), pass.expose())));
        let group = text(t.describe(false, Lang::En).await.unwrap());
        assert!(!group.contains(pass.expose()), "never in a group: {group}");

        // What `s6-svc -r svc-ttyd` does: the run script starts the terminal again.
        let _ = ttyd.kill();
        let _ = ttyd.wait();
        let mut ttyd = start_terminal(dir.path(), port);
        assert_eq!(status(port, user.expose(), pass.expose()).await, 200);
        assert_eq!(status(port, "cloudify", "old-password-1234").await, 401);
        let _ = ttyd.kill();
        let _ = ttyd.wait();

        t.rotate().await.unwrap();
        assert_ne!(
            read_secret(dir.path(), "ttyd_password").unwrap().expose(),
            pass.expose(),
            "every rotation is new"
        );
    }
}
