//! Step 4 of a request: sign a short-lived CloudFront URL for an allowed object.

use std::net::IpAddr;
use std::sync::Arc;

use signgate_cloudfront::{
    Conditions, HashAlgorithm, Ipv4Range, KeySet, Policy, ResourcePattern, SignableUrl,
    SignedCookies, MAX_EPOCH,
};

use crate::download::DownloadName;
use crate::error::AppError;
use crate::object_key::ObjectKey;

/// Where signed URLs point and what signs them.
pub struct Distribution {
    pub name: String,
    /// `scheme://host[:port][/prefix]`, no trailing slash.
    pub base_url: String,
    pub key_set: Arc<KeySet>,
    pub hash: HashAlgorithm,
    pub cookies: CookieSettings,
}

/// Attributes of the signed cookies for a distribution.
#[derive(Clone, Debug)]
pub struct CookieSettings {
    /// `Domain`; `None` for host-only cookies.
    pub domain: Option<String>,
    /// The distribution URL's own path prefix ("" or "/prefix").
    pub base_path: String,
    pub secure: bool,
    pub http_only: bool,
    pub same_site: &'static str,
    /// Why cookies cannot work for this distribution, if they cannot (checked at start-up for
    /// every rule that hands out cookies).
    pub problem: Option<String>,
}

/// Signed cookies for a folder, ready to set.
pub struct FolderCookies {
    pub cookies: SignedCookies,
    /// `https://media.example.com/hls/42/*`
    pub resource: String,
    /// `/hls/42/`: where the browser sends them.
    pub path: String,
    pub expires_at: u64,
    pub max_age: u64,
    pub key_pair_id: String,
}

