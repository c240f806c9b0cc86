//! Where login sessions live: this process's memory (Standalone), or the
//! Redis of a Clustered database, so that every `sop serve` on that database
//! knows every session (log in on one, use, refresh or log out on another).
//!
//! Both are one small key-value interface ([`Kv`]) under one logic
//! ([`Sessions`]), so the rules are the same in both:
//! - a token is never stored, only its BLAKE2s-256 hash: `t:{hash}` names the
//!   session and the token's kind; `s:{id}` holds the session (user, role, the
//!   hashes of its current tokens, their expiry instants in Unix
//!   milliseconds, the CSRF token the page echoes);
//! - the session record is the one truth: a token is valid only if its key
//!   names a session that exists, whose current token of that kind has this
//!   hash, and whose expiry (checked on every instance, not only by Redis's
//!   TTL) has not passed;
//! - logout deletes the record (and the token keys), so every instance
//!   refuses its tokens at once; the cookie's sliding expiry and a refresh
//!   rewrite the record only if it still exists (`SET … XX`), so a concurrent
//!   logout is never undone;
//! - a refresh token is consumed atomically (`GETDEL`): two refreshes racing
//!   with one token give one new pair, not two.

use crate::auth::Role;
use crate::error::{ApiError, ApiResult};
use axum::http::StatusCode;
use blake2::{Blake2s256, Digest};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A key-value store with expiry: what sessions need.
pub(crate) trait Kv: Send + Sync {
    fn get(&self, key: &str) -> ApiResult<Option<String>>;
    /// Set with a time to live; `only_if_exists`: do nothing if the key is gone.
    fn set(&self, key: &str, value: &str, ttl: Duration, only_if_exists: bool) -> ApiResult<()>;
    /// Get and delete, atomically.
    fn take(&self, key: &str) -> ApiResult<Option<String>>;
    fn del(&self, keys: &[String]) -> ApiResult<()>;
    /// Change a key's time to live (nothing if it is gone).
    fn expire(&self, key: &str, ttl: Duration) -> ApiResult<()>;
    /// Add 1 to the counter at `key` (0 if missing) and give it `ttl`; the new count.
    fn incr(&self, key: &str, ttl: Duration) -> ApiResult<u64>;
    /// Keys starting with `prefix`.
    fn count(&self, prefix: &str) -> ApiResult<usize>;
    /// Whether sessions are shared with other processes.
    fn shared(&self) -> bool;
}

/// Sessions in this process's memory.
#[derive(Default)]
pub(crate) struct MemoryKv {
    map: Mutex<HashMap<String, (String, Instant)>>,
    writes: std::sync::atomic::AtomicU64,
}

impl Kv for MemoryKv {
    fn get(&self, key: &str) -> ApiResult<Option<String>> {
        let m = self.map.lock();
        Ok(m.get(key)
            .filter(|(_, t)| *t > Instant::now())
            .map(|(v, _)| v.clone()))
    }
    fn set(&self, key: &str, value: &str, ttl: Duration, only_if_exists: bool) -> ApiResult<()> {
        let mut m = self.map.lock();
        let now = Instant::now();
        if only_if_exists && m.get(key).is_none_or(|(_, t)| *t <= now) {
            return Ok(());
        }
        // Expired keys go every 1,024 writes (nothing else reads them).
        let n = self
            .writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n % 1024 == 1023 {
            m.retain(|_, (_, t)| *t > now);
        }
        m.insert(key.to_string(), (value.to_string(), now + ttl));
        Ok(())
    }
    fn take(&self, key: &str) -> ApiResult<Option<String>> {
        let mut m = self.map.lock();
        Ok(m.remove(key)
            .filter(|(_, t)| *t > Instant::now())
            .map(|(v, _)| v))
    }
    fn del(&self, keys: &[String]) -> ApiResult<()> {
        let mut m = self.map.lock();
        for k in keys {
            m.remove(k);
        }
        Ok(())
    }
    fn incr(&self, key: &str, ttl: Duration) -> ApiResult<u64> {
        let mut m = self.map.lock();
        let now = Instant::now();
        let n = m
            .get(key)
            .filter(|(_, t)| *t > now)
            .and_then(|(v, _)| v.parse::<u64>().ok())
            .unwrap_or(0)
            + 1;
        m.insert(key.to_string(), (n.to_string(), now + ttl));
        Ok(n)
    }
    fn expire(&self, key: &str, ttl: Duration) -> ApiResult<()> {
        if let Some(e) = self.map.lock().get_mut(key) {
            e.1 = Instant::now() + ttl;
        }
        Ok(())
    }
    fn count(&self, prefix: &str) -> ApiResult<usize> {
        let now = Instant::now();
        Ok(self
            .map
            .lock()
            .iter()
            .filter(|(k, (_, t))| k.starts_with(prefix) && *t > now)
            .count())
    }
    fn shared(&self) -> bool {
        false
    }
}

