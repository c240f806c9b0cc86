//! Clustered mode: Redis as the coordinator ("pheromones").
//!
//! - Node locks are leases owned by one commit attempt: value = owner id, a TTL.
//!   All keys of an attempt are taken by one Lua script, all or nothing (so no
//!   partial holds and no deadlock); release and extension compare the owner.
//! - `head` is a hint of the newest commit sequence, so other processes learn of
//!   a commit at once instead of waiting for their view of the folder.
//! - Record headers and node images are cached by their immutable location.
//! - Every process holds a lease `proc:<id>`, renewed by a heartbeat thread.
//!
//! None of this decides correctness: the commit point is the exclusive link in
//! the log, and a process whose lease expired is fenced by an abort record in the
//! log before anything of it is deleted. Emptying or restarting Redis costs speed.

use super::{Coordinator, LockKey, Owner};
use crate::error::{Error, Result};
use parking_lot::Mutex;
use redis::Script;
use std::time::{Duration, Instant};

const LOCK_ALL: &str = r#"
for i, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if v and v ~= ARGV[1] then return i end
end
for _, k in ipairs(KEYS) do
  redis.call('SET', k, ARGV[1], 'PX', ARGV[2])
end
return 0
"#;

const UNLOCK_ALL: &str = r#"
local n = 0
for _, k in ipairs(KEYS) do
  if redis.call('GET', k) == ARGV[1] then redis.call('DEL', k); n = n + 1 end
end
return n
"#;

/// UNLOCK_ALL over KEYS[2..], and MAX_SET of KEYS[1] to ARGV[2] unless it is "".
const UNLOCK_PUBLISH: &str = r#"
local n = 0
for i, k in ipairs(KEYS) do
  if i > 1 and redis.call('GET', k) == ARGV[1] then redis.call('DEL', k); n = n + 1 end
end
if ARGV[2] ~= '' then
  local v = tonumber(redis.call('GET', KEYS[1]) or '0')
  if tonumber(ARGV[2]) > v then redis.call('SET', KEYS[1], ARGV[2]) end
end
return n
"#;

const MAX_SET: &str = r#"
local v = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > v then redis.call('SET', KEYS[1], ARGV[1]) end
return 0
"#;

pub struct RedisCoordinator {
    url: String,
    client: redis::Client,
    conns: Mutex<Vec<redis::Connection>>,
    prefix: String,
    lock_all: Script,
    unlock_all: Script,
    unlock_publish: Script,
    max_set: Script,
    /// How long cached immutable entries live in Redis.
    cache_ttl: Duration,
}

fn rerr(url: &str, e: redis::RedisError) -> Error {
    Error::Coordinator(format!("Redis at {url}: {e}"))
}

impl RedisCoordinator {
    /// Connect (and check the server answers). `db_id` namespaces every key.
    pub fn connect(url: &str, db_id: &str) -> Result<Self> {
        let client = redis::Client::open(url).map_err(|e| rerr(url, e))?;
        let mut conn = client
            .get_connection_with_timeout(Duration::from_secs(5))
            .map_err(|e| Error::Coordinator(format!("cannot reach Redis at {url}: {e}")))?;
        let _: String = redis::cmd("PING")
            .query(&mut conn)
            .map_err(|e| rerr(url, e))?;
        Ok(RedisCoordinator {
            url: url.to_string(),
            client,
            conns: Mutex::new(vec![conn]),
            prefix: format!("sop:{db_id}:"),
            lock_all: Script::new(LOCK_ALL),
            unlock_all: Script::new(UNLOCK_ALL),
            unlock_publish: Script::new(UNLOCK_PUBLISH),
            max_set: Script::new(MAX_SET),
            cache_ttl: Duration::from_secs(3600),
        })
    }

    /// Run `f` on a pooled connection; a failed connection is dropped, not reused.
    fn with<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T> {
        let conn = self.conns.lock().pop();
        let mut conn = match conn {
            Some(c) => c,
            None => self
                .client
                .get_connection_with_timeout(Duration::from_secs(2))
                .map_err(|e| {
                    Error::Coordinator(format!("cannot reach Redis at {}: {e}", self.url))
                })?,
        };
        let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
        match f(&mut conn) {
            Ok(v) => {
                self.conns.lock().push(conn);
                Ok(v)
            }
            Err(e) => Err(rerr(&self.url, e)),
        }
    }

    fn lock_key(&self, k: &LockKey) -> String {
        format!("{}lock:{:016x}:{:016x}", self.prefix, k.0, k.1)
    }

