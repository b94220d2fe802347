//! Bunny CDN token authentication, the current HMAC-SHA256 ("HS256") form.
//!
//! Specification (bunny.net "Token Authentication", and every official signer at 2.1.0):
//!
//! ```text
//! params         = the URL's query parameters + token_countries / token_countries_blocked / limit
//!                  (or only token_ignore_params=true) + token_path; sorted by name
//! signing_data   = "&".join(name=value)                     (raw, decoded values)
//! signature_path = token_path if set, else the URL path
//! ip_bytes       = IPv4: 4 raw bytes | IPv6: first 8 bytes + 8 zero bytes (/64) | none
//! token          = "HS256-" + ("1-" if ip) + b64url-np(HMAC-SHA256(key, signature_path || expires || ip_bytes || signing_data))
//! query form     = <path>?token=<token>[&name=pct(value)…]&expires=<unix>
//! directory form = /bcdn_token=<token>[&name=pct(value)…]&expires=<unix><path>
//! ```
//!
//! The directory form puts the token into the first path segment, so the relative URLs of an HLS
//! playlist inherit it; with `token_path` it covers a whole folder. That is what
//! [`Provider::sign_prefix`] emits ([`Delivery::Path`]); a query token with `token_path` is
//! available too ([`Delivery::Query`]), but players drop the query on relative segment URLs.
//!
//! Pitfalls handled: the raw IP bytes sit **before** the signing data (the vendor README says
//! otherwise; the code and vectors do this); IPv6 binds its /64 only, and only when the zone has
//! IPv6 enabled ([`IpBinding`]: the docs say token-auth zones serve IPv4, so by default an IPv6
//! client is refused rather than bound to an address the edge will never see); the vendor
//! libraries silently drop country and speed limits when `token_ignore_params` is set — here
//! that combination is refused; repeated query parameters and a raw `+` (space or plus?) in the
//! query are refused; the token key is the pull zone's, not the Stream library's. Bunny has no
//! start time and no cookie form; countries are signed but not checked by [`Provider::verify`]
//! (the request carries no country).
//!
//! (Longer than 300 lines on purpose: one scheme, the token format, its signer and its verifier, read in one place against
//! its specification.)

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::crypto::{ct_eq, Digest, MacKey, Tag};
use crate::encoding::{
    decode_b64url_unpadded, percent_decode, percent_encode_component, push_b64url_unpadded,
    push_decimal,
};
use crate::url::{Url, UrlError};
use crate::{Credential, Delivery, EdgeRequest, Grant, Provider, Refusal, Scheme, Verified};

/// Characters of an unpadded base64url HMAC-SHA256.
const SIGNATURE_CHARS: usize = 43;

/// Parameters Bunny reserves; a URL that carries one cannot be signed.
pub const RESERVED_PARAMS: [&str; 8] = [
    "token",
    "expires",
    "bcdn_token",
    "token_path",
    "token_countries",
    "token_countries_blocked",
    "token_ignore_params",
    "limit",
];

/// Latest expiry the signers carry (a signed 64-bit Unix time).
pub const MAX_EXPIRES: u64 = i64::MAX as u64;

const DIRECTORY_MARK: &str = "/bcdn_token=";

/// Input refused by the Bunny signer, or a key refused at load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("the token authentication key is empty")]
    EmptyKey,
    #[error("the token authentication key contains whitespace or a control character (a pasted newline?)")]
    KeyWhitespace,
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error("the URL path already contains a /bcdn_token= segment")]
    TokenInPath,
    #[error("query parameter {0:?} appears more than once; Bunny signs one value per name")]
    RepeatedParameter(String),
    #[error("'+' in the query is ambiguous (space or plus): write %20 or %2B")]
    PlusInQuery,
    #[error("invalid country list {0:?}: give ISO codes such as CA,US")]
    BadCountries(String),
    #[error("a speed limit must be greater than 0")]
    BadSpeedLimit,
    #[error("token_ignore_params cannot be combined with countries or a speed limit: Bunny's signers drop them")]
    IgnoreParamsWithRestrictions,
    #[error("token_path {0:?} must start with '/'")]
    BadTokenPath(String),
    #[error("the path {path} is not under token_path {token_path}")]
    OutsideTokenPath { path: String, token_path: String },
    #[error("the URL {url} is not under the prefix {prefix}")]
    OutsidePrefix { url: String, prefix: String },
    #[error("expiry {0} is beyond the largest expires Bunny carries")]
    ExpiresTooLarge(u64),
    #[error("Bunny tokens have no start time")]
    StartTimeUnsupported,
    #[error("client {0} is IPv6, and this zone binds IPv4 only (enable IpBinding::V4AndV6Slash64 if the zone serves IPv6)")]
    Ipv6NotBound(IpAddr),
    #[error("Bunny has no cookie form; deliver the token in the path or the query")]
    CookieDeliveryUnsupported,
}

