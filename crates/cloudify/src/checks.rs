//! Live checks shared by `cloudify setup` and `cloudify doctor`. Each one answers in a
//! sentence a newcomer can act on, and never prints a secret.

use cloudify_core::Secret;
use serde_json::Value;
use std::time::Duration;

fn client(proxy: Option<&Secret>, timeout: Duration) -> Result<reqwest::Client, String> {
    let mut b = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(5));
    if let Some(p) = proxy {
        b = b.proxy(
            reqwest::Proxy::all(p.expose())
                .map_err(|_| "the proxy URL is not valid".to_string())?,
        );
    }
    b.build().map_err(|e| e.without_url().to_string())
}

fn net_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    // reqwest errors carry the URL, and Telegram URLs carry the token.
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(u.as_str(), "<url>");
    }
    s
}

/// Checks a bot token with getMe; returns the bot's username.
pub async fn telegram_get_me(
    api_url: &str,
    token: &Secret,
    proxy: Option<&Secret>,
) -> Result<String, String> {
    let c = client(proxy, Duration::from_secs(15))?;
    let url = format!(
        "{}/bot{}/getMe",
        api_url.trim_end_matches('/'),
        token.expose()
    );
    let resp = c
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("cannot reach {api_url}: {}", net_error(&e)))?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if status.as_u16() == 401 || status.as_u16() == 404 {
        return Err("Telegram refused this token; copy it again from @BotFather".into());
    }
    match body.pointer("/result/username").and_then(Value::as_str) {
        Some(u) if status.is_success() => Ok(u.to_string()),
        _ => Err(format!("unexpected answer from {api_url} ({status})")),
    }
}

/// Checks DingTalk app credentials with the access-token endpoint.
pub async fn dingtalk_token(
    api_url: &str,
    key: &str,
    secret: &Secret,
    proxy: Option<&Secret>,
) -> Result<(), String> {
    let c = client(proxy, Duration::from_secs(15))?;
    let url = format!("{}/v1.0/oauth2/accessToken", api_url.trim_end_matches('/'));
    let resp = c
        .post(&url)
        .json(&serde_json::json!({ "appKey": key, "appSecret": secret.expose() }))
        .send()
        .await
        .map_err(|e| format!("cannot reach {api_url}: {}", net_error(&e)))?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if status.is_success() && body.get("accessToken").is_some() {
        Ok(())
    } else {
        let msg = body
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("no details");
        Err(format!(
            "DingTalk refused the AppKey/AppSecret ({status}: {msg})"
        ))
    }
}

/// Checks OpenCode's health endpoint; returns its version.
pub async fn opencode_health(url: &str, user: &str, password: &Secret) -> Result<String, String> {
    let c = client(None, Duration::from_secs(2))?;
    let mut last = String::new();
    // The port accepts and hangs for a moment during start-up: short tries, a few times.
    for _ in 0..3 {
        let mut req = c.get(format!("{}/global/health", url.trim_end_matches('/')));
        if !password.is_empty() {
            req = req.basic_auth(user, Some(password.expose()));
        }
        match req.send().await {
            Ok(r) if r.status().as_u16() == 401 => {
                return Err(
                    "OpenCode wants a password: set opencode.password / OPENCODE_SERVER_PASSWORD"
                        .into(),
                );
            }
            Ok(r) => {
                let json = r
                    .headers()
                    .get("content-type")
                    .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
                let body: Value = if json {
                    r.json().await.unwrap_or(Value::Null)
                } else {
                    Value::Null
                };
                return match (
                    body.get("healthy").and_then(Value::as_bool),
                    body.get("version").and_then(Value::as_str),
                ) {
                    (Some(true), Some(v)) => Ok(v.to_string()),
                    (Some(false), _) => Err("OpenCode answers but reports itself unhealthy".into()),
                    _ => Err(format!("{url} answered, but it is not an OpenCode server")),
                };
            }
            Err(e) => last = net_error(&e),
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Err(format!("cannot reach OpenCode at {url}: {last}"))
}

/// Fetches a URL through the proxy, to tell whether the proxy works.
pub async fn through_proxy(proxy: &Secret, probe: &str) -> Result<Duration, String> {
    let c = client(Some(proxy), Duration::from_secs(15))?;
    let start = std::time::Instant::now();
    c.get(probe)
        .send()
        .await
        .map_err(|e| format!("the proxy did not work: {}", net_error(&e)))?;
    Ok(start.elapsed())
}
