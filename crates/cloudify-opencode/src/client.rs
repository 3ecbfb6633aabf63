//! Request plumbing: auth, directory header, timeouts, error decoding, health, event stream.

use std::time::Duration;

use base64::Engine as _;
use futures::{Stream, StreamExt as _};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::{ClientConfig, encode_uri_component};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::sse::{SseFrame, SseParser};
use crate::types::Health;

/// Typed client of one OpenCode instance (server URL + directory). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) http: reqwest::Client,
    pub(crate) cfg: ClientConfig,
}

impl Client {
    /// Builds a client.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] when the directory or credentials cannot form headers.
    pub fn new(cfg: ClientConfig) -> Result<Self> {
        let mut headers = HeaderMap::new();
        if let Some(pw) = &cfg.password {
            let token = base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                cfg.username,
                pw.expose()
            ));
            let mut v = HeaderValue::from_str(&format!("Basic {token}"))
                .map_err(|_| Error::InvalidUrl("credentials are not a valid header".into()))?;
            v.set_sensitive(true);
            headers.insert(header::AUTHORIZATION, v);
        }
        if let Some(dir) = &cfg.directory {
            let v = HeaderValue::from_str(&encode_uri_component(dir))
                .map_err(|_| Error::InvalidUrl(format!("directory {dir:?}")))?;
            headers.insert("x-opencode-directory", v);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(cfg.connect_timeout)
            // Loopback or an explicit URL: never route through an ambient proxy by accident.
            .no_proxy()
            .build()
            .map_err(|e| Error::Connect {
                url: cfg.base_url.to_string(),
                source: e,
            })?;
        Ok(Self { http, cfg })
    }

    /// The configuration this client was built with.
    #[must_use]
    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    /// Project directory of this instance, if set.
    #[must_use]
    pub fn directory(&self) -> Option<&str> {
        self.cfg.directory.as_deref()
    }

    /// Same server and credentials, another directory (one server hosts many projects).
    ///
    /// # Errors
    /// As [`Client::new`].
    pub fn with_directory(&self, dir: impl Into<String>) -> Result<Self> {
        Self::new(self.cfg.clone().directory(dir))
    }

    pub(crate) fn request(&self, method: Method, path: &str) -> Result<RequestBuilder> {
        let url = self
            .cfg
            .base_url
            .join(path.trim_start_matches('/'))
            .map_err(|e| Error::InvalidUrl(format!("{path}: {e}")))?;
        Ok(self.http.request(method, url))
    }

    /// Sends with the ordinary timeout and maps transport errors.
    pub(crate) async fn send(
        &self,
        what: &str,
        rb: RequestBuilder,
        timeout: Duration,
    ) -> Result<Response> {
        let resp = rb
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| map_reqwest(what, &self.cfg, timeout, e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        if status == StatusCode::UNAUTHORIZED {
            return Err(Error::Unauthorized);
        }
        let body = resp.text().await.unwrap_or_default();
        let (name, message) = decode_error_body(&body);
        Err(Error::Status {
            what: what.to_owned(),
            status: status.as_u16(),
            name,
            message,
        })
    }

    /// Sends and decodes a JSON answer; a non-JSON 2xx (the HTML web UI) is an error.
    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        what: &str,
        rb: RequestBuilder,
    ) -> Result<T> {
        let resp = self.send(what, rb, self.cfg.request_timeout).await?;
        decode_json(what, &self.cfg, resp).await
    }

    /// Sends and accepts any 2xx (e.g. `prompt_async`'s 204).
    pub(crate) async fn no_content(&self, what: &str, rb: RequestBuilder) -> Result<()> {
        let resp = self.send(what, rb, self.cfg.request_timeout).await?;
        // Drain the body so the connection is reused.
        resp.bytes().await.map_err(|e| Error::Transport {
            what: what.to_owned(),
            source: e,
        })?;
        Ok(())
    }

    /// `GET /global/health` with a short per-try timeout, retried: during start-up the port
    /// accepts connections it never answers (API.md §2).
    ///
    /// # Errors
    /// The last failure after `health_attempts` tries.
    pub async fn health(&self) -> Result<Health> {
        let attempts = self.cfg.health_attempts.max(1);
        let mut last = Error::Unhealthy;
        for attempt in 1..=attempts {
            match self.health_once().await {
                Ok(h) if h.healthy => return Ok(h),
                Ok(_) => last = Error::Unhealthy,
                Err(e @ (Error::Unauthorized | Error::NotJson { .. })) => return Err(e),
                Err(e) => last = e,
            }
            tracing::debug!(attempt, error = %last, "opencode health try failed");
            if attempt < attempts {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Err(last)
    }

    /// One health try with the short timeout.
    ///
    /// # Errors
    /// Connection, timeout or decode failure.
    pub async fn health_once(&self) -> Result<Health> {
        let what = "GET /global/health";
        let rb = self.request(Method::GET, "global/health")?;
        let resp = self.send(what, rb, self.cfg.health_timeout).await?;
        decode_json(what, &self.cfg, resp).await
    }

    /// Polls health until it answers or `deadline` passes.
    ///
    /// # Errors
    /// The last failure when the deadline passes.
    pub async fn wait_healthy(&self, deadline: Duration) -> Result<Health> {
        let until = tokio::time::Instant::now() + deadline;
        loop {
            match self.health_once().await {
                Ok(h) if h.healthy => return Ok(h),
                Err(e @ Error::Unauthorized) => return Err(e),
                Ok(_) if tokio::time::Instant::now() >= until => return Err(Error::Unhealthy),
                Err(e) if tokio::time::Instant::now() >= until => return Err(e),
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Opens `GET /event` and returns the decoded events. The stream ends when the server
    /// closes it (restart, instance dispose); it has no replay, so resync after reconnecting.
    /// The caller owns liveness: a heartbeat arrives every 10 s.
    ///
    /// # Errors
    /// When the connection or the response headers fail within the connect/request timeout.
    pub async fn subscribe(
        &self,
    ) -> Result<impl Stream<Item = Result<Event>> + Send + 'static + use<>> {
        let frames = self.subscribe_frames("event").await?;
        Ok(frames.map(|r| r.map(|f| Event::parse(&f.data))))
    }

    /// Raw SSE frames of `path` (`event` or `global/event`).
    ///
    /// # Errors
    /// When the connection fails, the status is not 2xx or the content type is not SSE.
    pub async fn subscribe_frames(
        &self,
        path: &str,
    ) -> Result<impl Stream<Item = Result<SseFrame>> + Send + 'static + use<>> {
        let what = format!("GET /{path}");
        let rb = self
            .request(Method::GET, path)?
            .header(header::ACCEPT, "text/event-stream");
        // Only the response head is bounded; the body is long-lived.
        let send = rb.send();
        let resp = tokio::time::timeout(self.cfg.request_timeout, send)
            .await
            .map_err(|_| Error::Timeout {
                what: what.clone(),
                after: self.cfg.request_timeout,
            })?
            .map_err(|e| map_reqwest(&what, &self.cfg, self.cfg.request_timeout, e))?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            return Err(Error::Unauthorized);
        }
        if !resp.status().is_success() {
            return Err(Error::Status {
                what,
                status: resp.status().as_u16(),
                name: String::new(),
                message: String::new(),
            });
        }
        let ct = content_type(&resp);
        if !ct.starts_with("text/event-stream") {
            return Err(Error::NotJson {
                what,
                content_type: ct,
            });
        }
        let mut parser = SseParser::new();
        let body = resp.bytes_stream();
        let stream = body
            .map(move |chunk| {
                let mut out = Vec::new();
                match chunk {
                    Ok(bytes) => {
                        parser.push(&bytes, &mut out);
                        out.into_iter().map(Ok).collect::<Vec<_>>()
                    }
                    Err(e) => vec![Err(Error::Transport {
                        what: what.clone(),
                        source: e,
                    })],
                }
            })
            .flat_map(futures::stream::iter);
        Ok(stream)
    }
}

fn content_type(resp: &Response) -> String {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase()
}

async fn decode_json<T: DeserializeOwned>(
    what: &str,
    cfg: &ClientConfig,
    resp: Response,
) -> Result<T> {
    let ct = content_type(&resp);
    if !ct.contains("json") {
        return Err(Error::NotJson {
            what: what.to_owned(),
            content_type: ct,
        });
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| map_reqwest(what, cfg, cfg.request_timeout, e))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Decode {
        what: what.to_owned(),
        source: e,
    })
}

