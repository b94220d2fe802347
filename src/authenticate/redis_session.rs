//! Sessions kept in Redis by the site: the cookie's value `id` is looked up as `{prefix}{id}`,
//! a JSON string or a Redis hash, and the subject and claims are read from configured fields.
//! One round trip per request; signgate never writes to the store.
//!
//! A session is read only when it is at most `max_session_bytes` long, and Redis itself decides:
//! a small Lua script (run by its SHA1 with EVALSHA; on NOSCRIPT, after a Redis restart or
//! failover, loaded with SCRIPT LOAD and run again) measures the value with
//! `STRLEN` (a hash: `HLEN`, then `HSTRLEN` and the name of each field) and answers either the
//! value or only its length. A script because it is the one way to make the read depend on the
//! length in one round trip, atomically: a pipeline or `MULTI` of `STRLEN` and `GET` sends the
//! value whatever its length, and `STRLEN` then `GET` is two round trips with a window between
//! them in which the value can grow.

use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::Pool;
use http::HeaderMap;
use redis::FromRedisValue;
use serde_json::{Map, Value};

use super::credentials::{find_cookie, CookieLookup};
use super::settings::RedisSessionSettings;
use super::settings::SessionFormat;
use super::{session_user, AuthFailure, AuthOutcome};
use crate::backend::BackendHealth;
use crate::metrics::Metrics;

/// `KEYS[1]` the session, `ARGV[1]` the most bytes read. The value when it is at most that long
/// (nil when there is no such key), its length (an integer) when it is longer. A key of another
/// type is an error, as `GET` would give.
const READ_STRING: &str = r"
local length = redis.call('STRLEN', KEYS[1])
if length > tonumber(ARGV[1]) then
  return length
end
return redis.call('GET', KEYS[1])
";

/// `KEYS[1]` the session, `ARGV[1]` the most bytes read (field names and values together),
/// `ARGV[2]` the most fields. The fields and values when the hash is within both (none when
/// there is no such key), an integer when it is not. Values are measured, never copied.
const READ_HASH: &str = r"
local limit = tonumber(ARGV[1])
if redis.call('HLEN', KEYS[1]) > tonumber(ARGV[2]) then
  return limit + 1
end
local size = 0
for _, name in ipairs(redis.call('HKEYS', KEYS[1])) do
  size = size + #name + redis.call('HSTRLEN', KEYS[1], name)
  if size > limit then
    return size
  end
end
return redis.call('HGETALL', KEYS[1])
";

/// The most fields a hash session may have, however short they are (a session has a handful; this
/// bounds the script's work in Redis and what signgate allocates per field).
const MAX_HASH_FIELDS: u32 = 1024;

pub struct RedisSessions {
    pub cookie: String,
    pub key_prefix: String,
    pub format: SessionFormat,
    pub subject_field: String,
    pub claim_fields: Vec<String>,
    pub max_session_bytes: u32,
    /// [`READ_STRING`] or [`READ_HASH`], by the format.
    read: redis::Script,
    pub pool: Pool,
    pub query_timeout: Duration,
    pub health: Arc<BackendHealth>,
}

enum Fetch {
    Missing,
    Found(Map<String, Value>),
    /// Longer than `max_session_bytes`: Redis sent its length (or a bound), not the value.
    TooLarge(i64),
    Garbage,
}

impl RedisSessions {
    /// A pool that connects on first use (signgate starts, and fails closed, while Redis is down).
    pub fn new(s: &RedisSessionSettings, metrics: &Metrics) -> anyhow::Result<Self> {
        let p = s.pool;
        let mut cfg = deadpool_redis::Config::from_url(s.url.expose().as_str());
        cfg.pool = Some(deadpool_redis::PoolConfig {
            max_size: p.max_connections as usize,
            timeouts: deadpool_redis::Timeouts {
                wait: Some(p.connect_timeout),
                create: Some(p.connect_timeout),
                recycle: Some(p.connect_timeout),
            },
            ..Default::default()
        });
        let pool = cfg
            .create_pool(Some(deadpool_redis::Runtime::Tokio1))
            .map_err(|e| anyhow::anyhow!("auth.redis_session.url: {e}"))?;
        Ok(RedisSessions {
            cookie: s.cookie.clone(),
            key_prefix: s.key_prefix.clone(),
            format: s.format,
            subject_field: s.subject_field.clone(),
            claim_fields: s.claim_fields.clone(),
            max_session_bytes: s.max_session_bytes,
            read: redis::Script::new(match s.format {
                SessionFormat::Json => READ_STRING,
                SessionFormat::Hash => READ_HASH,
            }),
            pool,
            query_timeout: p.query_timeout,
            health: Arc::new(BackendHealth::new("redis_session", metrics)),
        })
    }

