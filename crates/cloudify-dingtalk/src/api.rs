//! HTTP side of DingTalk: the access token (cached, refreshed before expiry, single-flight),
//! new-API and legacy calls with their two error styles, sessionWebhook posts, media upload,
//! file download. Every error string passes the [`Redactor`] so no secret or token leaks.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use cloudify_core::Secret;
use cloudify_core::adapter::DeliveryError;
use cloudify_core::secret::mask_url_password;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::options::{DingTalkError, DingTalkOptions};

/// Stream topics the gateway registration subscribes to.
pub(crate) const BOT_TOPIC: &str = "/v1.0/im/bot/messages/get";
pub(crate) const CARD_TOPIC: &str = "/v1.0/card/instances/callback";

/// Refresh this long before DingTalk's expiry (the official SDKs use 300 s).
const TOKEN_MARGIN: Duration = Duration::from_secs(300);
/// How long to wait after a QpsLimit (a per-second gateway window).
pub(crate) const QPS_RETRY: Duration = Duration::from_secs(1);

/// A failed call, classified the way the outbox needs it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ApiError {
    /// 403 `…QpsLimit…` / errcode 90018 / per-user flow control.
    Qps,
    /// Network trouble, timeouts, 5xx.
    Transient(String),
    /// The token was refused (worth one retry with a fresh token).
    Auth(String),
    /// The recipient cannot be reached (unknown staff, robot not in group, webhook expired).
    Unreachable(String),
    /// Anything else the API refused.
    Rejected(String),
}

impl From<ApiError> for DeliveryError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Qps => DeliveryError::RetryAfter(QPS_RETRY),
            ApiError::Transient(m) => DeliveryError::Transient(m),
            ApiError::Auth(m) => DeliveryError::Transient(format!("authentication: {m}")),
            ApiError::Unreachable(m) => DeliveryError::Unreachable(m),
            ApiError::Rejected(m) => DeliveryError::Rejected(m),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Qps => f.write_str("QPS limit"),
            ApiError::Transient(m)
            | ApiError::Auth(m)
            | ApiError::Unreachable(m)
            | ApiError::Rejected(m) => f.write_str(m),
        }
    }
}

/// Scrubs the app secret and every access token we were given from text.
#[derive(Debug, Default)]
pub(crate) struct Redactor {
    secrets: Mutex<Vec<String>>,
}

impl Redactor {
    fn add(&self, s: &str) {
        // Short values would mangle ordinary text; real secrets and tokens are long.
        if s.len() >= 6 {
            let mut v = self.secrets.lock().unwrap_or_else(PoisonError::into_inner);
            if !v.iter().any(|x| x == s) {
                v.push(s.to_owned());
            }
        }
    }

    pub(crate) fn scrub(&self, text: &str) -> String {
        let v = self.secrets.lock().unwrap_or_else(PoisonError::into_inner);
        v.iter()
            .fold(text.to_owned(), |t, s| t.replace(s.as_str(), "***"))
    }
}

struct CachedToken {
    value: Secret,
    refresh_at: Instant,
}

pub(crate) struct Api {
    http: reqwest::Client,
    api_url: String,
    oapi_url: String,
    app_key: String,
    secret: Secret,
    pub(crate) robot_code: String,
    token: tokio::sync::Mutex<Option<CachedToken>>,
    pub(crate) redact: Redactor,
}

fn base_url(key: &'static str, raw: &str) -> Result<String, DingTalkError> {
    let url = raw.trim().trim_end_matches('/');
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && !u.cannot_be_a_base() => {
            Ok(url.to_owned())
        }
        _ => Err(DingTalkError::BadUrl {
            key,
            url: mask_url_password(url),
        }),
    }
}

