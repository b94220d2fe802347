//! Amazon S3 presigned URLs (Signature Version 4 in the query string), for AWS and the
//! S3-compatible stores that check the same signature: Cloudflare R2, MinIO, Backblaze B2, Wasabi.
//!
//! Specification (AWS S3 API reference, "Authenticating Requests: Using Query Parameters (AWS
//! Signature Version 4)"):
//!
//! * the URL gets `X-Amz-Algorithm=AWS4-HMAC-SHA256`, `X-Amz-Credential=<key id>/<yyyymmdd>/
//!   <region>/s3/aws4_request`, `X-Amz-Date=<yyyymmddThhmmssZ>`, `X-Amz-Expires=<seconds>`,
//!   `X-Amz-SignedHeaders=host` (and `X-Amz-Security-Token` with temporary credentials), then
//!   `X-Amz-Signature`;
//! * canonical request = method, URI, sorted query (everything but the signature), `host:` header,
//!   `host`, `UNSIGNED-PAYLOAD`, joined by newlines ([`canonical`]); string to sign =
//!   `AWS4-HMAC-SHA256`, the date, the scope and the hex SHA-256 of the canonical request;
//! * signature = hex HMAC-SHA256 under `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, yyyymmdd), region),
//!   "s3"), "aws4_request")`.
//!
//! The URL is the bucket's own (virtual-hosted `https://bucket.s3.region.amazonaws.com/key` or
//! path style `https://endpoint/bucket/key`): what is signed is exactly what the store receives.
//! A link is for one object and one method (GET, or HEAD with [`S3::with_method`]): a PUT or
//! DELETE with it fails, as do another key and a changed `response-content-disposition`.
//!
//! Time: `X-Amz-Date` is the grant's signing time ([`Grant::signed_at`], required; nothing here
//! reads the clock), `X-Amz-Expires` the seconds from it to the grant's expiry, at most 604800
//! (7 days). The stores refuse a date more than 15 minutes ahead of their clock (MinIO and s3s
//! do; [`CLOCK_SKEW`]), and so does the verifier; a start time of its own cannot be carried, so a
//! grant with one is refused. A URL signed with temporary credentials stops working when their session ends,
//! whatever `X-Amz-Expires` says.
//!
//! Pitfalls handled: the URL must already be in SigV4's canonical encoding (`%20` for a space,
//! never `+`; `%2B` for `+`; uppercase hex; `~` raw; `(`, `!`, `'`, `*`, `=` escaped), otherwise
//! it is refused rather than respelled, so no store can read it differently from how it was
//! signed; query parameters other than the `response-*` overrides, `versionId` and `partNumber`
//! (a subresource such as `?acl` would read something else under the same signature) and
//! repeated ones are refused; the host must be lowercase (it is signed as the `Host` header) and
//! its default port is not part of it; the credential date is the day of `X-Amz-Date`. No client
//! address, no prefix, no cookie: grants and deliveries asking for them are refused.
//!
//! Hand-written rather than built on `aws-sigv4`: docs/decisions/0006-s3-sigv4.md.
//!
//! (Longer than 300 lines on purpose: the signer and its verifier, read in one place against the
//! specification; the canonical forms, dates, credentials and errors are in their own files.)

mod canonical;
mod credentials;
mod error;

use std::sync::Mutex;

use crate::crypto::{ct_eq, HmacSha256};
use crate::encoding::{hex_lower, push_hex_lower};
use crate::url::{Url, UrlError};
use crate::{Credential, Delivery, EdgeRequest, Grant, Provider, Refusal, Scheme, Verified};
pub use credentials::{AccessKeyId, Credentials, Method, Region, SecretAccessKey, SessionToken};
pub use error::{Denial, Error};

/// The only algorithm of query-string SigV4.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Longest `X-Amz-Expires`, seconds (7 days).
pub const MAX_EXPIRES_IN: u64 = 604_800;

/// How far ahead of the store's clock `X-Amz-Date` may be, seconds.
pub const CLOCK_SKEW: u64 = 900;

/// The query parameters of the signature, in the order they are appended (botocore's).
pub const SIGNING_PARAMS: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Security-Token",
    "X-Amz-Signature",
];

/// The query parameters a presigned download may carry beside them.
pub const OBJECT_PARAMS: [&str; 8] = [
    "partNumber",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "versionId",
];

/// The S3 signer and verifier for one bucket's region and one set of credentials.
pub struct S3 {
    credentials: Credentials,
    region: Region,
    method: Method,
    /// The signing key of the last day signed for: it depends only on the day, the region and
    /// the service, so four of the five HMACs of a signature are done once a day.
    day_key: Mutex<Option<(String, HmacSha256)>>,
    /// `X-Amz-Credential` around its day, encoded once: `<key id>%2F` and
    /// `%2F<region>%2Fs3%2Faws4_request`.
    credential_parts: (String, String),
    /// `X-Amz-Security-Token`, encoded once.
    token_param: Option<String>,
}

