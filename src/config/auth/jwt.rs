//! `[auth.jwt]`: issuers, their algorithms and key sources, and the verified-token cache.

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde::Deserialize;

use crate::authenticate::jwks::{url_allowed, without_query, JwksSource};
use crate::authenticate::settings::{
    IssuerKeySource, IssuerSettings, JwtSettings, VerifiedCacheSettings,
};
use crate::config::sources::secret;
use crate::secret::Secret;

/// The most clock skew an issuer may be allowed (larger values would overflow the time checks).
const MAX_LEEWAY_SECONDS: u64 = 3600;
/// Bounds of `jwks_min_refresh_seconds` (below the floor only with `dev = true`).
const MIN_JWKS_REFRESH_SECONDS: u64 = 1;
const MAX_JWKS_REFRESH_SECONDS: u64 = 86_400;

/// Bytes trimmed from the end of a JWT secret file.
const WHITESPACE: &[u8] = b" \t\n\r\x0c";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJwt {
    #[serde(default)]
    issuers: Vec<RawIssuer>,
    /// How long a token that verified is remembered by its exact text (0: never).
    #[serde(default = "default_verified_cache_seconds")]
    verified_cache_seconds: u64,
    /// Memory bound of that cache, in bytes.
    #[serde(default = "default_verified_cache_bytes")]
    verified_cache_bytes: u64,
}