/// Sessions in Redis (a Clustered database's), shared by every server on it.
pub(crate) struct RedisKv {
    url: String,
    client: redis::Client,
    conns: Mutex<Vec<redis::Connection>>,
}

impl RedisKv {
    pub(crate) fn new(url: &str) -> ApiResult<RedisKv> {
        let client = redis::Client::open(url)
            .map_err(|e| ApiError::bad_request(format!("bad Redis URL {url}: {e}")))?;
        Ok(RedisKv {
            url: url.to_string(),
            client,
            conns: Mutex::new(Vec::new()),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> ApiResult<T> {
        let down = |e: &dyn std::fmt::Display| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!(
                    "the session store (Redis at {}) does not answer: {e}",
                    self.url
                ),
            )
        };
        let conn = self.conns.lock().pop();
        let mut conn = match conn {
            Some(c) => c,
            None => {
                let c = self
                    .client
                    .get_connection_with_timeout(Duration::from_secs(2))
                    .map_err(|e| down(&e))?;
                let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = c.set_write_timeout(Some(Duration::from_secs(2)));
                c
            }
        };
        match f(&mut conn) {
            Ok(v) => {
                self.conns.lock().push(conn);
                Ok(v)
            }
            Err(e) => Err(down(&e)),
        }
    }
}

fn ms(d: Duration) -> u64 {
    (d.as_millis() as u64).max(1)
}

impl Kv for RedisKv {
    fn get(&self, key: &str) -> ApiResult<Option<String>> {
        self.with(|c| redis::cmd("GET").arg(key).query(c))
    }
    fn set(&self, key: &str, value: &str, ttl: Duration, only_if_exists: bool) -> ApiResult<()> {
        self.with(|c| {
            let mut cmd = redis::cmd("SET");
            cmd.arg(key).arg(value).arg("PX").arg(ms(ttl));
            if only_if_exists {
                cmd.arg("XX");
            }
            cmd.query::<Option<String>>(c).map(|_| ())
        })
    }
    fn take(&self, key: &str) -> ApiResult<Option<String>> {
        self.with(|c| redis::cmd("GETDEL").arg(key).query(c))
    }
    fn del(&self, keys: &[String]) -> ApiResult<()> {
        if keys.is_empty() {
            return Ok(());
        }
        self.with(|c| redis::cmd("DEL").arg(keys).query::<()>(c))
    }
    fn incr(&self, key: &str, ttl: Duration) -> ApiResult<u64> {
        self.with(|c| {
            let n: u64 = redis::cmd("INCR").arg(key).query(c)?;
            redis::cmd("PEXPIRE").arg(key).arg(ms(ttl)).query::<()>(c)?;
            Ok(n)
        })
    }
    fn expire(&self, key: &str, ttl: Duration) -> ApiResult<()> {
        self.with(|c| redis::cmd("PEXPIRE").arg(key).arg(ms(ttl)).query::<()>(c))
    }
    fn count(&self, prefix: &str) -> ApiResult<usize> {
        self.with(|c| {
            let mut cursor: u64 = 0;
            let mut n = 0;
            loop {
                let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(format!("{prefix}*"))
                    .arg("COUNT")
                    .arg(1000)
                    .query(c)?;
                n += keys.len();
                if next == 0 {
                    return Ok(n);
                }
                cursor = next;
            }
        })
    }
    fn shared(&self) -> bool {
        true
    }
}

/// The kinds of token a session has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Access,
    Refresh,
    Cookie,
}

impl Kind {
    fn tag(self) -> &'static str {
        match self {
            Kind::Access => "a",
            Kind::Refresh => "r",
            Kind::Cookie => "c",
        }
    }
}

