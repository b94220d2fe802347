//! `[auth.redis_session]` and `[auth.django_session]`: sessions kept by the site.

use std::path::Path;

use anyhow::{anyhow, bail};
use serde::Deserialize;

use crate::authenticate::django::{DB_SALT, SIGNED_COOKIES_SALT};
use crate::authenticate::settings::{
    DjangoSessionSettings, DjangoStoreSettings, RedisSessionSettings, SessionFormat,
};
use crate::config::sources::{
    default_connect_timeout, default_pool_size, default_query_timeout, env_var, inline_or_env,
    is_token_name, pool, secret,
};
use crate::secret::Secret;

/// Bytes trimmed from the end of a Django SECRET_KEY file (a key may end in a space).
const NEWLINES: &[u8] = b"\n\r";

/// `max_session_bytes`: 64 KiB unless configured, within 1 KiB and 1 MiB (Django's own signed
/// values are refused above 1 MiB anyway).
const DEFAULT_MAX_SESSION_BYTES: u32 = 64 * 1024;
const MAX_SESSION_BYTES_RANGE: std::ops::RangeInclusive<u32> = 1024..=1024 * 1024;

fn default_max_session_bytes() -> u32 {
    DEFAULT_MAX_SESSION_BYTES
}

/// `{at}.max_session_bytes`, checked against its range.
fn max_session_bytes(at: &str, bytes: u32) -> anyhow::Result<u32> {
    if !MAX_SESSION_BYTES_RANGE.contains(&bytes) {
        bail!(
            "{at}.max_session_bytes: must be between {} and {} (bytes)",
            MAX_SESSION_BYTES_RANGE.start(),
            MAX_SESSION_BYTES_RANGE.end()
        );
    }
    Ok(bytes)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRedisSession {
    url: Option<String>,
    url_env: Option<String>,
    cookie: String,
    #[serde(default)]
    key_prefix: String,
    #[serde(default = "default_session_format")]
    format: SessionFormat,
    subject_field: String,
    #[serde(default)]
    claim_fields: Vec<String>,
    #[serde(default = "default_max_session_bytes")]
    max_session_bytes: u32,
    #[serde(default = "default_pool_size")]
    pool_size: u32,
    #[serde(default = "default_connect_timeout")]
    connect_timeout_ms: u64,
    #[serde(default = "default_query_timeout")]
    query_timeout_ms: u64,
}
fn default_session_format() -> SessionFormat {
    SessionFormat::Json
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDjangoSession {
    backend: DjangoBackend,
    #[serde(default = "default_django_cookie")]
    cookie: String,
    secret_key: Option<String>,
    secret_key_file: Option<String>,
    secret_key_env: Option<String>,
    /// Environment variable with SECRET_KEY_FALLBACKS, separated by newlines.
    secret_key_fallbacks_env: Option<String>,
    /// Overrides Django's default salt (custom session engines use their own class name).
    salt: Option<String>,
    database_url: Option<String>,
    database_url_env: Option<String>,
    #[serde(default = "default_django_table")]
    table: String,
    /// SESSION_COOKIE_AGE, for signed cookies.
    #[serde(default = "default_cookie_age")]
    cookie_age_seconds: u64,
    #[serde(default)]
    claim_fields: Vec<String>,
    #[serde(default = "default_max_session_bytes")]
    max_session_bytes: u32,
    #[serde(default = "default_pool_size")]
    pool_size: u32,
    #[serde(default = "default_connect_timeout")]
    connect_timeout_ms: u64,
    #[serde(default = "default_query_timeout")]
    query_timeout_ms: u64,
}

/// `auth.django_session.backend`: Django's `SESSION_ENGINE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum DjangoBackend {
    Db,
    SignedCookies,
}

fn default_django_cookie() -> String {
    "sessionid".into()
}
fn default_django_table() -> String {
    "django_session".into()
}
fn default_cookie_age() -> u64 {
    1_209_600
}

impl RawRedisSession {
    pub(super) fn check(&self) -> anyhow::Result<RedisSessionSettings> {
        let at = "auth.redis_session";
        let url = inline_or_env(at, "url", &self.url, &self.url_env)?;
        let scheme_ok = ["redis://", "rediss://", "redis+unix://", "unix://"]
            .iter()
            .any(|s| url.expose().starts_with(s));
        if !scheme_ok {
            bail!("{at}.url: not a redis:// URL");
        }
        if self.cookie.is_empty() || self.subject_field.is_empty() {
            bail!("{at}: cookie and subject_field must not be empty");
        }
        // Without a prefix, a cookie could name any key in the database (`user:42`, say).
        if self.key_prefix.is_empty() {
            bail!("{at}.key_prefix: must not be empty (sessions must live under their own prefix, such as \"session:\")");
        }
        Ok(RedisSessionSettings {
            url,
            cookie: self.cookie.clone(),
            key_prefix: self.key_prefix.clone(),
            format: self.format,
            subject_field: self.subject_field.clone(),
            claim_fields: self.claim_fields.clone(),
            max_session_bytes: max_session_bytes(at, self.max_session_bytes)?,
            pool: pool(
                self.pool_size,
                self.connect_timeout_ms,
                self.query_timeout_ms,
            ),
        })
    }
}

impl RawDjangoSession {
    pub(super) fn check(&self, base: &Path, dev: bool) -> anyhow::Result<DjangoSessionSettings> {
        let at = "auth.django_session";
        let given = (
            &self.secret_key,
            &self.secret_key_file,
            &self.secret_key_env,
        );
        let secret_key =
            secret(at, "secret_key", given, NEWLINES, base, dev)?.ok_or_else(|| {
                anyhow!("{at}: give exactly one of secret_key, secret_key_file and secret_key_env")
            })?;
        if secret_key.expose().is_empty() {
            bail!("{at}: the SECRET_KEY is empty");
        }
        let secret_key_fallbacks = match &self.secret_key_fallbacks_env {
            None => Vec::new(),
            Some(var) => env_var(&format!("{at}.secret_key_fallbacks_env"), var)?
                .lines()
                .filter(|l| !l.is_empty())
                .map(|l| Secret::new(l.as_bytes().to_vec()))
                .collect(),
        };
        if !is_token_name(&self.cookie) {
            bail!("{at}.cookie: {:?} is not a valid cookie name", self.cookie);
        }
        let (store, default_salt) = match self.backend {
            DjangoBackend::Db => {
                let url = inline_or_env(
                    at,
                    "database_url",
                    &self.database_url,
                    &self.database_url_env,
                )?;
                let valid_table = !self.table.is_empty()
                    && self
                        .table
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.'));
                if !valid_table {
                    bail!("{at}.table: {:?} is not a table name", self.table);
                }
                let store = DjangoStoreSettings::Database {
                    url,
                    table: self.table.clone(),
                    pool: pool(
                        self.pool_size,
                        self.connect_timeout_ms,
                        self.query_timeout_ms,
                    ),
                };
                (store, DB_SALT)
            }
            DjangoBackend::SignedCookies => (
                DjangoStoreSettings::SignedCookies {
                    max_age: self.cookie_age_seconds,
                },
                SIGNED_COOKIES_SALT,
            ),
        };
        Ok(DjangoSessionSettings {
            cookie: self.cookie.clone(),
            secret_key,
            secret_key_fallbacks,
            salt: self.salt.clone().unwrap_or_else(|| default_salt.to_owned()),
            store,
            claim_fields: self.claim_fields.clone(),
            max_session_bytes: max_session_bytes(at, self.max_session_bytes)?,
        })
    }
}