    fn keys(&self, keys: &[LockKey]) -> Vec<String> {
        keys.iter().map(|k| self.lock_key(k)).collect()
    }

    /// Who holds a lock now (tests and tools).
    #[cfg(feature = "test-hooks")]
    pub fn holder(&self, key: &LockKey) -> Result<Option<String>> {
        let k = self.lock_key(key);
        self.with(|c| redis::cmd("GET").arg(&k).query(c))
    }

    fn ckey(&self, what: &str) -> String {
        format!("{}{what}", self.prefix)
    }
}

impl Coordinator for RedisCoordinator {
    fn lock(
        &self,
        owner: Owner,
        keys: &[LockKey],
        ttl: Duration,
        timeout: Duration,
    ) -> Result<bool> {
        if keys.is_empty() {
            return Ok(true);
        }
        // Waits on the network: measured in real time.
        let deadline = Instant::now() + timeout;
        let ks = self.keys(keys);
        let me = format!("{owner:032x}");
        let mut backoff = Duration::from_micros(200);
        loop {
            let blocked: i64 = self.with(|c| {
                let mut inv = self.lock_all.prepare_invoke();
                for k in &ks {
                    inv.key(k);
                }
                inv.arg(&me).arg(ttl.as_millis().max(1) as u64).invoke(c)
            })?;
            if blocked == 0 {
                return Ok(true);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            std::thread::sleep(backoff.min(deadline - now));
            backoff = (backoff * 2).min(Duration::from_millis(20));
        }
    }

    fn unlock(&self, owner: Owner, keys: &[LockKey]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let ks = self.keys(keys);
        let _: i64 = self.with(|c| {
            let mut inv = self.unlock_all.prepare_invoke();
            for k in &ks {
                inv.key(k);
            }
            inv.arg(format!("{owner:032x}")).invoke(c)
        })?;
        Ok(())
    }

    fn unlock_and_publish(&self, owner: Owner, keys: &[LockKey], seq: Option<u64>) -> Result<()> {
        if keys.is_empty() {
            if let Some(seq) = seq {
                self.publish_head(seq);
            }
            return Ok(());
        }
        let head = self.ckey("head");
        let ks = self.keys(keys);
        let _: i64 = self.with(|c| {
            let mut inv = self.unlock_publish.prepare_invoke();
            inv.key(&head);
            for k in &ks {
                inv.key(k);
            }
            inv.arg(format!("{owner:032x}"))
                .arg(seq.map(|s| s.to_string()).unwrap_or_default())
                .invoke(c)
        })?;
        Ok(())
    }

    fn publish_head(&self, seq: u64) {
        let k = self.ckey("head");
        let _ = self.with(|c| self.max_set.key(&k).arg(seq).invoke::<i64>(c));
    }

    fn head_hint(&self) -> Option<u64> {
        let k = self.ckey("head");
        self.with(|c| redis::cmd("GET").arg(&k).query::<Option<u64>>(c))
            .ok()
            .flatten()
    }

    fn cache_get(&self, key: &str) -> Option<Vec<u8>> {
        let k = self.ckey(key);
        self.with(|c| redis::cmd("GET").arg(&k).query::<Option<Vec<u8>>>(c))
            .ok()
            .flatten()
    }

    fn cache_put(&self, key: &str, value: &[u8]) {
        let k = self.ckey(key);
        let ttl = self.cache_ttl.as_secs();
        let _ = self.with(|c| {
            redis::cmd("SET")
                .arg(&k)
                .arg(value)
                .arg("EX")
                .arg(ttl)
                .query::<()>(c)
        });
    }

    fn lease(&self, proc_id: u128, ttl: Duration) -> Result<()> {
        let k = self.ckey(&format!("proc:{proc_id:032x}"));
        self.with(|c| {
            redis::cmd("SET")
                .arg(&k)
                .arg(1)
                .arg("PX")
                .arg(ttl.as_millis() as u64)
                .query::<()>(c)
        })
    }

    fn is_alive(&self, proc_id: u128) -> Result<bool> {
        let k = self.ckey(&format!("proc:{proc_id:032x}"));
        self.with(|c| redis::cmd("EXISTS").arg(&k).query::<bool>(c))
    }

    fn release_lease(&self, proc_id: u128) {
        let k = self.ckey(&format!("proc:{proc_id:032x}"));
        let _ = self.with(|c| redis::cmd("DEL").arg(&k).query::<()>(c));
    }

    fn clustered(&self) -> bool {
        true
    }
}
