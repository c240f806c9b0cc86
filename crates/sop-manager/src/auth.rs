//! Users, roles, sessions and the checks every request goes through.
//!
//! - Users live in a JSON file (`{"users":[{"name","role","hash"}]}`) with
//!   argon2id hashes; `add_user` writes it (temp file + rename, mode 0600).
//! - Sessions live in a table (`sessions.rs`): this process's memory, or the
//!   Redis of a Clustered database so that every instance shares them.
//!   Tokens are 256 random bits and only their hashes are stored; nothing is
//!   signed, so there is no secret to leak or to default.
//!   An access token lives `token_ttl`; a refresh token `refresh_ttl`;
//!   refreshing rotates both and really extends; logout removes the whole
//!   session (its access, refresh and cookie tokens).
//! - Failed logins are counted per user name and per client address (in the
//!   same store as the sessions, so shared by the servers of a Clustered
//!   database); after `MAX_FAILURES` the next attempt waits, doubling each time.

use crate::error::{ApiError, ApiResult};
use crate::sessions::{now_ms, token_hash, Kind, MemoryKv, Record, RedisKv, Sessions};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::http::StatusCode;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

/// What a caller may do. Ordered: each role may do what the ones below it may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read databases, stores and items, export, metrics.
    Reader,
    /// Also write items: put, delete, batch, bulk delete, import.
    Writer,
    /// Also create and drop stores, and run maintenance.
    Admin,
}

impl Role {
    /// The role's name, as in the users file.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Writer => "writer",
            Role::Admin => "admin",
        }
    }
    /// Parse `admin`, `writer` or `reader`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "writer" => Some(Role::Writer),
            "reader" => Some(Role::Reader),
            _ => None,
        }
    }
}

/// One user in the users file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// The password's argon2id hash in PHC form.
    pub hash: String,
}

/// The users file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Users {
    /// Every user.
    pub users: Vec<User>,
}

impl Users {
    /// Read a users file.
    pub fn load(path: &Path) -> ApiResult<Users> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ApiError::bad_request(format!("cannot read users file {}: {e}", path.display()))
        })?;
        let users: Users = serde_json::from_str(&text).map_err(|e| {
            ApiError::bad_request(format!("users file {} is not valid: {e}", path.display()))
        })?;
        for u in &users.users {
            PasswordHash::new(&u.hash).map_err(|e| {
                ApiError::bad_request(format!(
                    "users file {}: user {:?} has a bad hash: {e}",
                    path.display(),
                    u.name
                ))
            })?;
        }
        Ok(users)
    }

    /// Add or replace user `name` in the users file at `path` (created if
    /// missing, mode 0600), with an argon2id hash of `password`.
    pub fn add_user(path: &Path, name: &str, role: Role, password: &str) -> ApiResult<()> {
        if !valid_user_name(name) {
            return Err(ApiError::bad_name(
                "a user name is 1 to 64 letters, digits, '.', '_', '-' or '@'",
            ));
        }
        if password.chars().count() < 8 {
            return Err(ApiError::bad_request(
                "the password must have at least 8 characters",
            ));
        }
        let mut users = if path.exists() {
            Users::load(path)?
        } else {
            Users::default()
        };
        let hash = hash_password(password)?;
        users.users.retain(|u| u.name != name);
        users.users.push(User {
            name: name.to_string(),
            role,
            hash,
        });
        let text =
            serde_json::to_string_pretty(&users).map_err(|e| ApiError::internal(e.to_string()))?;
        let tmp = path.with_extension("tmp");
        let io = |e: std::io::Error| ApiError::internal(format!("{}: {e}", path.display()));
        {
            use std::io::Write;
            let mut o = std::fs::OpenOptions::new();
            o.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                o.mode(0o600);
            }
            let mut f = o.open(&tmp).map_err(io)?;
            f.write_all(text.as_bytes()).map_err(io)?;
            f.write_all(b"\n").map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(io)?;
        Ok(())
    }

    fn find(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name)
    }
}

fn valid_user_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
}

/// An argon2id hash (PHC string) of `password` with a fresh random salt.
pub fn hash_password(password: &str) -> ApiResult<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| ApiError::internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// 256 random bits, base64url.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// Who is calling, once authenticated.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The user's name (`anonymous` without a users file).
    pub name: String,
    /// Their role.
    pub role: Role,
    /// How they proved it.
    pub via: Via,
    /// The session (absent for anonymous callers).
    pub session: Option<String>,
}

/// How a caller authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// `Authorization: Bearer`.
    Bearer,
    /// The page's session cookie (state-changing requests need the CSRF token).
    Cookie,
    /// No users file, `--no-auth-loopback`: everyone on this host.
    Anonymous,
}

impl Caller {
    /// Refuse (403) unless the caller has at least role `need`.
    pub fn require(&self, need: Role) -> ApiResult<()> {
        if self.role >= need {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "{} has role {}; this needs {}",
                self.name,
                self.role.as_str(),
                need.as_str()
            )))
        }
    }
}

