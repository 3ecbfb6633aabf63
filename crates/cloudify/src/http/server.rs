use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router as Axum};
use cloudify_core::output::Output;
use cloudify_core::{Router, Secret};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use subtle_eq::ct_eq;

#[derive(Clone)]
pub struct HttpState {
    pub router: Arc<Router>,
    /// May only notify (`POST /api/notify`): scripts and CI hold it.
    pub notify_token: Secret,
    /// Admin calls (`POST /api/reset-qr`) and notify: only the bot's account can read it.
    pub admin_token: Secret,
    pub platforms: Vec<&'static str>,
}

/// Serves until the task is dropped. Binds first so callers learn about a busy port at once.
pub async fn serve(
    addr: SocketAddr,
    state: HttpState,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        anyhow::anyhow!("cannot listen on {addr} (http.listen / CLOUDIFY_HTTP_LISTEN): {e}")
    })?;
    let app = Axum::new()
        .route("/healthz", get(healthz))
        .route("/api/notify", post(notify))
        .route("/api/reset-qr", post(reset_qr))
        .with_state(state);
    tracing::info!(%addr, "HTTP port ready (GET /healthz, POST /api/notify, POST /api/reset-qr)");
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    }))
}

async fn healthz(State(s): State<HttpState>) -> Json<Value> {
    Json(json!({ "ok": true, "version": env!("CARGO_PKG_VERSION"), "platforms": s.platforms }))
}

/// What a call needs: the notify token (or the admin token), or the admin token alone.
#[derive(Clone, Copy, PartialEq)]
enum Scope {
    Notify,
    Admin,
}

/// 401 without a known token; 403 for the notify token on an admin call.
fn authorize(s: &HttpState, headers: &HeaderMap, scope: Scope) -> Result<(), Reply> {
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let is = |t: &Secret| !t.is_empty() && ct_eq(given.as_bytes(), t.expose().as_bytes());
    if is(&s.admin_token) {
        return Ok(());
    }
    if is(&s.notify_token) {
        return match scope {
            Scope::Notify => Ok(()),
            Scope::Admin => Err(error(
                StatusCode::FORBIDDEN,
                "the notify token may only notify; admin calls need secrets/admin_token",
            )),
        };
    }
    Err(error(
        StatusCode::UNAUTHORIZED,
        "missing or wrong bearer token (secrets/notify_token or secrets/admin_token)",
    ))
}

type Reply = (StatusCode, Json<Value>);

fn error(status: StatusCode, message: &str) -> Reply {
    (status, Json(json!({ "ok": false, "error": message })))
}

#[derive(Deserialize)]
struct NotifyBody {
    text: String,
    instance: Option<String>,
}

/// Longest notification accepted; adapters split long text, but a script should not flood.
const MAX_NOTIFY_CHARS: usize = 8000;

async fn find_instance(
    s: &HttpState,
    name: Option<String>,
) -> Result<cloudify_core::store::Instance, Reply> {
    let all = s
        .router
        .store
        .call(|st| st.instances())
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?;
    match name {
        Some(n) => {
            // An old database may hold a name from before the naming rule: exact match first.
            let wanted = match cloudify_core::names::check(&n) {
                Ok(folded) => folded,
                Err(_) if all.iter().any(|i| i.name == n) => n,
                Err(e) => return Err(error(StatusCode::BAD_REQUEST, &e.to_string())),
            };
            all.into_iter().find(|i| i.name == wanted)
        }
        None => all.into_iter().next(),
    }
    .ok_or_else(|| error(StatusCode::NOT_FOUND, "no such instance"))
}

async fn notify(
    State(s): State<HttpState>,
    headers: HeaderMap,
    body: Option<Json<NotifyBody>>,
) -> Reply {
    if let Err(r) = authorize(&s, &headers, Scope::Notify) {
        return r;
    }
    let Some(Json(body)) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            "body must be JSON: {\"text\": \"…\", \"instance\": \"name\"}",
        );
    };
    if body.text.trim().is_empty() || body.text.chars().count() > MAX_NOTIFY_CHARS {
        return error(StatusCode::BAD_REQUEST, "text must be 1 to 8000 characters");
    }
    let inst = match find_instance(&s, body.instance).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    let text = cloudify_core::redact::redact(&body.text);
    let sent = s
        .router
        .broadcast(inst.id, None, |l| {
            Output::notice(format!("{} {text}", l.pick("🔔", "🔔")))
        })
        .await;
    match sent {
        Ok(d) => (
            StatusCode::OK,
            Json(json!({ "ok": true, "recipients": d.len() })),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

#[derive(Deserialize)]
struct ResetBody {
    instance: Option<String>,
}

async fn reset_qr(
    State(s): State<HttpState>,
    headers: HeaderMap,
    body: Option<Json<ResetBody>>,
) -> Reply {
    if let Err(r) = authorize(&s, &headers, Scope::Admin) {
        return r;
    }
    let inst = match find_instance(&s, body.and_then(|Json(b)| b.instance)).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    let kicked = match s.router.reset_qr(&inst, None).await {
        Ok(k) => k,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    (
        StatusCode::OK,
        Json(json!({ "ok": true, "removed": kicked.len() })),
    )
}

mod subtle_eq {
    /// Constant-time comparison for the bearer token.
    pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}