/// Why Bunny's edge answers 403.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Denial {
    #[error("no token and expires, in the query or a /bcdn_token= path segment")]
    MissingToken,
    #[error("the token or its parameters are malformed")]
    MalformedToken,
    #[error("the token is not an HS256 token")]
    UnsupportedToken,
    #[error("the token is bound to an IP address and the request has none")]
    IpRequired,
    #[error("the token does not match (wrong key, path, expiry, parameters or client IP)")]
    InvalidToken,
    #[error("the token has expired")]
    Expired,
    #[error("the path is outside the token_path")]
    PathNotAllowed,
}

impl Denial {
    pub fn code(self) -> &'static str {
        match self {
            Denial::MissingToken => "missing_token",
            Denial::MalformedToken => "malformed_token",
            Denial::UnsupportedToken => "unsupported_token",
            Denial::IpRequired => "ip_required",
            Denial::InvalidToken => "invalid_token",
            Denial::Expired => "expired",
            Denial::PathNotAllowed => "path_not_allowed",
        }
    }
}

/// A pull zone's token authentication key.
#[derive(Clone)]
pub struct SecurityKey(String);

impl std::fmt::Debug for SecurityKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecurityKey(<redacted>)")
    }
}

impl SecurityKey {
    pub fn new(key: &str) -> Result<Self, Error> {
        if key.is_empty() {
            return Err(Error::EmptyKey);
        }
        if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::KeyWhitespace);
        }
        Ok(SecurityKey(key.to_owned()))
    }
}

/// Which client addresses a token may be bound to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IpBinding {
    /// IPv4 only; an IPv6 client is refused (the documented zone behaviour).
    #[default]
    V4Only,
    /// IPv4, and IPv6 by its /64 (zones with IPv6 enabled).
    V4AndV6Slash64,
}

/// Where the token goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Placement {
    /// `?token=…&expires=…`
    #[default]
    Query,
    /// `/bcdn_token=…&expires=…/path`
    Directory,
}

/// Everything a Bunny token can carry besides path and expiry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenOptions {
    pub placement: Placement,
    /// Sign this path prefix instead of the URL path (`token_path`).
    pub token_path: Option<String>,
    /// `token_countries`: comma-separated ISO codes.
    pub countries_allowed: Option<String>,
    /// `token_countries_blocked`.
    pub countries_blocked: Option<String>,
    /// `limit`, in kB/s.
    pub speed_limit: Option<u64>,
    /// `token_ignore_params=true`: the query is not signed.
    pub ignore_params: bool,
}

/// The Bunny CDN signer and verifier for one pull zone.
#[derive(Clone, Debug)]
pub struct Bunny {
    /// HMAC-SHA256 under the zone's security key, its padded blocks hashed once.
    key: MacKey,
    ip_binding: IpBinding,
}

impl Bunny {
    pub fn new(key: SecurityKey, ip_binding: IpBinding) -> Self {
        Bunny {
            key: MacKey::new(Digest::Sha256, key.0.as_bytes()),
            ip_binding,
        }
    }

