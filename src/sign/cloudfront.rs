//! CloudFront: canned or custom policies signed with the active key of a key set, and signed
//! cookies over a folder's wildcard resource. What it signs is byte for byte what signgate has
//! always signed (the botocore vectors and the end-to-end tests hold it there).

use std::net::IpAddr;
use std::sync::Arc;

use signgate_cloudfront::{
    Conditions, HashAlgorithm, Ipv4Range, KeySet, Policy, ResourcePattern, SignableUrl,
    SignedPolicy, MAX_EPOCH,
};

use super::{internal, FolderCredential, SignError, SignedObject, Window};

/// A CloudFront distribution's key set and digest.
#[derive(Clone, Debug)]
pub struct CloudFrontSigner {
    pub key_set: Arc<KeySet>,
    pub hash: HashAlgorithm,
}

impl CloudFrontSigner {
    pub fn active_key(&self) -> &str {
        self.key_set.active().id().as_str()
    }

    pub(super) fn sign_url(&self, url: &str, window: &Window) -> Result<SignedObject, SignError> {
        let (url, policy) = self.url_and_policy(url, window)?;
        let signing_key = self.key_set.active();
        let signed = signing_key
            .sign_url(&url, &policy, self.hash)
            .map_err(internal)?;
        Ok(SignedObject {
            url: signed.into(),
            expires_at: policy.expires(),
            key_id: signing_key.id().to_string().into(),
        })
    }

    /// The policy [`CloudFrontSigner::sign_url`] signs for `url` in `window`.
    pub(super) fn policy_for(&self, url: &str, window: &Window) -> Result<Policy, SignError> {
        self.url_and_policy(url, window).map(|(_, policy)| policy)
    }

    fn url_and_policy(
        &self,
        url: &str,
        window: &Window,
    ) -> Result<(SignableUrl, Policy), SignError> {
        let url = SignableUrl::parse(url)
            .map_err(|e| internal(format!("built an unsignable URL: {e}")))?;
        let conditions = conditions(window)?;
        let policy = Policy::for_url(&url, &conditions).map_err(internal)?;
        Ok((url, policy))
    }

    /// The custom policy for the resource `prefix*` in `window`, as folder URLs and cookies sign
    /// it.
    pub(super) fn folder_policy(&self, prefix: &str, window: &Window) -> Result<Policy, SignError> {
        let resource = format!("{prefix}*");
        let pattern = ResourcePattern::parse(&resource)
            .map_err(|e| internal(format!("built an unsignable resource: {e}")))?;
        Policy::for_resource(pattern, &conditions(window)?).map_err(internal)
    }

    /// One signature for every URL under `prefix` (`sign_per = "folder"`).
    pub(super) fn sign_folder_policy(
        &self,
        prefix: &str,
        window: &Window,
    ) -> Result<(SignedPolicy, String), SignError> {
        let policy = self.folder_policy(prefix, window)?;
        let signing_key = self.key_set.active();
        let signed = signing_key
            .sign_policy(&policy, self.hash)
            .map_err(internal)?;
        Ok((signed, signing_key.id().to_string()))
    }

    /// Signed cookies (always a custom policy) for the resource `prefix*`.
    pub(super) fn sign_cookies(
        &self,
        prefix: &str,
        window: &Window,
    ) -> Result<FolderCredential, SignError> {
        let policy = self.folder_policy(prefix, window)?;
        let resource = format!("{prefix}*");
        let signing_key = self.key_set.active();
        let cookies = signing_key
            .sign_cookies(&policy, self.hash)
            .map_err(internal)?;
        Ok(FolderCredential {
            cookies: cookies
                .0
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value))
                .collect(),
            url: None,
            resource,
            path: String::new(),
            expires_at: policy.expires(),
            max_age: 0,
            key_id: signing_key.id().to_string(),
        })
    }
}

/// The policy conditions of `window`: CloudFront binds IPv4 addresses only.
fn conditions(window: &Window) -> Result<Conditions, SignError> {
    if window.expires > MAX_EPOCH {
        return Err(internal("expiry beyond 2038"));
    }
    let ip = match window.client_ip {
        None => None,
        Some(IpAddr::V4(v4)) => Some(Ipv4Range::parse(&v4.to_string()).map_err(internal)?),
        Some(IpAddr::V6(_)) => return Err(SignError::IpBindingUnavailable),
    };
    Ok(Conditions {
        expires: window.expires,
        starts: None,
        ip,
        resource: None,
        force_custom: window.force_custom,
    })
}