fn map_reqwest(what: &str, cfg: &ClientConfig, timeout: Duration, e: reqwest::Error) -> Error {
    if e.is_timeout() {
        Error::Timeout {
            what: what.to_owned(),
            after: timeout,
        }
    } else if e.is_connect() {
        Error::Connect {
            url: cfg.base_url.to_string(),
            source: e,
        }
    } else {
        Error::Transport {
            what: what.to_owned(),
            source: e,
        }
    }
}

/// OpenCode error bodies: `{"name","data":{"message"}}` or `{"_tag","message"}`.
fn decode_error_body(body: &str) -> (String, String) {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return (String::new(), body.chars().take(300).collect());
    };
    let name = v
        .get("name")
        .or_else(|| v.get("_tag"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let message = v
        .pointer("/data/message")
        .or_else(|| v.get("message"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    (name, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies() {
        assert_eq!(
            decode_error_body(
                r#"{"name":"NotFoundError","data":{"message":"Session not found: x"}}"#
            ),
            ("NotFoundError".into(), "Session not found: x".into())
        );
        assert_eq!(
            decode_error_body(r#"{"_tag":"PermissionNotFoundError","message":"nope"}"#),
            ("PermissionNotFoundError".into(), "nope".into())
        );
        assert_eq!(decode_error_body("oops"), (String::new(), "oops".into()));
    }
}
