//! Google Cloud Storage V4 signed URLs, for one object, with a service account's RSA key or an
//! HMAC key.
//!
//! Specification (Cloud Storage "V4 signing process", conformance cases in
//! googleapis/conformance-tests `storage/v1/v4_signatures.json`):
//!
//! ```text
//! canonical request = METHOD \n path \n query \n headers \n \n signed headers \n payload
//!   path     the resource path (`/bucket/object` path style, `/object` virtual-hosted or on a
//!            bucket-bound host), each byte outside A-Z a-z 0-9 - . _ ~ / as %XX (uppercase)
//!   query    every parameter with X-Goog-Algorithm, X-Goog-Credential, X-Goog-Date,
//!            X-Goog-Expires and X-Goog-SignedHeaders, names and values encoded the same way
//!            (`/` too), sorted by name, then value
//!   headers  `name:value` lines, names lowercased, values trimmed with runs of blanks as one
//!            space, sorted, always with `host` (the host without a port, as the client
//!            libraries sign it)
//!   payload  UNSIGNED-PAYLOAD, or the x-goog-content-sha256 header's value
//! string to sign = ALGORITHM \n X-Goog-Date \n YYYYMMDD/auto/storage/goog4_request \n
//!                  hex(SHA-256(canonical request))
//! X-Goog-Signature = hex(RSA-PKCS1-v1_5-SHA256(private key, string to sign))  GOOG4-RSA-SHA256
//!                  | hex(HMAC-SHA256(k, string to sign)) with k the HMAC chain from
//!                    "GOOG4" + secret over the date, "auto", "storage", "goog4_request"
//!                                                                          GOOG4-HMAC-SHA256
//! ```
//!
//! The signed URL is the origin, the canonical path, `?`, the canonical query and
//! `&X-Goog-Signature=…`, byte for byte what Google's libraries emit.
//!
//! The signature carries its own signing time (`X-Goog-Date`) and a lifetime counted from it
//! (`X-Goog-Expires`, 1 to 604800 seconds), so a grant must say when it is signed
//! ([`Grant::signed_at`]); nothing here reads the clock. A URL whose path or query is not
//! written exactly as GCS canonicalizes it is refused rather than re-encoded: the bytes signed
//! are the bytes served. No IP binding, no start time, no folder credential.
//!
//! (Longer than 300 lines on purpose: one scheme, its two kinds of key, the signer and its
//! verifier, read in one place against the specification.)

use std::fmt::Write as _;

use crate::crypto::{ct_eq, hmac, sha256, Digest, RsaKeyError, RsaPrivate};
use crate::encoding::{decode_hex_lower, hex_lower, percent_decode};
use crate::time::{parse_basic, Civil};
use crate::url::{Url, UrlError};
use crate::{Credential, Delivery, EdgeRequest, Grant, Provider, Refusal, Scheme, Verified};

/// The longest `X-Goog-Expires`: seven days.
pub const MAX_EXPIRES_SECONDS: u64 = 604_800;

/// `X-Goog-Algorithm` of a service account's RSA key.
pub const ALGORITHM_RSA: &str = "GOOG4-RSA-SHA256";

/// `X-Goog-Algorithm` of an HMAC key.
pub const ALGORITHM_HMAC: &str = "GOOG4-HMAC-SHA256";

/// The query parameters of a V4 signature; a URL that carries one cannot be signed.
pub const SIGNING_PARAMS: [&str; 6] = [
    "X-Goog-Algorithm",
    "X-Goog-Credential",
    "X-Goog-Date",
    "X-Goog-Expires",
    "X-Goog-SignedHeaders",
    "X-Goog-Signature",
];