impl Api {
    pub(crate) fn new(o: &DingTalkOptions) -> Result<Self, DingTalkError> {
        if o.app_key.is_empty() || o.app_secret.is_empty() {
            return Err(DingTalkError::MissingCredentials);
        }
        let mut b = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(o.request_timeout);
        if let Some(p) = o.proxy.as_ref().filter(|p| !p.is_empty()) {
            // reqwest's error would echo the URL, password included.
            let proxy = reqwest::Proxy::all(p.expose())
                .map_err(|_| DingTalkError::Proxy(mask_url_password(p.expose())))?;
            b = b.proxy(proxy);
        }
        let http = b
            .build()
            .map_err(|e| DingTalkError::Client(e.without_url().to_string()))?;
        let redact = Redactor::default();
        redact.add(o.app_secret.expose());
        Ok(Self {
            http,
            api_url: base_url("dingtalk.api_url", &o.api_url)?,
            oapi_url: base_url("dingtalk.oapi_url", &o.oapi_url)?,
            app_key: o.app_key.clone(),
            secret: o.app_secret.clone(),
            robot_code: o.robot_code.clone(),
            token: tokio::sync::Mutex::new(None),
            redact,
        })
    }

    fn net(&self, e: &reqwest::Error) -> ApiError {
        // `without_url`: legacy URLs carry `?access_token=`.
        let msg = self.redact.scrub(&e.to_string());
        let msg = match e.url() {
            Some(u) => msg.replace(u.as_str(), u.path()),
            None => msg,
        };
        ApiError::Transient(msg)
    }

    /// Classifies a new-API answer (`{code, message}` with 4xx/5xx) or a legacy one
    /// (HTTP 200 `{errcode, errmsg}`).
    fn classify(&self, status: u16, body: &Value, what: &str) -> Result<(), ApiError> {
        let code = body
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let errcode = body.get("errcode").and_then(Value::as_i64).unwrap_or(0);
        if (200..300).contains(&status) && errcode == 0 {
            return Ok(());
        }
        let message = body
            .get("message")
            .or_else(|| body.get("errmsg"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let detail = self.redact.scrub(&format!(
            "{what}: HTTP {status} {}{message}",
            if code.is_empty() {
                format!("errcode {errcode}: ")
            } else {
                format!("{code}: ")
            }
        ));
        Err(match (status, code.as_str(), errcode) {
            (_, c, _) if c.contains("QpsLimit") || c.contains("tooFast") => ApiError::Qps,
            (_, _, 90018 | 90002 | 90006) => ApiError::Qps,
            (_, "InvalidAuthentication" | "invalidAuthentication", _) | (401, _, _) => {
                ApiError::Auth(detail)
            }
            (_, _, 40014 | 88 | 42001) => ApiError::Auth(detail),
            (s, _, _) if s >= 500 => ApiError::Transient(detail),
            // Session webhook gone, robot not in group, staff unknown.
            (_, _, 300001 | 310000 | 400013)
            | (_, "invalidParameter.openConversationId" | "invalidParameter.userIds", _)
            | (403, "Forbidden.AccessDenied.RobotNotInGroup", _) => ApiError::Unreachable(detail),
            _ => ApiError::Rejected(detail),
        })
    }

    async fn read(&self, resp: reqwest::Response, what: &str) -> Result<Value, ApiError> {
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| self.net(&e))?;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if body.is_null() && (200..300).contains(&status) {
            return Err(ApiError::Transient(format!("{what}: answer is not JSON")));
        }
        self.classify(status, &body, what)?;
        Ok(body)
    }

    /// A valid access token, fetched or refreshed when due. One refresh at a time.
    pub(crate) async fn token(&self) -> Result<Secret, ApiError> {
        let mut slot = self.token.lock().await;
        if let Some(t) = slot.as_ref().filter(|t| t.refresh_at > Instant::now()) {
            return Ok(t.value.clone());
        }
        let resp = self
            .http
            .post(format!("{}/v1.0/oauth2/accessToken", self.api_url))
            .json(&json!({"appKey": self.app_key, "appSecret": self.secret.expose()}))
            .send()
            .await
            .map_err(|e| self.net(&e))?;
        let body = self.read(resp, "accessToken").await.map_err(|e| match e {
            // A refused secret is a setup problem, not a reason to drop messages.
            ApiError::Rejected(m) | ApiError::Auth(m) => ApiError::Transient(m),
            other => other,
        })?;
        let token = body
            .get("accessToken")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::Transient("accessToken: no token in answer".into()))?;
        let ttl = Duration::from_secs(body.get("expireIn").and_then(Value::as_u64).unwrap_or(7200));
        // Short TTLs (tests, odd answers) refresh at half-life instead of going negative.
        let lead = if ttl > TOKEN_MARGIN * 2 {
            ttl - TOKEN_MARGIN
        } else {
            ttl / 2
        };
        self.redact.add(token);
        let value = Secret::new(token);
        *slot = Some(CachedToken {
            value: value.clone(),
            refresh_at: Instant::now() + lead,
        });
        tracing::debug!(ttl_s = ttl.as_secs(), "dingtalk access token refreshed");
        Ok(value)
    }

