//! `[[key_sets]]` (CloudFront key pairs, one active) and `[[distributions]]` (where signed URLs
//! point, which provider signs them with which keys, the cookies' attributes). The keys and
//! options of providers beside CloudFront are read in [`super::providers`].

use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail};
use serde::Deserialize;
use signgate_cloudfront::{HashAlgorithm, KeyPairId, KeySet, SignableUrl, SigningKey};

use super::providers::{self, ProviderName, RawProviderKey};
use crate::sign::{CloudFrontSigner, CookieSettings, Distribution, Signer};

/// Marker line in the demo key files shipped in config/dev/.
pub const DEMO_KEY_MARKER: &str = "signgate-demo-key";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKeySet {
    pub(super) name: String,
    pub(super) active: String,
    pub(super) keys: Vec<RawKey>,
    /// A set whose only key is older than this is warned about (`check-config`, metrics).
    pub(super) rotate_after_days: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKey {
    pub(super) key_pair_id: String,
    private_key_file: String,
    passphrase_env: Option<String>,
    /// The day the key pair was made, `"2025-01-31"` (UTC).
    pub(super) created: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDistribution {
    name: String,
    /// Which CDN (or object store) signs and checks this distribution's URLs.
    #[serde(default)]
    pub(super) provider: ProviderName,
    pub(super) url: String,
    /// CloudFront: the key set that signs.
    key_set: Option<String>,
    /// CloudFront: the digest under the signature.
    hash: Option<Hash>,
    /// Other providers: their keys, and the one that signs.
    #[serde(default)]
    pub(super) keys: Vec<RawProviderKey>,
    pub(super) active_key: Option<String>,
    // Provider options, each refused on a provider it does not belong to (serde's `flatten`
    // cannot be combined with `deny_unknown_fields`, so they sit here).
    /// google-media-cdn: `signatures` or `tokens`, as the route's signed-request mode.
    pub(super) mode: Option<String>,
    /// akamai: `__token__` (default) or `hdnts`, or the property's own name.
    pub(super) token_name: Option<String>,
    /// akamai: `sha256` (default), `sha1` or `md5`.
    pub(super) algorithm: Option<String>,
    /// akamai: URL tokens sign the path only (default true, as the property's default).
    pub(super) ignore_query_string: Option<bool>,
    /// bunny: `ipv4` (default) or `ipv4-and-ipv6-64`.
    pub(super) ip_binding: Option<String>,
    /// nginx-secure-link: the `secure_link_md5` expression, as in nginx's configuration.
    pub(super) expression: Option<String>,
    /// nginx-secure-link: the value of `secure_link` (default `$arg_md5,$arg_expires`), which
    /// decides the form: `$arg_…` query, `$cookie_…` cookies, captures of `location` the path.
    pub(super) secure_link: Option<String>,
    /// nginx-secure-link: the regex of the `location ~` block, whose named captures the
    /// expression and `secure_link` may use (`^(?<sl_folder>/hls/[^/]+/)...` names the folder).
    pub(super) location: Option<String>,
    /// nginx-secure-link with two keys: the variable nginx's `map` reads to pick the current
    /// secret (`$arg_sk`, `$cookie_sl_key`, a capture); its value is the active key's name.
    pub(super) rotation_selector: Option<String>,
    // Object stores: gcs and azure-blob.
    /// gcs: the HMAC key's access ID; the key file then holds its secret instead of a service
    /// account's JSON key.
    pub(super) hmac_access_id: Option<String>,
    /// azure-blob: the storage account, where the URL's host does not name it
    /// (`<account>.blob.core.windows.net`).
    pub(super) account: Option<String>,
    /// azure-blob: the container, where the URL's path does not name it.
    pub(super) container: Option<String>,
    /// azure-blob: `https` (default) or `https,http` (the emulator), the SAS's `spr`.
    pub(super) protocol: Option<String>,
    /// azure-blob: a stored access policy of the container (`si`); it holds the permissions
    /// (create it with `r`, no start and no expiry), so deleting it revokes every live link.
    pub(super) stored_policy: Option<String>,
    /// s3: the bucket's region, as the credential scope names it (`eu-west-1`, `auto` for R2).
    pub(super) region: Option<String>,
    /// s3 with temporary credentials: the session token, from a file or a variable.
    pub(super) session_token_file: Option<String>,
    pub(super) session_token_env: Option<String>,
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

/// A key set and its name.
type NamedKeySet = (String, Arc<KeySet>);

/// Every key set with its keys read and parsed, names unique; and each set's age
/// ([`super::key_age`]).
pub(super) fn key_sets(
    raw: &[RawKeySet],
    base: &Path,
    dev: bool,
    now: u64,
) -> anyhow::Result<(Vec<NamedKeySet>, Vec<super::KeySetAge>)> {
    let mut sets: Vec<NamedKeySet> = Vec::new();
    let mut ages = Vec::new();
    for (i, ks) in raw.iter().enumerate() {
        let at = format!("key_sets[{i}]");
        let set = key_set(ks, &at, base, dev)?;
        if sets.iter().any(|(n, _)| *n == ks.name) {
            bail!("key_sets[{i}].name: duplicate key set {:?}", ks.name);
        }
        ages.push(super::key_age::key_set_age(ks, &at, now)?);
        sets.push((ks.name.clone(), set));
    }
    Ok((sets, ages))
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
        let pem = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => anyhow!(
                "{at}.private_key_file: {} does not exist (a relative path is read from the configuration file's folder): make a key pair with `signgate keygen --type rsa --out DIR` and give DIR/private_key.pem",
                path.display()
            ),
            _ => anyhow!("{at}.private_key_file: cannot read {}: {e}", path.display()),
        })?;
        if !dev
            && pem
                .windows(DEMO_KEY_MARKER.len())
                .any(|w| w == DEMO_KEY_MARKER.as_bytes())
        {
            bail!("{at}.private_key_file: {} is a published demo key, refused unless the file says dev = true: make your own key pair with `signgate keygen --type rsa --out DIR` (or, for a development setup only, put dev = true at the top of the file)", path.display());
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

/// Every distribution, its signer built (CloudFront's key set resolved, another provider's keys
/// read and checked); names unique.
pub(super) fn distributions(
    raw: &[RawDistribution],
    key_sets: &[(String, Arc<KeySet>)],
    public_url: &str,
    base: &Path,
    dev: bool,
) -> anyhow::Result<Vec<Arc<Distribution>>> {
    let mut out: Vec<Arc<Distribution>> = Vec::new();
    for (i, d) in raw.iter().enumerate() {
        let at = format!("distributions[{i}]");
        if out.iter().any(|x| x.name == d.name) {
            bail!("{at}.name: duplicate distribution {:?}", d.name);
        }
        let url = SignableUrl::parse(&d.url).map_err(|e| anyhow!("{at}.url: {e}"))?;
        if url.query().is_some() {
            bail!("{at}.url: must not have a query string");
        }
        if d.url.contains(['*', '?']) {
            bail!("{at}.url: must not contain * or ? (a wildcard in the base URL would widen every policy signed for it)");
        }
        let base_url = url.as_str().trim_end_matches('/').to_owned();
        providers::refuse_foreign_options(d, d.provider, &at)?;
        let signer = match d.provider {
            ProviderName::CloudFront => {
                let name = d.key_set.as_ref().ok_or_else(|| {
                    anyhow!("{at}.key_set: a cloudfront distribution names the key set that signs")
                })?;
                let key_set = super::rules::find_key_set(key_sets, name)
                    .ok_or_else(|| anyhow!("{at}.key_set: no key set named {name:?}"))?;
                let hash = match d.hash.unwrap_or_default() {
                    Hash::Sha1 => HashAlgorithm::Sha1,
                    Hash::Sha256 => HashAlgorithm::Sha256,
                };
                Signer::CloudFront(CloudFrontSigner { key_set, hash })
            }
            other => {
                for (set, field) in [(d.key_set.is_some(), "key_set"), (d.hash.is_some(), "hash")] {
                    if set {
                        bail!("{at}.{field}: only for provider \"cloudfront\"; {} keys are listed in keys", other.name());
                    }
                }
                Signer::Cdn(providers::signer(d, other, &at, base, dev)?)
            }
        };
        let cookies = cookie_settings(d, &at, &url, public_url)?;
        out.push(Arc::new(Distribution {
            name: d.name.clone(),
            base_url,
            signer,
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
    let on_cloudfront =
        d.provider == ProviderName::CloudFront && within(&dist_host, "cloudfront.net");
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
