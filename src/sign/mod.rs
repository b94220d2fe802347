//! Step 4 of a request: sign a short-lived URL (or a folder credential) for an allowed object,
//! with the distribution's provider. CloudFront signs with its own crate ([`cloudfront`]); every
//! other CDN signs through the providers crate's one interface ([`cdn`]). Errors are this step's
//! own ([`SignError`]); the flow maps them to answers.

use std::net::IpAddr;

mod cdn;
mod cloudfront;
mod cookies;
mod folder_policy;
mod url_cache;

pub use cdn::{Capabilities, CdnSigner};
pub use cloudfront::CloudFrontSigner;
pub use cookies::{CookieSettings, FolderCredential};
pub use folder_policy::{CachedPolicy, FolderPolicies, FolderSignature};
pub use url_cache::{UrlCache, BYTES_PER_ENTRY as URL_CACHE_BYTES_PER_ENTRY};

use crate::download::DownloadName;
use crate::metrics::Metrics;
use crate::object_key::ObjectKey;

/// Why nothing was signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The rule binds URLs to the client's address and the provider cannot bind this one
    /// (CloudFront and Bunny's default bind IPv4 only).
    #[error("the client's address cannot be bound by this distribution's provider")]
    IpBindingUnavailable,
    /// The provider refuses this object's URL (a path carrying the provider's own token marker,
    /// say): the request's input, never signed.
    #[error("unsignable: {0}")]
    Unsignable(String),
    /// A download name was asked for and the provider's signature would not cover it.
    #[error("the provider cannot carry a download name")]
    DownloadUnsupported,
    /// A bug or an impossible state (an unsignable URL built from a valid key, an expiry beyond
    /// 2038).
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
    pub signer: Signer,
    pub cookies: CookieSettings,
}

/// The distribution's provider with its keys.
#[derive(Clone, Debug)]
pub enum Signer {
    CloudFront(CloudFrontSigner),
    Cdn(CdnSigner),
}

impl Signer {
    /// The provider's configuration name (`cloudfront`, `google-cloud-cdn`, ...).
    pub fn provider(&self) -> &'static str {
        match self {
            Signer::CloudFront(_) => "cloudfront",
            Signer::Cdn(s) => s.provider(),
        }
    }

    /// The name of the key that signs now (CloudFront's key pair ID, the provider's key name).
    pub fn active_key(&self) -> &str {
        match self {
            Signer::CloudFront(s) => s.active_key(),
            Signer::Cdn(s) => s.active_key(),
        }
    }
}

/// `policy` of a rule: the shortest (canned) policy, or a custom one (needed for an IP
/// condition). CloudFront only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyChoice {
    Canned,
    Custom,
}

/// How `/cookies/{folder}` hands out a folder's credential (`folder_token` of a rule).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FolderForm {
    /// Cookies on the CDN host.
    #[default]
    Cookie,
    /// In the path of the entry URL (`next`), so relative URLs (HLS segments) inherit it.
    Path,
    /// In the query of the entry URL (`next`) only.
    Query,
}

impl FolderForm {
    pub fn name(self) -> &'static str {
        match self {
            FolderForm::Cookie => "cookie",
            FolderForm::Path => "path",
            FolderForm::Query => "query",
        }
    }
}

/// `sign_per` of a rule: one signature per object (the default), or one per folder and step
/// for every object inside it (CloudFront: a custom policy whose resource is the folder's
/// wildcard).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignPer {
    #[default]
    Object,
    Folder,
}

/// What one rule signs with, as configured.
#[derive(Clone, Debug)]
pub struct TargetSettings {
    /// The rule's distribution, with the rule's own key set if it names one.
    pub distribution: std::sync::Arc<Distribution>,
    pub lifetime_seconds: u64,
    pub policy: PolicyChoice,
    pub bind_client_ip: bool,
    /// How a folder credential is delivered, for rules with `cookies = true`.
    pub folder: FolderForm,
    /// What the provider was found to enforce for this rule (CloudFront: unused).
    pub capabilities: Capabilities,
    /// Stable URLs: `None`, or the step and the number of URLs kept.
    pub url_cache: Option<UrlCacheSettings>,
    /// `sign_per = "folder"`: the rule's folder depth (checked safe at load) and the bound of its
    /// policy cache.
    pub folder_policies: Option<FolderPolicySettings>,
}

#[derive(Clone, Copy, Debug)]
pub struct FolderPolicySettings {
    /// Leading key segments that name the folder.
    pub depth: usize,
    /// Bytes the signed policies may hold.
    pub max_bytes: u64,
}

#[derive(Clone, Copy, Debug)]
pub struct UrlCacheSettings {
    pub step_seconds: u64,
    pub max_entries: u64,
}

