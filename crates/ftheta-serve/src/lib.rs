//! `ftheta serve`: a dashboard in the browser. The runs under a folder with their curves, live
//! while they train (server-sent events fed from `history.jsonl`); one run's configuration and
//! parameters; and a playground where gradient descent on the deliveries loss landscape is run by
//! hand. The pages and the API are described in `API.md` beside this crate.
//!
//! The server is axum on a two-thread tokio runtime. Reading run folders and running a descent
//! happen on tokio's blocking pool, so a slow disk or a long descent never stalls the streams.
//! It serves files only from inside the runs folder ([`paths`]) and its own embedded assets.

#![warn(missing_docs)]

pub mod assets;
pub mod error;
pub mod events;
pub mod paths;
pub mod playground;
pub mod runs;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

pub use error::{ApiError, ServeError};
use playground::{Descent, Problems};

/// Playground descents that may run at once; more get a 503 (each takes well under a second).
const CONCURRENT_DESCENTS: usize = 2;

struct App {
    root: PathBuf,
    problems: Problems,
    descents: Semaphore,
}

type AppState = State<Arc<App>>;

/// The dashboard's routes over the runs folder `root`. With `loopback_only`, requests must name
/// this machine in their `Host` header: a page elsewhere cannot reach the server through a
/// DNS name that it points at 127.0.0.1 (DNS rebinding).
pub fn router(root: impl Into<PathBuf>, loopback_only: bool) -> Result<Router, ServeError> {
    let problems = Problems::load().map_err(ServeError::Data)?;
    let app = Arc::new(App { root: root.into(), problems, descents: Semaphore::new(CONCURRENT_DESCENTS) });
    Ok(Router::new()
        .route("/", get(|| async { Html(assets::RUNS_PAGE) }))
        .route("/run", get(|| async { Html(assets::RUN_PAGE) }))
        .route("/playground", get(|| async { Html(assets::PLAYGROUND_PAGE) }))
        .route("/assets/{name}", get(asset))
        .route("/runs/{*path}", get(run_file))
        .route("/api/runs", get(list_runs))
        .route("/api/run", get(run_details))
        .route("/api/run/events", get(run_events))
        .route("/api/playground/landscape", get(landscape))
        .route("/api/playground/run", get(descend))
        .fallback(|uri: Uri| async move { ApiError::not_found(format!("no page '{}'", uri.path())) })
        .layer(middleware::from_fn(move |req: Request, next: Next| guard(loopback_only, req, next)))
        .with_state(app))
}

/// Serves the dashboard on `addr` until the process ends, calling `ready` with the address it
/// listens on (the real port when `addr` asked for port 0).
pub fn serve(runs: &Path, addr: SocketAddr, ready: impl FnOnce(SocketAddr)) -> Result<(), ServeError> {
    if runs.exists() && !runs.is_dir() {
        return Err(ServeError::RunsNotFolder(runs.display().to_string()));
    }
    let app = router(runs, addr.ip().is_loopback())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr, source })?;
        ready(listener.local_addr().map_err(ServeError::Runtime)?);
        axum::serve(listener, app).await.map_err(ServeError::Runtime)
    })
}

/// Refuses foreign `Host` headers (see [`router`]) and adds headers that keep the pages to their
/// own scripts and stop browsers from guessing content types.
async fn guard(loopback_only: bool, req: Request, next: Next) -> Response {
    if loopback_only {
        let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
        if !is_loopback_host(host) {
            let e = ApiError { status: StatusCode::FORBIDDEN, message: format!("Host '{host}' is not this machine") };
            return e.into_response();
        }
    }
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"),
    );
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-cache"));
    res
}

/// `localhost`, `127.x.y.z` or `[::1]`, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Result<Response, ApiError> {
    let (kind, body) = assets::asset(&name).ok_or_else(|| ApiError::not_found(format!("no asset '{name}'")))?;
    Ok(([(header::CONTENT_TYPE, kind)], body).into_response())
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(ApiError { status: StatusCode::INTERNAL_SERVER_ERROR, message: e.to_string() }))
}

/// `/runs/PATH`: a file from inside the runs folder, as it is. The path is taken from the raw
/// request (still percent-encoded) so that [`paths::decode_parts`] sees every spelling.
async fn run_file(State(app): AppState, uri: Uri) -> Result<Response, ApiError> {
    let raw = uri.path().strip_prefix("/runs/").unwrap_or("").to_string();
    let parts = paths::decode_parts(&raw)?;
    let (kind, bytes) = blocking(move || {
        let file = paths::resolve(&app.root, &parts)?;
        if !file.is_file() {
            return Err(ApiError::not_found(format!("'{}' is a folder, not a file", parts.join("/"))));
        }
        let bytes = std::fs::read(&file).map_err(|e| ApiError::not_found(format!("{}: {e}", parts.join("/"))))?;
        let kind = match file.extension().and_then(|e| e.to_str()) {
            Some("json") => "application/json",
            Some("jsonl" | "txt" | "csv" | "dot") => "text/plain; charset=utf-8",
            _ => "application/octet-stream",
        };
        Ok((kind, bytes))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, kind)], bytes).into_response())
}

async fn list_runs(State(app): AppState) -> Result<Json<Value>, ApiError> {
    blocking(move || Ok(Json(json!({"root": app.root.display().to_string(), "runs": runs::list(&app.root)})))).await
}

fn required<'a>(q: &'a HashMap<String, String>, name: &str) -> Result<&'a str, ApiError> {
    q.get(name).map(String::as_str).ok_or_else(|| ApiError::bad_request(format!("{name}: missing (e.g. ?{name}=mlp)")))
}

async fn run_details(State(app): AppState, Query(q): Query<HashMap<String, String>>) -> Result<Json<Value>, ApiError> {
    let id = required(&q, "id")?.to_string();
    blocking(move || {
        let dir = runs::run_dir(&app.root, &id)?;
        let s = runs::status(&dir);
        Ok(Json(json!({
            "id": id, "status": s.status, "message": s.message,
            "config": runs::config(&dir), "history": runs::history(&dir),
            "parameters": runs::parameters(&dir), "files": runs::files(&dir),
        })))
    })
    .await
}

async fn run_events(
    State(app): AppState,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = required(&q, "id")?.to_string();
    // A reconnecting EventSource says which record it saw last; that wins over `from`.
    let last_seen = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    let from = match (last_seen, q.get("from")) {
        (Some(n), _) => n,
        (None, Some(f)) => f.parse().map_err(|_| ApiError::bad_request(format!("from={f}: must be a line number")))?,
        (None, None) => 0,
    };
    let root = app.root.clone();
    let dir = blocking(move || runs::run_dir(&root, &id)).await?;
    Ok(events::stream(dir, from).into_response())
}

async fn landscape(State(app): AppState, Query(q): Query<HashMap<String, String>>) -> Result<Json<Value>, ApiError> {
    playground::landscape(&app.problems, &q).map(Json)
}

async fn descend(State(app): AppState, Query(q): Query<HashMap<String, String>>) -> Result<Json<Value>, ApiError> {
    let descent = Descent::parse(&app.problems, &q)?;
    let app2 = app.clone();
    let _permit = app.descents.try_acquire().map_err(|_| ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: format!("{CONCURRENT_DESCENTS} descents are already running; try again in a moment"),
    })?;
    blocking(move || Ok(Json(descent.run(&app2.problems)))).await
}
