//! SQL authorization: a configured, parameterized query decides whether a subject may read an
//! object (`SELECT 1 FROM purchases WHERE user_id = $1 AND object_key = $2`). A row means yes.
//! Decisions are cached in memory, bounded, with separate lifetimes for allow and deny, keyed by
//! subject and object (never shared across subjects). The database failing means no decision:
//! 503, never a signature.

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;
use serde_json::Value;

use crate::authenticate::User;
use crate::backend::sql::{PoolSettings, SqlError, SqlPool};
use crate::backend::BackendHealth;
use crate::metrics::Metrics;
use crate::object_key::ObjectKey;
use crate::secret::Secret;

/// One `[[grants]]` entry, checked (a single SELECT whose placeholders match its parameters).
#[derive(Clone, Debug)]
pub struct GrantSettings {
    pub name: String,
    pub database_url: Secret<String>,
    pub query: String,
    pub params: Vec<GrantParam>,
    pub cache: CacheSettings,
    pub pool: PoolSettings,
}

/// The grant database did not answer: no decision, so nothing is signed (a 503).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the grant database is unavailable")]
pub struct GrantUnavailable;

/// No decision: the database did not answer, or the query was refused before it was sent.
#[derive(Debug, PartialEq, Eq)]
pub enum GrantError<E> {
    Unavailable(GrantUnavailable),
    Refused(E),
}

/// What a query placeholder is bound to (always as text): `subject`, `key` or `claim:NAME`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum GrantParam {
    Subject,
    Key,
    Claim(String),
}

impl GrantParam {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "subject" => Some(GrantParam::Subject),
            "key" => Some(GrantParam::Key),
            _ => text
                .strip_prefix("claim:")
                .filter(|c| !c.is_empty())
                .map(|c| GrantParam::Claim(c.to_owned())),
        }
    }
}

impl TryFrom<String> for GrantParam {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        GrantParam::parse(&text)
            .ok_or_else(|| format!("{text:?} is not subject, key or claim:NAME"))
    }
}

pub struct SqlGrant {
    pub name: String,
    pool: SqlPool,
    pub query: String,
    pub params: Vec<GrantParam>,
    pub query_timeout: Duration,
    health: Arc<BackendHealth>,
    allowed: Cache<String, ()>,
    denied: Cache<String, ()>,
}

impl SqlGrant {
    /// The grant with a pool that connects on first use, so that signgate starts (and fails
    /// closed) while the database is down; [`SqlGrant::check_query`] asks the database.
    pub fn connect(s: &GrantSettings, metrics: &Metrics) -> anyhow::Result<Self> {
        let pool = SqlPool::connect_lazy(s.database_url.expose(), s.pool)?;
        Ok(SqlGrant::new(
            s.name.clone(),
            pool,
            s.query.clone(),
            s.params.clone(),
            s.pool.query_timeout,
            s.cache,
            metrics,
        ))
    }

    fn new(
        name: String,
        pool: SqlPool,
        query: String,
        params: Vec<GrantParam>,
        query_timeout: Duration,
        cache: CacheSettings,
        metrics: &Metrics,
    ) -> Self {
        let health = Arc::new(BackendHealth::new(format!("grant:{name}"), metrics));
        let build = |ttl: Duration| {
            Cache::builder()
                .max_capacity(cache.max_entries)
                .time_to_live(ttl.max(Duration::from_millis(1)))
                .build()
        };
        SqlGrant {
            allowed: build(cache.allow_ttl),
            denied: build(cache.deny_ttl),
            name,
            pool,
            query,
            params,
            query_timeout,
            health,
        }
    }

