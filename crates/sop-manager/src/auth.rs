//! Users, roles, sessions and the checks every request goes through.
//!
//! - Users live in a JSON file (`{"users":[{"name","role","hash"}]}`) with
//!   argon2id hashes; `add_user` writes it (temp file + rename, mode 0600).
//! - Sessions are a table in this process's memory: tokens are 256 random
//!   bits, nothing is signed, so there is no secret to leak or to default.
//!   An access token lives `token_ttl`; a refresh token `refresh_ttl`;
//!   refreshing rotates both and really extends; logout removes the whole
//!   session (its access, refresh and cookie tokens).
//! - Failed logins are counted per user name and per client address; after
//!   `MAX_FAILURES` the next attempt waits, doubling each time.

use crate::error::{ApiError, ApiResult};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::http::StatusCode;
use base64::Engine;
use parking_lot::Mutex;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

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
    pub session: Option<u64>,
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

#[derive(Debug)]
struct Session {
    user: String,
    role: Role,
    access: String,
    access_expires: Instant,
    refresh: String,
    refresh_expires: Instant,
    cookie: Option<String>,
    cookie_expires: Instant,
    csrf: String,
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

#[derive(Debug, Default)]
struct Failures {
    count: u32,
    last: Option<Instant>,
}

/// The users, the session table and the failed-login counters.
#[derive(Debug)]
pub struct Auth {
    users: Option<Users>,
    token_ttl: Duration,
    refresh_ttl: Duration,
    next_id: Mutex<u64>,
    sessions: Mutex<HashMap<u64, Session>>,
    by_token: Mutex<HashMap<String, (u64, Kind)>>,
    failures: Mutex<HashMap<String, Failures>>,
    dummy_hash: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Access,
    Refresh,
    Cookie,
}

impl Auth {
    /// Sessions over `users` (None: no users file, anonymous callers).
    pub fn new(users: Option<Users>, token_ttl: Duration, refresh_ttl: Duration) -> Auth {
        Auth {
            users,
            token_ttl,
            refresh_ttl,
            next_id: Mutex::new(1),
            sessions: Mutex::new(HashMap::new()),
            by_token: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            dummy_hash: hash_password(&random_token()).unwrap_or_default(),
        }
    }

    /// Whether a users file is loaded.
    pub fn has_users(&self) -> bool {
        self.users.is_some()
    }

    /// The wait before the next login attempt for this key, if any.
    fn blocked(&self, key: &str) -> Option<Duration> {
        let f = self.failures.lock();
        let f = f.get(key)?;
        if f.count < MAX_FAILURES {
            return None;
        }
        let wait = Duration::from_secs(1u64 << (f.count - MAX_FAILURES).min(10));
        let since = f.last?.elapsed();
        (since < wait).then(|| wait - since)
    }

    fn fail(&self, key: String) {
        let mut f = self.failures.lock();
        // Random user names must not grow the table without end: forget
        // counters idle for longer than the longest wait.
        if f.len() > 100_000 {
            f.retain(|_, v| {
                v.last
                    .is_some_and(|t| t.elapsed() < Duration::from_secs(1100))
            });
        }
        let e = f.entry(key).or_default();
        e.count += 1;
        e.last = Some(Instant::now());
    }

    /// Check a password (slow: call it off the async threads). `cookie`: also
    /// make a cookie session for the page.
    pub fn login(&self, user: &str, password: &str, ip: IpAddr, cookie: bool) -> ApiResult<Tokens> {
        let users = self.users.as_ref().ok_or_else(|| {
            ApiError::bad_request("this server has no users file: no login needed")
        })?;
        let (ukey, ikey) = (format!("u:{user}"), format!("ip:{ip}"));
        if let Some(wait) = self.blocked(&ukey).or_else(|| self.blocked(&ikey)) {
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
            self.fail(ukey);
            self.fail(ikey);
            tracing::warn!(user = %user, ip = %ip, "failed login");
            return Err(ApiError::unauthorized("wrong user name or password"));
        };
        self.failures.lock().remove(&ukey);
        Ok(self.open_session(&u.name, u.role, cookie))
    }

    fn open_session(&self, user: &str, role: Role, cookie: bool) -> Tokens {
        let id = {
            let mut n = self.next_id.lock();
            *n += 1;
            *n
        };
        let now = Instant::now();
        let s = Session {
            user: user.to_string(),
            role,
            access: random_token(),
            access_expires: now + self.token_ttl,
            refresh: random_token(),
            refresh_expires: now + self.refresh_ttl,
            cookie: cookie.then(random_token),
            cookie_expires: now + self.refresh_ttl,
            csrf: random_token(),
        };
        let tokens = self.tokens_of(&s);
        {
            let mut t = self.by_token.lock();
            t.insert(s.access.clone(), (id, Kind::Access));
            t.insert(s.refresh.clone(), (id, Kind::Refresh));
            if let Some(c) = &s.cookie {
                t.insert(c.clone(), (id, Kind::Cookie));
            }
        }
        self.sessions.lock().insert(id, s);
        self.sweep();
        tokens
    }