const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Input refused by the GCS signer, or key material refused at load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("key {0}: the key file is not JSON (give the service account's JSON key file as Google issues it)")]
    KeyNotJson(String),
    #[error("key {name}: the JSON key file is of type {found:?}, not \"service_account\"")]
    NotServiceAccount { name: String, found: String },
    #[error("key {name}: the JSON key file has no {field} (a service account's key file has client_email and private_key)")]
    MissingField { name: String, field: &'static str },
    #[error("key {0}: private_key is not an unencrypted PEM private key")]
    KeyNotPem(String),
    #[error("key {0}: private_key is not an RSA key (GCS V4 signs with RSA-SHA256)")]
    KeyNotRsa(String),
    #[error("key {name}: client_email {email:?} is not a service account's e-mail address")]
    BadClientEmail { name: String, email: String },
    #[error("HMAC access ID {0:?}: expected the key's access ID as Cloud Storage shows it (letters and digits, e.g. GOOG1E...)")]
    BadAccessId(String),
    #[error("key {0}: an HMAC secret is the 40 base64 characters Cloud Storage shows when the key is created")]
    BadHmacSecret(String),
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error("the URL's {part} is not written as GCS canonicalizes it (expected {expected}): percent-encode exactly the bytes outside A-Z a-z 0-9 - . _ ~ (and / outside the path), with uppercase hex")]
    NotCanonical {
        part: &'static str,
        expected: String,
    },
    #[error("a GCS V4 signature carries its signing time, and the grant has none")]
    SigningTimeMissing,
    #[error("GCS V4 signed URLs have no start time (X-Goog-Date is when they were signed)")]
    StartTimeUnsupported,
    #[error("GCS signed URLs cannot be bound to a client IP address")]
    IpBindingUnsupported,
    #[error("the expiry {expires} is not after the signing time {signed_at}")]
    ExpiryNotAfterSigning { expires: u64, signed_at: u64 },
    #[error("X-Goog-Expires is at most 604800 seconds (7 days); {0} asked")]
    LifetimeTooLong(u64),
    #[error("the signing time {0} is beyond the year 9999")]
    TimeOutOfRange(u64),
    #[error("header name {0:?} cannot be signed (empty, or with ':' or blanks)")]
    BadHeaderName(String),
    #[error("header {0} is given twice")]
    DuplicateHeader(String),
    #[error(
        "GCS signs one object per URL: it has no folder credential (no cookie, path or query form)"
    )]
    NoFolderCredential,
    #[error("the crypto library failed to sign")]
    Crypto,
}

/// Why GCS answers 403 (or 400) to a signed URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Denial {
    #[error("no X-Goog-Signature in the query")]
    MissingSignature,
    #[error("the X-Goog-* parameters are malformed, repeated or missing")]
    Malformed,
    #[error("X-Goog-Algorithm is not this key's algorithm")]
    WrongAlgorithm,
    #[error("X-Goog-Credential names another key, date or scope")]
    UnknownCredential,
    #[error("the signature covers headers besides host, which cannot be checked here")]
    UncheckedHeaders,
    #[error("the signature does not match")]
    InvalidSignature,
    #[error("the signed URL is not valid yet (X-Goog-Date is in the future)")]
    NotYetValid,
    #[error("the signed URL has expired")]
    Expired,
}

impl Denial {
    /// A stable, machine-readable name.
    pub fn code(self) -> &'static str {
        match self {
            Denial::MissingSignature => "missing_signature",
            Denial::Malformed => "malformed",
            Denial::WrongAlgorithm => "wrong_algorithm",
            Denial::UnknownCredential => "unknown_credential",
            Denial::UncheckedHeaders => "unchecked_headers",
            Denial::InvalidSignature => "invalid_signature",
            Denial::NotYetValid => "not_yet_valid",
            Denial::Expired => "expired",
        }
    }
}

#[derive(Clone)]
enum Secret {
    ServiceAccount(RsaPrivate),
    Hmac(Vec<u8>),
}

/// The credential that signs: a service account (its e-mail and RSA key) or an HMAC key (its
/// access ID and secret), under the name the configuration gives it.
#[derive(Clone)]
pub struct SigningKey {
    name: String,
    /// The service account's e-mail or the HMAC access ID: the first part of X-Goog-Credential.
    id: String,
    secret: Secret,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({}, {}, <redacted>)", self.name, self.id)
    }
}

