//! Step 4 of a request: sign a short-lived CloudFront URL for an allowed object.

use std::net::IpAddr;
use std::sync::Arc;

use signgate_cloudfront::{
    Conditions, HashAlgorithm, Ipv4Range, KeySet, Policy, SignableUrl, MAX_EPOCH,
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
        let expires_at = now.saturating_add(self.lifetime_seconds);
        if expires_at > MAX_EPOCH {
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
        let conditions = Conditions {
            expires: expires_at,
            starts: None,
            ip,
            resource: None,
            force_custom: self.policy == PolicyChoice::Custom,
        };
        let policy =
            Policy::for_url(&url, &conditions).map_err(|e| AppError::internal(e.to_string()))?;
        let signing_key = dist.key_set.active();
        let signed = signing_key
            .sign_url(&url, &policy, dist.hash)
            .map_err(|e| AppError::internal(e.to_string()))?;
        Ok(SignedObject {
            url: signed,
            expires_at,
            key_pair_id: signing_key.id().to_string(),
        })
    }
}
