//! `[[key_sets]]` (CloudFront key pairs, one active) and `[[distributions]]` (where signed URLs
//! point, the hash, the signed cookies' attributes).

use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail};
use serde::Deserialize;
use signgate_cloudfront::{HashAlgorithm, KeyPairId, KeySet, SignableUrl, SigningKey};

use crate::sign::{CookieSettings, Distribution};

/// Marker line in the demo key files shipped in config/dev/.
pub const DEMO_KEY_MARKER: &str = "signgate-demo-key";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKeySet {
    name: String,
    active: String,
    keys: Vec<RawKey>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    key_pair_id: String,
    private_key_file: String,
    passphrase_env: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDistribution {
    name: String,
    url: String,
    key_set: String,
    #[serde(default)]
    hash: Hash,
    /// Domain attribute of signed cookies; "" or absent: host-only cookies.
    #[serde(default)]
    cookie_domain: String,
    #[serde(default = "yes")]
    cookie_secure: bool,
    #[serde(default = "yes")]
    cookie_http_only: bool,
    #[serde(default)]
    cookie_same_site: SameSite,
}

/// `hash` of a distribution.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Hash {
    #[default]
    Sha1,
    Sha256,
}

/// `cookie_same_site`, in any letter case (`Lax`, `lax`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
enum SameSite {
    #[default]
    Lax,
    Strict,
    None,
}

impl TryFrom<String> for SameSite {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "lax" => Ok(SameSite::Lax),
            "strict" => Ok(SameSite::Strict),
            "none" => Ok(SameSite::None),
            other => Err(format!("{other:?} is not Lax, Strict or None")),
        }
    }
}

impl SameSite {
    fn attribute(self) -> &'static str {
        match self {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
            SameSite::None => "None",
        }
    }
}

fn yes() -> bool {
    true
}

/// Every key set with its keys read and parsed; names unique.
pub(super) fn key_sets(
    raw: &[RawKeySet],
    base: &Path,
    dev: bool,
) -> anyhow::Result<Vec<(String, Arc<KeySet>)>> {
    let mut sets: Vec<(String, Arc<KeySet>)> = Vec::new();
    for (i, ks) in raw.iter().enumerate() {
        let set = key_set(ks, &format!("key_sets[{i}]"), base, dev)?;
        if sets.iter().any(|(n, _)| *n == ks.name) {
            bail!("key_sets[{i}].name: duplicate key set {:?}", ks.name);
        }
        sets.push((ks.name.clone(), set));
    }
    Ok(sets)
}

fn key_set(ks: &RawKeySet, at: &str, base: &Path, dev: bool) -> anyhow::Result<Arc<KeySet>> {
    if ks.name.is_empty() {
        bail!("{at}.name: must not be empty");
    }
    let mut keys = Vec::new();
    for (j, k) in ks.keys.iter().enumerate() {
        let at = format!("{at}.keys[{j}]");
        let id = KeyPairId::parse(&k.key_pair_id).map_err(|e| anyhow!("{at}.key_pair_id: {e}"))?;
        let path = base.join(&k.private_key_file);
        let pem = std::fs::read(&path)
            .map_err(|e| anyhow!("{at}.private_key_file: cannot read {}: {e}", path.display()))?;
        if !dev
            && pem
                .windows(DEMO_KEY_MARKER.len())
                .any(|w| w == DEMO_KEY_MARKER.as_bytes())
        {
            bail!("{at}.private_key_file: {} is a published demo key; it is refused unless dev = true", path.display());
        }
        let passphrase = match &k.passphrase_env {
            Some(var) => Some(super::sources::env_var(
                &format!("{at}.passphrase_env"),
                var,
            )?),
            None => None,
        };
        let key = SigningKey::from_pem(id, &pem, passphrase.as_deref().map(str::as_bytes))
            .map_err(|e| anyhow!("{at}.private_key_file: {}", e.with_path(&path)))?;
        keys.push(key);
    }
    let active = KeyPairId::parse(&ks.active).map_err(|e| anyhow!("{at}.active: {e}"))?;
    let set = KeySet::new(keys, &active).map_err(|e| anyhow!("{at}: {e}"))?;
    Ok(Arc::new(set))
}

