//! From raw configuration to typed settings. Every error names the key it is about.

use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use ipnet::IpNet;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use signgate_cloudfront::{HashAlgorithm, KeyPairId, KeySet, SignableUrl, SigningKey};

use super::raw::{RawAuth, RawConfig, RawIssuer, RawKeySet, RawRule};
use super::{LimitSettings, LogSettings, ServerSettings, Settings, TokenMinter};
use crate::authenticate::jwks::{JwksCache, JwksSource};
use crate::authenticate::jwt::{Issuer, IssuerKeys, JwtAuthenticator};
use crate::authenticate::{Authenticator, Authenticators};
use crate::authorize::{Access, KeyPattern, Requirement, Rule, Rules};
use crate::sign::{Distribution, PolicyChoice, SignTarget};

/// Marker line in the demo key files shipped in config/dev/.
pub const DEMO_KEY_MARKER: &str = "signgate-demo-key";

pub fn validate(raw: RawConfig, base: &Path, source: &Path) -> anyhow::Result<Settings> {
    let server = server(&raw)?;
    let log = LogSettings {
        level: {
            tracing_subscriber::EnvFilter::try_new(&raw.log.level)
                .map_err(|e| anyhow!("log.level: {e}"))?;
            raw.log.level.clone()
        },
        json: match raw.log.format.as_str() {
            "json" => true,
            "text" => false,
            other => bail!("log.format: {other:?} is not \"json\" or \"text\""),
        },
    };
    let limits = LimitSettings {
        per_subject_per_second: raw.limits.per_subject_per_second,
        per_subject_burst: raw
            .limits
            .per_subject_burst
            .max(raw.limits.per_subject_per_second),
        per_ip_per_second: raw.limits.per_ip_per_second,
        per_ip_burst: raw.limits.per_ip_burst.max(raw.limits.per_ip_per_second),
    };
    let key_sets = raw
        .key_sets
        .iter()
        .enumerate()
        .map(|(i, ks)| key_set(ks, i, base, raw.dev))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for (i, (name, _)) in key_sets.iter().enumerate() {
        if key_sets[..i].iter().any(|(n, _)| n == name) {
            bail!("key_sets[{i}].name: duplicate key set {name:?}");
        }
    }
    let mut distributions: Vec<Arc<Distribution>> = Vec::new();
    for (i, d) in raw.distributions.iter().enumerate() {
        let at = format!("distributions[{i}]");
        if distributions.iter().any(|x| x.name == d.name) {
            bail!("{at}.name: duplicate distribution {:?}", d.name);
        }
        let key_set = key_sets
            .iter()
            .find(|(n, _)| *n == d.key_set)
            .map(|(_, ks)| ks.clone())
            .ok_or_else(|| anyhow!("{at}.key_set: no key set named {:?}", d.key_set))?;
        let url = SignableUrl::parse(&d.url).map_err(|e| anyhow!("{at}.url: {e}"))?;
        if url.query().is_some() {
            bail!("{at}.url: must not have a query string");
        }
        let hash = HashAlgorithm::parse(&d.hash)
            .ok_or_else(|| anyhow!("{at}.hash: {:?} is not sha1 or sha256", d.hash))?;
        let cookies = cookie_settings(d, &at, &url, &raw.server.public_url)?;
        distributions.push(Arc::new(Distribution {
            name: d.name.clone(),
            base_url: url.as_str().trim_end_matches('/').to_owned(),
            key_set,
            hash,
            cookies,
        }));
    }
    let rules = Rules {
        rules: raw
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                rule(
                    r,
                    i,
                    &distributions,
                    &key_sets,
                    raw.server.deny_as_not_found,
                )
            })
            .collect::<anyhow::Result<_>>()?,
        deny_as_not_found: raw.server.deny_as_not_found,
    };
    let (authenticators, token_minters) = auth(&raw.auth, base, raw.dev)?;
    Ok(Settings {
        dev: raw.dev,
        server,
        log,
        limits,
        authenticators,
        rules,
        key_sets,
        distributions,
        token_minters,
        source: source.to_path_buf(),
    })
}