/// What a rule signs with: the distribution, the lifetime and the policy shape.
pub struct SignTarget {
    pub distribution: std::sync::Arc<Distribution>,
    pub lifetime_seconds: u64,
    pub policy: PolicyChoice,
    pub bind_client_ip: bool,
    pub folder: FolderForm,
    pub capabilities: Capabilities,
    /// Stable, cacheable URLs: expiries rounded up to a step, signed URLs reused within it.
    pub url_cache: Option<UrlCache>,
    /// One signature per folder and step (`sign_per = "folder"`, CloudFront).
    pub folder_policies: Option<FolderPolicies>,
    /// `signgate_signing_seconds`: the signatures made (a URL or policy from a cache is none).
    signing_seconds: prometheus_client::metrics::histogram::Histogram,
}

/// A signed URL ready to hand out. Shared text: a stable URL from the cache is handed out
/// without copying it.
#[derive(Clone, Debug)]
pub struct SignedObject {
    pub url: SignedUrl,
    pub expires_at: u64,
    /// The key that signed it.
    pub key_id: std::sync::Arc<str>,
}

/// A signed URL as text and, sharing the same bytes, as a header value: checked as a header
/// value once, when it is signed, so a `Location` or `X-Signed-Url` from the URL cache costs
/// neither a copy nor a second check of its ~200 bytes.
#[derive(Clone, Debug)]
pub struct SignedUrl {
    text: std::sync::Arc<str>,
    /// `None` if the text is not a valid header value (a provider's bug: every byte of a signed
    /// URL is visible ASCII); answers that need the header then fail with a 500.
    header: Option<http::HeaderValue>,
}

/// The URL's bytes as the owner of a [`bytes::Bytes`], so the header value shares them.
struct SharedText(std::sync::Arc<str>);

impl AsRef<[u8]> for SharedText {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl SignedUrl {
    /// The URL as a header value, if it is one.
    pub fn header(&self) -> Option<&http::HeaderValue> {
        self.header.as_ref()
    }
}

impl From<String> for SignedUrl {
    fn from(url: String) -> Self {
        let text: std::sync::Arc<str> = url.into();
        let bytes = bytes::Bytes::from_owner(SharedText(text.clone()));
        let header = http::HeaderValue::from_maybe_shared(bytes).ok();
        SignedUrl { text, header }
    }
}

impl std::ops::Deref for SignedUrl {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

/// What would be signed for one object, from [`SignTarget::plan`]; nothing is signed.
#[derive(Clone, Debug)]
pub struct SigningPlan {
    /// The URL before its signature.
    pub url: String,
    pub expires_at: u64,
    /// The address the signature would be bound to.
    pub client_ip: Option<IpAddr>,
    /// The key that would sign.
    pub key_id: String,
    /// CloudFront: the policy that would be signed.
    pub policy: Option<signgate_cloudfront::Policy>,
}

/// A key inside a `sign_per = "folder"` rule's folder: where its folder's path ends in its URL
/// path.
struct SharedFolder<'a> {
    folders: &'a FolderPolicies,
    end: usize,
    path: String,
}

/// What a signature made now grants: its expiry and, when the rule binds it, the client address.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    /// When it is signed (S3 writes it as `X-Amz-Date`): the request's time, or with stable
    /// URLs the start of the step the expiry stands for.
    pub signed_at: u64,
    pub expires: u64,
    pub client_ip: Option<IpAddr>,
    /// A custom CloudFront policy even without conditions that need one.
    pub force_custom: bool,
}

impl SignTarget {
    /// The target `settings` describe; its URL cache counts into the service's `url_cache_*`.
    pub fn from_config(settings: &TargetSettings, metrics: &Metrics) -> Self {
        SignTarget {
            distribution: settings.distribution.clone(),
            lifetime_seconds: settings.lifetime_seconds,
            policy: settings.policy,
            bind_client_ip: settings.bind_client_ip,
            folder: settings.folder,
            capabilities: settings.capabilities,
            url_cache: settings
                .url_cache
                .map(|c| UrlCache::new(c.step_seconds, c.max_entries, metrics.url_cache.clone())),
            folder_policies: settings.folder_policies.map(|f| {
                FolderPolicies::new(
                    f.depth,
                    f.max_bytes,
                    settings.lifetime_seconds,
                    settings.url_cache.map_or(0, |c| c.step_seconds),
                    metrics.folder_policy_cache.clone(),
                )
            }),
            signing_seconds: metrics.signing_seconds.clone(),
        }
    }