    /// Signs `url` with every option the scheme has.
    pub fn sign(
        &self,
        url: &str,
        options: &TokenOptions,
        expires: u64,
        client_ip: Option<IpAddr>,
    ) -> Result<String, Error> {
        if expires > MAX_EXPIRES {
            return Err(Error::ExpiresTooLarge(expires));
        }
        let parsed = Url::parse(url)?;
        parsed.refuse_params(&RESERVED_PARAMS)?;
        if parsed.path.contains(DIRECTORY_MARK) {
            return Err(Error::TokenInPath);
        }
        let ip = match client_ip {
            Some(ip) => Some(self.ip_bytes(ip)?),
            None => None,
        };
        let params = signed_params(&parsed, options)?;
        let signature_path = options.token_path.as_deref().unwrap_or(parsed.path);
        let mac = self.mac(signature_path, expires, ip.as_deref(), &params);
        // With token_ignore_params the URL's own query is not signed, but it is still served.
        let unsigned = parsed.query.filter(|_| options.ignore_params);
        let mut out = String::with_capacity(2 * url.len() + 96);
        out.push_str(parsed.origin);
        match options.placement {
            Placement::Directory => {
                out.push_str(DIRECTORY_MARK);
                push_token(&mut out, &mac, ip.is_some());
                push_tail(&mut out, &params, expires);
                out.push_str(parsed.path);
                if let Some(query) = unsigned {
                    out.push('?');
                    out.push_str(query);
                }
            }
            Placement::Query => {
                out.push_str(parsed.path);
                out.push_str("?token=");
                push_token(&mut out, &mac, ip.is_some());
                if let Some(query) = unsigned {
                    for (name, value) in &params {
                        push_param(&mut out, name, value);
                    }
                    out.push('&');
                    out.push_str(query);
                    out.push_str("&expires=");
                    push_decimal(&mut out, expires);
                } else {
                    push_tail(&mut out, &params, expires);
                }
            }
        }
        Ok(out)
    }

    fn ip_bytes(&self, ip: IpAddr) -> Result<Vec<u8>, Error> {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Ok(v4.octets().to_vec()),
            IpAddr::V6(v6) => match self.ip_binding {
                IpBinding::V4Only => Err(Error::Ipv6NotBound(ip)),
                IpBinding::V4AndV6Slash64 => Ok(slash64(v6.octets())),
            },
        }
    }

    /// HMAC-SHA256 over `signature_path || expires || ip_bytes || signing_data`, the signing
    /// data (`name=value` joined by `&`) streamed into the MAC rather than joined first.
    fn mac(
        &self,
        signature_path: &str,
        expires: u64,
        ip: Option<&[u8]>,
        params: &BTreeMap<String, String>,
    ) -> Tag {
        let mut mac = self.key.start();
        mac.update(signature_path.as_bytes());
        mac.update(itoa::Buffer::new().format(expires).as_bytes());
        mac.update(ip.unwrap_or_default());
        for (i, (k, v)) in params.iter().enumerate() {
            if i > 0 {
                mac.update(b"&");
            }
            mac.update(k.as_bytes());
            mac.update(b"=");
            mac.update(v.as_bytes());
        }
        mac.finish()
    }
}

/// `HS256-[1-]<b64url-np(mac)>`.
fn push_token(out: &mut String, mac: &[u8], bound: bool) {
    out.push_str(if bound { "HS256-1-" } else { "HS256-" });
    push_b64url_unpadded(out, mac);
}

/// `&name=pct(value)`.
fn push_param(out: &mut String, name: &str, value: &str) {
    out.push('&');
    out.push_str(name);
    out.push('=');
    out.push_str(&percent_encode_component(value));
}

/// The signed parameters, then `&expires=<unix>`.
fn push_tail(out: &mut String, params: &BTreeMap<String, String>, expires: u64) {
    for (name, value) in params {
        push_param(out, name, value);
    }
    out.push_str("&expires=");
    push_decimal(out, expires);
}

fn slash64(octets: [u8; 16]) -> Vec<u8> {
    let mut out = octets[..8].to_vec();
    out.extend_from_slice(&[0; 8]);
    out
}

fn check_countries(list: &str) -> Result<(), Error> {
    let ok = list
        .split(',')
        .all(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()));
    if ok {
        Ok(())
    } else {
        Err(Error::BadCountries(list.to_owned()))
    }
}