/// What a login or a refresh hands out.
#[derive(Debug, Serialize)]
pub struct Tokens {
    /// For `Authorization: Bearer`.
    pub access_token: String,
    /// For `POST /api/auth/refresh`.
    pub refresh_token: String,
    /// Seconds the access token lives.
    pub expires_in: u64,
    /// The user's role.
    pub role: Role,
    /// The user's name.
    pub username: String,
    /// The CSRF token the page sends in `X-CSRF-Token` (cookie sessions).
    pub csrf_token: String,
    /// The cookie value (not serialized: it goes into `Set-Cookie`).
    #[serde(skip)]
    pub cookie: Option<String>,
}

/// Failed logins before attempts are slowed down.
pub const MAX_FAILURES: u32 = 5;

/// The users, the session table and the failed-login counters.
pub struct Auth {
    users: Option<Users>,
    token_ttl: Duration,
    refresh_ttl: Duration,
    sessions: Sessions,
    dummy_hash: String,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("users", &self.users.as_ref().map(|u| u.users.len()))
            .field("shared_sessions", &self.sessions.shared())
            .finish()
    }
}

/// A cookie's expiry is rewritten at most this often (each rewrite is a
/// write to the session store; the idle limit is exact to within this).
const SLIDE_STEP: Duration = Duration::from_secs(30);

impl Auth {
    /// Sessions over `users` (None: no users file, anonymous callers), kept
    /// in this process's memory.
    pub fn new(users: Option<Users>, token_ttl: Duration, refresh_ttl: Duration) -> Auth {
        Auth::with_store(
            users,
            token_ttl,
            refresh_ttl,
            Sessions::new(std::sync::Arc::new(MemoryKv::default()), String::new()),
        )
    }

    /// Sessions kept in the Redis at `url` under keys starting with `prefix`,
    /// shared by every server using the same Redis and prefix.
    pub(crate) fn shared(
        users: Option<Users>,
        token_ttl: Duration,
        refresh_ttl: Duration,
        url: &str,
        prefix: String,
    ) -> ApiResult<Auth> {
        Ok(Auth::with_store(
            users,
            token_ttl,
            refresh_ttl,
            Sessions::new(std::sync::Arc::new(RedisKv::new(url)?), prefix),
        ))
    }

    fn with_store(
        users: Option<Users>,
        token_ttl: Duration,
        refresh_ttl: Duration,
        sessions: Sessions,
    ) -> Auth {
        Auth {
            users,
            token_ttl,
            refresh_ttl,
            sessions,
            dummy_hash: hash_password(&random_token()).unwrap_or_default(),
        }
    }

    /// Whether sessions live outside this process (calls may block on the network).
    pub fn shared_sessions(&self) -> bool {
        self.sessions.shared()
    }

    /// The shared store (a Clustered database's Redis) and key prefix, if
    /// sessions are shared.
    pub(crate) fn shared_store(&self) -> Option<(std::sync::Arc<dyn crate::sessions::Kv>, String)> {
        self.sessions.shared().then(|| self.sessions.store())
    }

    /// The idle life of a page session (the cookie's `Max-Age`).
    pub fn cookie_ttl(&self) -> Duration {
        self.refresh_ttl
    }

    /// Whether a users file is loaded.
    pub fn has_users(&self) -> bool {
        self.users.is_some()
    }

    /// The wait before the next login attempt for this key, if any.
    fn blocked(&self, key: &str) -> ApiResult<Option<Duration>> {
        let (count, last) = self.sessions.failures(key)?;
        if count < u64::from(MAX_FAILURES) {
            return Ok(None);
        }
        let wait = Duration::from_secs(1u64 << (count - u64::from(MAX_FAILURES)).min(10));
        let since = Duration::from_millis(now_ms().saturating_sub(last));
        Ok((since < wait).then(|| wait - since))
    }

    /// Count a failure; counters idle for longer than the longest wait
    /// (1,024 s) are forgotten, so random user names cannot grow the table.
    fn fail(&self, key: &str) -> ApiResult<()> {
        self.sessions.fail(key, Duration::from_secs(1100))
    }

