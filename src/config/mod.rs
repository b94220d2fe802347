//! Configuration: one commented TOML file plus `SIGNGATE_...` environment overrides, parsed once
//! into typed values (keys loaded, patterns compiled). A bad value stops the start with a
//! message that names its key.

mod raw;
mod validate;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use ipnet::IpNet;
use jsonwebtoken::Algorithm;
use signgate_cloudfront::KeySet;

use crate::authenticate::Authenticators;
use crate::authorize::Rules;
use crate::sign::Distribution;

pub use raw::RawConfig;

/// Everything the service needs, validated.
pub struct Settings {
    pub dev: bool,
    pub server: ServerSettings,
    pub log: LogSettings,
    pub limits: LimitSettings,
    pub authenticators: Authenticators,
    pub rules: Rules,
    pub key_sets: Vec<(String, Arc<KeySet>)>,
    pub distributions: Vec<Arc<Distribution>>,
    /// HS* issuers with their secrets, for `signgate token`.
    pub token_minters: Vec<TokenMinter>,
    /// The file this came from (reloaded on SIGHUP).
    pub source: PathBuf,
    pub grants: Vec<Arc<crate::grants::SqlGrant>>,
    /// The time source; the system clock except in tests.
    pub clock: crate::clock::Clock,
}

impl Settings {
    /// Checks what can only be checked against the live backends: every grant query prepares.
    /// A backend that cannot be reached is reported, not fatal: signgate starts, fails closed
    /// and says so in /readyz until it answers.
    pub async fn check_backends(&self) -> anyhow::Result<Vec<String>> {
        let mut unreachable = Vec::new();
        for grant in &self.grants {
            match grant.validate().await {
                Ok(()) => {}
                Err(crate::backend::sql::SqlError::Db(sqlx::Error::Database(e))) => {
                    anyhow::bail!(
                        "grants: {:?}: the query does not prepare: {}",
                        grant.name,
                        e.message()
                    )
                }
                Err(e) => unreachable.push(format!("grant {:?}: {e}", grant.name)),
            }
        }
        Ok(unreachable)
    }
}

pub struct ServerSettings {
    pub listen: SocketAddr,
    pub metrics_listen: Option<SocketAddr>,
    pub files_prefix: String,
    pub public_url: String,
    pub login_url: Option<String>,
    pub trusted_proxies: Vec<IpNet>,
    pub max_key_bytes: usize,
    pub request_timeout: Duration,
    pub shutdown_grace: Duration,
    pub worker_threads: usize,
    pub max_batch_keys: usize,
}

pub struct LogSettings {
    pub level: String,
    pub json: bool,
}

#[derive(Clone, Copy)]
pub struct LimitSettings {
    pub per_subject_per_second: u32,
    pub per_subject_burst: u32,
    pub per_ip_per_second: u32,
    pub per_ip_burst: u32,
}

/// An HS* issuer's secret, to mint demo tokens.
pub struct TokenMinter {
    pub issuer: String,
    pub audience: Vec<String>,
    pub algorithm: Algorithm,
    pub secret: Vec<u8>,
}

impl Settings {
    /// Reads `path`, applies `SIGNGATE_...` environment overrides, validates.
    pub fn load(path: &Path) -> anyhow::Result<Settings> {
        Self::load_with(path, Figment::new())
    }

    /// As [`Settings::load`], with `overrides` merged last (tests use it to set ports).
    pub fn load_with(path: &Path, overrides: Figment) -> anyhow::Result<Settings> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!("cannot read the configuration file {}: {e}", path.display())
        })?;
        let figment = Figment::from(Toml::string(&text))
            .merge(env_overrides())
            .merge(overrides);
        let raw: RawConfig = figment
            .extract()
            .map_err(|e| anyhow::anyhow!("configuration {}: {}", path.display(), describe(e)))?;
        let base = path.parent().unwrap_or(Path::new("."));
        validate::validate(raw, base, path)
            .map_err(|e| anyhow::anyhow!("configuration {}: {e:#}", path.display()))
    }
}

/// `SIGNGATE_SECTION__KEY=value`. Variables that are not settings are left alone.
fn env_overrides() -> Env {
    Env::prefixed("SIGNGATE_")
        .split("__")
        .filter(|key| is_setting(key.as_str()))
}

/// `SIGNGATE_` variables that are not settings: the config path, the CLI's key passphrase and
/// the test suite's service addresses. Keys arrive here in their original case.
fn is_setting(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    !matches!(key.as_str(), "config" | "key_passphrase") && !key.starts_with("test_")
}

/// figment's error, one line per problem, with the key named.
fn describe(err: figment::Error) -> String {
    err.into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let source = e
                .metadata
                .as_ref()
                .map(|m| m.name.to_string())
                .unwrap_or_default();
            if key.is_empty() {
                format!("{} ({source})", e.kind)
            } else {
                format!("{key}: {} ({source})", e.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}
