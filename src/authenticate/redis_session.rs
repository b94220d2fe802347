//! Sessions kept in Redis by the site: the cookie's value `id` is looked up as `{prefix}{id}`,
//! a JSON string or a Redis hash, and the subject and claims are read from configured fields.
//! One round trip per request; signgate never writes to the store.

use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::Pool;
use http::HeaderMap;
use serde_json::{Map, Value};

use super::credentials::{find_cookie, CookieLookup};
use super::{session_user, AuthFailure, AuthOutcome};
use crate::backend::BackendHealth;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionFormat {
    Json,
    Hash,
}

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
        match tokio::time::timeout(self.query_timeout, ping).await {
            Ok(Ok(())) => {
                self.health.succeeded();
                true
            }
            Ok(Err(e)) => {
                self.health.failed(&e);
                false
            }
            Err(_) => {
                self.health.failed(&"timed out");
                false
            }
        }
    }
}