impl std::fmt::Debug for S3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3")
            .field("credentials", &self.credentials)
            .field("region", &self.region)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// A URL's parts ready to sign: the canonical request and the parameters to append.
struct Prepared {
    canonical_request: String,
    amz_date: String,
    /// `?` or `&`, then `X-Amz-Algorithm=…&…` without the signature, in [`SIGNING_PARAMS`]
    /// order.
    auth_query: String,
}

impl S3 {
    /// Signs and verifies GET links.
    pub fn new(credentials: Credentials, region: Region) -> Self {
        let mut prefix = canonical::encoded(credentials.access_key_id.as_str().as_bytes(), false);
        prefix.push_str("%2F");
        let suffix = canonical::encoded(
            format!("/{}/s3/aws4_request", region.as_str()).as_bytes(),
            false,
        );
        let token_param = credentials
            .session_token
            .as_ref()
            .map(|t| canonical::encoded(t.as_str().as_bytes(), false));
        S3 {
            credentials,
            region,
            method: Method::Get,
            day_key: Mutex::new(None),
            credential_parts: (prefix, suffix),
            token_param,
        }
    }

    /// Signs and verifies links for `method` instead.
    pub fn with_method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// The URL presigned for `method`.
    pub fn presign(&self, method: Method, url: &str, grant: &Grant) -> Result<String, Error> {
        let prepared = self.prepare(method, url, grant)?;
        let signature = self.signature_bytes(&prepared.canonical_request, &prepared.amz_date);
        let mut out = String::with_capacity(url.len() + prepared.auth_query.len() + 81);
        out.push_str(url);
        out.push_str(&prepared.auth_query);
        out.push_str("&X-Amz-Signature=");
        push_hex_lower(&mut out, &signature);
        Ok(out)
    }

    /// The canonical request a presigned URL signs (to compare with a store's
    /// `SignatureDoesNotMatch` answer, which shows the one it computed).
    pub fn canonical_request(
        &self,
        method: Method,
        url: &str,
        grant: &Grant,
    ) -> Result<String, Error> {
        Ok(self.prepare(method, url, grant)?.canonical_request)
    }

    fn prepare(&self, method: Method, url: &str, grant: &Grant) -> Result<Prepared, Error> {
        let (signed_at, expires_in) = check_grant(grant)?;
        let amz_date = crate::time::Civil::from_unix(signed_at)
            .map(|c| c.basic())
            .ok_or(Error::DateOutOfRange(signed_at))?;
        let parsed = Url::parse(url)?;
        parsed.refuse_params(&SIGNING_PARAMS)?;
        let host = signing_host(&parsed)?;
        let uri = object_path(&parsed)?;
        let mut query = object_query(&parsed)?;
        let (prefix, suffix) = &self.credential_parts;
        let mut credential = String::with_capacity(prefix.len() + 8 + suffix.len());
        credential.push_str(prefix);
        credential.push_str(&amz_date[..8]);
        credential.push_str(suffix);
        let expires = expires_in.to_string();
        // In SIGNING_PARAMS order, which is also the order they are appended in.
        let auth = [
            (SIGNING_PARAMS[0], ALGORITHM),
            (SIGNING_PARAMS[1], credential.as_str()),
            (SIGNING_PARAMS[2], amz_date.as_str()),
            (SIGNING_PARAMS[3], expires.as_str()),
            (SIGNING_PARAMS[4], "host"),
        ];
        let token = self.token_param.as_deref().map(|t| (SIGNING_PARAMS[5], t));
        let mut auth_query = String::with_capacity(192 + token.map_or(0, |(_, t)| t.len()));
        auth_query.push(parsed.separator());
        for (i, (name, value)) in auth.iter().chain(token.iter()).enumerate() {
            if i > 0 {
                auth_query.push('&');
            }
            auth_query.push_str(name);
            auth_query.push('=');
            auth_query.push_str(value);
        }
        query.extend(auth.into_iter().chain(token));
        let canonical_request = canonical::request(method.as_str(), uri, &mut query, host);
        Ok(Prepared {
            canonical_request,
            amz_date,
            auth_query,
        })
    }

    /// `yyyymmdd/region/s3/aws4_request`.
    fn scope(&self, day: &str) -> String {
        format!("{day}/{}/s3/aws4_request", self.region.as_str())
    }