    /// Whether `user` may read `key`: from the cache, or one query, which `before_query` may
    /// refuse (the flow charges it to the subject's rate limit: a query is work).
    pub async fn allows<E, F>(
        &self,
        user: &User,
        key: &ObjectKey,
        before_query: impl FnOnce() -> F,
    ) -> Result<bool, GrantError<E>>
    where
        F: std::future::Future<Output = Result<(), E>>,
    {
        let mut values = Vec::with_capacity(self.params.len());
        for p in &self.params {
            values.push(match p {
                GrantParam::Subject => user.subject.clone(),
                GrantParam::Key => key.as_str().to_owned(),
                GrantParam::Claim(c) => match user.claims.get(c) {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    Some(Value::Bool(b)) => b.to_string(),
                    // A missing claim can never be granted.
                    _ => return Ok(false),
                },
            });
        }
        // Length-prefixed so no choice of values can collide with another's key.
        let cache_key = values.iter().fold(String::new(), |mut k, v| {
            k.push_str(&v.len().to_string());
            k.push(':');
            k.push_str(v);
            k
        }) + &format!("{}:{}:{}", user.subject.len(), user.subject, key);
        if self.allowed.contains_key(&cache_key) {
            return Ok(true);
        }
        if self.denied.contains_key(&cache_key) {
            return Ok(false);
        }
        before_query().await.map_err(GrantError::Refused)?;
        match self
            .pool
            .exists(&self.query, &values, self.query_timeout)
            .await
        {
            Ok(allowed) => {
                self.health.succeeded();
                if allowed {
                    self.allowed.insert(cache_key, ());
                } else {
                    self.denied.insert(cache_key, ());
                }
                Ok(allowed)
            }
            Err(err) => {
                self.health.failed(&err);
                Err(GrantError::Unavailable(GrantUnavailable))
            }
        }
    }

    /// Checks the statement and its parameter count against the database.
    pub async fn check_query(&self) -> Result<(), SqlError> {
        self.pool.prepare(&self.query, Duration::from_secs(3)).await
    }

    /// Whether the database answers now (for readiness), recorded in the backend's health.
    pub async fn ping(&self) -> bool {
        self.health
            .record(self.pool.ping(Duration::from_secs(1)).await)
    }
}

/// Lifetimes and size of the allow and deny caches.
#[derive(Clone, Copy, Debug)]
pub struct CacheSettings {
    pub allow_ttl: Duration,
    pub deny_ttl: Duration,
    pub max_entries: u64,
}

/// The number of placeholders in a query (`$1..$n`, or `?`/`?n` for SQLite), ignoring quoted text.
pub fn placeholder_count(sql: &str) -> usize {
    let bytes = sql.as_bytes();
    let (mut i, mut max_numbered, mut anonymous) = (0, 0usize, 0usize);
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None if b == b'$' || b == b'?' => {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len() && bytes[end].is_ascii_digit() {
                    end += 1;
                }
                if end > start {
                    max_numbered = max_numbered.max(sql[start..end].parse().unwrap_or(0));
                    i = end;
                    continue;
                } else if b == b'?' {
                    anonymous += 1;
                }
            }
            None => {}
        }
        i += 1;
    }
    max_numbered.max(anonymous)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders() {
        assert_eq!(
            placeholder_count("SELECT 1 FROM p WHERE u = $1 AND k = $2"),
            2
        );
        assert_eq!(
            placeholder_count("SELECT 1 FROM p WHERE u = ? AND k = ?"),
            2
        );
        assert_eq!(
            placeholder_count("SELECT 1 FROM p WHERE u = ?1 AND k = ?2 AND o = ?1"),
            2
        );
        assert_eq!(
            placeholder_count("SELECT 1 FROM p WHERE note = '$3 ?' AND u = $1"),
            1
        );
        assert_eq!(placeholder_count("SELECT 1"), 0);
    }

    #[test]
    fn params() {
        assert_eq!(GrantParam::parse("subject"), Some(GrantParam::Subject));
        assert_eq!(GrantParam::parse("key"), Some(GrantParam::Key));
        assert_eq!(
            GrantParam::parse("claim:org"),
            Some(GrantParam::Claim("org".into()))
        );
        assert_eq!(GrantParam::parse("claim:"), None);
        assert_eq!(GrantParam::parse("password"), None);
    }
}
