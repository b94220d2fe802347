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
use crate::authenticate::jwt::{Issuer, IssuerKeys, JwtAuthenticator, VerifiedTokens};
use crate::authenticate::{Authenticator, Authenticators};
use crate::authorize::{Access, KeyPattern, Requirement, Rule, Rules};
use crate::backend::sql::{PoolSettings, SqlPool};
use crate::backend::BackendHealth;
use crate::grants::{placeholder_count, CacheSettings, GrantParam, SqlGrant};
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
    let grants = build_grants(&raw.grants)?;
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
                    &grants,
                    raw.server.deny_as_not_found,
                )
            })
            .collect::<anyhow::Result<_>>()?,
        deny_as_not_found: raw.server.deny_as_not_found,
    };
    let (authenticators, token_minters) = auth(&raw.auth, base, raw.dev)?;
    Ok(Settings {
        grants,
        clock: crate::clock::Clock::System,
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
    grants: &[Arc<SqlGrant>],
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
    if r.cache_step_seconds > 0 && r.bind_client_ip {
        bail!("{at}.cache_step_seconds: a URL bound to one client's IP is never shared; drop one of the two");
    }
    if r.cache_step_seconds > 3600 {
        bail!("{at}.cache_step_seconds: at most 3600");
    }
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
    let grant = match &r.grant {
        None => None,
        Some(name) => {
            if access == Access::Public {
                bail!("{at}.grant: a public rule has no subject to ask the database about");
            }
            Some(
                grants
                    .iter()
                    .find(|g| &g.name == name)
                    .cloned()
                    .ok_or_else(|| anyhow!("{at}.grant: no grant named {name:?}"))?,
            )
        }
    };
    Ok(Rule {
        grant,
        cookies: r.cookies,
        pattern,
        access,
        require,
        target: Arc::new(SignTarget {
            distribution,
            url_cache: (r.cache_step_seconds > 0).then(|| {
                crate::sign::UrlCache::new(
                    r.cache_step_seconds,
                    r.cache_entries,
                    r.lifetime_seconds,
                )
            }),
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
                let cache = &raw.jwt;
                if cache.verified_cache_seconds > 3600 {
                    bail!("auth.jwt.verified_cache_seconds: at most 3600 (a cached token skips its signature check)");
                }
                let verified = (cache.verified_cache_seconds > 0 && cache.verified_cache_bytes > 0)
                    .then(|| {
                        VerifiedTokens::new(
                            Duration::from_secs(cache.verified_cache_seconds),
                            cache.verified_cache_bytes,
                        )
                    });
                list.push(Authenticator::Jwt(JwtAuthenticator {
                    issuers,
                    token_cookie: cookie.clone(),
                    verified,
                }));
            }
            "redis_session" => {
                let r = raw.redis_session.as_ref().ok_or_else(|| anyhow!("auth.redis_session: \"redis_session\" is in auth.order but not configured"))?;
                list.push(Authenticator::RedisSession(redis_session(r)?));
            }
            "django_session" => {
                let d = raw.django_session.as_ref().ok_or_else(|| anyhow!("auth.django_session: \"django_session\" is in auth.order but not configured"))?;
                list.push(Authenticator::DjangoSession(django_session(d, base, dev)?));
            }
            other => bail!("auth.order: unknown authenticator {other:?} (known: jwt, redis_session, django_session)"),
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

fn pool_settings(pool_size: u32, connect_timeout_ms: u64, query_timeout_ms: u64) -> PoolSettings {
    PoolSettings {
        max_connections: pool_size.max(1),
        connect_timeout: Duration::from_millis(connect_timeout_ms.max(1)),
        query_timeout: Duration::from_millis(query_timeout_ms.max(1)),
    }
}

/// A value given inline or through an environment variable (for URLs that carry passwords).
fn inline_or_env(
    at: &str,
    key: &str,
    inline: &Option<String>,
    env: &Option<String>,
) -> anyhow::Result<String> {
    match (inline, env) {
        (Some(v), None) => Ok(v.clone()),
        (None, Some(var)) => std::env::var(var)
            .map_err(|_| anyhow!("{at}.{key}_env: environment variable {var} is not set")),
        _ => bail!("{at}: give exactly one of {key} and {key}_env"),
    }
}

fn redis_session(
    r: &super::raw::RawRedisSession,
) -> anyhow::Result<crate::authenticate::redis_session::RedisSessions> {
    use crate::authenticate::redis_session::{RedisSessions, SessionFormat};
    let at = "auth.redis_session";
    let url = inline_or_env(at, "url", &r.url, &r.url_env)?;
    if !(url.starts_with("redis://")
        || url.starts_with("rediss://")
        || url.starts_with("redis+unix://")
        || url.starts_with("unix://"))
    {
        bail!("{at}.url: not a redis:// URL");
    }
    let format = match r.format.as_str() {
        "json" => SessionFormat::Json,
        "hash" => SessionFormat::Hash,
        other => bail!("{at}.format: {other:?} is not \"json\" or \"hash\""),
    };
    if r.cookie.is_empty() || r.subject_field.is_empty() {
        bail!("{at}: cookie and subject_field must not be empty");
    }
    // Without a prefix, a cookie could name any key in the database (`user:42`, say).
    if r.key_prefix.is_empty() {
        bail!("{at}.key_prefix: must not be empty (sessions must live under their own prefix, such as \"session:\")");
    }
    let p = pool_settings(r.pool_size, r.connect_timeout_ms, r.query_timeout_ms);
    let mut cfg = deadpool_redis::Config::from_url(url);
    cfg.pool = Some(deadpool_redis::PoolConfig {
        max_size: p.max_connections as usize,
        timeouts: deadpool_redis::Timeouts {
            wait: Some(p.connect_timeout),
            create: Some(p.connect_timeout),
            recycle: Some(p.connect_timeout),
        },
        ..Default::default()
    });
    let pool = cfg
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .map_err(|e| anyhow!("{at}.url: {e}"))?;
    Ok(RedisSessions {
        cookie: r.cookie.clone(),
        key_prefix: r.key_prefix.clone(),
        format,
        subject_field: r.subject_field.clone(),
        claim_fields: r.claim_fields.clone(),
        pool,
        query_timeout: p.query_timeout,
        health: Arc::new(BackendHealth::new("redis_session")),
    })
}

fn django_session(
    d: &super::raw::RawDjangoSession,
    base: &Path,
    dev: bool,
) -> anyhow::Result<crate::authenticate::django::DjangoSessions> {
    use crate::authenticate::django::{
        DjangoSessions, DjangoSigner, DjangoStore, DB_SALT, SIGNED_COOKIES_SALT,
    };
    let at = "auth.django_session";
    let secret = match (&d.secret_key, &d.secret_key_file, &d.secret_key_env) {
        (Some(s), None, None) => {
            if !dev {
                bail!("{at}.secret_key: inline secrets are allowed only with dev = true; use secret_key_file or secret_key_env");
            }
            s.clone()
        }
        (None, Some(f), None) => {
            let path = base.join(f);
            std::fs::read_to_string(&path)
                .map_err(|e| anyhow!("{at}.secret_key_file: cannot read {}: {e}", path.display()))?
                .trim_end_matches(['\n', '\r'])
                .to_owned()
        }
        (None, None, Some(var)) => std::env::var(var)
            .map_err(|_| anyhow!("{at}.secret_key_env: environment variable {var} is not set"))?,
        _ => bail!("{at}: give exactly one of secret_key, secret_key_file and secret_key_env"),
    };
    if secret.is_empty() {
        bail!("{at}: the SECRET_KEY is empty");
    }
    let fallbacks: Vec<Vec<u8>> = match &d.secret_key_fallbacks_env {
        None => Vec::new(),
        Some(var) => std::env::var(var)
            .map_err(|_| {
                anyhow!("{at}.secret_key_fallbacks_env: environment variable {var} is not set")
            })?
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| l.as_bytes().to_vec())
            .collect(),
    };
    let valid_cookie = !d.cookie.is_empty()
        && d.cookie
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !valid_cookie {
        bail!("{at}.cookie: {:?} is not a valid cookie name", d.cookie);
    }
    let (store, default_salt) = match d.backend.as_str() {
        "db" => {
            let url = inline_or_env(at, "database_url", &d.database_url, &d.database_url_env)?;
            let valid_table = !d.table.is_empty()
                && d.table
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.'));
            if !valid_table {
                bail!("{at}.table: {:?} is not a table name", d.table);
            }
            let p = pool_settings(d.pool_size, d.connect_timeout_ms, d.query_timeout_ms);
            let pool =
                SqlPool::connect_lazy(&url, p).map_err(|e| anyhow!("{at}.database_url: {e}"))?;
            let store = DjangoStore::Database {
                pool,
                table: d.table.clone(),
                query_timeout: p.query_timeout,
                health: Arc::new(BackendHealth::new("django_session")),
            };
            (store, DB_SALT)
        }
        "signed_cookies" => (
            DjangoStore::SignedCookies {
                max_age: d.cookie_age_seconds,
            },
            SIGNED_COOKIES_SALT,
        ),
        other => bail!("{at}.backend: {other:?} is not \"db\" or \"signed_cookies\""),
    };
    let salt = d.salt.as_deref().unwrap_or(default_salt);
    Ok(DjangoSessions {
        cookie: d.cookie.clone(),
        signer: DjangoSigner::new(salt, secret.as_bytes(), &fallbacks),
        store,
        claim_fields: d.claim_fields.clone(),
    })
}

fn build_grants(raw: &[super::raw::RawGrant]) -> anyhow::Result<Vec<Arc<SqlGrant>>> {
    let mut out: Vec<Arc<SqlGrant>> = Vec::new();
    for (i, g) in raw.iter().enumerate() {
        let at = format!("grants[{i}]");
        if g.name.is_empty() || out.iter().any(|x| x.name == g.name) {
            bail!("{at}.name: empty or duplicate grant name {:?}", g.name);
        }
        let params = g
            .params
            .iter()
            .map(|p| {
                GrantParam::parse(p)
                    .ok_or_else(|| anyhow!("{at}.params: {p:?} is not subject, key or claim:NAME"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let placeholders = placeholder_count(&g.query);
        if placeholders != params.len() {
            bail!(
                "{at}.query: it has {placeholders} placeholder(s) but params lists {}",
                params.len()
            );
        }
        if !g
            .query
            .trim_start()
            .get(..6)
            .is_some_and(|w| w.eq_ignore_ascii_case("select"))
            || g.query.contains(';')
        {
            bail!("{at}.query: must be a single SELECT statement");
        }
        let url = inline_or_env(&at, "database_url", &g.database_url, &g.database_url_env)?;
        let p = pool_settings(g.pool_size, g.connect_timeout_ms, g.query_timeout_ms);
        let pool = SqlPool::connect_lazy(&url, p).map_err(|e| anyhow!("{at}.database_url: {e}"))?;
        let cache = CacheSettings {
            allow_ttl: Duration::from_secs(g.allow_ttl_seconds),
            deny_ttl: Duration::from_secs(g.deny_ttl_seconds),
            max_entries: g.cache_entries,
        };
        out.push(Arc::new(SqlGrant::new(
            g.name.clone(),
            pool,
            g.query.clone(),
            params,
            p.query_timeout,
            cache,
        )));
    }
    Ok(out)
}