    pub async fn authenticate(&self, headers: &HeaderMap) -> Option<AuthOutcome> {
        let reject = |f| Some(AuthOutcome::Rejected(f));
        let id = match find_cookie(headers, &self.cookie) {
            CookieLookup::Absent => return None,
            CookieLookup::Ambiguous => return reject(AuthFailure::Malformed),
            CookieLookup::Value(v) => v,
        };
        let plausible = (1..=256).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !plausible {
            return reject(AuthFailure::Malformed);
        }
        let session = match tokio::time::timeout(self.query_timeout, self.fetch(id)).await {
            Ok(Ok(Fetch::Found(map))) => {
                self.health.succeeded();
                map
            }
            Ok(Ok(Fetch::Missing)) => {
                self.health.succeeded();
                return reject(AuthFailure::UnknownSession);
            }
            Ok(Ok(Fetch::TooLarge(bytes))) => {
                self.health.succeeded();
                tracing::debug!(
                    bytes,
                    max_session_bytes = self.max_session_bytes,
                    "a Redis session is larger than max_session_bytes; not read"
                );
                return reject(AuthFailure::SessionTooLarge);
            }
            Ok(Ok(Fetch::Garbage)) => {
                self.health
                    .failed(&"a session value is not in the configured format");
                return Some(AuthOutcome::Unavailable("redis"));
            }
            Ok(Err(err)) => {
                self.health.failed(&err);
                return Some(AuthOutcome::Unavailable("redis"));
            }
            Err(_) => {
                self.health.failed(&"timed out");
                return Some(AuthOutcome::Unavailable("redis"));
            }
        };
        Some(session_user(
            &session,
            &self.subject_field,
            &self.claim_fields,
            "redis_session",
        ))
    }

    async fn fetch(&self, id: &str) -> anyhow::Result<Fetch> {
        let mut conn = self.pool.get().await?;
        let key = format!("{}{id}", self.key_prefix);
        let mut read = self.read.key(&key);
        read.arg(self.max_session_bytes);
        if self.format == SessionFormat::Hash {
            read.arg(MAX_HASH_FIELDS);
        }
        let reply: redis::Value = read.invoke_async(&mut conn).await?;
        if let redis::Value::Int(bytes) = reply {
            return Ok(Fetch::TooLarge(bytes));
        }
        Ok(match self.format {
            SessionFormat::Json => match Option::<Vec<u8>>::from_redis_value(reply)? {
                None => Fetch::Missing,
                Some(bytes) => match serde_json::from_slice(&bytes) {
                    Ok(Value::Object(map)) => Fetch::Found(map),
                    _ => Fetch::Garbage,
                },
            },
            SessionFormat::Hash => {
                let fields = Vec::<(String, String)>::from_redis_value(reply)?;
                if fields.is_empty() {
                    Fetch::Missing
                } else {
                    // A hash field holding JSON (a list of roles, say) is read as JSON; anything
                    // else is a string.
                    Fetch::Found(
                        fields
                            .into_iter()
                            .map(|(k, v)| {
                                let value = match serde_json::from_str::<Value>(&v) {
                                    Ok(j @ (Value::Array(_) | Value::Object(_))) => j,
                                    _ => Value::String(v),
                                };
                                (k, value)
                            })
                            .collect(),
                    )
                }
            }
        })
    }

    pub async fn ping(&self) -> bool {
        let ping = async {
            let mut conn = self.pool.get().await?;
            let _: String = redis::cmd("PING").query_async(&mut conn).await?;
            anyhow::Ok(())
        };
        let outcome = match tokio::time::timeout(self.query_timeout, ping).await {
            Ok(result) => result,
            Err(_) => Err(anyhow::anyhow!("timed out")),
        };
        self.health.record(outcome)
    }
}
