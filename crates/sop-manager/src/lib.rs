//! The SOP Data Manager: a web page and a REST API over SOP databases.
//!
//! [`Manager::open`] opens the databases of a [`Config`]; [`router`] gives the
//! axum router serving them (embed it in another program, or run it with
//! [`serve`]). Every engine call runs on tokio's blocking threads: the engine
//! is synchronous.
//!
//! Safety, in short (docs/ARCHITECTURE.md has the long form): no default
//! secret (tokens are random; their hashes live in the session table: this
//! process's memory, or a Clustered database's Redis, shared by every server
//! on it), every
//! endpoint checks the caller's role, the page's cookie is `HttpOnly;
//! SameSite=Strict` and state-changing page requests carry a CSRF token, failed
//! logins are slowed down per user and per address, every write goes to the
//! audit log, and [`check_listen`] refuses the unsafe ways to listen.

mod api;
mod audit;
pub mod auth;
mod bytes;
pub mod error;
pub mod items;
mod jobs;
mod metrics;
mod openapi;
mod search;
mod serve;
mod sessions;
mod ui;

pub use auth::{Role, Users};
pub use error::{ApiError, ApiResult};
pub use serve::{check_listen, serve, ListenPolicy, ServeOptions};

use crate::auth::{Auth, Caller, Via};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use sop::{Database, DbOptions, JsonStore, TxMode};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One database to serve: its name in URLs, and its folder (or bucket URL).
#[derive(Clone, Debug)]
pub struct DbSpec {
    /// The name in URLs (`/api/databases/{name}`).
    pub name: String,
    /// The folder.
    pub path: PathBuf,
}

impl DbSpec {
    /// Parse `NAME=PATH` or `PATH` (named by its last folder name).
    pub fn parse(text: &str) -> ApiResult<DbSpec> {
        let (name, path) = match text.split_once('=') {
            Some((n, p)) if !n.is_empty() && !n.contains('/') => (n.to_string(), PathBuf::from(p)),
            _ => {
                let p = PathBuf::from(text);
                let name = p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .map(|s| s.to_string())
                    .or_else(|| {
                        std::fs::canonicalize(&p)
                            .ok()?
                            .file_name()?
                            .to_str()
                            .map(|s| s.to_string())
                    })
                    .unwrap_or_else(|| "db".into());
                (name, p)
            }
        };
        check_name("database", &name)?;
        Ok(DbSpec { name, path })
    }
}

/// Refuse names with path tricks: empty, longer than 200 bytes, `.` or `..`
/// or a leading dot, slashes or backslashes, control characters.
pub fn check_name(what: &str, name: &str) -> ApiResult<()> {
    if name.is_empty()
        || name.len() > 200
        || name.starts_with('.')
        || name.contains(['/', '\\'])
        || name.chars().any(|c| c.is_control())
    {
        return Err(ApiError::bad_name(format!(
            "bad {what} name {name:?}: 1 to 200 bytes, no '/', '\\', control characters or leading '.'"
        )));
    }
    Ok(())
}

/// What the manager serves, and how.
#[derive(Clone, Debug)]
pub struct Config {
    /// The databases.
    pub databases: Vec<DbSpec>,
    /// The users (None: no login; every caller is an anonymous admin, which
    /// [`check_listen`] allows only on loopback and only when asked for).
    pub users: Option<Users>,
    /// Where the audit log goes (JSON lines; None: only to the tracing log).
    pub audit_log: Option<PathBuf>,
    /// Mark the cookie `Secure` (serving over TLS).
    pub secure_cookies: bool,
    /// Life of an access token.
    pub token_ttl: Duration,
    /// Life of a refresh token, and idle life of a page session.
    pub refresh_ttl: Duration,
    /// Largest request body, except imports.
    pub body_limit: usize,
    /// Largest import body.
    pub import_limit: u64,
    /// Items per page at most.
    pub max_page: usize,
    /// Items a filtered page examines at most before it answers.
    pub scan_limit: usize,
}