    /// `sign()`'s result, its time counted in `signgate_signing_seconds`.
    fn timed<T>(&self, sign: impl FnOnce() -> T) -> T {
        let started = std::time::Instant::now();
        let signed = sign();
        self.signing_seconds
            .observe(started.elapsed().as_secs_f64());
        signed
    }

    /// The provider's name, for audit lines.
    pub fn provider(&self) -> &'static str {
        self.distribution.signer.provider()
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
        self.check_download(download)?;
        let window = self.window(client_ip, now);
        if let Some(shared) = self.shared_folder(key, download) {
            return self.sign_in_folder(shared, &window);
        }
        // The download name as the URL carries it: part of the cache key and of the URL.
        let download_value = download.map(DownloadName::query_value);
        let download_value = download_value.as_deref();
        if let Some(cache) = &self.url_cache {
            let active = dist.signer.active_key();
            if let Some(hit) = cache.get(key, download_value, window.expires, active) {
                return Ok(hit);
            }
        }
        let url = self.object_url(key, download_value);
        let signed = self.timed(|| match &dist.signer {
            Signer::CloudFront(s) => s.sign_url(&url, &window),
            Signer::Cdn(s) => s.sign_url(&url, &window, &self.capabilities),
        })?;
        if let Some(cache) = &self.url_cache {
            cache.insert(key, download_value, &signed);
        }
        Ok(signed)
    }

    /// The folder whose one policy signs `key`, with the signer: for a `sign_per = "folder"` rule,
    /// a key strictly inside its folder and no download name (a wildcard resource covers every
    /// query string, so a name would go unsigned: such a request is signed on its own, its name
    /// in its canned policy).
    fn shared_folder<'a>(
        &'a self,
        key: &ObjectKey,
        download: Option<&DownloadName>,
    ) -> Option<SharedFolder<'a>> {
        let folders = self.folder_policies.as_ref()?;
        if download.is_some() {
            return None;
        }
        let (end, path) = folders.folder_of(key)?;
        Some(SharedFolder { folders, end, path })
    }

    /// `key`'s URL under its folder's policy: signed once per folder and step, then reused.
    fn sign_in_folder(
        &self,
        shared: SharedFolder<'_>,
        window: &Window,
    ) -> Result<SignedObject, SignError> {
        let base = &self.distribution.base_url;
        let url = format!("{base}/{}", shared.path);
        let folder = &shared.path[..shared.end];
        let active = self.distribution.signer.active_key();
        if let Some(hit) = shared.folders.get(folder, window.expires, active) {
            return hit.sign_url(&url);
        }
        let prefix = format!("{base}/{folder}");
        let (signed, key_id) = self.timed(|| match &self.distribution.signer {
            Signer::CloudFront(signer) => {
                let (signed, key_id) = signer.sign_folder_policy(&prefix, window)?;
                Ok::<_, SignError>((FolderSignature::CloudFront(signed), key_id))
            }
            Signer::Cdn(signer) => {
                let query = signer.sign_shared_query(&prefix, &url, window, &self.capabilities)?;
                Ok((
                    FolderSignature::Query(query),
                    signer.active_key().to_owned(),
                ))
            }
        })?;
        let entry = std::sync::Arc::new(CachedPolicy {
            signed,
            expires_at: window.expires,
            key_id,
        });
        let answer = entry.sign_url(&url)?;
        shared.folders.insert(folder.to_owned(), entry);
        Ok(answer)
    }

    /// What [`SignTarget::sign`] would sign for the same request, without signing (and without
    /// the stable-URL cache): the URL, the expiry, the key and, for CloudFront, the policy built
    /// exactly as signing builds it. The same refusals as signing. For `signgate explain`.
    pub fn plan(
        &self,
        key: &ObjectKey,
        download: Option<&DownloadName>,
        client_ip: IpAddr,
        now: u64,
    ) -> Result<SigningPlan, SignError> {
        self.check_download(download)?;
        let window = self.window(client_ip, now);
        let url = self.object_url(key, download.map(DownloadName::query_value).as_deref());
        let policy = match &self.distribution.signer {
            Signer::CloudFront(s) => match self.shared_folder(key, download) {
                Some(shared) => {
                    let folder = &shared.path[..shared.end];
                    let base = &self.distribution.base_url;
                    Some(s.folder_policy(&format!("{base}/{folder}"), &window)?)
                }
                None => Some(s.policy_for(&url, &window)?),
            },
            Signer::Cdn(s) => {
                s.check_grant(&window, &self.capabilities)?;
                None
            }
        };
        Ok(SigningPlan {
            url,
            expires_at: window.expires,
            client_ip: window.client_ip,
            key_id: self.distribution.signer.active_key().to_owned(),
            policy,
        })
    }

    /// A download name needs a provider whose signature covers it (CloudFront's always does).
    fn check_download(&self, download: Option<&DownloadName>) -> Result<(), SignError> {
        let cdn = matches!(self.distribution.signer, Signer::Cdn(_));
        if download.is_some() && cdn && !self.capabilities.download {
            return Err(SignError::DownloadUnsupported);
        }
        Ok(())
    }

    /// The unsigned URL of `key` on the distribution, with the download name's query value
    /// (`DownloadName::query_value`) if any.
    fn object_url(&self, key: &ObjectKey, download: Option<&str>) -> String {
        let base = &self.distribution.base_url;
        let mut url = String::with_capacity(base.len() + key.as_str().len() + 64);
        url.push_str(base);
        url.push('/');
        url.push_str(&key.to_url_path());
        if let Some(value) = download {
            url.push_str("?response-content-disposition=");
            url.push_str(value);
        }
        url
    }

    /// A credential covering everything under `folder`, in the rule's folder form; `entry` is
    /// the URL (inside the folder) to send the browser to, which the path and query forms carry
    /// the credential in.
    pub fn sign_folder(
        &self,
        folder: &ObjectKey,
        entry: Option<&str>,
        client_ip: IpAddr,
        now: u64,
    ) -> Result<FolderCredential, SignError> {
        let dist = &self.distribution;
        let folder_path = folder.to_url_path();
        let prefix = format!("{}/{folder_path}/", dist.base_url);
        let mut window = self.window(client_ip, now);
        window.force_custom = true;
        let mut credential = self.timed(|| match &dist.signer {
            Signer::CloudFront(s) => s.sign_cookies(&prefix, &window),
            Signer::Cdn(s) => {
                s.sign_folder(&prefix, self.folder, entry, &window, &self.capabilities)
            }
        })?;
        credential.path = format!("{}/{folder_path}/", dist.cookies.base_path);
        credential.max_age = self.lifetime_seconds;
        Ok(credential)
    }

    /// The expiry (rounded up to the stable-URL step, if any), the signing time and the bound
    /// address.
    ///
    /// With stable URLs every part of the URL must be a function of the step, not of the
    /// request's second, or two replicas (or one replica after its cache dropped the entry)
    /// would hand out different URLs for the same object: the expiry is rounded up, and the
    /// signing time (S3's `X-Amz-Date`, GCS's `X-Goog-Date`) is the first second whose
    /// rounded-up expiry is this one. Every request that gets expiry `E` arrives in
    /// `(E - lifetime - step, E - lifetime]`, so that time is never after the request (a store
    /// refuses a link signed in the future) and the link is signed for `lifetime + step - 1`
    /// seconds at most, the span the configuration checked the store can carry.
    fn window(&self, client_ip: IpAddr, now: u64) -> Window {
        let mut expires = now.saturating_add(self.lifetime_seconds);
        let mut signed_at = now;
        if let Some(cache) = &self.url_cache {
            let step = cache.step_seconds;
            expires = expires.div_ceil(step).saturating_mul(step);
            signed_at = step_start(expires, self.lifetime_seconds, step).min(now);
        }
        Window {
            signed_at,
            expires,
            client_ip: self.bind_client_ip.then_some(client_ip.to_canonical()),
            force_custom: self.policy == PolicyChoice::Custom,
        }
    }
}

