//! `[server]`: where signgate listens, the files prefix, proxies it trusts, request limits.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{anyhow, bail};
use ipnet::IpNet;
use serde::Deserialize;
use signgate_cloudfront::SignableUrl;

use crate::paths;

#[derive(Clone, Debug, PartialEq)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub metrics_listen: Option<SocketAddr>,
    /// `/files`: no trailing slash, never a fixed route's path ([`paths::RESERVED`]).
    pub files_prefix: String,
    /// signgate's own public URL, no trailing slash (login `next` links, cookie domains).
    pub public_url: String,
    pub login_url: Option<String>,
    /// Refusals (and keys no rule matches) answer 404 rather than 403.
    pub deny_as_not_found: bool,
    pub trusted_proxies: Vec<IpNet>,
    pub max_key_bytes: usize,
    pub request_timeout: Duration,
    pub shutdown_grace: Duration,
    /// Runtime worker threads; 0: one per core.
    pub worker_threads: usize,
    pub max_batch_keys: usize,
    /// Client connections open at once at most; more are closed on arrival.
    pub max_connections: usize,
    /// A request's headers must arrive within this of the connection opening or of its last
    /// answer, so it also closes a keep-alive connection left idle that long
    /// (`src/connection.rs`).
    pub header_read_timeout: Duration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    listen: String,
    #[serde(default)]
    metrics_listen: String,
    #[serde(default = "default_files_prefix")]
    files_prefix: String,
    public_url: String,
    #[serde(default)]
    login_url: String,
    #[serde(default)]
    deny_as_not_found: bool,
    #[serde(default)]
    trusted_proxies: Vec<String>,
    #[serde(default = "default_max_key_bytes")]
    max_key_bytes: usize,
    #[serde(default = "default_timeout_ms")]
    request_timeout_ms: u64,
    #[serde(default = "default_grace")]
    shutdown_grace_seconds: u64,
    #[serde(default)]
    worker_threads: usize,
    #[serde(default = "default_max_batch")]
    max_batch_keys: usize,
    #[serde(default = "default_max_connections")]
    max_connections: usize,
    #[serde(default = "default_header_read_timeout_ms")]
    header_read_timeout_ms: u64,
}

fn default_max_connections() -> usize {
    4096
}
fn default_header_read_timeout_ms() -> u64 {
    10_000
}

/// The most keys one `/sign` call may ask for: each is a signature.
const MAX_BATCH_KEYS: usize = 1000;

fn default_max_batch() -> usize {
    100
}
fn default_files_prefix() -> String {
    "/files".into()
}
fn default_max_key_bytes() -> usize {
    1024
}
fn default_timeout_ms() -> u64 {
    10_000
}
fn default_grace() -> u64 {
    30
}

impl RawServer {
    pub(super) fn check(&self) -> anyhow::Result<ServerConfig> {
        let addr = |key: &str, v: &str| -> anyhow::Result<SocketAddr> {
            SocketAddr::from_str(v).map_err(|_| {
                anyhow!("server.{key}: {v:?} is not an address such as 127.0.0.1:8080")
            })
        };
        let files_prefix = files_prefix(&self.files_prefix)?;
        let public_url =
            SignableUrl::parse(&self.public_url).map_err(|e| anyhow!("server.public_url: {e}"))?;
        if public_url.query().is_some() {
            bail!("server.public_url: must not have a query string");
        }
        let login_url = match self.login_url.as_str() {
            "" => None,
            url if url.starts_with('/') => Some(same_origin_path(url)?),
            url => Some(
                SignableUrl::parse(url)
                    .map_err(|e| anyhow!("server.login_url: {e}"))?
                    .as_str()
                    .to_owned(),
            ),
        };
        let trusted_proxies = self
            .trusted_proxies
            .iter()
            .map(|p| {
                p.parse::<IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        anyhow!("server.trusted_proxies: {p:?} is not an IP address or CIDR")
                    })
            })
            .collect::<anyhow::Result<_>>()?;
        if !(16..=65536).contains(&self.max_key_bytes) {
            bail!("server.max_key_bytes: must be between 16 and 65536");
        }
        if !(1..=MAX_BATCH_KEYS).contains(&self.max_batch_keys) {
            bail!("server.max_batch_keys: must be between 1 and {MAX_BATCH_KEYS}");
        }
        if self.max_connections == 0 {
            bail!("server.max_connections: must be positive");
        }
        if !(1..=600_000).contains(&self.header_read_timeout_ms) {
            bail!("server.header_read_timeout_ms: must be between 1 and 600000");
        }
        if self.request_timeout_ms == 0 {
            bail!("server.request_timeout_ms: must be positive");
        }
        Ok(ServerConfig {
            listen: addr("listen", &self.listen)?,
            metrics_listen: match self.metrics_listen.as_str() {
                "" => None,
                v => Some(addr("metrics_listen", v)?),
            },
            files_prefix,
            public_url: public_url.as_str().trim_end_matches('/').to_owned(),
            login_url,
            deny_as_not_found: self.deny_as_not_found,
            trusted_proxies,
            max_key_bytes: self.max_key_bytes,
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            shutdown_grace: Duration::from_secs(self.shutdown_grace_seconds),
            worker_threads: self.worker_threads,
            max_batch_keys: self.max_batch_keys,
            max_connections: self.max_connections,
            header_read_timeout: Duration::from_millis(self.header_read_timeout_ms),
        })
    }
}

/// `/files` or `/media/files/`: segments of letters, digits, `-`, `_` and `.`, and not a fixed
/// route's path, nor above or below one.
fn files_prefix(text: &str) -> anyhow::Result<String> {
    let prefix = text.trim_end_matches('/');
    let well_formed = prefix.starts_with('/')
        && prefix.len() > 1
        && prefix[1..].split('/').all(|seg| {
            !seg.is_empty()
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        });
    if !well_formed {
        bail!(
            "server.files_prefix: {text:?} must be a path such as /files (letters, digits, - _ .)"
        );
    }
    if let Some(route) = paths::collides_with_reserved(prefix) {
        bail!(
            "server.files_prefix: {text:?} collides with signgate's own route {route} (reserved: {})",
            paths::RESERVED.join(", ")
        );
    }
    Ok(prefix.to_owned())
}

/// A login URL given as a path on signgate's own origin. Browsers read `//host`, `/\host` and
/// the same with tabs or newlines in between (which URL parsers drop) as another origin: an open
/// redirect. So a backslash, a control character or whitespace anywhere refuses it, and so does
/// a second leading slash.
fn same_origin_path(url: &str) -> anyhow::Result<String> {
    let off_origin = url.starts_with("//")
        || url
            .chars()
            .any(|c| c == '\\' || c.is_control() || c.is_whitespace());
    if off_origin {
        bail!("server.login_url: {url:?} would be read by browsers as another site; give a path such as /login or a full https:// URL");
    }
    Ok(url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_paths_that_browsers_read_as_another_origin_are_refused() {
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil",
            "/ /x",
            "/a\\b",
        ] {
            assert!(same_origin_path(bad).is_err(), "{bad:?}");
        }
        for good in ["/login", "/accounts/login/?next=", "/a/b"] {
            assert_eq!(same_origin_path(good).unwrap(), good);
        }
    }
}
