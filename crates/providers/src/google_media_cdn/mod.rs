//! Google Media CDN: Ed25519 signed requests and Ed25519/HMAC tokens.
//!
//! A route requires either signatures or tokens (`signedRequestMode` `REQUIRE_SIGNATURES` /
//! `REQUIRE_TOKENS`); [`Mode`] says which one this signer emits and accepts.
//!
//! **Signed requests** (Ed25519 only; "Generate signatures"), the Cloud CDN shapes:
//!
//! * exact URL: `URL?…Expires=E&KeyName=K&Signature=S`, signing everything before `&Signature=`;
//! * prefix: `URLPrefix=<b64url(prefix)>&Expires=E&KeyName=K&Signature=S`, signing the policy;
//! * cookie `Edge-Cache-Cookie=URLPrefix=…:Expires=…:KeyName=…:Signature=…`;
//! * path component `<prefix>edge-cache-token=Expires=E&KeyName=K&Signature=S/<rest>`, signing
//!   `<prefix>edge-cache-token=Expires=E&KeyName=K`; relative URLs inherit the component.
//!
//! **Tokens** ("Generate tokens", [`token`]): `~`-separated fields with `URLPrefix`, `FullPath` or
//! `PathGlobs`, optional `Starts`, `SessionID`, `Data`, `Headers`, `IPRanges` (IPv4 and IPv6
//! CIDRs), then `Signature=<b64url-np(Ed25519)>` or `hmac=<hex(HMAC-SHA1|SHA256)>`. Sent in the
//! `edge-cache-token` query parameter, the `Edge-Cache-Cookie` cookie or an
//! `/edge-cache-token=<token>/` path component. Tokens carry no key name: the edge tries the
//! keyset's keys of the token's kind.
//!
//! Pitfalls handled: Google's samples disagree on `=` padding of signed-request signatures; the
//! token documentation says Media CDN strips it, so signatures are emitted unpadded by default
//! ([`SignaturePadding`]) and accepted either way; the `URLPrefix` of a signed request is padded
//! base64url, that of a token unpadded; the cookie is `Edge-Cache-Cookie`, not Cloud CDN's;
//! `FullPath` is signed as `FullPath=<path>` but sent bare, and `Headers` sends names but signs
//! `name=value` pairs — so a token with `Headers` cannot be checked without the request headers
//! and [`Provider::verify`] refuses it; signed requests carry no IP ranges or start time, so a
//! grant asking for them needs [`Mode::Tokens`].
//!
//! (Longer than 300 lines on purpose: one scheme, the signed-request forms and their verifier (keys and tokens have their own files), read in one place against
//! its specification.)

mod keys;
pub mod token;

use std::net::IpAddr;

pub use keys::{Keyset, SigningKey, MAX_KEYS_PER_KIND};
pub use token::{IpRange, TokenFields, TokenScope};

use crate::encoding::{b64url_padded, b64url_unpadded, decode_b64url_any};
use crate::google_cloud_cdn::{self as cloud_cdn, parse_time, Signed};
use crate::url::{Url, UrlError};
use crate::{Credential, Delivery, EdgeRequest, Grant, Provider, Refusal, Scheme, Verified};

/// Query parameters Media CDN reserves; a URL that carries one cannot be signed.
pub const RESERVED_PARAMS: [&str; 5] =
    ["Expires", "KeyName", "Signature", "URLPrefix", TOKEN_PARAM];

/// The cookie Media CDN reads, for signatures and tokens.
pub const COOKIE_NAME: &str = "Edge-Cache-Cookie";

/// The query parameter (and path component name) that carries a token.
pub const TOKEN_PARAM: &str = "edge-cache-token";

/// Latest expiry: a signed 64-bit Unix time.
pub const MAX_EXPIRES: u64 = i64::MAX as u64;

const COMPONENT: &str = "edge-cache-token=";