fn server(raw: &RawConfig) -> anyhow::Result<ServerSettings> {
    let s = &raw.server;
    let addr = |key: &str, v: &str| -> anyhow::Result<SocketAddr> {
        SocketAddr::from_str(v)
            .map_err(|_| anyhow!("server.{key}: {v:?} is not an address such as 127.0.0.1:8080"))
    };
    let prefix = s.files_prefix.trim_end_matches('/');
    let prefix_ok = prefix.starts_with('/')
        && prefix.len() > 1
        && prefix[1..].split('/').all(|seg| {
            !seg.is_empty()
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        });
    if !prefix_ok || prefix == "/auth" || prefix == "/healthz" || prefix == "/readyz" {
        bail!(
            "server.files_prefix: {:?} must be a path such as /files (letters, digits, - _ .)",
            s.files_prefix
        );
    }
    let public_url =
        SignableUrl::parse(&s.public_url).map_err(|e| anyhow!("server.public_url: {e}"))?;
    if public_url.query().is_some() {
        bail!("server.public_url: must not have a query string");
    }
    let login_url = match s.login_url.as_str() {
        "" => None,
        url if url.starts_with('/') && !url.starts_with("//") => Some(url.to_owned()),
        url => Some(
            SignableUrl::parse(url)
                .map_err(|e| anyhow!("server.login_url: {e}"))?
                .as_str()
                .to_owned(),
        ),
    };
    let trusted_proxies = s
        .trusted_proxies
        .iter()
        .map(|p| {
            p.parse::<IpNet>()
                .or_else(|_| p.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| anyhow!("server.trusted_proxies: {p:?} is not an IP address or CIDR"))
        })
        .collect::<anyhow::Result<_>>()?;
    if !(16..=65536).contains(&s.max_key_bytes) {
        bail!("server.max_key_bytes: must be between 16 and 65536");
    }
    if s.request_timeout_ms == 0 {
        bail!("server.request_timeout_ms: must be positive");
    }
    Ok(ServerSettings {
        listen: addr("listen", &s.listen)?,
        metrics_listen: if s.metrics_listen.is_empty() {
            None
        } else {
            Some(addr("metrics_listen", &s.metrics_listen)?)
        },
        files_prefix: prefix.to_owned(),
        public_url: public_url.as_str().trim_end_matches('/').to_owned(),
        login_url,
        trusted_proxies,
        max_key_bytes: s.max_key_bytes,
        request_timeout: Duration::from_millis(s.request_timeout_ms),
        shutdown_grace: Duration::from_secs(s.shutdown_grace_seconds),
        worker_threads: s.worker_threads,
        max_batch_keys: s.max_batch_keys.max(1),
    })
}

fn key_set(
    ks: &RawKeySet,
    i: usize,
    base: &Path,
    dev: bool,
) -> anyhow::Result<(String, Arc<KeySet>)> {
    let at = format!("key_sets[{i}]");
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
            Some(var) => Some(std::env::var(var).map_err(|_| {
                anyhow!("{at}.passphrase_env: environment variable {var} is not set")
            })?),
            None => None,
        };
        let key = SigningKey::from_pem(id, &pem, passphrase.as_deref().map(str::as_bytes))
            .map_err(|e| anyhow!("{at}.private_key_file: {}", e.with_path(&path)))?;
        keys.push(key);
    }
    let active = KeyPairId::parse(&ks.active).map_err(|e| anyhow!("{at}.active: {e}"))?;
    let set = KeySet::new(keys, &active).map_err(|e| anyhow!("{at}: {e}"))?;
    Ok((ks.name.clone(), Arc::new(set)))
}