impl Config {
    /// Defaults: 15-minute access tokens, 8-hour refresh tokens, 1 MiB bodies,
    /// 4 GiB imports, pages of up to 1,000 items, filters examining up to
    /// 10,000 items per page.
    pub fn new(databases: Vec<DbSpec>, users: Option<Users>) -> Config {
        Config {
            databases,
            users,
            audit_log: None,
            secure_cookies: false,
            token_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(8 * 3600),
            body_limit: 1 << 20,
            import_limit: 4 << 30,
            max_page: 1000,
            scan_limit: 10_000,
        }
    }
}

/// An open database.
pub struct OpenDb {
    /// Its name in URLs.
    pub name: String,
    /// Its folder.
    pub path: PathBuf,
    /// The handle.
    pub db: Database,
    /// The Redis URL of a Clustered database.
    pub redis: Option<String>,
}

/// The running manager: databases, sessions, audit log, metrics, jobs.
pub struct Manager {
    config: Config,
    dbs: Vec<OpenDb>,
    auth: Auth,
    audit: audit::Audit,
    metrics: metrics::Metrics,
    jobs: jobs::Jobs,
    /// The CSRF token of anonymous page requests (no users file).
    anon_csrf: String,
    started: Instant,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field(
                "databases",
                &self.dbs.iter().map(|d| &d.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Manager {
    /// Open every database of `config` (they must exist: `sop init` makes one).
    pub fn open(config: Config) -> ApiResult<Arc<Manager>> {
        if config.databases.is_empty() {
            return Err(ApiError::bad_request("no database to serve"));
        }
        let mut dbs: Vec<OpenDb> = Vec::new();
        for spec in &config.databases {
            check_name("database", &spec.name)?;
            if dbs.iter().any(|d| d.name == spec.name) {
                return Err(ApiError::bad_request(format!(
                    "two databases named {:?}: name them with NAME=PATH",
                    spec.name
                )));
            }
            let opts = DbOptions {
                create: false,
                ..Default::default()
            };
            let db = Database::open(&spec.path, opts).map_err(|e| {
                let hint = if matches!(e, sop::Error::NotFound(_)) {
                    format!(" (create one with `sop init --db {}`)", spec.path.display())
                } else {
                    String::new()
                };
                let mut err = ApiError::from(e);
                err.message = format!(
                    "cannot open the database at {}: {}{hint}",
                    spec.path.display(),
                    err.message
                );
                err
            })?;
            let redis = match &db.config().coordination {
                sop::Coordination::Redis { url } => Some(url.clone()),
                _ => None,
            };
            dbs.push(OpenDb {
                name: spec.name.clone(),
                path: spec.path.clone(),
                db,
                redis,
            });
        }
        let audit = audit::Audit::open(config.audit_log.as_deref())?;
        // Serving a Clustered database: the sessions go to its Redis, so that
        // every server on that database knows them (ARCHITECTURE.md §11).
        let auth = match dbs.iter().find(|d| d.redis.is_some()) {
            Some(d) if config.users.is_some() => Auth::shared(
                config.users.clone(),
                config.token_ttl,
                config.refresh_ttl,
                d.redis.as_deref().unwrap_or_default(),
                format!("sop:{}:manager:", d.db.config().id),
            )?,
            _ => Auth::new(config.users.clone(), config.token_ttl, config.refresh_ttl),
        };
        Ok(Arc::new(Manager {
            auth,
            dbs,
            audit,
            metrics: metrics::Metrics::default(),
            jobs: jobs::Jobs::default(),
            anon_csrf: auth::random_token(),
            started: Instant::now(),
            config,
        }))
    }

    /// The open databases.
    pub fn databases(&self) -> &[OpenDb] {
        &self.dbs
    }

    fn db(&self, name: &str) -> ApiResult<&OpenDb> {
        check_name("database", name)?;
        self.dbs
            .iter()
            .find(|d| d.name == name)
            .ok_or_else(|| ApiError::not_found(format!("no database named {name:?}")))
    }

    /// Run `f` on store `store` of database `db` in a read transaction, on a
    /// blocking thread.
    pub(crate) async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        db: &str,
        store: &str,
        f: impl FnOnce(&JsonStore<'_>) -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        check_name("store", store)?;
        let store = store.to_string();
        self.read_tx(db, move |tx| f(&tx.open_json_store(&store)?))
            .await
    }

    /// Run `f` in a read transaction (a snapshot: `NoCheck`) of database
    /// `db`, on a blocking thread.
    pub(crate) async fn read_tx<T: Send + 'static>(
        self: &Arc<Self>,
        db: &str,
        f: impl FnOnce(&sop::Transaction) -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        let handle = self.db(db)?.db.clone();
        blocking(move || {
            let tx = handle.begin(TxMode::NoCheck)?;
            f(&tx)
        })
        .await
    }

    /// Run `f` on store `store` of database `db` in a write transaction and
    /// commit, on a blocking thread (see [`Manager::write_tx`]).
    pub(crate) async fn write<T: Send + 'static>(
        self: &Arc<Self>,
        db: &str,
        store: &str,
        f: impl Fn(&JsonStore<'_>) -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        check_name("store", store)?;
        let store = store.to_string();
        self.write_tx(db, move |tx| f(&tx.open_json_store(&store)?))
            .await
    }

    /// Run `f` in a write transaction of database `db` and commit, on a
    /// blocking thread. An engine conflict runs it again (up to 5 times; `f`
    /// sees the newer data, so an `If-Match` then fails with 412); after that
    /// the answer is 409.
    pub(crate) async fn write_tx<T: Send + 'static>(
        self: &Arc<Self>,
        db: &str,
        f: impl Fn(&sop::Transaction) -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        let handle = self.db(db)?.db.clone();
        let m = self.clone();
        blocking(move || {
            let mut tries = 0;
            loop {
                let r = (|| {
                    let tx = handle.begin(TxMode::ForWriting)?;
                    let out = f(&tx)?;
                    let t = Instant::now();
                    tx.commit()?;
                    m.metrics.commit(t.elapsed());
                    Ok(out)
                })();
                match r {
                    Err(e) if ApiError::is_retry(&e) && tries < 5 => {
                        m.metrics.conflict();
                        tries += 1;
                        std::thread::sleep(Duration::from_millis(1 << tries));
                    }
                    Err(e) if ApiError::is_retry(&e) => {
                        m.metrics.conflict();
                        return Err(e);
                    }
                    r => return r,
                }
            }
        })
        .await
    }
}

/// Run `f` on tokio's blocking threads; a panic in it is a 500.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("a request handler failed: {e}")))?
}