/// A session record (`s:{id}`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Record {
    pub user: String,
    pub role: Role,
    /// Hashes of the current tokens.
    pub access: String,
    pub refresh: String,
    pub cookie: Option<String>,
    /// Expiry instants, Unix milliseconds.
    pub access_expires: u64,
    pub refresh_expires: u64,
    pub cookie_expires: u64,
    /// The CSRF token the page sends back (not a credential on its own: it
    /// works only beside the session's HttpOnly cookie).
    pub csrf: String,
}

impl Record {
    /// How long the record must live: its longest-lived token.
    fn ttl(&self) -> Duration {
        let until = self.refresh_expires.max(if self.cookie.is_some() {
            self.cookie_expires
        } else {
            0
        });
        Duration::from_millis(until.saturating_sub(now_ms()).max(1))
    }
    fn hash_of(&self, kind: Kind) -> Option<&str> {
        match kind {
            Kind::Access => Some(&self.access),
            Kind::Refresh => Some(&self.refresh),
            Kind::Cookie => self.cookie.as_deref(),
        }
    }
    fn expires(&self, kind: Kind) -> u64 {
        match kind {
            Kind::Access => self.access_expires,
            Kind::Refresh => self.refresh_expires,
            Kind::Cookie => self.cookie_expires,
        }
    }
}