    /// Check a password (slow: call it off the async threads). `cookie`: also
    /// make a cookie session for the page.
    pub fn login(&self, user: &str, password: &str, ip: IpAddr, cookie: bool) -> ApiResult<Tokens> {
        let users = self.users.as_ref().ok_or_else(|| {
            ApiError::bad_request("this server has no users file: no login needed")
        })?;
        let (ukey, ikey) = (format!("u:{user}"), format!("ip:{ip}"));
        if let Some(wait) = self.blocked(&ukey)?.or(self.blocked(&ikey)?) {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "too many failed logins; try again in {} s",
                    wait.as_secs().max(1)
                ),
            ));
        }
        let found = users.find(user);
        let hash = found.map_or(self.dummy_hash.as_str(), |u| u.hash.as_str());
        let ok = PasswordHash::new(hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false);
        let Some(u) = found.filter(|_| ok) else {
            self.fail(&ukey)?;
            self.fail(&ikey)?;
            tracing::warn!(user = %user, ip = %ip, "failed login");
            return Err(ApiError::unauthorized("wrong user name or password"));
        };
        self.sessions.clear_failures(&ukey)?;
        self.open_session(&u.name, u.role, cookie)
    }

    fn open_session(&self, user: &str, role: Role, cookie: bool) -> ApiResult<Tokens> {
        let now = now_ms();
        let (access, refresh, csrf) = (random_token(), random_token(), random_token());
        let cookie = cookie.then(random_token);
        let rec = Record {
            user: user.to_string(),
            role,
            access: token_hash(&access),
            refresh: token_hash(&refresh),
            cookie: cookie.as_deref().map(token_hash),
            access_expires: now + self.token_ttl.as_millis() as u64,
            refresh_expires: now + self.refresh_ttl.as_millis() as u64,
            cookie_expires: now + self.refresh_ttl.as_millis() as u64,
            csrf: csrf.clone(),
        };
        self.sessions.create(&random_token(), &rec)?;
        Ok(Tokens {
            access_token: access,
            refresh_token: refresh,
            expires_in: self.token_ttl.as_secs(),
            role,
            username: user.to_string(),
            csrf_token: csrf,
            cookie,
        })
    }

    /// The user's role now (the users file decides: a user removed from it
    /// or given another role is so on every request, on every instance).
    fn role_now(&self, rec: &Record) -> ApiResult<Role> {
        self.users
            .as_ref()
            .and_then(|u| u.find(&rec.user))
            .map(|u| u.role)
            .ok_or_else(|| ApiError::unauthorized("this user no longer exists"))
    }

    /// The caller of a bearer access token.
    pub fn check_bearer(&self, token: &str) -> ApiResult<Caller> {
        let (id, rec) = self.sessions.find(token, Kind::Access)?.ok_or_else(|| {
            ApiError::unauthorized("unknown, expired or revoked token: refresh it or log in")
        })?;
        Ok(Caller {
            name: rec.user.clone(),
            role: self.role_now(&rec)?,
            via: Via::Bearer,
            session: Some(id),
        })
    }

    /// The caller of a session cookie, and the session's CSRF token. The
    /// cookie's life slides: each use extends it to `refresh_ttl` from now
    /// (written at most every `SLIDE_STEP`).
    pub fn check_cookie(&self, token: &str) -> ApiResult<(Caller, String)> {
        let (id, mut rec) = self
            .sessions
            .find(token, Kind::Cookie)?
            .ok_or_else(|| ApiError::unauthorized("not logged in, or the session expired"))?;
        let role = self.role_now(&rec)?;
        let until = now_ms() + self.refresh_ttl.as_millis() as u64;
        if until.saturating_sub(rec.cookie_expires) >= SLIDE_STEP.as_millis() as u64 {
            self.sessions.slide_cookie(&id, &mut rec, until)?;
        }
        Ok((
            Caller {
                name: rec.user.clone(),
                role,
                via: Via::Cookie,
                session: Some(id),
            },
            rec.csrf,
        ))
    }

    /// Rotate a session's tokens by its refresh token: new access and refresh
    /// tokens, both with their full life from now; the old ones stop working.
    pub fn refresh(&self, refresh_token: &str) -> ApiResult<Tokens> {
        let (id, old) = self.sessions.take_refresh(refresh_token)?.ok_or_else(|| {
            ApiError::unauthorized("unknown, expired or revoked refresh token: log in again")
        })?;
        let role = self.role_now(&old)?;
        let now = now_ms();
        let (access, refresh) = (random_token(), random_token());
        let mut rec = old.clone();
        rec.role = role;
        rec.access = token_hash(&access);
        rec.refresh = token_hash(&refresh);
        rec.access_expires = now + self.token_ttl.as_millis() as u64;
        rec.refresh_expires = now + self.refresh_ttl.as_millis() as u64;
        if !self.sessions.rotate(&id, &old, &rec)? {
            return Err(ApiError::unauthorized("the session ended: log in again"));
        }
        Ok(Tokens {
            access_token: access,
            refresh_token: refresh,
            expires_in: self.token_ttl.as_secs(),
            role,
            username: rec.user,
            csrf_token: rec.csrf,
            cookie: None,
        })
    }

    /// End a session: every token of it stops working, on every instance.
    pub fn logout(&self, session: &str) -> ApiResult<()> {
        self.sessions.delete(session)
    }

    /// Number of live sessions (for /metrics).
    pub fn session_count(&self) -> usize {
        self.sessions.count()
    }
}