/// Input refused by the Media CDN signer, or key material refused at load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("invalid key name {0:?}: use 1 to 63 characters of a-z, 0-9 and '-', starting with a letter and not ending with '-'")]
    BadKeyName(String),
    #[error("key {0}: not base64")]
    KeyNotBase64(String),
    #[error("key {name}: an Ed25519 seed is 32 bytes, got {len}")]
    Ed25519SeedLength { name: String, len: usize },
    #[error("key {0}: not an Ed25519 private key (give the 32-byte seed in base64, or PKCS#8)")]
    BadEd25519Key(String),
    #[error("key {0}: Media CDN shared keys use HMAC-SHA1 or HMAC-SHA256")]
    HmacDigest(String),
    #[error("key {name}: a shared key of {len} bytes is too short (at least 16)")]
    HmacKeyTooShort { name: String, len: usize },
    #[error("the keyset is empty")]
    NoKeys,
    #[error("a keyset holds at most 3 Ed25519 keys and 3 shared keys")]
    TooManyKeys,
    #[error("duplicate key name {0}")]
    DuplicateKeyName(String),
    #[error("the active key {0} is not in the keyset")]
    ActiveKeyMissing(String),
    #[error("signed requests need an Ed25519 active key; shared (HMAC) keys sign tokens only")]
    SignaturesNeedEd25519,
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error("expiry {0} is beyond the largest Expires Media CDN carries")]
    ExpiresTooLarge(u64),
    #[error("the start time {starts} must be before the expiry {expires}")]
    StartsNotBeforeExpires { starts: u64, expires: u64 },
    #[error("signed requests carry no start time or IP ranges: use tokens (Mode::Tokens)")]
    NeedsTokens,
    #[error("invalid {field} value {value:?} for a token")]
    BadTokenField { field: &'static str, value: String },
    #[error("invalid IP range {0:?}: give an IPv4 or IPv6 CIDR such as 203.0.113.0/24")]
    BadIpRange(String),
    #[error("the URL {url} is not under the prefix {prefix}")]
    OutsidePrefix { url: String, prefix: String },
    #[error("a path-component credential needs a prefix whose path ends with '/'")]
    PathPrefixWithoutSlash,
    #[error("the crypto library failed to sign")]
    Crypto,
}

/// Why Media CDN answers 403.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Denial {
    #[error("no signature or token in the query, path or Edge-Cache-Cookie")]
    MissingCredential,
    #[error("the signature or token is malformed")]
    Malformed,
    #[error("the KeyName is not in the keyset")]
    UnknownKeyName,
    #[error("the signature does not match")]
    InvalidSignature,
    #[error("the signature or token has expired")]
    Expired,
    #[error("the token is not valid yet (Starts)")]
    NotYetValid,
    #[error("the request URL is outside the URLPrefix, FullPath or PathGlobs")]
    OutsideScope,
    #[error("the client IP address is not in the token's IPRanges")]
    IpNotAllowed,
    #[error("the token binds request headers, which this check is not given")]
    HeadersNotVerifiable,
    #[error("this route requires the other form (signatures or tokens)")]
    WrongForm,
}

impl Denial {
    pub fn code(self) -> &'static str {
        match self {
            Denial::MissingCredential => "missing_credential",
            Denial::Malformed => "malformed",
            Denial::UnknownKeyName => "unknown_key_name",
            Denial::InvalidSignature => "invalid_signature",
            Denial::Expired => "expired",
            Denial::NotYetValid => "not_yet_valid",
            Denial::OutsideScope => "outside_scope",
            Denial::IpNotAllowed => "ip_not_allowed",
            Denial::HeadersNotVerifiable => "headers_not_verifiable",
            Denial::WrongForm => "wrong_form",
        }
    }
}

/// Which form the route requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Ed25519 signed requests (`Expires`/`KeyName`/`Signature`).
    Signatures,
    /// Tokens (`edge-cache-token`), Ed25519 or HMAC.
    Tokens,
}

/// Whether signed-request signatures keep base64's `=` padding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SignaturePadding {
    /// As Media CDN's documentation says it encodes (the default).
    #[default]
    Unpadded,
    /// As the newer `media_cdn/snippets.py` sample emits.
    Padded,
}

/// The Media CDN signer and verifier for one keyset.
#[derive(Clone, Debug)]
pub struct MediaCdn {
    keys: Keyset,
    mode: Mode,
    padding: SignaturePadding,
}

fn cloud(d: cloud_cdn::Denial) -> Denial {
    match d {
        cloud_cdn::Denial::MissingSignature => Denial::MissingCredential,
        _ => Denial::Malformed,
    }
}

impl MediaCdn {
    pub fn new(keys: Keyset, mode: Mode) -> Result<Self, Error> {
        if mode == Mode::Signatures && !keys.active().is_ed25519() {
            return Err(Error::SignaturesNeedEd25519);
        }
        Ok(MediaCdn {
            keys,
            mode,
            padding: SignaturePadding::default(),
        })
    }