impl Default for RawJwt {
    fn default() -> Self {
        RawJwt {
            issuers: Vec::new(),
            verified_cache_seconds: default_verified_cache_seconds(),
            verified_cache_bytes: default_verified_cache_bytes(),
        }
    }
}
fn default_verified_cache_seconds() -> u64 {
    60
}
fn default_verified_cache_bytes() -> u64 {
    8 * 1024 * 1024
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIssuer {
    issuer: String,
    #[serde(default)]
    audience: Vec<String>,
    algorithms: Vec<Algorithm>,
    secret: Option<String>,
    secret_file: Option<String>,
    secret_env: Option<String>,
    public_key_file: Option<String>,
    jwks_url: Option<String>,
    #[serde(default)]
    oidc_discovery: bool,
    #[serde(default = "default_leeway")]
    leeway_seconds: u64,
    #[serde(default = "default_jwks_refresh")]
    jwks_min_refresh_seconds: u64,
}
fn default_leeway() -> u64 {
    30
}
fn default_jwks_refresh() -> u64 {
    60
}

impl RawJwt {
    pub(super) fn check(&self, base: &Path, dev: bool) -> anyhow::Result<JwtSettings> {
        if self.issuers.is_empty() {
            bail!("auth.jwt.issuers: \"jwt\" is in auth.order but no issuer is configured");
        }
        let mut issuers: Vec<IssuerSettings> = Vec::new();
        for (j, raw) in self.issuers.iter().enumerate() {
            let at = format!("auth.jwt.issuers[{j}]");
            let issuer = raw.check(&at, base, dev)?;
            if issuers.iter().any(|x| x.issuer == issuer.issuer) {
                bail!("{at}.issuer: duplicate issuer {:?}", issuer.issuer);
            }
            issuers.push(issuer);
        }
        if self.verified_cache_seconds > 3600 {
            bail!("auth.jwt.verified_cache_seconds: at most 3600 (a cached token skips its signature check)");
        }
        let cached = self.verified_cache_seconds > 0 && self.verified_cache_bytes > 0;
        Ok(JwtSettings {
            issuers,
            verified_cache: cached.then(|| VerifiedCacheSettings {
                ttl: Duration::from_secs(self.verified_cache_seconds),
                max_bytes: self.verified_cache_bytes,
            }),
        })
    }
}

impl RawIssuer {
    fn check(&self, at: &str, base: &Path, dev: bool) -> anyhow::Result<IssuerSettings> {
        if self.issuer.is_empty() {
            bail!("{at}.issuer: must not be empty");
        }
        let Some(first) = self.algorithms.first() else {
            bail!("{at}.algorithms: list at least one algorithm");
        };
        let family = first.family();
        if self.algorithms.iter().any(|a| a.family() != family) {
            bail!("{at}.algorithms: all algorithms of one issuer must be of one family (HS, RS/PS, ES or EdDSA)");
        }
        let sources = [
            self.secret.is_some(),
            self.secret_file.is_some(),
            self.secret_env.is_some(),
            self.public_key_file.is_some(),
            self.jwks_url.is_some(),
            self.oidc_discovery,
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if sources != 1 {
            bail!("{at}: give exactly one key source (secret, secret_file, secret_env, public_key_file, jwks_url or oidc_discovery)");
        }
        if self.leeway_seconds > MAX_LEEWAY_SECONDS {
            bail!("{at}.leeway_seconds: at most {MAX_LEEWAY_SECONDS} (it is the clock skew allowed on exp and nbf)");
        }
        // An unknown `kid` triggers a refetch at most this often: 0 would let anyone make every
        // request a fetch from the identity provider (allowed only in development, for tests).
        if self.jwks_min_refresh_seconds < MIN_JWKS_REFRESH_SECONDS && !dev {
            bail!("{at}.jwks_min_refresh_seconds: at least {MIN_JWKS_REFRESH_SECONDS} (each token with an unknown kid may trigger a refetch this often; below that only with dev = true)");
        }
        if self.jwks_min_refresh_seconds > MAX_JWKS_REFRESH_SECONDS {
            bail!("{at}.jwks_min_refresh_seconds: at most {MAX_JWKS_REFRESH_SECONDS} (a rotated key would go unseen that long)");
        }
        let min_refresh = Duration::from_secs(self.jwks_min_refresh_seconds);
        let keys = if family == AlgorithmFamily::Hmac {
            let given = (&self.secret, &self.secret_file, &self.secret_env);
            let secret = secret(at, "secret", given, WHITESPACE, base, dev)?.ok_or_else(|| {
                anyhow!("{at}: HS* algorithms need secret, secret_file or secret_env")
            })?;
            if secret.expose().len() < 32 {
                bail!("{at}: the HMAC secret must be at least 32 bytes");
            }
            IssuerKeySource::Hmac(secret)
        } else if let Some(f) = &self.public_key_file {
            let path = base.join(f);
            let pem = std::fs::read(&path).map_err(|e| {
                anyhow!("{at}.public_key_file: cannot read {}: {e}", path.display())
            })?;
            let key = match family {
                AlgorithmFamily::Rsa => DecodingKey::from_rsa_pem(&pem),
                AlgorithmFamily::Ec => DecodingKey::from_ec_pem(&pem),
                AlgorithmFamily::Ed => DecodingKey::from_ed_pem(&pem),
                AlgorithmFamily::Hmac => unreachable!("handled above"),
            }
            .map_err(|e| {
                anyhow!(
                    "{at}.public_key_file: {} is not a {family:?} public key PEM: {e}",
                    path.display()
                )
            })?;
            IssuerKeySource::PublicKey(Secret::new(key))
        } else if let Some(url) = &self.jwks_url {
            fetchable(&format!("{at}.jwks_url"), url, dev)?;
            IssuerKeySource::Jwks {
                source: JwksSource::Url(url.clone()),
                min_refresh,
                dev_loopback_http: dev,
            }
        } else if self.oidc_discovery {
            fetchable(
                &format!("{at}.issuer (needed for oidc_discovery)"),
                &self.issuer,
                dev,
            )?;
            IssuerKeySource::Jwks {
                source: JwksSource::Discovery {
                    issuer: self.issuer.clone(),
                },
                min_refresh,
                dev_loopback_http: dev,
            }
        } else {
            bail!("{at}: {family:?} algorithms need public_key_file, jwks_url or oidc_discovery");
        };
        Ok(IssuerSettings {
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            algorithms: self.algorithms.clone(),
            keys,
            leeway_seconds: self.leeway_seconds,
        })
    }
}

/// A URL keys may be fetched from: `https://`, or `http://` to a loopback host with `dev = true`.
/// Its query (where API keys live) is never repeated in the message.
fn fetchable(at: &str, url: &str, dev: bool) -> anyhow::Result<()> {
    if url_allowed(url, dev) {
        return Ok(());
    }
    let shown = without_query(url);
    if dev {
        bail!("{at}: {shown:?} must be https:// (plain http:// only to a loopback host)")
    } else {
        bail!(
            "{at}: {shown:?} must be https:// (plain http:// to a loopback host needs dev = true)"
        )
    }
}