/// Now, in Unix milliseconds (shared by the instances of a cluster).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// BLAKE2s-256 of a token, hex: what is stored instead of the token.
pub(crate) fn token_hash(token: &str) -> String {
    let h = Blake2s256::digest(token.as_bytes());
    let mut s = String::with_capacity(64);
    for b in h {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The session table over a [`Kv`].
pub(crate) struct Sessions {
    kv: std::sync::Arc<dyn Kv>,
    prefix: String,
}

impl Sessions {
    pub(crate) fn new(kv: std::sync::Arc<dyn Kv>, prefix: String) -> Sessions {
        Sessions { kv, prefix }
    }

    /// The store and key prefix, for other shared state (maintenance jobs).
    pub(crate) fn store(&self) -> (std::sync::Arc<dyn Kv>, String) {
        (self.kv.clone(), self.prefix.clone())
    }

    pub(crate) fn shared(&self) -> bool {
        self.kv.shared()
    }

    fn skey(&self, id: &str) -> String {
        format!("{}s:{id}", self.prefix)
    }
    fn tkey(&self, hash: &str) -> String {
        format!("{}t:{hash}", self.prefix)
    }

    fn put_token(&self, id: &str, kind: Kind, hash: &str, expires: u64) -> ApiResult<()> {
        let ttl = Duration::from_millis(expires.saturating_sub(now_ms()).max(1));
        self.kv.set(
            &self.tkey(hash),
            &format!("{id} {}", kind.tag()),
            ttl,
            false,
        )
    }

    /// Store a new session `id` (its token keys, then the record).
    pub(crate) fn create(&self, id: &str, rec: &Record) -> ApiResult<()> {
        self.put_token(id, Kind::Access, &rec.access, rec.access_expires)?;
        self.put_token(id, Kind::Refresh, &rec.refresh, rec.refresh_expires)?;
        if let Some(c) = &rec.cookie {
            self.put_token(id, Kind::Cookie, c, rec.cookie_expires)?;
        }
        self.write(id, rec, false)
    }

    fn write(&self, id: &str, rec: &Record, only_if_exists: bool) -> ApiResult<()> {
        let text = serde_json::to_string(rec).map_err(|e| ApiError::internal(e.to_string()))?;
        self.kv
            .set(&self.skey(id), &text, rec.ttl(), only_if_exists)
    }

    fn record(&self, id: &str) -> ApiResult<Option<Record>> {
        Ok(self
            .kv
            .get(&self.skey(id))?
            .and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// The live session whose current token of `kind` is `token`, if any:
    /// (id, record). Expired tokens are refused here, on every instance.
    pub(crate) fn find(&self, token: &str, kind: Kind) -> ApiResult<Option<(String, Record)>> {
        let hash = token_hash(token);
        let Some(v) = self.kv.get(&self.tkey(&hash))? else {
            return Ok(None);
        };
        self.resolve(&v, &hash, kind)
    }

    fn resolve(&self, v: &str, hash: &str, kind: Kind) -> ApiResult<Option<(String, Record)>> {
        let Some((id, tag)) = v.split_once(' ') else {
            return Ok(None);
        };
        if tag != kind.tag() {
            return Ok(None);
        }
        let Some(rec) = self.record(id)? else {
            return Ok(None);
        };
        if rec.hash_of(kind) != Some(hash) || rec.expires(kind) <= now_ms() {
            return Ok(None);
        }
        Ok(Some((id.to_string(), rec)))
    }

    /// Consume a refresh token: only one caller gets its session.
    pub(crate) fn take_refresh(&self, token: &str) -> ApiResult<Option<(String, Record)>> {
        let hash = token_hash(token);
        let Some(v) = self.kv.take(&self.tkey(&hash))? else {
            return Ok(None);
        };
        self.resolve(&v, &hash, Kind::Refresh)
    }

    /// Replace session `id`'s record with `rec`, whose access and refresh
    /// token hashes are new (the old ones were `old`), unless it was deleted
    /// meanwhile (logout): then false.
    pub(crate) fn rotate(&self, id: &str, old: &Record, rec: &Record) -> ApiResult<bool> {
        self.put_token(id, Kind::Access, &rec.access, rec.access_expires)?;
        self.put_token(id, Kind::Refresh, &rec.refresh, rec.refresh_expires)?;
        self.write(id, rec, true)?;
        let alive = self.record(id)?.is_some_and(|r| r.refresh == rec.refresh);
        let mut dead = vec![self.tkey(&old.access), self.tkey(&old.refresh)];
        if !alive {
            dead.push(self.tkey(&rec.access));
            dead.push(self.tkey(&rec.refresh));
        }
        self.kv.del(&dead)?;
        Ok(alive)
    }

    /// Slide the cookie's expiry of session `id` to `expires` (if it still exists).
    pub(crate) fn slide_cookie(&self, id: &str, rec: &mut Record, expires: u64) -> ApiResult<()> {
        rec.cookie_expires = expires;
        self.write(id, rec, true)?;
        if let Some(c) = &rec.cookie {
            self.kv.expire(
                &self.tkey(c),
                Duration::from_millis(expires.saturating_sub(now_ms()).max(1)),
            )?;
        }
        Ok(())
    }

    /// End session `id`: delete its record (every instance refuses its tokens
    /// from now on) and its token keys.
    pub(crate) fn delete(&self, id: &str) -> ApiResult<()> {
        let rec = self.record(id)?;
        self.kv.del(&[self.skey(id)])?;
        if let Some(r) = rec {
            let mut keys = vec![self.tkey(&r.access), self.tkey(&r.refresh)];
            if let Some(c) = &r.cookie {
                keys.push(self.tkey(c));
            }
            self.kv.del(&keys)?;
        }
        Ok(())
    }

    /// Failed logins for `who` (a user name or an address) so far, and the
    /// instant of the last one (Unix ms); shared like the sessions.
    pub(crate) fn failures(&self, who: &str) -> ApiResult<(u64, u64)> {
        let k = format!("{}f:{}", self.prefix, token_hash(who));
        let count = self.kv.get(&k)?.and_then(|v| v.parse().ok()).unwrap_or(0);
        let last = self
            .kv
            .get(&format!("{k}:t"))?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok((count, last))
    }

    /// Count a failed login for `who`; counters are forgotten after `keep`.
    pub(crate) fn fail(&self, who: &str, keep: Duration) -> ApiResult<()> {
        let k = format!("{}f:{}", self.prefix, token_hash(who));
        self.kv.incr(&k, keep)?;
        self.kv
            .set(&format!("{k}:t"), &now_ms().to_string(), keep, false)
    }

    /// Forget the failed logins of `who`.
    pub(crate) fn clear_failures(&self, who: &str) -> ApiResult<()> {
        let k = format!("{}f:{}", self.prefix, token_hash(who));
        self.kv.del(&[k.clone(), format!("{k}:t")])
    }

    /// Live sessions.
    pub(crate) fn count(&self) -> usize {
        self.kv.count(&format!("{}s:", self.prefix)).unwrap_or(0)
    }
}