/// The router of everything: the page, the REST API and `/metrics`.
pub fn router(m: Arc<Manager>) -> Router {
    let public = Router::new()
        .route("/api/health", get(api::health))
        .route("/api/openapi.json", get(openapi::openapi))
        .route("/api/auth/login", post(api::login))
        .route("/api/auth/refresh", post(api::refresh))
        .route("/", get(ui::index))
        .route("/assets/app.js", get(ui::script))
        .route("/assets/app.css", get(ui::style));
    let protected = api::routes()
        .route("/metrics", get(metrics::prometheus))
        .route_layer(middleware::from_fn_with_state(m.clone(), authenticate));
    Router::new()
        .merge(public)
        .merge(protected)
        .fallback(|| async { ApiError::not_found("no such page or endpoint") })
        .layer(DefaultBodyLimit::max(m.config.body_limit))
        .layer(middleware::from_fn_with_state(m.clone(), outer))
        .with_state(m)
}

/// The client's address (loopback when the router runs without connect info).
pub(crate) fn client_ip(req: &Request) -> IpAddr {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// Every request: count it, turn every error answer into the JSON error form,
/// and set the headers that keep the page from being framed or sniffed.
async fn outer(State(m): State<Arc<Manager>>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    m.metrics.request(res.status());
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let kind = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "too_large",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "bad_request",
            s if s.is_server_error() => "internal",
            _ => "bad_request",
        };
        let body = axum::body::to_bytes(std::mem::take(res.body_mut()), 64 << 10)
            .await
            .unwrap_or_default();
        let msg = String::from_utf8_lossy(&body).trim().to_string();
        let msg = if msg.is_empty() {
            status.canonical_reason().unwrap_or("error").to_string()
        } else {
            msg
        };
        res = ApiError::new(status, kind, msg).into_response();
    }
    let h = res.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    res
}