    async fn drop_token(&self) {
        *self.token.lock().await = None;
    }

    /// A new-API call with the token header; a refused token is refreshed and retried once.
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> Result<Value, ApiError> {
        let mut retried = false;
        loop {
            let token = self.token().await?;
            let resp = self
                .http
                .request(method.clone(), format!("{}{path}", self.api_url))
                .header("x-acs-dingtalk-access-token", token.expose())
                .json(body)
                .send()
                .await
                .map_err(|e| self.net(&e))?;
            match self.read(resp, path).await {
                Err(ApiError::Auth(m)) if retried => return Err(ApiError::Transient(m)),
                Err(ApiError::Auth(_)) => {
                    retried = true;
                    self.drop_token().await;
                }
                other => return other,
            }
        }
    }

    /// Gateway registration: `(endpoint, ticket)`. Needs only the app credentials.
    pub(crate) async fn open_connection(&self) -> Result<(String, String), ApiError> {
        let body = json!({
            "clientId": self.app_key,
            "clientSecret": self.secret.expose(),
            "subscriptions": [
                {"type": "CALLBACK", "topic": BOT_TOPIC},
                {"type": "CALLBACK", "topic": CARD_TOPIC},
            ],
            "ua": concat!("cloudify-dingtalk-rust/", env!("CARGO_PKG_VERSION")),
            "localIp": "",
        });
        let resp = self
            .http
            .post(format!("{}/v1.0/gateway/connections/open", self.api_url))
            .header("Accept", "application/json")
            .json(&body)
            .send()
            .await
            .map_err(|e| self.net(&e))?;
        let body = self.read(resp, "gateway open").await?;
        let field = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
        match (field("endpoint"), field("ticket")) {
            (Some(e), Some(t)) => Ok((e, t)),
            _ => Err(ApiError::Transient(
                "gateway open: no endpoint/ticket".into(),
            )),
        }
    }

    /// POST to a sessionWebhook (the URL itself is the credential; never logged).
    pub(crate) async fn webhook(&self, url: &str, body: &Value) -> Result<(), ApiError> {
        let resp = self
            .http
            .post(url)
            .json(body)
            .send()
            .await
            .map_err(|e| self.net(&e))?;
        self.read(resp, "sessionWebhook").await.map(drop)
    }