/// The parameters a token signs, by name.
fn signed_params(url: &Url<'_>, options: &TokenOptions) -> Result<BTreeMap<String, String>, Error> {
    let mut params = BTreeMap::new();
    if options.ignore_params {
        if options.countries_allowed.is_some()
            || options.countries_blocked.is_some()
            || options.speed_limit.is_some()
        {
            return Err(Error::IgnoreParamsWithRestrictions);
        }
        params.insert("token_ignore_params".to_owned(), "true".to_owned());
    } else {
        if url.query.is_some_and(|q| q.contains('+')) {
            return Err(Error::PlusInQuery);
        }
        for (name, value) in url.pairs() {
            let name = percent_decode(name).ok_or(UrlError::StrayPercent)?;
            let value = percent_decode(value).ok_or(UrlError::StrayPercent)?;
            if params.insert(name.clone(), value).is_some() {
                return Err(Error::RepeatedParameter(name));
            }
        }
        if let Some(c) = &options.countries_allowed {
            check_countries(c)?;
            params.insert("token_countries".to_owned(), c.clone());
        }
        if let Some(c) = &options.countries_blocked {
            check_countries(c)?;
            params.insert("token_countries_blocked".to_owned(), c.clone());
        }
        if let Some(limit) = options.speed_limit {
            if limit == 0 {
                return Err(Error::BadSpeedLimit);
            }
            params.insert("limit".to_owned(), limit.to_string());
        }
    }
    if let Some(token_path) = &options.token_path {
        if !token_path.starts_with('/') || Url::parse(&format!("https://h{token_path}")).is_err() {
            return Err(Error::BadTokenPath(token_path.clone()));
        }
        if !url.path.starts_with(token_path.as_str()) {
            return Err(Error::OutsideTokenPath {
                path: url.path.to_owned(),
                token_path: token_path.clone(),
            });
        }
        params.insert("token_path".to_owned(), token_path.clone());
    }
    Ok(params)
}

/// The token parameters found in a request.
struct Found<'a> {
    token: &'a str,
    expires: &'a str,
    /// The path the edge serves (without a `/bcdn_token=` segment).
    path: &'a str,
    /// Every other parameter that came with the token, decoded.
    params: BTreeMap<String, String>,
}

fn split_pair(pair: &str) -> (&str, &str) {
    pair.split_once('=').unwrap_or((pair, ""))
}

/// Sorts `pairs` into the token, the expiry and the other parameters; `token_name` is `None` for
/// pairs that must not carry a token (the query of a directory-form request).
fn collect<'a>(
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
    token_name: Option<&str>,
    found: &mut (Option<&'a str>, Option<&'a str>),
    params: &mut BTreeMap<String, String>,
) -> Result<(), Denial> {
    for (name, value) in pairs {
        let slot = match (token_name, name) {
            (Some(t), n) if n == t => &mut found.0,
            (Some(_), "expires") => &mut found.1,
            (None, "token" | "bcdn_token" | "expires") => return Err(Denial::MalformedToken),
            _ => {
                let name = percent_decode(name).ok_or(Denial::MalformedToken)?;
                let value = percent_decode(value).ok_or(Denial::MalformedToken)?;
                if params.insert(name, value).is_some() {
                    return Err(Denial::MalformedToken);
                }
                continue;
            }
        };
        if slot.replace(value).is_some() {
            return Err(Denial::MalformedToken);
        }
    }
    Ok(())
}

fn find<'a>(url: &Url<'a>) -> Result<Found<'a>, Denial> {
    let mut found = (None, None);
    let mut params = BTreeMap::new();
    let path = if url.path.starts_with(DIRECTORY_MARK) {
        let segment = &url.path[1..];
        let end = segment.find('/').ok_or(Denial::MalformedToken)?;
        let pairs = segment[..end].split('&').map(split_pair);
        collect(pairs, Some("bcdn_token"), &mut found, &mut params)?;
        collect(url.pairs(), None, &mut (None, None), &mut params)?;
        &segment[end..]
    } else {
        collect(url.pairs(), Some("token"), &mut found, &mut params)?;
        url.path
    };
    match found {
        (Some(token), Some(expires)) => Ok(Found {
            token,
            expires,
            path,
            params,
        }),
        _ => Err(Denial::MissingToken),
    }
}

impl Provider for Bunny {
    fn scheme(&self) -> Scheme {
        Scheme::Bunny
    }

