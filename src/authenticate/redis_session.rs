//! Sessions kept in Redis by the site: the cookie's value `id` is looked up as `{prefix}{id}`,
//! a JSON string or a Redis hash, and the subject and claims are read from configured fields.
//! One round trip per request; signgate never writes to the store.

use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::Pool;
use http::HeaderMap;
use serde_json::{Map, Value};

use super::credentials::{find_cookie, CookieLookup};
use super::settings::RedisSessionSettings;
use super::settings::SessionFormat;
use super::{session_user, AuthFailure, AuthOutcome};
use crate::backend::BackendHealth;
use crate::metrics::Metrics;

pub struct RedisSessions {
    pub cookie: String,
    pub key_prefix: String,
    pub format: SessionFormat,
    pub subject_field: String,
    pub claim_fields: Vec<String>,
    pub pool: Pool,
    pub query_timeout: Duration,
    pub health: Arc<BackendHealth>,
}

enum Fetch {
    Missing,
    Found(Map<String, Value>),
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
        Ok(match self.format {
            SessionFormat::Json => {
                let value: Option<Vec<u8>> =
                    redis::cmd("GET").arg(&key).query_async(&mut conn).await?;
                match value {
                    None => Fetch::Missing,
                    Some(bytes) => match serde_json::from_slice(&bytes) {
                        Ok(Value::Object(map)) => Fetch::Found(map),
                        _ => Fetch::Garbage,
                    },
                }
            }
            SessionFormat::Hash => {
                let fields: Vec<(String, String)> = redis::cmd("HGETALL")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await?;
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