impl SigningKey {
    /// A service account's JSON key file as Google issues it (`type`, `client_email`,
    /// `private_key`, ...).
    pub fn service_account_json(name: &str, json: &str) -> Result<Self, Error> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|_| Error::KeyNotJson(name.to_owned()))?;
        let object = value
            .as_object()
            .ok_or_else(|| Error::KeyNotJson(name.to_owned()))?;
        if let Some(kind) = object.get("type") {
            let kind = kind.as_str().unwrap_or_default();
            if kind != "service_account" {
                return Err(Error::NotServiceAccount {
                    name: name.to_owned(),
                    found: kind.to_owned(),
                });
            }
        }
        let field = |field: &'static str| {
            object
                .get(field)
                .and_then(|v| v.as_str())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| Error::MissingField {
                    name: name.to_owned(),
                    field,
                })
        };
        let email = field("client_email")?;
        let pem = field("private_key")?;
        Self::service_account(name, email, pem.as_bytes())
    }

    /// A service account's e-mail and its RSA private key (PEM).
    pub fn service_account(name: &str, email: &str, pem: &[u8]) -> Result<Self, Error> {
        let valid_email = email.contains('@')
            && email
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'/' && b != b'"');
        if !valid_email {
            return Err(Error::BadClientEmail {
                name: name.to_owned(),
                email: email.to_owned(),
            });
        }
        let key = RsaPrivate::from_pem(pem).map_err(|e| match e {
            RsaKeyError::NotPem => Error::KeyNotPem(name.to_owned()),
            RsaKeyError::NotRsa => Error::KeyNotRsa(name.to_owned()),
        })?;
        Ok(SigningKey {
            name: name.to_owned(),
            id: email.to_owned(),
            secret: Secret::ServiceAccount(key),
        })
    }

    /// An HMAC key: its access ID and its secret (40 base64 characters, used as text).
    pub fn hmac(name: &str, access_id: &str, secret: &str) -> Result<Self, Error> {
        if access_id.is_empty()
            || access_id.len() > 128
            || !access_id.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(Error::BadAccessId(access_id.to_owned()));
        }
        let base64 = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
        if secret.len() != 40 || !secret.bytes().all(base64) {
            return Err(Error::BadHmacSecret(name.to_owned()));
        }
        Ok(SigningKey {
            name: name.to_owned(),
            id: access_id.to_owned(),
            secret: Secret::Hmac(secret.as_bytes().to_vec()),
        })
    }

    /// The name the configuration gives this key.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The service account's e-mail, or the HMAC access ID.
    pub fn client_id(&self) -> &str {
        &self.id
    }

    /// `X-Goog-Algorithm` for this key.
    pub fn algorithm(&self) -> &'static str {
        match self.secret {
            Secret::ServiceAccount(_) => ALGORITHM_RSA,
            Secret::Hmac(_) => ALGORITHM_HMAC,
        }
    }

    /// The HMAC signing key for `date` (`YYYYMMDD`).
    fn hmac_chain(secret: &[u8], date: &str) -> Option<Vec<u8>> {
        let mut key = [b"GOOG4".as_slice(), secret].concat();
        for part in [date, "auto", "storage", "goog4_request"] {
            key = hmac(Digest::Sha256, &key, part.as_bytes()).ok()?;
        }
        Some(key)
    }

    fn sign(&self, date: &str, string_to_sign: &str) -> Option<Vec<u8>> {
        match &self.secret {
            Secret::ServiceAccount(key) => key.sign_sha256(string_to_sign.as_bytes()).ok(),
            Secret::Hmac(secret) => {
                let key = Self::hmac_chain(secret, date)?;
                hmac(Digest::Sha256, &key, string_to_sign.as_bytes()).ok()
            }
        }
    }

    fn verify(&self, date: &str, string_to_sign: &str, signature: &[u8]) -> bool {
        match &self.secret {
            Secret::ServiceAccount(key) => key.verify_sha256(string_to_sign.as_bytes(), signature),
            Secret::Hmac(_) => self
                .sign(date, string_to_sign)
                .is_some_and(|expected| ct_eq(&expected, signature)),
        }
    }
}

/// The method a signed URL is for: downloads only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
        }
    }
}

