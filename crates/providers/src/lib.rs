//! Signed URLs and prefix credentials for CDNs beside CloudFront and presigned URLs for object
//! stores (S3 and its clones), and verification the way each CDN's edge or store performs it.
//!
//! Every scheme is one module with its own key material (parsed and checked when it is built),
//! its own [`Error`] for input it refuses to sign and its own [`Refusal`] reason for a request
//! its edge would answer with 403, worded in that CDN's terms. They all implement one small
//! interface, [`Provider`], which the service calls without knowing the scheme:
//!
//! * [`Provider::sign_url`]: one object, the exact URL to redirect to;
//! * [`Provider::sign_prefix`]: a folder (HLS segments, a download directory), delivered as a
//!   cookie, in the query of an entry URL, or in its path so relative URLs inherit it
//!   ([`Delivery`]); a scheme that cannot deliver a form says so with an error;
//! * [`Provider::verify`]: checks an [`EdgeRequest`] (URL, cookies, client address, time).
//!
//! What a credential grants besides its scope is a [`Grant`]: the expiry, an optional start time
//! and an optional client address, and the moment it is signed for the schemes whose signature
//! carries one. A scheme that cannot carry one of them refuses the grant rather than silently
//! dropping the restriction.
//!
//! Object stores sign the same way ([`gcs`], [`azure_blob`]): one object per URL, no folder
//! credential (their `sign_prefix` refuses every delivery).
//!
//! Time is always passed in; nothing here reads the clock or does I/O. Input that cannot be
//! signed exactly as it will be served (a URL that already carries the scheme's own parameters,
//! a fragment, a prefix with `?`, an expiry beyond what the scheme carries) is refused, never
//! repaired.

use std::net::IpAddr;

pub mod akamai;
pub mod azure_blob;
pub mod bunny;
mod crypto;
mod encoding;
pub mod gcs;
pub mod google_cloud_cdn;
pub mod google_media_cdn;
pub mod nginx_secure_link;
pub mod s3;
pub mod time;
mod url;

pub use crypto::Digest;
pub use url::{UrlError, MAX_URL_LEN};

/// The signing schemes this crate implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    GoogleCloudCdn,
    GoogleMediaCdn,
    Akamai,
    Bunny,
    NginxSecureLink,
    Gcs,
    AzureBlob,
    S3,
}

impl Scheme {
    /// A stable name, for configuration, logs and metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::GoogleCloudCdn => "google-cloud-cdn",
            Scheme::GoogleMediaCdn => "google-media-cdn",
            Scheme::Akamai => "akamai",
            Scheme::Bunny => "bunny",
            Scheme::NginxSecureLink => "nginx-secure-link",
            Scheme::Gcs => "gcs",
            Scheme::AzureBlob => "azure-blob",
            Scheme::S3 => "s3",
        }
    }
}

/// What a credential allows besides its scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    /// Expiry, Unix seconds: refused from this second on.
    pub expires: u64,
    /// First valid moment, Unix seconds, where the scheme has one.
    pub starts: Option<u64>,
    /// Bind the credential to this client address, where the scheme can.
    pub client_ip: Option<IpAddr>,
    /// The moment of signing, Unix seconds. Only schemes whose signature carries its own signing
    /// time and a lifetime counted from it read it (GCS: `X-Goog-Date` and `X-Goog-Expires`),
    /// and they refuse a grant without it rather than guess one; every other scheme ignores it.
    /// `None` by default ([`Grant::until`]), so grants built for the CDNs need not set it.
    pub signed_at: Option<u64>,
}

impl Grant {
    /// A grant valid until `expires`, from anywhere.
    pub fn until(expires: u64) -> Self {
        Grant {
            expires,
            starts: None,
            client_ip: None,
            signed_at: None,
        }
    }

    /// The same grant, signed at `now`.
    pub fn signed(self, now: u64) -> Self {
        Grant {
            signed_at: Some(now),
            ..self
        }
    }
}

/// How a prefix credential reaches the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery<'a> {
    /// A cookie on the CDN host.
    Cookie,
    /// Appended to the query of `url`, which must lie under the prefix.
    Query { url: &'a str },
    /// Placed in the path of `url` (under the prefix), so relative URLs inherit it.
    Path { url: &'a str },
}

/// A prefix credential, ready to hand to the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// A URL to redirect to.
    Url(String),
    /// A cookie to set on the CDN host.
    Cookie { name: String, value: String },
    /// Cookies to set together on the CDN host, name and value, each with the same attributes
    /// (nginx's cookie form reads the hash and the expiry from two cookies).
    Cookies(Vec<(String, String)>),
}

/// A request as the CDN's edge sees it.
#[derive(Clone, Copy, Debug)]
pub struct EdgeRequest<'a> {
    /// The request method as the request line has it (`GET`, `HEAD`). Schemes that sign the
    /// method (S3, Cloud Storage) check the signature for this one, as the store does: a link
    /// signed for GET does not open a HEAD.
    pub method: &'a str,
    /// The full URL as requested, `scheme://host/path?query`.
    pub url: &'a str,
    /// The request's cookies, name and value.
    pub cookies: &'a [(&'a str, &'a str)],
    /// The client address the edge sees.
    pub client_ip: Option<IpAddr>,
    /// Current time, Unix seconds.
    pub now: u64,
}