    fn tokens_of(&self, s: &Session) -> Tokens {
        Tokens {
            access_token: s.access.clone(),
            refresh_token: s.refresh.clone(),
            expires_in: self.token_ttl.as_secs(),
            role: s.role,
            username: s.user.clone(),
            csrf_token: s.csrf.clone(),
            cookie: s.cookie.clone(),
        }
    }

    /// Drop expired sessions.
    fn sweep(&self) {
        let now = Instant::now();
        let mut sessions = self.sessions.lock();
        let dead: Vec<u64> = sessions
            .iter()
            .filter(|(_, s)| s.refresh_expires <= now && s.cookie_expires <= now)
            .map(|(id, _)| *id)
            .collect();
        let mut t = self.by_token.lock();
        for id in dead {
            if let Some(s) = sessions.remove(&id) {
                t.remove(&s.access);
                t.remove(&s.refresh);
                if let Some(c) = &s.cookie {
                    t.remove(c);
                }
            }
        }
    }

    fn lookup(&self, token: &str, kind: Kind) -> Option<u64> {
        match self.by_token.lock().get(token) {
            Some((id, k)) if *k == kind => Some(*id),
            _ => None,
        }
    }

    /// The caller of a bearer access token.
    pub fn check_bearer(&self, token: &str) -> ApiResult<Caller> {
        let id = self
            .lookup(token, Kind::Access)
            .ok_or_else(|| ApiError::unauthorized("unknown or revoked token"))?;
        let sessions = self.sessions.lock();
        let s = sessions
            .get(&id)
            .ok_or_else(|| ApiError::unauthorized("unknown or revoked token"))?;
        if s.access_expires <= Instant::now() {
            return Err(ApiError::unauthorized(
                "the access token expired: refresh it",
            ));
        }
        Ok(Caller {
            name: s.user.clone(),
            role: s.role,
            via: Via::Bearer,
            session: Some(id),
        })
    }

    /// The caller of a session cookie, and the session's CSRF token. The
    /// cookie's life slides: each use extends it to `refresh_ttl`.
    pub fn check_cookie(&self, token: &str) -> ApiResult<(Caller, String)> {
        let id = self
            .lookup(token, Kind::Cookie)
            .ok_or_else(|| ApiError::unauthorized("not logged in"))?;
        let mut sessions = self.sessions.lock();
        let s = sessions
            .get_mut(&id)
            .ok_or_else(|| ApiError::unauthorized("not logged in"))?;
        let now = Instant::now();
        if s.cookie_expires <= now {
            return Err(ApiError::unauthorized("the session expired: log in again"));
        }
        s.cookie_expires = now + self.refresh_ttl;
        Ok((
            Caller {
                name: s.user.clone(),
                role: s.role,
                via: Via::Cookie,
                session: Some(id),
            },
            s.csrf.clone(),
        ))
    }

    /// Rotate a session's tokens by its refresh token: new access and refresh
    /// tokens, both with their full life from now; the old ones stop working.
    pub fn refresh(&self, refresh_token: &str) -> ApiResult<Tokens> {
        let id = self
            .lookup(refresh_token, Kind::Refresh)
            .ok_or_else(|| ApiError::unauthorized("unknown or revoked refresh token"))?;
        let mut sessions = self.sessions.lock();
        let s = sessions
            .get_mut(&id)
            .ok_or_else(|| ApiError::unauthorized("unknown or revoked refresh token"))?;
        let now = Instant::now();
        if s.refresh_expires <= now {
            return Err(ApiError::unauthorized(
                "the refresh token expired: log in again",
            ));
        }
        let mut t = self.by_token.lock();
        t.remove(&s.access);
        t.remove(&s.refresh);
        s.access = random_token();
        s.refresh = random_token();
        s.access_expires = now + self.token_ttl;
        s.refresh_expires = now + self.refresh_ttl;
        t.insert(s.access.clone(), (id, Kind::Access));
        t.insert(s.refresh.clone(), (id, Kind::Refresh));
        let mut tokens = self.tokens_of(s);
        tokens.cookie = None;
        Ok(tokens)
    }

    /// End a session: every token of it stops working.
    pub fn logout(&self, session: u64) {
        if let Some(s) = self.sessions.lock().remove(&session) {
            let mut t = self.by_token.lock();
            t.remove(&s.access);
            t.remove(&s.refresh);
            if let Some(c) = &s.cookie {
                t.remove(c);
            }
        }
    }

    /// Number of live sessions (for /metrics).
    pub fn session_count(&self) -> usize {
        self.sessions.lock().len()
    }
}
