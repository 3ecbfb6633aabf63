//! The HTTP side: `/bot<TOKEN>/<method>`, `/file/bot<TOKEN>/<path>`, outages, injected failures.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State as AxumState};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::serve::Listener;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::model::{Call, Outage, RateLimited};
use super::ops;
use super::params::{ApiError, Params};
use super::state::Shared;
use super::updates;

const BAD_GATEWAY: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n";

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(shared)
}

fn respond(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(value) => {
            let body = updates::body(&json!({"ok": true, "result": value}));
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Err(e) if e.status == 502 => {
            let headers = [(header::CONTENT_TYPE, "text/html")];
            (StatusCode::BAD_GATEWAY, headers, BAD_GATEWAY).into_response()
        }
        Err(e) => {
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            (status, axum::Json(e.body())).into_response()
        }
    }
}

async fn handle(AxumState(shared): AxumState<Arc<Shared>>, req: Request) -> Response {
    let mut outage = shared.outage.subscribe();
    // Hang: the request was read; hold the answer until the outage ends.
    let _ = outage.wait_for(|o| *o != Outage::Hang).await;
    let now = Instant::now();
    let path = req.uri().path().to_owned();
    let state = *outage.borrow();
    if let Some(rest) = path.strip_prefix("/file/bot") {
        return download(&shared, rest, state != Outage::Up);
    }
    let Some((token, method)) = path
        .strip_prefix("/bot")
        .map(|r| r.split_once('/').unwrap_or((r, "")))
    else {
        return respond(Err(ApiError::new(404, "Not Found")));
    };
    let method_name = ops::canonical(method);
    let result = if matches!(state, Outage::BadGateway | Outage::Refuse) {
        Err(ApiError::new(502, "Bad Gateway"))
    } else if state == Outage::ServerErrors {
        Err(server_error(&shared))
    } else if token != shared.token {
        Err(ApiError::new(401, "Unauthorized"))
    } else if let Some(method) = method_name {
        match Params::from_request(req).await {
            Ok(params) => {
                if let Outage::Flood { retry_after } = state {
                    let result = Err(flood(&shared, method, &params, now, retry_after));
                    record(&shared, method, Some(&params), now, &result);
                    return respond(result);
                }
                let result = run(&shared, method, &params, now).await;
                // A long poll that ends during a hang is not answered before the hang ends.
                let _ = outage.wait_for(|o| *o != Outage::Hang).await;
                record(&shared, method, Some(&params), now, &result);
                return respond(result);
            }
            Err(e) => Err(e),
        }
    } else {
        Err(ApiError::new(404, "Not Found"))
    };
    record(&shared, method_name.unwrap_or(method), None, now, &result);
    respond(result)
}

async fn run(
    shared: &Shared,
    method: &'static str,
    p: &Params,
    now: Instant,
) -> Result<Value, ApiError> {
    if method != "getUpdates" {
        let injected = shared.lock().fail_next.pop_front();
        if let Some(status) = injected {
            return Err(injected_failure(shared, method, status, p, now));
        }
    }
    if method == "getUpdates" {
        return updates::get_updates(shared, p).await;
    }
    ops::call(&mut shared.lock(), method, p, now)
}

/// Alternates nginx's 502 page and Telegram's JSON 500.
fn server_error(shared: &Shared) -> ApiError {
    if shared
        .server_errors
        .fetch_add(1, Ordering::Relaxed)
        .is_multiple_of(2)
    {
        ApiError::new(502, "Bad Gateway")
    } else {
        ApiError::new(500, "Internal Server Error")
    }
}

fn flood(shared: &Shared, method: &str, p: &Params, now: Instant, retry_after: u64) -> ApiError {
    shared.lock().rate_limited.push(RateLimited {
        at: now,
        method: method.to_owned(),
        chat_id: p.chat_id().unwrap_or_default(),
        retry_after,
    });
    ApiError::too_many(retry_after)
}

fn injected_failure(
    shared: &Shared,
    method: &str,
    status: u16,
    p: &Params,
    now: Instant,
) -> ApiError {
    if status == 429 {
        let chat_id = p.chat_id().unwrap_or_default();
        let method = method.to_owned();
        shared.lock().rate_limited.push(RateLimited {
            at: now,
            method,
            chat_id,
            retry_after: 1,
        });
        return ApiError::too_many(1);
    }
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason());
    ApiError::new(status, reason.unwrap_or("Internal Server Error"))
}

fn record(
    shared: &Shared,
    method: &str,
    p: Option<&Params>,
    at: Instant,
    result: &Result<Value, ApiError>,
) {
    let call = Call {
        at,
        method: method.to_owned(),
        chat_id: p.and_then(Params::chat_id),
        params: p.map_or(Value::Null, Params::summary),
        status: result.as_ref().map_or_else(|e| e.status, |_| 200),
        error: result.as_ref().err().map(|e| e.description.clone()),
    };
    shared.lock().calls.push(call);
    shared.notify();
}

fn download(shared: &Shared, rest: &str, down: bool) -> Response {
    if down {
        return respond(Err(ApiError::new(502, "Bad Gateway")));
    }
    let Some((token, path)) = rest.split_once('/') else {
        return respond(Err(ApiError::new(404, "Not Found")));
    };
    if token != shared.token {
        return respond(Err(ApiError::new(401, "Unauthorized")));
    }
    let path = percent_decode(path);
    let st = shared.lock();
    match st.files.values().find(|f| f.path == path) {
        Some(f) => (StatusCode::OK, f.bytes.clone()).into_response(),
        None => respond(Err(ApiError::new(404, "Not Found"))),
    }
}

/// teloxide sends the file path as one URL segment (`photos%2Ffile_2.png`).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = s
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Accepts connections, but drops them at once while the outage is `Refuse`.
pub(crate) struct Gate {
    pub listener: TcpListener,
    pub outage: watch::Receiver<Outage>,
}

impl Listener for Gate {
    type Io = GatedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.listener.accept().await else {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                continue;
            };
            if *self.outage.borrow() == Outage::Refuse {
                drop(stream);
                continue;
            }
            return (
                GatedStream {
                    inner: stream,
                    outage: self.outage.clone(),
                },
                addr,
            );
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

/// A connection that fails as soon as it is used while the outage is `Refuse`, so kept-alive
/// connections die too.
pub(crate) struct GatedStream {
    inner: TcpStream,
    outage: watch::Receiver<Outage>,
}

impl GatedStream {
    fn refused(&self) -> bool {
        *self.outage.borrow() == Outage::Refuse
    }
}

fn reset() -> io::Error {
    io::Error::from(io::ErrorKind::ConnectionReset)
}

impl AsyncRead for GatedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.refused() {
            return Poll::Ready(Err(reset()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for GatedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.refused() {
            return Poll::Ready(Err(reset()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