impl<'a> EdgeRequest<'a> {
    /// A GET of `url` at `now`, without cookies or client address.
    pub fn new(url: &'a str, now: u64) -> Self {
        EdgeRequest {
            method: "GET",
            url,
            cookies: &[],
            client_ip: None,
            now,
        }
    }

    pub(crate) fn cookie(&self, name: &str) -> Option<&'a str> {
        self.cookies
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }
}

/// What a request that passed verification was granted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The name of the key that verified it (the scheme's key name, or `primary`/`transition`).
    pub key: String,
    /// Its expiry, Unix seconds.
    pub expires: u64,
}

/// The one interface the service calls for any scheme.
pub trait Provider: Send + Sync {
    /// Which scheme this is.
    fn scheme(&self) -> Scheme;

    /// Signs one object's exact URL.
    fn sign_url(&self, url: &str, grant: &Grant) -> Result<String, Error>;

    /// Signs a credential for every URL under `prefix` (`scheme://host/path`), delivered as asked.
    fn sign_prefix(
        &self,
        prefix: &str,
        delivery: Delivery<'_>,
        grant: &Grant,
    ) -> Result<Credential, Error>;

    /// The HTTP method the links it signs are for: `GET`, except for a store configured to sign
    /// HEAD links.
    fn method(&self) -> &'static str {
        "GET"
    }

    /// Checks a request the way the scheme's edge does.
    fn verify(&self, request: &EdgeRequest<'_>) -> Result<Verified, Refusal>;

    /// The query parameters the scheme reads as its own (the credential, its expiry, ...).
    fn signing_params(&self) -> Vec<&str>;

    /// What the CDN asks its origin for once a request verified: the path without a token
    /// component (schemes with a path form) and the query without the scheme's parameters.
    fn origin_request(&self, path: &str, query: Option<&str>) -> (String, String) {
        (path.to_owned(), strip_params(query, &self.signing_params()))
    }
}

/// `query` without the parameters named in `names`.
pub fn strip_params(query: Option<&str>, names: &[&str]) -> String {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty() && !names.contains(&p.split('=').next().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join("&")
}

/// `path` without its segments that start with `marker` (a token carried in the path).
pub(crate) fn strip_segments(path: &str, marker: &str) -> String {
    let kept: Vec<&str> = path.split('/').filter(|s| !s.starts_with(marker)).collect();
    kept.join("/")
}

/// Input a scheme refuses to sign, or a key it refuses to load.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("google-cloud-cdn: {0}")]
    GoogleCloudCdn(#[from] google_cloud_cdn::Error),
    #[error("google-media-cdn: {0}")]
    GoogleMediaCdn(#[from] google_media_cdn::Error),
    #[error("akamai: {0}")]
    Akamai(#[from] akamai::Error),
    #[error("bunny: {0}")]
    Bunny(#[from] bunny::Error),
    #[error("nginx-secure-link: {0}")]
    NginxSecureLink(#[from] nginx_secure_link::Error),
    #[error("gcs: {0}")]
    Gcs(#[from] gcs::Error),
    #[error("azure-blob: {0}")]
    AzureBlob(#[from] azure_blob::Error),
    #[error("s3: {0}")]
    S3(#[from] s3::Error),
}

/// Why an edge refuses a request, in the scheme's own terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Refusal {
    #[error("google-cloud-cdn: {0}")]
    GoogleCloudCdn(#[from] google_cloud_cdn::Denial),
    #[error("google-media-cdn: {0}")]
    GoogleMediaCdn(#[from] google_media_cdn::Denial),
    #[error("akamai: {0}")]
    Akamai(#[from] akamai::Denial),
    #[error("bunny: {0}")]
    Bunny(#[from] bunny::Denial),
    #[error("nginx-secure-link: {0}")]
    NginxSecureLink(#[from] nginx_secure_link::Denial),
    #[error("gcs: {0}")]
    Gcs(#[from] gcs::Denial),
    #[error("azure-blob: {0}")]
    AzureBlob(#[from] azure_blob::Denial),
    #[error("s3: {0}")]
    S3(#[from] s3::Denial),
}

impl Refusal {
    /// A stable, machine-readable reason (for logs and metrics labels).
    pub fn code(self) -> &'static str {
        match self {
            Refusal::GoogleCloudCdn(d) => d.code(),
            Refusal::GoogleMediaCdn(d) => d.code(),
            Refusal::Akamai(d) => d.code(),
            Refusal::Bunny(d) => d.code(),
            Refusal::NginxSecureLink(d) => d.code(),
            Refusal::Gcs(d) => d.code(),
            Refusal::AzureBlob(d) => d.code(),
            Refusal::S3(d) => d.code(),
        }
    }
}