fn rule(
    r: &RawRule,
    i: usize,
    distributions: &[Arc<Distribution>],
    key_sets: &[(String, Arc<KeySet>)],
    default_not_found: bool,
) -> anyhow::Result<Rule> {
    let at = format!("rules[{i}]");
    let pattern = KeyPattern::parse(&r.pattern).map_err(|e| anyhow!("{at}.pattern: {e}"))?;
    let access = match r.access.as_str() {
        "public" => Access::Public,
        "authenticated" => Access::Authenticated,
        other => bail!("{at}.access: {other:?} is not \"public\" or \"authenticated\""),
    };
    if access == Access::Public && (pattern.uses_claims() || !r.require.is_empty()) {
        bail!("{at}: a public rule cannot use claims or requirements");
    }
    let policy = match r.policy.as_str() {
        "canned" => PolicyChoice::Canned,
        "custom" => PolicyChoice::Custom,
        other => bail!("{at}.policy: {other:?} is not \"canned\" or \"custom\""),
    };
    if r.bind_client_ip && policy != PolicyChoice::Custom {
        bail!("{at}.bind_client_ip: needs policy = \"custom\"");
    }
    if r.cookies {
        if !r.pattern.ends_with("/**") {
            bail!("{at}.cookies: a cookie rule's pattern must end in /** (the folder the cookies cover)");
        }
        if r.access == "public" {
            bail!("{at}.cookies: signed cookies are only handed to authenticated callers");
        }
    }
    if !(1..=7 * 24 * 3600).contains(&r.lifetime_seconds) {
        bail!("{at}.lifetime_seconds: must be between 1 and 604800 (7 days)");
    }
    let distribution = distributions
        .iter()
        .find(|d| d.name == r.distribution)
        .cloned()
        .ok_or_else(|| {
            anyhow!(
                "{at}.distribution: no distribution named {:?}",
                r.distribution
            )
        })?;
    let distribution = match &r.key_set {
        None => distribution,
        Some(name) => {
            let key_set = key_sets
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, ks)| ks.clone())
                .ok_or_else(|| anyhow!("{at}.key_set: no key set named {name:?}"))?;
            Arc::new(Distribution {
                name: distribution.name.clone(),
                base_url: distribution.base_url.clone(),
                key_set,
                hash: distribution.hash,
                cookies: distribution.cookies.clone(),
            })
        }
    };
    let require = r
        .require
        .iter()
        .enumerate()
        .map(|(j, q)| {
            if q.claim.is_empty() || q.any_of.is_empty() {
                bail!("{at}.require[{j}]: needs a claim and a non-empty any_of");
            }
            Ok(Requirement {
                claim: q.claim.clone(),
                any_of: q.any_of.clone(),
            })
        })
        .collect::<anyhow::Result<_>>()?;
    if r.cookies {
        if let Some(problem) = &distribution.cookies.problem {
            bail!(
                "{at}.cookies: distribution {:?}: {problem}",
                distribution.name
            );
        }
    }
    Ok(Rule {
        cookies: r.cookies,
        pattern,
        access,
        require,
        target: Arc::new(SignTarget {
            distribution,
            lifetime_seconds: r.lifetime_seconds,
            policy,
            bind_client_ip: r.bind_client_ip,
        }),
        deny_as_not_found: r.deny_as_not_found.unwrap_or(default_not_found),
    })
}

fn auth(
    raw: &RawAuth,
    base: &Path,
    dev: bool,
) -> anyhow::Result<(Authenticators, Vec<TokenMinter>)> {
    let cookie = match raw.token_cookie.as_str() {
        "" => None,
        name if name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) =>
        {
            Some(name.to_owned())
        }
        name => bail!("auth.token_cookie: {name:?} is not a valid cookie name"),
    };
    let mut minters = Vec::new();
    let mut list = Vec::new();
    for (i, name) in raw.order.iter().enumerate() {
        if raw.order[..i].contains(name) {
            bail!("auth.order: {name:?} is listed twice");
        }
        match name.as_str() {
            "jwt" => {
                if raw.jwt.issuers.is_empty() {
                    bail!("auth.jwt.issuers: \"jwt\" is in auth.order but no issuer is configured");
                }
                let mut issuers = Vec::new();
                for (j, iss) in raw.jwt.issuers.iter().enumerate() {
                    let (issuer, minter) =
                        issuer(iss, &format!("auth.jwt.issuers[{j}]"), base, dev)?;
                    if issuers.iter().any(|x: &Issuer| x.issuer == issuer.issuer) {
                        bail!(
                            "auth.jwt.issuers[{j}].issuer: duplicate issuer {:?}",
                            issuer.issuer
                        );
                    }
                    issuers.push(issuer);
                    minters.extend(minter);
                }
                list.push(Authenticator::Jwt(JwtAuthenticator {
                    issuers,
                    token_cookie: cookie.clone(),
                }));
            }
            other => bail!("auth.order: unknown authenticator {other:?} (known: jwt)"),
        }
    }
    Ok((Authenticators(list), minters))
}