    /// The key of `day` (`yyyymmdd`), from the cache when it is that day's.
    fn signing_key(&self, day: &str) -> HmacSha256 {
        let mut cached = self.day_key.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((d, key)) = cached.as_ref() {
            if d == day {
                return key.clone();
            }
        }
        let secret = format!("AWS4{}", self.credentials.secret.expose());
        let mut key = HmacSha256::new(secret.as_bytes()).mac(day.as_bytes());
        for part in [self.region.as_str(), "s3", "aws4_request"] {
            key = HmacSha256::new(&key).mac(part.as_bytes());
        }
        let key = HmacSha256::new(&key);
        *cached = Some((day.to_owned(), key.clone()));
        key
    }

    /// The hex signature of `canonical_request` made at `amz_date`.
    fn signature(&self, canonical_request: &str, amz_date: &str) -> String {
        hex_lower(&self.signature_bytes(canonical_request, amz_date))
    }

    /// The signature: the HMAC of the string to sign (`AWS4-HMAC-SHA256`, the date, the scope
    /// and the hex SHA-256 of the canonical request, one per line), fed to the MAC in its parts.
    fn signature_bytes(&self, canonical_request: &str, amz_date: &str) -> [u8; 32] {
        let day = &amz_date[..8];
        // OpenSSL's SHA256_* context, not the one-shot `sha256`, which OpenSSL 3 routes through
        // an EVP algorithm fetch on every call.
        let mut hasher = openssl::sha::Sha256::new();
        hasher.update(canonical_request.as_bytes());
        let mut digest = String::with_capacity(64);
        push_hex_lower(&mut digest, &hasher.finish());
        self.signing_key(day).mac_parts(&[
            ALGORITHM.as_bytes(),
            b"\n",
            amz_date.as_bytes(),
            b"\n",
            day.as_bytes(),
            b"/",
            self.region.as_str().as_bytes(),
            b"/s3/aws4_request\n",
            digest.as_bytes(),
        ])
    }
}

/// The signing time and `X-Amz-Expires` of `grant`.
fn check_grant(grant: &Grant) -> Result<(u64, u64), Error> {
    if grant.client_ip.is_some() {
        return Err(Error::IpBindingUnsupported);
    }
    if grant.starts.is_some() {
        return Err(Error::StartTimeUnsupported);
    }
    let signed_at = grant.signed_at.ok_or(Error::SigningTimeRequired)?;
    if grant.expires <= signed_at {
        return Err(Error::ExpiryNotAfterSigning);
    }
    let expires_in = grant.expires - signed_at;
    if expires_in > MAX_EXPIRES_IN {
        return Err(Error::ExpiresTooLong(expires_in));
    }
    Ok((signed_at, expires_in))
}

/// The `host` header of `url`, refused in any case but lowercase.
fn signing_host<'a>(url: &Url<'a>) -> Result<&'a str, Error> {
    let host = canonical::host(url.origin);
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(Error::UppercaseHost);
    }
    Ok(host)
}

/// The path of an object's URL, which must already be canonical.
fn object_path<'a>(url: &Url<'a>) -> Result<&'a str, Error> {
    if url.path.is_empty() || url.path == "/" {
        return Err(Error::NoObject);
    }
    if let Some(why) = canonical::non_canonical(url.path, true) {
        return Err(Error::NotCanonical(format!("path: {why}")));
    }
    // Canonical text is ASCII: only its escapes can spell bytes that are not UTF-8.
    if url.path.contains('%') {
        let decoded = canonical::decode(url.path, false).unwrap_or_default();
        if std::str::from_utf8(&decoded).is_err() {
            return Err(Error::NotCanonical("path: the key is not UTF-8".into()));
        }
    }
    Ok(url.path)
}

/// The query of an object's URL as (name, value) pairs, each already canonical.
/// (With room for the signing parameters, which join them in the canonical query.)
fn object_query<'a>(url: &Url<'a>) -> Result<Vec<(&'a str, &'a str)>, Error> {
    let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(SIGNING_PARAMS.len() + 2);
    for (name, value) in url.pairs() {
        if !OBJECT_PARAMS.contains(&name) {
            return Err(Error::UnsupportedParameter(name.to_owned()));
        }
        if pairs.iter().any(|(n, _)| *n == name) {
            return Err(Error::DuplicateParameter(name.to_owned()));
        }
        if value.is_empty() {
            return Err(Error::ParameterWithoutValue(name.to_owned()));
        }
        if let Some(why) = canonical::non_canonical(value, false) {
            return Err(Error::NotCanonical(format!("{name}: {why}")));
        }
        pairs.push((name, value));
    }
    Ok(pairs)
}

/// Checks the base URL of a bucket (`https://bucket.s3.region.amazonaws.com`, or an endpoint and
/// the bucket in the path) before anything is signed under it.
pub fn check_base_url(url: &str) -> Result<(), Error> {
    let parsed = Url::parse(url)?;
    signing_host(&parsed)?;
    if parsed.query.is_some() {
        return Err(UrlError::QueryInPrefix.into());
    }
    if let Some(why) = canonical::non_canonical(parsed.path, true) {
        return Err(Error::NotCanonical(format!("path: {why}")));
    }
    Ok(())
}