    pub fn with_signature_padding(mut self, padding: SignaturePadding) -> Self {
        self.padding = padding;
        self
    }

    fn signature(&self, data: &str) -> Result<String, Error> {
        let sig = self.keys.active().sign(data.as_bytes())?;
        Ok(match self.padding {
            SignaturePadding::Unpadded => b64url_unpadded(&sig),
            SignaturePadding::Padded => b64url_padded(&sig),
        })
    }

    fn key_name(&self) -> &str {
        self.keys.active().name()
    }

    /// An exact signed request for `url`.
    pub fn signed_url(&self, url: &str, expires: u64) -> Result<String, Error> {
        check_expires(expires)?;
        let parsed = Url::parse(url)?;
        parsed.refuse_params(&RESERVED_PARAMS)?;
        let to_sign = format!(
            "{url}{}Expires={expires}&KeyName={}",
            parsed.separator(),
            self.key_name()
        );
        Ok(format!("{to_sign}&Signature={}", self.signature(&to_sign)?))
    }

    /// `URLPrefix=…&Expires=…&KeyName=…&Signature=…` (sep `&`) or the cookie value (sep `:`).
    pub fn signed_prefix(&self, prefix: &str, expires: u64, sep: char) -> Result<String, Error> {
        check_expires(expires)?;
        Url::parse_prefix(prefix)?;
        let policy = format!(
            "URLPrefix={}{sep}Expires={expires}{sep}KeyName={}",
            b64url_padded(prefix.as_bytes()),
            self.key_name()
        );
        Ok(format!(
            "{policy}{sep}Signature={}",
            self.signature(&policy)?
        ))
    }

    /// `<prefix>edge-cache-token=Expires=…&KeyName=…&Signature=…/<rest>` for `url` under `prefix`.
    pub fn signed_path_component(
        &self,
        prefix: &str,
        url: &str,
        expires: u64,
    ) -> Result<String, Error> {
        check_expires(expires)?;
        let rest = path_rest(prefix, url)?;
        let policy = format!(
            "{prefix}{COMPONENT}Expires={expires}&KeyName={}",
            self.key_name()
        );
        Ok(format!(
            "{policy}&Signature={}/{rest}",
            self.signature(&policy)?
        ))
    }

    /// A token for `fields`, signed with the active key.
    pub fn token(&self, fields: &TokenFields) -> Result<String, Error> {
        let (sent, signed) = token::compose(fields)?;
        let signature = self.keys.active().token_signature(signed.as_bytes())?;
        Ok(format!("{sent}~{signature}"))
    }

    fn grant_fields(&self, scope: TokenScope, grant: &Grant) -> TokenFields {
        TokenFields {
            starts: grant.starts,
            ip_ranges: grant.client_ip.map(IpRange::single).into_iter().collect(),
            ..TokenFields::new(scope, grant.expires)
        }
    }

    fn verify_signature(&self, signed: &Signed<'_>) -> Result<(String, u64), Denial> {
        let expires = parse_time(signed.expires).map_err(cloud)?;
        let key = self
            .keys
            .get(signed.key_name)
            .ok_or(Denial::UnknownKeyName)?;
        let sig = decode_b64url_any(signed.signature).ok_or(Denial::InvalidSignature)?;
        if !key.is_ed25519() || !key.verify(signed.signed.as_bytes(), &sig) {
            return Err(Denial::InvalidSignature);
        }
        Ok((key.name().to_owned(), expires))
    }

