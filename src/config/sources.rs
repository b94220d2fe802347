//! Values the configuration names rather than holds: secrets given inline (dev only), in a file
//! or in an environment variable, and URLs that may carry passwords.

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail};

use crate::backend::sql::PoolSettings;
use crate::secret::Secret;

/// A secret from exactly one of `{key}` (inline: refused unless `dev`), `{key}_file` (the bytes
/// in `trim` removed from its end: a trailing newline is not part of a secret) and `{key}_env`.
/// `None` when none is given.
pub fn secret(
    at: &str,
    key: &str,
    (inline, file, env): (&Option<String>, &Option<String>, &Option<String>),
    trim: &[u8],
    base: &Path,
    dev: bool,
) -> anyhow::Result<Option<Secret<Vec<u8>>>> {
    let bytes = match (inline, file, env) {
        (None, None, None) => return Ok(None),
        (Some(s), None, None) => {
            if !dev {
                bail!("{at}.{key}: inline secrets are allowed only with dev = true; use {key}_file or {key}_env");
            }
            s.clone().into_bytes()
        }
        (None, Some(f), None) => {
            let path = base.join(f);
            let mut bytes = std::fs::read(&path)
                .map_err(|e| anyhow!("{at}.{key}_file: cannot read {}: {e}", path.display()))?;
            while bytes.last().is_some_and(|b| trim.contains(b)) {
                bytes.pop();
            }
            bytes
        }
        (None, None, Some(var)) => env_var(&format!("{at}.{key}_env"), var)?.into_bytes(),
        _ => bail!("{at}: give exactly one of {key}, {key}_file and {key}_env"),
    };
    Ok(Some(Secret::new(bytes)))
}

/// A value given inline or through an environment variable (for URLs that carry passwords).
pub fn inline_or_env(
    at: &str,
    key: &str,
    inline: &Option<String>,
    env: &Option<String>,
) -> anyhow::Result<Secret<String>> {
    match (inline, env) {
        (Some(v), None) => Ok(Secret::new(v.clone())),
        (None, Some(var)) => env_var(&format!("{at}.{key}_env"), var).map(Secret::new),
        _ => bail!("{at}: give exactly one of {key} and {key}_env"),
    }
}

/// The environment variable `var`, named by the setting at `at`.
pub fn env_var(at: &str, var: &str) -> anyhow::Result<String> {
    std::env::var(var).map_err(|_| anyhow!("{at}: environment variable {var} is not set"))
}

/// Pool size and timeouts, each at least 1.
pub fn pool(pool_size: u32, connect_timeout_ms: u64, query_timeout_ms: u64) -> PoolSettings {
    PoolSettings {
        max_connections: pool_size.max(1),
        connect_timeout: Duration::from_millis(connect_timeout_ms.max(1)),
        query_timeout: Duration::from_millis(query_timeout_ms.max(1)),
    }
}

pub fn default_pool_size() -> u32 {
    16
}
pub fn default_connect_timeout() -> u64 {
    1000
}
pub fn default_query_timeout() -> u64 {
    1000
}

/// A cookie or header token name: letters, digits, `-`, `_`, `.`.
pub fn is_token_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}