/// Every distribution, its key set resolved; names unique.
pub(super) fn distributions(
    raw: &[RawDistribution],
    key_sets: &[(String, Arc<KeySet>)],
    public_url: &str,
) -> anyhow::Result<Vec<Arc<Distribution>>> {
    let mut out: Vec<Arc<Distribution>> = Vec::new();
    for (i, d) in raw.iter().enumerate() {
        let at = format!("distributions[{i}]");
        if out.iter().any(|x| x.name == d.name) {
            bail!("{at}.name: duplicate distribution {:?}", d.name);
        }
        let key_set = super::rules::find_key_set(key_sets, &d.key_set)
            .ok_or_else(|| anyhow!("{at}.key_set: no key set named {:?}", d.key_set))?;
        let url = SignableUrl::parse(&d.url).map_err(|e| anyhow!("{at}.url: {e}"))?;
        if url.query().is_some() {
            bail!("{at}.url: must not have a query string");
        }
        if d.url.contains(['*', '?']) {
            bail!("{at}.url: must not contain * or ? (a wildcard in the base URL would widen every policy signed for it)");
        }
        let hash = match d.hash {
            Hash::Sha1 => HashAlgorithm::Sha1,
            Hash::Sha256 => HashAlgorithm::Sha256,
        };
        let cookies = cookie_settings(d, &at, &url, public_url)?;
        out.push(Arc::new(Distribution {
            name: d.name.clone(),
            base_url: url.as_str().trim_end_matches('/').to_owned(),
            key_set,
            hash,
            cookies,
        }));
    }
    Ok(out)
}

/// Signed-cookie attributes of a distribution. Problems that only matter when a rule hands out
/// cookies are recorded, and refused when such a rule exists.
fn cookie_settings(
    d: &RawDistribution,
    at: &str,
    url: &SignableUrl,
    public_url: &str,
) -> anyhow::Result<CookieSettings> {
    let host = |u: &str| -> String {
        let rest = u.split_once("://").map_or(u, |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or_default();
        authority
            .rsplit_once(':')
            .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
            .map_or(authority, |(h, _)| h)
            .to_ascii_lowercase()
    };
    let dist_host = host(url.as_str());
    let public_host = host(public_url);
    if d.cookie_same_site == SameSite::None && !d.cookie_secure {
        bail!("{at}.cookie_same_site: SameSite=None needs cookie_secure = true");
    }
    let within = |h: &str, domain: &str| h == domain || h.ends_with(&format!(".{domain}"));
    let domain = d.cookie_domain.trim_start_matches('.').to_ascii_lowercase();
    let on_cloudfront = within(&dist_host, "cloudfront.net");
    let problem = if on_cloudfront {
        Some(format!("{dist_host} is CloudFront's shared domain, which cannot carry your cookies; sign cookies for the distribution's own custom domain"))
    } else if domain.is_empty() {
        (dist_host != public_host).then(|| {
            format!("host-only cookies set by {public_host} never reach {dist_host}; set cookie_domain to a domain covering both")
        })
    } else if within(&domain, "cloudfront.net") {
        bail!("{at}.cookie_domain: {domain} is CloudFront's shared domain; use the distribution's own custom domain")
    } else if !within(&dist_host, &domain) || !within(&public_host, &domain) {
        bail!("{at}.cookie_domain: {domain} must cover both the distribution host {dist_host} and signgate's public host {public_host}")
    } else {
        None
    };
    let path = {
        let rest = url.as_str().split_once("://").map_or("", |(_, r)| r);
        rest.find('/').map_or(String::new(), |i| {
            rest[i..].trim_end_matches('/').to_owned()
        })
    };
    Ok(CookieSettings {
        domain: (!domain.is_empty()).then_some(domain),
        base_path: path,
        secure: d.cookie_secure,
        http_only: d.cookie_http_only,
        same_site: d.cookie_same_site.attribute(),
        problem,
    })
}