    fn sign_url(&self, url: &str, grant: &Grant) -> Result<String, crate::Error> {
        if grant.starts.is_some() {
            return Err(Error::StartTimeUnsupported.into());
        }
        Ok(self.sign(
            url,
            &TokenOptions::default(),
            grant.expires,
            grant.client_ip,
        )?)
    }

    fn sign_prefix(
        &self,
        prefix: &str,
        delivery: Delivery<'_>,
        grant: &Grant,
    ) -> Result<Credential, crate::Error> {
        if grant.starts.is_some() {
            return Err(Error::StartTimeUnsupported.into());
        }
        let parsed_prefix = Url::parse_prefix(prefix).map_err(Error::from)?;
        let (url, placement) = match delivery {
            Delivery::Cookie => return Err(Error::CookieDeliveryUnsupported.into()),
            Delivery::Query { url } => (url, Placement::Query),
            Delivery::Path { url } => (url, Placement::Directory),
        };
        let parsed = Url::parse(url).map_err(Error::from)?;
        if parsed.origin != parsed_prefix.origin || !parsed.path.starts_with(parsed_prefix.path) {
            return Err(Error::OutsidePrefix {
                url: url.to_owned(),
                prefix: prefix.to_owned(),
            }
            .into());
        }
        let options = TokenOptions {
            placement,
            token_path: Some(parsed_prefix.path.to_owned()),
            ..TokenOptions::default()
        };
        Ok(Credential::Url(self.sign(
            url,
            &options,
            grant.expires,
            grant.client_ip,
        )?))
    }

    fn verify(&self, request: &EdgeRequest<'_>) -> Result<Verified, Refusal> {
        let url = Url::parse(request.url).map_err(|_| Denial::MalformedToken)?;
        let found = find(&url)?;
        let expires = parse_expires(found.expires)?;
        // An unbound signature may itself begin with `1-` (base64url has `-`): its length, 43
        // characters for HMAC-SHA256, tells it apart from `1-` and a signature.
        let (bound, signature) = match found.token.strip_prefix("HS256-") {
            Some(rest) if rest.len() == SIGNATURE_CHARS => (false, rest),
            Some(rest) => match rest.strip_prefix("1-") {
                Some(sig) => (true, sig),
                None => (false, rest),
            },
            None => return Err(Denial::UnsupportedToken.into()),
        };
        let given = decode_b64url_unpadded(signature).ok_or(Denial::MalformedToken)?;
        let ip = if bound {
            let ip = request.client_ip.ok_or(Denial::IpRequired)?;
            Some(match ip.to_canonical() {
                IpAddr::V4(v4) => v4.octets().to_vec(),
                IpAddr::V6(v6) => slash64(v6.octets()),
            })
        } else {
            None
        };
        let mut params = found.params;
        if params.get("token_ignore_params").map(String::as_str) == Some("true") {
            params.retain(|name, _| RESERVED_PARAMS.contains(&name.as_str()));
        }
        let token_path = params.get("token_path").cloned();
        let signature_path = token_path.as_deref().unwrap_or(found.path);
        let expected = self.mac(signature_path, expires, ip.as_deref(), &params);
        if !ct_eq(&given, &expected) {
            return Err(Denial::InvalidToken.into());
        }
        if request.now >= expires {
            return Err(Denial::Expired.into());
        }
        if !found.path.starts_with(signature_path) {
            return Err(Denial::PathNotAllowed.into());
        }
        Ok(Verified {
            key: "zone".to_owned(),
            expires,
        })
    }

    fn signing_params(&self) -> Vec<&str> {
        RESERVED_PARAMS.to_vec()
    }

    fn origin_request(&self, path: &str, query: Option<&str>) -> (String, String) {
        (
            crate::strip_segments(path, &DIRECTORY_MARK[1..]),
            crate::strip_params(query, &self.signing_params()),
        )
    }
}

fn parse_expires(text: &str) -> Result<u64, Denial> {
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Denial::MalformedToken);
    }
    let value: u64 = text.parse().map_err(|_| Denial::MalformedToken)?;
    if value > MAX_EXPIRES {
        return Err(Denial::MalformedToken);
    }
    Ok(value)
}
