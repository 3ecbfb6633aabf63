//! The CLI side of the local HTTP port: `cloudify notify` and `cloudify reset-qr`.

use crate::app::App;
use serde_json::{Value, json};
use std::time::Duration;

/// Which token a call presents: the notify token can only notify.
enum Credential {
    Notify,
    Admin,
}

fn call(app: &App, path: &str, body: &Value, cred: &Credential) -> Result<Value, String> {
    let token = match cred {
        Credential::Notify => app.notify_token(),
        Credential::Admin => app.admin_token(),
    }
    .map_err(|e| e.to_string())?;
    let url = format!("http://{}{path}", local_addr(app));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .no_proxy()
            .build()
            .map_err(|e| e.to_string())?;
        let resp = client
            .post(&url)
            .bearer_auth(token.expose())
            .json(body)
            .send()
            .await
            .map_err(|e| format!("cannot reach the bot at {url}: {}", without_url(&e)))?;
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            Ok(v)
        } else {
            Err(format!(
                "the bot answered {status}: {}",
                v.get("error").and_then(Value::as_str).unwrap_or("")
            ))
        }
    })
}

/// `0.0.0.0:4097` is where the bot listens, but the CLI must dial loopback.
fn local_addr(app: &App) -> String {
    let a = app.config.http.listen;
    if a.ip().is_unspecified() {
        format!("127.0.0.1:{}", a.port())
    } else {
        a.to_string()
    }
}

fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s
            .replace(&format!(" for url ({u})"), "")
            .replace(u.as_str(), "");
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{s}: {cause}"),
        None => s,
    }
}

pub fn notify_via_daemon(app: &App, instance: Option<&str>, text: &str) -> Result<u64, String> {
    let v = call(
        app,
        "/api/notify",
        &json!({ "text": text, "instance": instance }),
        &Credential::Notify,
    )?;
    Ok(v.get("recipients").and_then(Value::as_u64).unwrap_or(0))
}

pub fn reset_via_daemon(app: &App, instance: &str) -> Result<u64, String> {
    let v = call(
        app,
        "/api/reset-qr",
        &json!({ "instance": instance }),
        &Credential::Admin,
    )?;
    Ok(v.get("removed").and_then(Value::as_u64).unwrap_or(0))
}