    fn verify_signatures(
        &self,
        request: &EdgeRequest<'_>,
        url: &Url<'_>,
    ) -> Result<Verified, Denial> {
        let target = format!("{}{}", url.origin, url.path);
        let (key, expires, prefix) = if let Some(at) = url.path.find(&format!("/{COMPONENT}")) {
            // Path component: the URL up to `&Signature=` inside the component is signed.
            let start = url.origin.len() + at + 1;
            let end = request.url[start..]
                .find('/')
                .map_or(request.url.len(), |i| start + i);
            let component = &request.url[start + COMPONENT.len()..end];
            let (fields, signature) = component
                .rsplit_once("&Signature=")
                .ok_or(Denial::Malformed)?;
            let (expires, key_name) = fields
                .strip_prefix("Expires=")
                .and_then(|f| f.split_once("&KeyName="))
                .ok_or(Denial::Malformed)?;
            let signed = Signed {
                signed: &request.url[..start + COMPONENT.len() + fields.len()],
                prefix: None,
                expires,
                key_name,
                signature,
            };
            let (key, expires) = self.verify_signature(&signed)?;
            (key, expires, None)
        } else {
            let in_query = match url.query {
                Some(q) => cloud_cdn::from_query(request.url, q).map_err(cloud)?,
                None => None,
            };
            let signed = match in_query {
                Some(s) => s,
                None => {
                    let cookie = request
                        .cookie(COOKIE_NAME)
                        .ok_or(Denial::MissingCredential)?;
                    cloud_cdn::from_cookie(cookie).map_err(cloud)?
                }
            };
            let (key, expires) = self.verify_signature(&signed)?;
            let prefix = match signed.prefix {
                Some(p) => Some(crate::encoding::decode_b64url_padded(p).ok_or(Denial::Malformed)?),
                None => None,
            };
            (key, expires, prefix)
        };
        if request.now >= expires {
            return Err(Denial::Expired);
        }
        if prefix.is_some_and(|p| !target.as_bytes().starts_with(&p)) {
            return Err(Denial::OutsideScope);
        }
        Ok(Verified { key, expires })
    }

    fn verify_tokens(&self, request: &EdgeRequest<'_>, url: &Url<'_>) -> Result<Verified, Denial> {
        // The token, and the URL the edge matches it against (without a path component).
        let (token, origin_path) = if let Some(at) = url.path.find(&format!("/{COMPONENT}")) {
            let after = &url.path[at + 1 + COMPONENT.len()..];
            let end = after.find('/').ok_or(Denial::Malformed)?;
            (
                &after[..end],
                format!("{}{}{}", url.origin, &url.path[..at], &after[end..]),
            )
        } else {
            let in_query = url
                .pairs()
                .filter(|(n, _)| *n == TOKEN_PARAM)
                .map(|(_, v)| v);
            let found: Vec<&str> = in_query.collect();
            match found.as_slice() {
                [one] => (*one, format!("{}{}", url.origin, url.path)),
                [] => (
                    request
                        .cookie(COOKIE_NAME)
                        .ok_or(Denial::MissingCredential)?,
                    format!("{}{}", url.origin, url.path),
                ),
                _ => return Err(Denial::Malformed),
            }
        };
        let path = &origin_path[url.origin.len()..];
        let parsed = token::parse(token, path).map_err(|p| match p {
            token::ParseProblem::Malformed => Denial::Malformed,
            token::ParseProblem::Headers => Denial::HeadersNotVerifiable,
        })?;
        let key = self
            .keys
            .iter()
            .find(|k| {
                let (sig, ed) = match &parsed.signature {
                    token::Signature::Ed25519(s) => (s, true),
                    token::Signature::Hmac(s) => (s, false),
                };
                k.is_ed25519() == ed && k.verify(parsed.signed.as_bytes(), sig)
            })
            .ok_or(Denial::InvalidSignature)?;
        if request.now >= parsed.expires {
            return Err(Denial::Expired);
        }
        if parsed.starts.is_some_and(|s| request.now < s) {
            return Err(Denial::NotYetValid);
        }
        let in_scope = match (&parsed.url_prefix, &parsed.path_globs) {
            (Some(prefix), _) => origin_path.as_bytes().starts_with(prefix),
            (_, Some(globs)) => globs.iter().any(|g| token::glob_matches(g, path)),
            _ => parsed.full_path,
        };
        if !in_scope {
            return Err(Denial::OutsideScope);
        }
        if let Some(ranges) = &parsed.ip_ranges {
            let ip: Option<IpAddr> = request.client_ip;
            if !ip.is_some_and(|ip| ranges.iter().any(|r| r.contains(ip))) {
                return Err(Denial::IpNotAllowed);
            }
        }
        Ok(Verified {
            key: key.name().to_owned(),
            expires: parsed.expires,
        })
    }
}

fn check_expires(expires: u64) -> Result<(), Error> {
    if expires > MAX_EXPIRES {
        return Err(Error::ExpiresTooLarge(expires));
    }
    Ok(())
}

/// What follows `prefix` in `url`, which must lie under it; the prefix path must end with `/`.
fn path_rest<'a>(prefix: &str, url: &'a str) -> Result<&'a str, Error> {
    let parsed_prefix = Url::parse_prefix(prefix)?;
    if !parsed_prefix.path.ends_with('/') {
        return Err(Error::PathPrefixWithoutSlash);
    }
    let parsed = Url::parse(url)?;
    parsed.refuse_params(&RESERVED_PARAMS)?;
    if parsed.path.contains(COMPONENT) {
        return Err(UrlError::ReservedParameter(TOKEN_PARAM.to_owned()).into());
    }
    url.strip_prefix(prefix)
        .ok_or_else(|| Error::OutsidePrefix {
            url: url.to_owned(),
            prefix: prefix.to_owned(),
        })
}