/// A query value percent-decoded as the stores decode it (`+` is a space).
fn query_text(text: &str) -> Result<String, Denial> {
    canonical::decode(text, true)
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(Denial::Malformed)
}

/// `X-Amz-Expires`: decimal seconds, 1 to [`MAX_EXPIRES_IN`].
fn parse_expires(text: &str) -> Result<u64, Denial> {
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Denial::Malformed);
    }
    let seconds: u64 = text.parse().map_err(|_| Denial::Malformed)?;
    if !(1..=MAX_EXPIRES_IN).contains(&seconds) {
        return Err(Denial::ExpiresOutOfRange);
    }
    Ok(seconds)
}

impl Provider for S3 {
    fn scheme(&self) -> Scheme {
        Scheme::S3
    }

    fn method(&self) -> &'static str {
        self.method.as_str()
    }

    fn sign_url(&self, url: &str, grant: &Grant) -> Result<String, crate::Error> {
        Ok(self.presign(self.method, url, grant)?)
    }

    fn sign_prefix(
        &self,
        _prefix: &str,
        _delivery: Delivery<'_>,
        _grant: &Grant,
    ) -> Result<Credential, crate::Error> {
        Err(Error::NoPrefixForm.into())
    }

    /// As the store does: the query decoded and encoded again, the path too, then the signature
    /// recomputed for the request's method and compared.
    fn verify(&self, request: &EdgeRequest<'_>) -> Result<Verified, Refusal> {
        let url = Url::parse(request.url).map_err(|_| Denial::Malformed)?;
        let mut auth: [Option<String>; 7] = Default::default();
        let mut query = Vec::new();
        for (name, value) in url.pairs() {
            let (name, value) = (query_text(name)?, query_text(value)?);
            if let Some(i) = SIGNING_PARAMS.iter().position(|p| *p == name) {
                if auth[i].replace(value.clone()).is_some() {
                    return Err(Denial::Malformed.into());
                }
                if SIGNING_PARAMS[i] == "X-Amz-Signature" {
                    continue;
                }
            }
            query.push((
                canonical::encoded(name.as_bytes(), false),
                canonical::encoded(value.as_bytes(), false),
            ));
        }
        let [algorithm, credential, amz_date, expires, signed_headers, token, signature] = auth;
        let signature = signature.ok_or(Denial::MissingSignature)?;
        let (Some(algorithm), Some(credential), Some(amz_date), Some(expires), Some(headers)) =
            (algorithm, credential, amz_date, expires, signed_headers)
        else {
            return Err(Denial::Malformed.into());
        };
        if algorithm != ALGORITHM {
            return Err(Denial::UnsupportedAlgorithm.into());
        }
        let signed_at = crate::time::parse_basic(&amz_date).ok_or(Denial::Malformed)?;
        let expires_in = parse_expires(&expires)?;
        let (key_id, scope) = credential.split_once('/').ok_or(Denial::Malformed)?;
        if key_id != self.credentials.access_key_id.as_str() {
            return Err(Denial::UnknownAccessKey.into());
        }
        if scope != self.scope(&amz_date[..8]) {
            return Err(Denial::WrongScope.into());
        }
        if headers != "host" {
            return Err(Denial::UnsupportedSignedHeaders.into());
        }
        let ours = self.credentials.session_token.as_ref().map(|t| t.as_str());
        match (token.as_deref(), ours) {
            (None, None) => {}
            (Some(given), Some(ours)) if ct_eq(given.as_bytes(), ours.as_bytes()) => {}
            _ => return Err(Denial::SecurityToken.into()),
        }
        let path = canonical::decode(url.path, false).ok_or(Denial::Malformed)?;
        let uri = match canonical::encoded(&path, true) {
            empty if empty.is_empty() => "/".to_owned(),
            uri => uri,
        };
        let host = canonical::host(url.origin).to_ascii_lowercase();
        let canonical_request = canonical::request(request.method, &uri, &mut query, &host);
        let expected = self.signature(&canonical_request, &amz_date);
        if !ct_eq(signature.as_bytes(), expected.as_bytes()) {
            return Err(Denial::InvalidSignature.into());
        }
        if request.now.saturating_add(CLOCK_SKEW) < signed_at {
            return Err(Denial::NotYetValid.into());
        }
        let expires_at = signed_at + expires_in;
        if request.now >= expires_at {
            return Err(Denial::Expired.into());
        }
        Ok(Verified {
            key: key_id.to_owned(),
            expires: expires_at,
        })
    }

    fn signing_params(&self) -> Vec<&str> {
        SIGNING_PARAMS.to_vec()
    }
}
