//! The bot's side of the trust boundary (issue 13), with the real binary: the notify token
//! cannot make admin calls, and every file the bot writes is for its account only.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use cloudify_testkit::fake_telegram::FakeTelegram;
use reqwest::StatusCode;
use serde_json::json;
use std::net::TcpListener;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn cloudify(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cloudify"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CLOUDIFY_DATA_DIR", data)
        .env("CLOUDIFY_UPDATE_CHECK", "false")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    c
}

fn output(c: &mut Command) -> Output {
    c.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Permission bits, of the entry itself (a link is not followed).
fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn secret(data: &Path, name: &str) -> String {
    std::fs::read_to_string(data.join("secrets").join(name))
        .unwrap()
        .trim()
        .to_string()
}

/// Every entry under `dir` (recursively, links not followed) with its mode.
fn modes_under(dir: &Path) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let ft = std::fs::symlink_metadata(&p).unwrap().file_type();
            out.push((p.display().to_string(), mode(&p)));
            if ft.is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_daemon(data: &Path, tg: &FakeTelegram, port: u16) -> Daemon {
    let log = std::fs::File::create(data.parent().unwrap().join("run.log")).unwrap();
    let child = configure(cloudify(data).arg("run"), tg, port)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let daemon = Daemon(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await
            && r.status().is_success()
        {
            return daemon;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("cloudify run did not become healthy");
}

fn configure<'a>(c: &'a mut Command, tg: &FakeTelegram, port: u16) -> &'a mut Command {
    c.env("TELEGRAM_TOKEN", tg.token())
        .env(
            "TELEGRAM_API_URL",
            tg.api_url().as_str().trim_end_matches('/'),
        )
        .env("CLOUDIFY_HTTP_LISTEN", format!("127.0.0.1:{port}"))
        .env("OPENCODE_URL", "http://127.0.0.1:9")
}

async fn post(port: u16, path: &str, token: Option<&str>) -> StatusCode {
    let mut req = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}{path}"))
        .json(&json!({"text": "trust test"}));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap().status()
}

/// The notify token only notifies: `/api/reset-qr` answers it 403 (it used to reset the QR, so
/// whoever could read the notify token could take over the bot). The admin token lives in a
/// file of its own, and `cloudify reset-qr` uses it.
#[tokio::test(flavor = "multi_thread")]
async fn notify_token_cannot_reset_the_qr_and_the_admin_token_can() {
    let tg = FakeTelegram::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let port = free_port();
    let _daemon = start_daemon(&data, &tg, port).await;

    let notify = secret(&data, "notify_token");
    assert_eq!(
        post(port, "/api/reset-qr", Some(&notify)).await,
        StatusCode::FORBIDDEN
    );
    let admin = secret(&data, "admin_token");
    assert!(admin.len() >= 32 && admin != notify);
    assert_eq!(mode(&data.join("secrets/admin_token")), 0o600);
    assert_eq!(
        post(port, "/api/reset-qr", None).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(port, "/api/reset-qr", Some("not-a-token")).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(port, "/api/notify", None).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(port, "/api/notify", Some(&notify)).await,
        StatusCode::OK
    );
    assert_eq!(
        post(port, "/api/notify", Some(&admin)).await,
        StatusCode::OK
    );
    assert_eq!(
        post(port, "/api/reset-qr", Some(&admin)).await,
        StatusCode::OK
    );

    // The CLI's admin call goes through the running bot with the admin token.
    let o = output(configure(cloudify(&data).arg("reset-qr"), &tg, port));
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("Reset through the running bot"),
        "{}",
        text(&o.stdout)
    );
    let o = output(configure(cloudify(&data).args(["notify", "hi"]), &tg, port));
    assert!(
        text(&o.stdout).contains("Queued for"),
        "{}",
        text(&o.stderr)
    );
}

/// After `cloudify run` (database with its WAL, secrets, the first-start QR) every file in the
/// data directory is 0600 and every directory 0700.
#[tokio::test(flavor = "multi_thread")]
async fn run_writes_every_file_0600_in_0700_directories() {
    let tg = FakeTelegram::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let port = free_port();
    let daemon = start_daemon(&data, &tg, port).await;
    // The first-start QR is written once the bot met Telegram.
    let png = data.join("qr/workspace.png");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !png.exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(png.exists());
    assert!(
        data.join("cloudify.db-wal").exists(),
        "the database runs in WAL mode"
    );
    let seen = modes_under(&data);
    drop(daemon);
    assert!(seen.len() >= 8, "{seen:?}");
    for (path, m) in &seen {
        let want = if Path::new(path).is_dir() {
            0o700
        } else {
            0o600
        };
        assert_eq!(*m, want, "{path} is {m:o}");
    }
    assert_eq!(
        mode(&data),
        0o700,
        "a data directory cloudify creates is its own"
    );
}

/// An older version left 0644 files in 0755 directories: the next start fixes them, and a
/// symbolic link planted in the data directory is neither followed nor changed.
#[test]
fn upgrade_fixes_old_modes_and_never_follows_links() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let outside = tmp.path().join("someone-elses-file");
    for d in ["secrets", "qr", "cache/rendered"] {
        std::fs::create_dir_all(data.join(d)).unwrap();
    }
    let open = |p: &Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    };
    std::fs::write(&outside, "not the bot's").unwrap();
    open(&outside, 0o644);
    // A first run in the old world: database and QR as an older version left them.
    assert!(output(cloudify(&data).arg("qr")).status.success());
    for (f, body) in [
        ("config.yaml", "language: en\n"),
        ("secrets/notify_token", "0123456789abcdef\n"),
        ("cache/rendered/page.png", "png"),
    ] {
        std::fs::write(data.join(f), body).unwrap();
    }
    for f in [
        "cloudify.db",
        "config.yaml",
        "secrets/notify_token",
        "qr/workspace.png",
        "cache/rendered/page.png",
    ] {
        open(&data.join(f), 0o644);
    }
    for d in ["secrets", "qr", "cache", "cache/rendered"] {
        open(&data.join(d), 0o755);
    }
    symlink(&outside, data.join("secrets/planted")).unwrap();
    symlink(&outside, data.join("qr/planted.png")).unwrap();

    for args in [
        &["qr"][..],
        &["instance", "add", "second", "--dir", "/srv/second"],
    ] {
        let o = output(cloudify(&data).args(args));
        assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
    }

    assert_eq!(mode(&outside), 0o644, "a link's target is never changed");
    for (path, m) in modes_under(&data) {
        if std::fs::symlink_metadata(&path).unwrap().is_symlink() {
            continue;
        }
        let want = if Path::new(&path).is_dir() {
            0o700
        } else {
            0o600
        };
        assert_eq!(m, want, "{path} is {m:o}");
    }
}