/// The first second whose expiry, `now + lifetime` rounded up to a multiple of `step`, is
/// `expires`: the signing time every request in that step shares.
fn step_start(expires: u64, lifetime: u64, step: u64) -> u64 {
    expires.saturating_sub(lifetime).saturating_sub(step) + 1
}

#[cfg(test)]
mod tests {
    use super::step_start;

    fn rounded(now: u64, lifetime: u64, step: u64) -> u64 {
        (now + lifetime).div_ceil(step) * step
    }

    #[test]
    fn every_second_of_a_step_shares_one_signing_time_never_after_it() {
        for (lifetime, step) in [(300, 60), (290, 60), (3600, 7), (1, 1), (60, 300)] {
            for now in 1_000_000..1_000_000 + 3 * step {
                let expires = rounded(now, lifetime, step);
                let start = step_start(expires, lifetime, step);
                assert!(
                    start <= now,
                    "signed after the request ({lifetime}, {step}, {now})"
                );
                assert_eq!(rounded(start, lifetime, step), expires, "its own step");
                assert!(
                    start == 0 || rounded(start - 1, lifetime, step) < expires,
                    "the first second of the step"
                );
                // At most lifetime + step - 1 seconds.
                assert!(expires - start < lifetime + step, "within the probed span");
                assert!(expires >= now + lifetime, "lives the whole lifetime");
            }
        }
    }
}