impl FolderCookies {
    /// One `Set-Cookie` value per cookie.
    pub fn set_cookie_headers(&self, settings: &CookieSettings) -> Vec<String> {
        self.cookies
            .0
            .iter()
            .map(|(name, value)| {
                let mut c = format!(
                    "{name}={value}; Path={}; Max-Age={}",
                    self.path, self.max_age
                );
                if let Some(domain) = &settings.domain {
                    c.push_str("; Domain=");
                    c.push_str(domain);
                }
                if settings.secure {
                    c.push_str("; Secure");
                }
                if settings.http_only {
                    c.push_str("; HttpOnly");
                }
                c.push_str("; SameSite=");
                c.push_str(settings.same_site);
                c
            })
            .collect()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyChoice {
    Canned,
    Custom,
}

/// What a rule signs with: the distribution, the lifetime and the policy shape.
pub struct SignTarget {
    pub distribution: Arc<Distribution>,
    pub lifetime_seconds: u64,
    pub policy: PolicyChoice,
    pub bind_client_ip: bool,
    /// Stable, cacheable URLs: expiries rounded up to a step, signed URLs reused within it.
    pub url_cache: Option<UrlCache>,
}

/// Signed URLs reused for every request for the same object within one expiry step, so browsers
/// and players keep their caches. Never used for policies bound to a client IP (configuration
/// refuses that combination). Authorization still runs on every request; only the signature is
/// reused.
pub struct UrlCache {
    pub step_seconds: u64,
    cache: moka::sync::Cache<String, Arc<SignedObject>>,
}

/// Cache hits and misses, process-wide.
pub static URL_CACHE_HITS: std::sync::LazyLock<prometheus_client::metrics::counter::Counter> =
    std::sync::LazyLock::new(Default::default);
pub static URL_CACHE_MISSES: std::sync::LazyLock<prometheus_client::metrics::counter::Counter> =
    std::sync::LazyLock::new(Default::default);

impl UrlCache {
    pub fn new(step_seconds: u64, max_entries: u64, lifetime_seconds: u64) -> Self {
        let cache = moka::sync::Cache::builder()
            .max_capacity(max_entries)
            .time_to_live(std::time::Duration::from_secs(
                lifetime_seconds + step_seconds,
            ))
            .build();
        UrlCache {
            step_seconds,
            cache,
        }
    }
}

/// A signed URL ready to hand out.
#[derive(Debug)]
pub struct SignedObject {
    pub url: String,
    pub expires_at: u64,
    pub key_pair_id: String,
}

impl SignTarget {
    /// Signs `key` (with an optional download name) for a caller at `client_ip`, valid from `now`
    /// for the rule's lifetime.
    pub fn sign(
        &self,
        key: &ObjectKey,
        download: Option<&DownloadName>,
        client_ip: IpAddr,
        now: u64,
    ) -> Result<SignedObject, AppError> {
        let dist = &self.distribution;
        let conditions = self.conditions(client_ip, now)?;
        let cache_key = self.url_cache.as_ref().map(|c| {
            let mut k = String::with_capacity(key.as_str().len() + 48);
            k.push_str(key.as_str());
            k.push('\0');
            if let Some(name) = download {
                k.push_str(&name.query_value());
            }
            (c, k)
        });
        if let Some((cache, k)) = &cache_key {
            if let Some(hit) = cache.cache.get(k) {
                // Same expiry step and still the active key: the very same URL.
                if hit.expires_at == conditions.expires
                    && hit.key_pair_id == dist.key_set.active().id().as_str()
                {
                    URL_CACHE_HITS.inc();
                    return Ok(SignedObject {
                        url: hit.url.clone(),
                        expires_at: hit.expires_at,
                        key_pair_id: hit.key_pair_id.clone(),
                    });
                }
            }
            URL_CACHE_MISSES.inc();
        }
        let mut url = String::with_capacity(dist.base_url.len() + key.as_str().len() + 64);
        url.push_str(&dist.base_url);
        url.push('/');
        url.push_str(&key.to_url_path());
        if let Some(name) = download {
            url.push_str("?response-content-disposition=");
            url.push_str(&name.query_value());
        }
        let url = SignableUrl::parse(&url)
            .map_err(|e| AppError::internal(format!("built an unsignable URL: {e}")))?;
        let expires_at = conditions.expires;
        let policy =
            Policy::for_url(&url, &conditions).map_err(|e| AppError::internal(e.to_string()))?;
        let signing_key = dist.key_set.active();
        let signed = signing_key
            .sign_url(&url, &policy, dist.hash)
            .map_err(|e| AppError::internal(e.to_string()))?;
        let signed = SignedObject {
            url: signed,
            expires_at,
            key_pair_id: signing_key.id().to_string(),
        };
        if let Some((cache, k)) = cache_key {
            cache.cache.insert(
                k,
                Arc::new(SignedObject {
                    url: signed.url.clone(),
                    expires_at,
                    key_pair_id: signed.key_pair_id.clone(),
                }),
            );
        }
        Ok(signed)
    }

    /// Signed cookies (always a custom policy) covering everything under `folder`.
    pub fn sign_cookies(
        &self,
        folder: &ObjectKey,
        client_ip: IpAddr,
        now: u64,
    ) -> Result<FolderCookies, AppError> {
        let dist = &self.distribution;
        let folder_path = folder.to_url_path();
        let resource = format!("{}/{folder_path}/*", dist.base_url);
        let pattern = ResourcePattern::parse(&resource)
            .map_err(|e| AppError::internal(format!("built an unsignable resource: {e}")))?;
        let conditions = self.conditions(client_ip, now)?;
        let policy = Policy::for_resource(pattern, &conditions)
            .map_err(|e| AppError::internal(e.to_string()))?;
        let signing_key = dist.key_set.active();
        let cookies = signing_key
            .sign_cookies(&policy, dist.hash)
            .map_err(|e| AppError::internal(e.to_string()))?;
        Ok(FolderCookies {
            cookies,
            resource,
            path: format!("{}/{folder_path}/", dist.cookies.base_path),
            expires_at: conditions.expires,
            max_age: self.lifetime_seconds,
            key_pair_id: signing_key.id().to_string(),
        })
    }

    /// The policy conditions for a signature made `now` for a caller at `client_ip`.
    fn conditions(&self, client_ip: IpAddr, now: u64) -> Result<Conditions, AppError> {
        let mut expires = now.saturating_add(self.lifetime_seconds);
        if let Some(cache) = &self.url_cache {
            // Round up to the step: every request within one step gets the same expiry.
            expires = expires
                .div_ceil(cache.step_seconds)
                .saturating_mul(cache.step_seconds);
        }
        if expires > MAX_EPOCH {
            return Err(AppError::internal("expiry beyond 2038"));
        }
        let ip = if self.bind_client_ip {
            let v4 = match client_ip {
                IpAddr::V4(v4) => v4,
                IpAddr::V6(v6) => v6.to_ipv4_mapped().ok_or(AppError::IpBindingUnavailable)?,
            };
            Some(Ipv4Range::parse(&v4.to_string()).map_err(|e| AppError::internal(e.to_string()))?)
        } else {
            None
        };
        Ok(Conditions {
            expires,
            starts: None,
            ip,
            resource: None,
            force_custom: self.policy == PolicyChoice::Custom,
        })
    }
}