fn issuer(
    raw: &RawIssuer,
    at: &str,
    base: &Path,
    dev: bool,
) -> anyhow::Result<(Issuer, Option<TokenMinter>)> {
    if raw.issuer.is_empty() {
        bail!("{at}.issuer: must not be empty");
    }
    if raw.algorithms.is_empty() {
        bail!("{at}.algorithms: list at least one algorithm");
    }
    let algorithms = raw
        .algorithms
        .iter()
        .map(|a| {
            Algorithm::from_str(a).map_err(|_| anyhow!("{at}.algorithms: unknown algorithm {a:?}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let family = algorithms[0].family();
    if algorithms.iter().any(|a| a.family() != family) {
        bail!("{at}.algorithms: all algorithms of one issuer must be of one family (HS, RS/PS, ES or EdDSA)");
    }
    let sources = [
        raw.secret.is_some(),
        raw.secret_file.is_some(),
        raw.secret_env.is_some(),
        raw.public_key_file.is_some(),
        raw.jwks_url.is_some(),
        raw.oidc_discovery,
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if sources != 1 {
        bail!("{at}: give exactly one key source (secret, secret_file, secret_env, public_key_file, jwks_url or oidc_discovery)");
    }
    let mut minter = None;
    let keys = if family == AlgorithmFamily::Hmac {
        let secret = if let Some(s) = &raw.secret {
            if !dev {
                bail!("{at}.secret: inline secrets are allowed only with dev = true; use secret_file or secret_env");
            }
            s.clone().into_bytes()
        } else if let Some(f) = &raw.secret_file {
            let path = base.join(f);
            let mut bytes = std::fs::read(&path)
                .map_err(|e| anyhow!("{at}.secret_file: cannot read {}: {e}", path.display()))?;
            while bytes.last().is_some_and(|b| b.is_ascii_whitespace()) {
                bytes.pop();
            }
            bytes
        } else if let Some(var) = &raw.secret_env {
            std::env::var(var)
                .map_err(|_| anyhow!("{at}.secret_env: environment variable {var} is not set"))?
                .into_bytes()
        } else {
            bail!("{at}: HS* algorithms need secret, secret_file or secret_env");
        };
        if secret.len() < 32 {
            bail!("{at}: the HMAC secret must be at least 32 bytes");
        }
        minter = Some(TokenMinter {
            issuer: raw.issuer.clone(),
            audience: raw.audience.clone(),
            algorithm: algorithms[0],
            secret: secret.clone(),
        });
        IssuerKeys::Static(DecodingKey::from_secret(&secret).map_err(|e| anyhow!("{at}: {e}"))?)
    } else if let Some(f) = &raw.public_key_file {
        let path = base.join(f);
        let pem = std::fs::read(&path)
            .map_err(|e| anyhow!("{at}.public_key_file: cannot read {}: {e}", path.display()))?;
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
        IssuerKeys::Static(key)
    } else if let Some(url) = &raw.jwks_url {
        check_http_url(url).with_context(|| format!("{at}.jwks_url"))?;
        IssuerKeys::Jwks(Arc::new(JwksCache::new(
            JwksSource::Url(url.clone()),
            Duration::from_secs(raw.jwks_min_refresh_seconds),
        )))
    } else if raw.oidc_discovery {
        check_http_url(&raw.issuer)
            .with_context(|| format!("{at}.issuer (needed for oidc_discovery)"))?;
        IssuerKeys::Jwks(Arc::new(JwksCache::new(
            JwksSource::Discovery {
                issuer: raw.issuer.clone(),
            },
            Duration::from_secs(raw.jwks_min_refresh_seconds),
        )))
    } else {
        bail!("{at}: {family:?} algorithms need public_key_file, jwks_url or oidc_discovery");
    };
    let issuer = Issuer::new(
        raw.issuer.clone(),
        raw.audience.clone(),
        algorithms,
        keys,
        raw.leeway_seconds,
    );
    Ok((issuer, minter))
}

fn check_http_url(url: &str) -> anyhow::Result<()> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        bail!("{url:?} is not an http(s) URL")
    }
}

/// Signed-cookie attributes of a distribution. Problems that only matter when a rule hands out
/// cookies are recorded, and refused when such a rule exists.
fn cookie_settings(
    d: &super::raw::RawDistribution,
    at: &str,
    url: &SignableUrl,
    public_url: &str,
) -> anyhow::Result<crate::sign::CookieSettings> {
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
    let same_site = match d.cookie_same_site.to_ascii_lowercase().as_str() {
        "lax" => "Lax",
        "strict" => "Strict",
        "none" => "None",
        other => bail!("{at}.cookie_same_site: {other:?} is not Lax, Strict or None"),
    };
    if same_site == "None" && !d.cookie_secure {
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
    Ok(crate::sign::CookieSettings {
        domain: (!domain.is_empty()).then_some(domain),
        base_path: path,
        secure: d.cookie_secure,
        http_only: d.cookie_http_only,
        same_site,
        problem,
    })
}