/// The name of the page's session cookie.
pub const COOKIE: &str = "sop_session";

/// The value of cookie `name` in the request's headers.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether the `Origin` of a request, if it has one, is the host it was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let o = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    !host.is_empty() && o == host
}

/// Whether the `Host` header names this machine (anonymous mode answers only
/// those: a page on another site cannot rebind its own name to 127.0.0.1).
fn loopback_host(headers: &HeaderMap) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name == "localhost"
        || name
            .parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// Who is calling: from the bearer token, else the cookie (with the CSRF
/// token for a state-changing method), else anonymous if the server has no
/// users file. Puts the [`Caller`] in the request's extensions.
async fn authenticate(State(m): State<Arc<Manager>>, mut req: Request, next: Next) -> Response {
    let changes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    // Shared sessions are in Redis: ask it off the async threads.
    let who = if m.auth.shared_sessions() {
        let (m2, h) = (m.clone(), req.headers().clone());
        blocking(move || identify(&m2, &h, changes)).await
    } else {
        identify(&m, req.headers(), changes)
    };
    match who {
        Ok(caller) => {
            let renew = (caller.via == Via::Cookie)
                .then(|| cookie(req.headers(), COOKIE).map(str::to_string))
                .flatten();
            req.extensions_mut().insert(caller);
            let mut res = next.run(req).await;
            // The cookie's life slides with the server's idle limit: each
            // answer to the page renews it (unless the answer sets it itself:
            // a logout clears it).
            if let Some(c) = renew {
                if !res.headers().contains_key(header::SET_COOKIE) {
                    let v = api::cookie_header(&m, &c, m.auth.cookie_ttl().as_secs());
                    res.headers_mut().insert(header::SET_COOKIE, v);
                }
            }
            res
        }
        Err(e) => e.into_response(),
    }
}

fn identify(m: &Manager, h: &HeaderMap, changes: bool) -> ApiResult<Caller> {
    if let Some(auth) = h.get(header::AUTHORIZATION) {
        let token = auth
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::unauthorized("Authorization must be `Bearer TOKEN`"))?;
        if !m.auth.has_users() {
            return Err(ApiError::unauthorized(
                "this server has no users: no tokens",
            ));
        }
        return m.auth.check_bearer(token.trim());
    }
    if !m.auth.has_users() {
        if !loopback_host(h) {
            return Err(ApiError::forbidden(
                "without users the server answers only requests to localhost",
            ));
        }
        // No cookie to ride on here, but a page on another site could still
        // send a request to localhost: browsers say where it comes from.
        let site_ok = h
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_none_or(|v| v == "same-origin" || v == "none");
        if changes && (!same_origin(h) || !site_ok) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "a state-changing request from another site is refused",
            ));
        }
        return Ok(Caller {
            name: "anonymous".into(),
            role: Role::Admin,
            via: Via::Anonymous,
            session: None,
        });
    }
    if let Some(c) = cookie(h, COOKIE) {
        let (caller, csrf) = m.auth.check_cookie(c)?;
        if changes && (!same_origin(h) || csrf_header(h) != Some(csrf.as_str())) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "a state-changing page request needs the session's X-CSRF-Token",
            ));
        }
        return Ok(caller);
    }
    Err(ApiError::unauthorized(
        "log in: POST /api/auth/login, then send Authorization: Bearer TOKEN",
    ))
}

fn csrf_header(h: &HeaderMap) -> Option<&str> {
    h.get("x-csrf-token").and_then(|v| v.to_str().ok())
}