/// One request to sign, in the terms of the V4 process.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub method: Method,
    /// `scheme://host[:port]`, as the URL will carry it.
    pub origin: &'a str,
    /// The resource path, not encoded: `/bucket/object` (path style) or `/object`.
    pub path: &'a str,
    /// Query parameters besides the signature's, not encoded.
    pub query: &'a [(&'a str, &'a str)],
    /// Headers the client will send and the signature covers (besides `host`).
    pub headers: &'a [(&'a str, &'a str)],
}

/// A signed request and the texts that were signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedRequest {
    pub canonical_request: String,
    pub string_to_sign: String,
    pub url: String,
}

/// The GCS V4 signer and verifier.
#[derive(Clone, Debug)]
pub struct Gcs {
    key: SigningKey,
}

/// Percent-encodes `text` as the canonical request does: every byte outside A-Z a-z 0-9 - . _ ~
/// (and `/` when `keep_slash`) as `%XX`, uppercase.
fn encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    crate::encoding::push_unreserved_encoded(&mut out, text.as_bytes(), keep_slash);
    out
}

/// `text` decoded, if it is written exactly as [`encode`] writes its decoded form.
fn decode_canonical(text: &str, keep_slash: bool, part: &'static str) -> Result<String, Error> {
    let decoded = percent_decode(text).ok_or_else(|| Error::NotCanonical {
        part,
        expected: "valid %XX escapes of UTF-8".to_owned(),
    })?;
    let expected = encode(&decoded, keep_slash);
    if expected != text {
        return Err(Error::NotCanonical { part, expected });
    }
    Ok(decoded)
}

/// The host of `origin` (`scheme://host[:port]`), lowercased, without the port.
fn host_of(origin: &str) -> String {
    let authority = origin.split_once("://").map_or(origin, |(_, a)| a);
    let host = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => &authority[..i],
        _ => authority,
    };
    host.to_ascii_lowercase()
}