    /// Uploads a PNG (`media/upload?type=image`), returning its `media_id`.
    pub(crate) async fn upload_image(&self, png: Vec<u8>, name: &str) -> Result<String, ApiError> {
        let mut retried = false;
        loop {
            let token = self.token().await?;
            let part = reqwest::multipart::Part::bytes(png.clone())
                .file_name(name.to_owned())
                .mime_str("image/png")
                .map_err(|e| ApiError::Rejected(e.to_string()))?;
            let form = reqwest::multipart::Form::new().part("media", part);
            let resp = self
                .http
                .post(format!("{}/media/upload", self.oapi_url))
                .query(&[("access_token", token.expose()), ("type", "image")])
                .multipart(form)
                .send()
                .await
                .map_err(|e| self.net(&e))?;
            match self.read(resp, "media/upload").await {
                Ok(body) => {
                    return body
                        .get("media_id")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .ok_or_else(|| ApiError::Transient("media/upload: no media_id".into()));
                }
                Err(ApiError::Auth(_)) if !retried => {
                    retried = true;
                    self.drop_token().await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Downloads a received file by its `downloadCode`, refusing more than `max` bytes.
    pub(crate) async fn download(&self, code: &str, max: usize) -> Result<Download, ApiError> {
        let body = json!({"downloadCode": code, "robotCode": self.robot_code});
        let answer = self
            .call(
                reqwest::Method::POST,
                "/v1.0/robot/messageFiles/download",
                &body,
            )
            .await?;
        let url = answer
            .get("downloadUrl")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::Transient("messageFiles/download: no downloadUrl".into()))?;
        let mut resp = self.http.get(url).send().await.map_err(|e| self.net(&e))?;
        if !resp.status().is_success() {
            return Err(ApiError::Transient(format!(
                "file download: HTTP {}",
                resp.status().as_u16()
            )));
        }
        if resp.content_length().is_some_and(|n| n > max as u64) {
            return Ok(Download::TooLarge);
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.net(&e))? {
            if bytes.len() + chunk.len() > max {
                return Ok(Download::TooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Download::Bytes(bytes))
    }
}

#[derive(Debug)]
pub(crate) enum Download {
    Bytes(Vec<u8>),
    TooLarge,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> Api {
        let mut o = DingTalkOptions::new("key", Secret::new("topsecret-value"));
        o.api_url = "http://127.0.0.1:1/".into();
        Api::new(&o).unwrap()
    }

    #[test]
    fn errors_are_classified() {
        let a = api();
        let qps = json!({"code": "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", "message": "x"});
        assert_eq!(a.classify(403, &qps, "t"), Err(ApiError::Qps));
        assert_eq!(
            a.classify(200, &json!({"errcode": 90018}), "t"),
            Err(ApiError::Qps)
        );
        assert!(matches!(
            a.classify(503, &json!({"code": "ServiceUnavailable"}), "t"),
            Err(ApiError::Transient(_))
        ));
        assert!(matches!(
            a.classify(
                200,
                &json!({"errcode": 300001, "errmsg": "session 不存在"}),
                "t"
            ),
            Err(ApiError::Unreachable(_))
        ));
        let group = json!({"code": "invalidParameter.openConversationId"});
        assert!(matches!(
            a.classify(400, &group, "t"),
            Err(ApiError::Unreachable(_))
        ));
        let auth = json!({"code": "InvalidAuthentication"});
        assert!(matches!(
            a.classify(400, &auth, "t"),
            Err(ApiError::Auth(_))
        ));
        let bad = json!({"code": "invalidParameter.msgParam", "message": "m"});
        assert!(matches!(
            a.classify(400, &bad, "t"),
            Err(ApiError::Rejected(_))
        ));
        assert_eq!(a.classify(200, &json!({"errcode": 0}), "t"), Ok(()));
        assert_eq!(
            a.classify(200, &json!({"processQueryKey": "k"}), "t"),
            Ok(())
        );
    }

    #[test]
    fn secrets_are_scrubbed_from_errors() {
        let a = api();
        let body = json!({"code": "x", "message": "bad secret topsecret-value"});
        let e = a.classify(400, &body, "t").unwrap_err().to_string();
        assert!(!e.contains("topsecret-value"), "{e}");
        assert!(matches!(
            Api::new(&DingTalkOptions::new("k", Secret::new(""))),
            Err(DingTalkError::MissingCredentials)
        ));
    }
}