/// `url` under `prefix` (origin and path), for query delivery.
fn check_under<'a>(prefix: &str, url: &'a str) -> Result<Url<'a>, Error> {
    Url::parse_prefix(prefix)?;
    let parsed = Url::parse(url)?;
    parsed.refuse_params(&RESERVED_PARAMS)?;
    if !format!("{}{}", parsed.origin, parsed.path).starts_with(prefix) {
        return Err(Error::OutsidePrefix {
            url: url.to_owned(),
            prefix: prefix.to_owned(),
        });
    }
    Ok(parsed)
}

impl Provider for MediaCdn {
    fn scheme(&self) -> Scheme {
        Scheme::GoogleMediaCdn
    }

    fn sign_url(&self, url: &str, grant: &Grant) -> Result<String, crate::Error> {
        match self.mode {
            Mode::Signatures => {
                if grant.starts.is_some() || grant.client_ip.is_some() {
                    return Err(Error::NeedsTokens.into());
                }
                Ok(self.signed_url(url, grant.expires)?)
            }
            Mode::Tokens => {
                let parsed = Url::parse(url).map_err(Error::from)?;
                parsed
                    .refuse_params(&RESERVED_PARAMS)
                    .map_err(Error::from)?;
                let fields = self.grant_fields(TokenScope::FullPath(parsed.path.to_owned()), grant);
                let token = self.token(&fields)?;
                Ok(format!("{url}{}{TOKEN_PARAM}={token}", parsed.separator()))
            }
        }
    }

    fn sign_prefix(
        &self,
        prefix: &str,
        delivery: Delivery<'_>,
        grant: &Grant,
    ) -> Result<Credential, crate::Error> {
        if self.mode == Mode::Signatures && (grant.starts.is_some() || grant.client_ip.is_some()) {
            return Err(Error::NeedsTokens.into());
        }
        let token =
            || self.token(&self.grant_fields(TokenScope::UrlPrefix(prefix.to_owned()), grant));
        Ok(match (self.mode, delivery) {
            (Mode::Signatures, Delivery::Cookie) => Credential::Cookie {
                name: COOKIE_NAME.to_owned(),
                value: self.signed_prefix(prefix, grant.expires, ':')?,
            },
            (Mode::Signatures, Delivery::Query { url }) => {
                let parsed = check_under(prefix, url)?;
                let query = self.signed_prefix(prefix, grant.expires, '&')?;
                Credential::Url(format!("{url}{}{query}", parsed.separator()))
            }
            (Mode::Signatures, Delivery::Path { url }) => {
                Credential::Url(self.signed_path_component(prefix, url, grant.expires)?)
            }
            (Mode::Tokens, Delivery::Cookie) => {
                Url::parse_prefix(prefix).map_err(Error::from)?;
                Credential::Cookie {
                    name: COOKIE_NAME.to_owned(),
                    value: token()?,
                }
            }
            (Mode::Tokens, Delivery::Query { url }) => {
                let parsed = check_under(prefix, url)?;
                Credential::Url(format!(
                    "{url}{}{TOKEN_PARAM}={}",
                    parsed.separator(),
                    token()?
                ))
            }
            (Mode::Tokens, Delivery::Path { url }) => {
                let rest = path_rest(prefix, url)?;
                Credential::Url(format!("{prefix}{COMPONENT}{}/{rest}", token()?))
            }
        })
    }

    fn verify(&self, request: &EdgeRequest<'_>) -> Result<Verified, Refusal> {
        let url = Url::parse(request.url).map_err(|_| Denial::Malformed)?;
        let result = match self.mode {
            Mode::Signatures => self.verify_signatures(request, &url),
            Mode::Tokens => self.verify_tokens(request, &url),
        };
        Ok(result?)
    }

    fn signing_params(&self) -> Vec<&str> {
        RESERVED_PARAMS.to_vec()
    }

    fn origin_request(&self, path: &str, query: Option<&str>) -> (String, String) {
        (
            crate::strip_segments(path, COMPONENT),
            crate::strip_params(query, &self.signing_params()),
        )
    }
}