/// A header value as signed: trimmed, each run of spaces and tabs as one space.
fn header_value(value: &str) -> String {
    value
        .split([' ', '\t'])
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The canonical request for `params` (decoded, the signature's own included) and the
/// canonical query string; `headers` are lowercased, sorted and include `host`.
fn canonical_request(
    method: &str,
    path: &str,
    params: &[(String, String)],
    headers: &[(String, String)],
) -> (String, String) {
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .map(|(n, v)| (encode(n, false), encode(v, false)))
        .collect();
    pairs.sort();
    let query = pairs
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut path = encode(path, true);
    if path.is_empty() {
        path.push('/');
    }
    let mut request = format!("{method}\n{path}\n{query}\n");
    for (name, value) in headers {
        let _ = writeln!(request, "{name}:{value}");
    }
    let signed: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    let payload = headers
        .iter()
        .find(|(n, _)| n == "x-goog-content-sha256")
        .map_or(UNSIGNED_PAYLOAD, |(_, v)| v.as_str());
    let _ = write!(request, "\n{}\n{payload}", signed.join(";"));
    (request, query)
}

fn scope(date: &str) -> String {
    format!("{date}/auto/storage/goog4_request")
}

fn string_to_sign(algorithm: &str, timestamp: &str, date: &str, canonical: &str) -> String {
    let digest = sha256(canonical.as_bytes());
    format!(
        "{algorithm}\n{timestamp}\n{}\n{}",
        scope(date),
        hex_lower(&digest)
    )
}

impl Gcs {
    pub fn new(key: SigningKey) -> Self {
        Gcs { key }
    }

    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// Signs `request` at `signed_at` for `expires_in` seconds (1 to 604800).
    pub fn sign_request(
        &self,
        request: &Request<'_>,
        signed_at: u64,
        expires_in: u64,
    ) -> Result<SignedRequest, Error> {
        if expires_in == 0 {
            return Err(Error::ExpiryNotAfterSigning {
                expires: signed_at,
                signed_at,
            });
        }
        if expires_in > MAX_EXPIRES_SECONDS {
            return Err(Error::LifetimeTooLong(expires_in));
        }
        let civil = Civil::from_unix(signed_at).ok_or(Error::TimeOutOfRange(signed_at))?;
        let (date, timestamp) = (civil.basic_date(), civil.basic());
        let mut headers = vec![("host".to_owned(), host_of(request.origin))];
        for (name, value) in request.headers {
            let lower = name.to_ascii_lowercase();
            if lower.is_empty() || !lower.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
                return Err(Error::BadHeaderName((*name).to_owned()));
            }
            if headers.iter().any(|(n, _)| *n == lower) {
                return Err(Error::DuplicateHeader(lower));
            }
            headers.push((lower, header_value(value)));
        }
        headers.sort();
        let signed_headers = headers
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(";");
        let algorithm = self.key.algorithm();
        let mut params: Vec<(String, String)> = request
            .query
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        params.extend([
            ("X-Goog-Algorithm".to_owned(), algorithm.to_owned()),
            (
                "X-Goog-Credential".to_owned(),
                format!("{}/{}", self.key.id, scope(&date)),
            ),
            ("X-Goog-Date".to_owned(), timestamp.clone()),
            ("X-Goog-Expires".to_owned(), expires_in.to_string()),
            ("X-Goog-SignedHeaders".to_owned(), signed_headers),
        ]);
        let (canonical, query) =
            canonical_request(request.method.as_str(), request.path, &params, &headers);
        let string_to_sign = string_to_sign(algorithm, &timestamp, &date, &canonical);
        let signature = self.key.sign(&date, &string_to_sign).ok_or(Error::Crypto)?;
        let mut path = encode(request.path, true);
        if path.is_empty() {
            path.push('/');
        }
        let url = format!(
            "{}{path}?{query}&X-Goog-Signature={}",
            request.origin,
            hex_lower(&signature)
        );
        Ok(SignedRequest {
            canonical_request: canonical,
            string_to_sign,
            url,
        })
    }
}

/// The signing time and the lifetime a grant asks for, checked.
fn check_grant(grant: &Grant) -> Result<(u64, u64), Error> {
    if grant.starts.is_some() {
        return Err(Error::StartTimeUnsupported);
    }
    if grant.client_ip.is_some() {
        return Err(Error::IpBindingUnsupported);
    }
    let signed_at = grant.signed_at.ok_or(Error::SigningTimeMissing)?;
    if grant.expires <= signed_at {
        return Err(Error::ExpiryNotAfterSigning {
            expires: grant.expires,
            signed_at,
        });
    }
    Ok((signed_at, grant.expires - signed_at))
}

/// Strictly parses `X-Goog-Expires`.
fn parse_expires(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: u64 = text.parse().ok()?;
    (1..=MAX_EXPIRES_SECONDS).contains(&value).then_some(value)
}

impl Provider for Gcs {
    fn scheme(&self) -> Scheme {
        Scheme::Gcs
    }

    fn sign_url(&self, url: &str, grant: &Grant) -> Result<String, crate::Error> {
        let (signed_at, expires_in) = check_grant(grant)?;
        let parsed = Url::parse(url).map_err(Error::from)?;
        parsed.refuse_params(&SIGNING_PARAMS).map_err(Error::from)?;
        let path = decode_canonical(parsed.path, true, "path")?;
        if let Some(bare) = parsed
            .query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .find(|p| !p.contains('='))
        {
            return Err(Error::NotCanonical {
                part: "query",
                expected: format!("{bare}="),
            }
            .into());
        }
        let mut query = Vec::new();
        for (name, value) in parsed.pairs() {
            query.push((
                decode_canonical(name, false, "query")?,
                decode_canonical(value, false, "query")?,
            ));
        }
        let query: Vec<(&str, &str)> = query
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let request = Request {
            method: Method::Get,
            origin: parsed.origin,
            path: &path,
            query: &query,
            headers: &[],
        };
        Ok(self.sign_request(&request, signed_at, expires_in)?.url)
    }

    fn sign_prefix(
        &self,
        _prefix: &str,
        _delivery: Delivery<'_>,
        _grant: &Grant,
    ) -> Result<Credential, crate::Error> {
        Err(Error::NoFolderCredential.into())
    }

    fn verify(&self, request: &EdgeRequest<'_>) -> Result<Verified, Refusal> {
        let url = Url::parse(request.url).map_err(|_| Denial::Malformed)?;
        let mut params: Vec<(String, String)> = Vec::new();
        let mut found: [Option<String>; 6] = Default::default();
        for (name, value) in url.pairs() {
            let name = percent_decode(name).ok_or(Denial::Malformed)?;
            let value = percent_decode(value).ok_or(Denial::Malformed)?;
            if let Some(i) = SIGNING_PARAMS
                .iter()
                .position(|p| p.eq_ignore_ascii_case(&name))
            {
                if SIGNING_PARAMS[i] != name || found[i].is_some() {
                    return Err(Denial::Malformed.into());
                }
                found[i] = Some(value.clone());
                if i == 5 {
                    continue;
                }
            }
            params.push((name, value));
        }
        if found[5].is_none() {
            return Err(Denial::MissingSignature.into());
        }
        let [Some(algorithm), Some(credential), Some(timestamp), Some(expires), Some(signed_headers), Some(signature)] =
            found
        else {
            return Err(Denial::Malformed.into());
        };
        if algorithm != self.key.algorithm() {
            return Err(Denial::WrongAlgorithm.into());
        }
        let signed_at = parse_basic(&timestamp).ok_or(Denial::Malformed)?;
        let expires_in = parse_expires(&expires).ok_or(Denial::Malformed)?;
        let date = &timestamp[..8];
        if credential != format!("{}/{}", self.key.id, scope(date)) {
            return Err(Denial::UnknownCredential.into());
        }
        if signed_headers != "host" {
            return Err(Denial::UncheckedHeaders.into());
        }
        let path = percent_decode(url.path).ok_or(Denial::Malformed)?;
        let headers = [("host".to_owned(), host_of(url.origin))];
        let (canonical, _) = canonical_request(request.method, &path, &params, &headers);
        let string_to_sign = string_to_sign(&algorithm, &timestamp, date, &canonical);
        let given = decode_hex_lower(&signature).ok_or(Denial::InvalidSignature)?;
        if !self.key.verify(date, &string_to_sign, &given) {
            return Err(Denial::InvalidSignature.into());
        }
        if request.now < signed_at {
            return Err(Denial::NotYetValid.into());
        }
        let expires = signed_at + expires_in;
        if request.now >= expires {
            return Err(Denial::Expired.into());
        }
        Ok(Verified {
            key: self.key.name.clone(),
            expires,
        })
    }

    fn signing_params(&self) -> Vec<&str> {
        SIGNING_PARAMS.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_encoding_keeps_unreserved_bytes_only() {
        assert_eq!(encode("a/b c~é&", true), "a/b%20c~%C3%A9%26");
        assert_eq!(encode("a/b", false), "a%2Fb");
        assert!(decode_canonical("a%20b", false, "query").is_ok());
        assert!(matches!(
            decode_canonical("a%2fb", true, "path"),
            Err(Error::NotCanonical { .. })
        ));
        assert!(decode_canonical("a+b", false, "query").is_err());
        assert!(decode_canonical("a!b", true, "path").is_err());
    }

    #[test]
    fn the_host_is_signed_without_its_port() {
        assert_eq!(host_of("http://LocalHost:8080"), "localhost");
        assert_eq!(
            host_of("https://storage.googleapis.com:443"),
            "storage.googleapis.com"
        );
        assert_eq!(host_of("http://[::1]:9000"), "[::1]");
        assert_eq!(host_of("http://[::1]"), "[::1]");
    }

    #[test]
    fn header_values_are_trimmed_and_collapsed() {
        assert_eq!(header_value("\tabc\t\t\t\tdef\t"), "abc def");
        assert_eq!(
            header_value(" xyz ,  abc, def  , xyz   "),
            "xyz , abc, def , xyz"
        );
    }

    #[test]
    fn hmac_keys_are_checked() {
        let secret = "bGoa+V7g/yqDXvKRqq+JTFn4uQZbPiQJo4pf9RzJ";
        assert!(SigningKey::hmac("k", "GOOG1EXAMPLE", secret).is_ok());
        assert!(matches!(
            SigningKey::hmac("k", "GOOG1/EXAMPLE", secret),
            Err(Error::BadAccessId(_))
        ));
        assert!(matches!(
            SigningKey::hmac("k", "GOOG1EXAMPLE", "short"),
            Err(Error::BadHmacSecret(_))
        ));
    }
}
