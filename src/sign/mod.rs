//! Step 4 of a request: sign a short-lived CloudFront URL (or cookies) for an allowed object.
//! Errors are this step's own ([`SignError`]); the flow maps them to answers.

use std::net::IpAddr;
use std::sync::Arc;

use signgate_cloudfront::{
    Conditions, HashAlgorithm, Ipv4Range, KeySet, Policy, ResourcePattern, SignableUrl, MAX_EPOCH,
};

mod cookies;
mod url_cache;

pub use cookies::{CookieSettings, FolderCookies};
pub use url_cache::UrlCache;

use crate::download::DownloadName;
use crate::metrics::Metrics;
use crate::object_key::ObjectKey;

/// Why nothing was signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The rule binds URLs to the client's IPv4 address and the client has none.
    #[error("the client has no IPv4 address to bind the URL to")]
    IpBindingUnavailable,
    /// A bug or an impossible state (an unsignable URL, an expiry beyond 2038).
    #[error("{0}")]
    Internal(String),
}

fn internal(detail: impl std::fmt::Display) -> SignError {
    SignError::Internal(detail.to_string())
}

/// Where signed URLs point and what signs them.
#[derive(Clone, Debug)]
pub struct Distribution {
    pub name: String,
    /// `scheme://host[:port][/prefix]`, no trailing slash.
    pub base_url: String,
    pub key_set: Arc<KeySet>,
    pub hash: HashAlgorithm,
    pub cookies: CookieSettings,
}

/// `policy` of a rule: the shortest (canned) policy, or a custom one (needed for an IP
/// condition).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyChoice {
    Canned,
    Custom,
}

/// What one rule signs with, as configured.
#[derive(Clone, Debug)]
pub struct TargetSettings {
    /// The rule's distribution, with the rule's own key set if it names one.
    pub distribution: Arc<Distribution>,
    pub lifetime_seconds: u64,
    pub policy: PolicyChoice,
    pub bind_client_ip: bool,
    /// Stable URLs: `None`, or the step and the number of URLs kept.
    pub url_cache: Option<UrlCacheSettings>,
}

#[derive(Clone, Copy, Debug)]
pub struct UrlCacheSettings {
    pub step_seconds: u64,
    pub max_entries: u64,
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

/// A signed URL ready to hand out.
#[derive(Clone, Debug)]
pub struct SignedObject {
    pub url: String,
    pub expires_at: u64,
    pub key_pair_id: String,
}

impl SignTarget {
    /// The target `settings` describe; its URL cache counts into the service's `url_cache_*`.
    pub fn from_config(settings: &TargetSettings, metrics: &Metrics) -> Self {
        SignTarget {
            distribution: settings.distribution.clone(),
            lifetime_seconds: settings.lifetime_seconds,
            policy: settings.policy,
            bind_client_ip: settings.bind_client_ip,
            url_cache: settings.url_cache.map(|c| {
                UrlCache::new(
                    c.step_seconds,
                    c.max_entries,
                    settings.lifetime_seconds,
                    metrics.url_cache.clone(),
                )
            }),
        }
    }

    /// Signs `key` (with an optional download name) for a caller at `client_ip`, valid from `now`
    /// for the rule's lifetime.
    pub fn sign(
        &self,
        key: &ObjectKey,
        download: Option<&DownloadName>,
        client_ip: IpAddr,
        now: u64,
    ) -> Result<SignedObject, SignError> {
        let dist = &self.distribution;
        let conditions = self.conditions(client_ip, now)?;
        let cache_key = self
            .url_cache
            .as_ref()
            .map(|c| (c, UrlCache::key(key, download)));
        if let Some((cache, k)) = &cache_key {
            let active = dist.key_set.active().id().as_str();
            if let Some(hit) = cache.get(k, conditions.expires, active) {
                return Ok(hit);
            }
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
            .map_err(|e| internal(format!("built an unsignable URL: {e}")))?;
        let expires_at = conditions.expires;
        let policy = Policy::for_url(&url, &conditions).map_err(internal)?;
        let signing_key = dist.key_set.active();
        let signed = signing_key
            .sign_url(&url, &policy, dist.hash)
            .map_err(internal)?;
        let signed = SignedObject {
            url: signed,
            expires_at,
            key_pair_id: signing_key.id().to_string(),
        };
        if let Some((cache, k)) = cache_key {
            cache.insert(k, &signed);
        }
        Ok(signed)
    }

    /// Signed cookies (always a custom policy) covering everything under `folder`.
    pub fn sign_cookies(
        &self,
        folder: &ObjectKey,
        client_ip: IpAddr,
        now: u64,
    ) -> Result<FolderCookies, SignError> {
        let dist = &self.distribution;
        let folder_path = folder.to_url_path();
        let resource = format!("{}/{folder_path}/*", dist.base_url);
        let pattern = ResourcePattern::parse(&resource)
            .map_err(|e| internal(format!("built an unsignable resource: {e}")))?;
        let conditions = self.conditions(client_ip, now)?;
        let policy = Policy::for_resource(pattern, &conditions).map_err(internal)?;
        let signing_key = dist.key_set.active();
        let cookies = signing_key
            .sign_cookies(&policy, dist.hash)
            .map_err(internal)?;
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
    fn conditions(&self, client_ip: IpAddr, now: u64) -> Result<Conditions, SignError> {
        let mut expires = now.saturating_add(self.lifetime_seconds);
        if let Some(cache) = &self.url_cache {
            // Round up to the step: every request within one step gets the same expiry.
            expires = expires
                .div_ceil(cache.step_seconds)
                .saturating_mul(cache.step_seconds);
        }
        if expires > MAX_EPOCH {
            return Err(internal("expiry beyond 2038"));
        }
        let ip = if self.bind_client_ip {
            let v4 = match client_ip {
                IpAddr::V4(v4) => v4,
                IpAddr::V6(v6) => v6.to_ipv4_mapped().ok_or(SignError::IpBindingUnavailable)?,
            };
            Some(Ipv4Range::parse(&v4.to_string()).map_err(internal)?)
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
