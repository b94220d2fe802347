//! `[[grants]]`: SQL queries that must return a row for a rule to allow an object.

use std::time::Duration;

use anyhow::bail;
use serde::Deserialize;

use super::sources::{
    default_connect_timeout, default_pool_size, default_query_timeout, inline_or_env, pool,
};
use crate::authorize::sql_grant::{placeholder_count, CacheSettings, GrantParam, GrantSettings};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGrant {
    pub(super) name: String,
    database_url: Option<String>,
    database_url_env: Option<String>,
    query: String,
    params: Vec<GrantParam>,
    #[serde(default = "default_allow_ttl")]
    allow_ttl_seconds: u64,
    #[serde(default = "default_deny_ttl")]
    deny_ttl_seconds: u64,
    #[serde(default = "default_cache_entries")]
    cache_entries: u64,
    #[serde(default = "default_pool_size")]
    pool_size: u32,
    #[serde(default = "default_connect_timeout")]
    connect_timeout_ms: u64,
    #[serde(default = "default_query_timeout")]
    query_timeout_ms: u64,
}

fn default_allow_ttl() -> u64 {
    60
}
fn default_deny_ttl() -> u64 {
    10
}
fn default_cache_entries() -> u64 {
    100_000
}

/// Every grant: a unique name, a single SELECT whose placeholders match its parameters.
pub(super) fn check(raw: &[RawGrant]) -> anyhow::Result<Vec<GrantSettings>> {
    let mut out: Vec<GrantSettings> = Vec::new();
    for (i, g) in raw.iter().enumerate() {
        let at = format!("grants[{i}]");
        if g.name.is_empty() || out.iter().any(|x| x.name == g.name) {
            bail!("{at}.name: empty or duplicate grant name {:?}", g.name);
        }
        let placeholders = placeholder_count(&g.query);
        if placeholders != g.params.len() {
            bail!(
                "{at}.query: it has {placeholders} placeholder(s) but params lists {}",
                g.params.len()
            );
        }
        let select = g
            .query
            .trim_start()
            .get(..6)
            .is_some_and(|w| w.eq_ignore_ascii_case("select"));
        if !select || g.query.contains(';') {
            bail!("{at}.query: must be a single SELECT statement");
        }
        let database_url =
            inline_or_env(&at, "database_url", &g.database_url, &g.database_url_env)?;
        out.push(GrantSettings {
            name: g.name.clone(),
            database_url,
            query: g.query.clone(),
            params: g.params.clone(),
            cache: CacheSettings {
                allow_ttl: Duration::from_secs(g.allow_ttl_seconds),
                deny_ttl: Duration::from_secs(g.deny_ttl_seconds),
                max_entries: g.cache_entries,
            },
            pool: pool(g.pool_size, g.connect_timeout_ms, g.query_timeout_ms),
        });
    }
    Ok(out)
}
