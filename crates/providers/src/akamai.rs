//! Akamai Auth Token 2.0 (EdgeAuth), as the Auth Token 2.0 Verification behavior and Segmented
//! Media Protection check it.
//!
//! Specification (Akamai TechDocs "Auth Token 2.0 Verification"; field order as in Akamai's
//! EdgeAuth reference libraries):
//!
//! ```text
//! fields     = [ip=<ip>~] [st=<start>~] exp=<end> [~acl=<acl>] [~id=<session id>] [~data=<payload>]
//! hmac_input = fields [~url=<url> for URL tokens] [~salt=<salt>]
//! token      = fields ~hmac=<hex(HMAC-SHA256|SHA1|MD5(unhex(key), hmac_input))>
//! ```
//!
//! An ACL token covers every path its `acl` matches (`*` any run of characters, `?` one
//! character, several ACLs joined by `!`); a URL token covers one path, and carries no `url=`
//! field: the edge signs the request path itself. The token travels as the cookie or query
//! parameter [`TokenName`] (`__token__` for Auth Token 2.0, `hdnts` for Segmented Media
//! Protection). Rotation: a transition key that verification also accepts.
//!
//! Pitfalls handled: "escape token input" (`escape_early`) is **off** and not offered — Akamai's
//! own libraries escape differently (Python `quote_plus`, Node `encodeURIComponent`) and produce
//! different HMACs for the same input; so values are signed raw, and anything that would need
//! escaping (`~`, `!` in an ACL path, spaces, non-ASCII) is refused. A URL token must sign the
//! path that will be requested (the vendor README examples sign one path and request another).
//! Keys are even-length hex. There is no path-embedded form here: the ACL's `/` and `*` would
//! need the escaping that is kept off.
//!
//! (Longer than 300 lines on purpose: one scheme, the token format, its signer and its verifier, read in one place against
//! its specification.)

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::crypto::{ct_eq, Digest, MacKey, Tag};
use crate::encoding::{decode_hex_lower, push_decimal, push_hex_lower};
use crate::url::{Url, UrlError};
use crate::{Credential, Delivery, EdgeRequest, Grant, Provider, Refusal, Scheme, Verified};

/// Latest time a token carries (a signed 64-bit Unix time; the libraries set no lower bound).
pub const MAX_TIME: u64 = i64::MAX as u64;

/// Input refused by the Akamai signer, or key material refused at load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("the {0} key is not an even-length hex string")]
    KeyNotHex(&'static str),
    #[error("the {0} key is empty")]
    EmptyKey(&'static str),
    #[error("invalid token name {0:?}: use letters, digits and '_' (such as __token__ or hdnts)")]
    BadTokenName(String),
    #[error("invalid salt: printable ASCII without '~'")]
    BadSalt,
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error("'!' separates ACLs and cannot appear inside an ACL path: {0:?}")]
    BangInAcl(String),
    #[error("invalid ACL {0:?}: it must start with '/' and contain no '~', spaces or non-ASCII")]
    BadAcl(String),
    #[error("a prefix path may not contain the ACL wildcards '*' or '?': {0:?}")]
    WildcardInPrefix(String),
    #[error("no ACL given")]
    EmptyAcl,
    #[error("invalid {field} value {value:?}: printable ASCII without '~' (escaping is off)")]
    BadField { field: &'static str, value: String },
    #[error("time {0} is beyond the largest time a token carries")]
    TimeTooLarge(u64),
    #[error("the end time {end} must be after the start time {start}")]
    EndNotAfterStart { start: u64, end: u64 },
    #[error("the URL already carries the token parameter {0}")]
    TokenInUrl(String),
    #[error("the URL {url} is not under the prefix {prefix}")]
    OutsidePrefix { url: String, prefix: String },
    #[error("no path-embedded token here; deliver the token as a cookie or query parameter")]
    PathDeliveryUnsupported,
}

/// Why Akamai's edge refuses a request (Auth Token 2.0 failure reasons).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Denial {
    #[error("no token in the cookie or query parameter")]
    MissingToken,
    #[error("the token is malformed")]
    MalformedToken,
    #[error("the token's HMAC matches neither the key nor the transition key")]
    InvalidHmac,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet (st)")]
    NotYetValid,
    #[error("the request path does not match the token's ACL")]
    AclMismatch,
    #[error("the client IP address does not match the token's ip")]
    IpMismatch,
}

impl Denial {
    pub fn code(self) -> &'static str {
        match self {
            Denial::MissingToken => "missing_token",
            Denial::MalformedToken => "malformed_token",
            Denial::InvalidHmac => "invalid_hmac",
            Denial::Expired => "expired",
            Denial::NotYetValid => "not_yet_valid",
            Denial::AclMismatch => "acl_mismatch",
            Denial::IpMismatch => "ip_mismatch",
        }
    }
}

/// A token key, given as even-length hex and used as the bytes it encodes.
#[derive(Clone)]
pub struct HexKey(Vec<u8>);

impl std::fmt::Debug for HexKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HexKey(<redacted>)")
    }
}

impl HexKey {
    pub fn parse(hex: &str) -> Result<Self, Error> {
        Self::parse_as(hex, "token")
    }

    fn parse_as(hex: &str, which: &'static str) -> Result<Self, Error> {
        let hex = hex.trim();
        if hex.is_empty() {
            return Err(Error::EmptyKey(which));
        }
        if !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::KeyNotHex(which));
        }
        Ok(HexKey(
            hex::decode(hex).map_err(|_| Error::KeyNotHex(which))?,
        ))
    }

    /// The transition key of a rotation (same rules; named in errors).
    pub fn parse_transition(hex: &str) -> Result<Self, Error> {
        Self::parse_as(hex, "transition")
    }
}

/// The token's cookie / query parameter name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenName(String);

impl TokenName {
    /// Auth Token 2.0's default.
    pub fn auth_token() -> Self {
        TokenName("__token__".to_owned())
    }

    /// Segmented Media Protection's default.
    pub fn hdnts() -> Self {
        TokenName("hdnts".to_owned())
    }

    pub fn parse(name: &str) -> Result<Self, Error> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(TokenName(name.to_owned()))
        } else {
            Err(Error::BadTokenName(name.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How the property verifies tokens.
#[derive(Clone, Debug)]
pub struct Config {
    pub token_name: TokenName,
    /// SHA-256 unless the property says otherwise.
    pub algorithm: Digest,
    pub salt: Option<String>,
    /// URL tokens sign the path only ("Ignore query string", the default) or path and query.
    pub ignore_query_string: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            token_name: TokenName::auth_token(),
            algorithm: Digest::Sha256,
            salt: None,
            ignore_query_string: true,
        }
    }
}

/// What a token covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenScope {
    /// ACLs (`*`, `?` wildcards), joined by `!` in the token.
    Acl(Vec<String>),
    /// One URL (path, and query unless ignored), not sent in the token.
    Url(String),
}

/// Everything a token carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenSpec {
    pub scope: TokenScope,
    pub ip: Option<IpAddr>,
    pub start: Option<u64>,
    pub end: u64,
    pub session_id: Option<String>,
    pub data: Option<String>,
}

impl TokenSpec {
    pub fn new(scope: TokenScope, end: u64) -> Self {
        TokenSpec {
            scope,
            ip: None,
            start: None,
            end,
            session_id: None,
            data: None,
        }
    }
}

/// A [`TokenSpec`] borrowed: what [`Akamai::push_token`] writes.
struct Fields<'a> {
    scope: Scope<'a>,
    ip: Option<IpAddr>,
    start: Option<u64>,
    end: u64,
    session_id: Option<&'a str>,
    data: Option<&'a str>,
}

#[derive(Clone, Copy)]
enum Scope<'a> {
    Acl(&'a [String]),
    /// The path, and the query when it is signed.
    Url(&'a str, Option<&'a str>),
}

/// The Akamai signer and verifier.
#[derive(Clone, Debug)]
pub struct Akamai {
    /// The key's and the transition key's HMAC states, their padded blocks hashed once.
    key: MacKey,
    transition: Option<MacKey>,
    config: Config,
}

fn field_value(value: &str, field: &'static str) -> Result<(), Error> {
    if !value.is_empty() && value.chars().all(|c| c.is_ascii_graphic() && c != '~') {
        Ok(())
    } else {
        Err(Error::BadField {
            field,
            value: value.to_owned(),
        })
    }
}

fn check_acl(acl: &str) -> Result<(), Error> {
    if acl.contains('!') {
        return Err(Error::BangInAcl(acl.to_owned()));
    }
    if !acl.starts_with('/') || !acl.chars().all(|c| c.is_ascii_graphic() && c != '~') {
        return Err(Error::BadAcl(acl.to_owned()));
    }
    Ok(())
}

impl Akamai {
    pub fn new(key: HexKey, transition: Option<HexKey>, config: Config) -> Result<Self, Error> {
        if let Some(salt) = &config.salt {
            if salt.is_empty() || !salt.chars().all(|c| c.is_ascii_graphic() && c != '~') {
                return Err(Error::BadSalt);
            }
        }
        let mac = |key: &HexKey| MacKey::new(config.algorithm, &key.0);
        Ok(Akamai {
            key: mac(&key),
            transition: transition.as_ref().map(mac),
            config,
        })
    }

    pub fn token_name(&self) -> &str {
        self.config.token_name.as_str()
    }

    /// The token for `spec` (without the `name=`).
    pub fn token(&self, spec: &TokenSpec) -> Result<String, Error> {
        let mut out = String::with_capacity(192);
        let scope = match &spec.scope {
            TokenScope::Acl(acls) => Scope::Acl(acls),
            TokenScope::Url(u) => Scope::Url(u, None),
        };
        let fields = Fields {
            scope,
            ip: spec.ip,
            start: spec.start,
            end: spec.end,
            session_id: spec.session_id.as_deref(),
            data: spec.data.as_deref(),
        };
        self.push_token(&mut out, &fields)?;
        Ok(out)
    }

    /// Appends the token for `spec` to `out`: the fields, `~` between them, written once, into
    /// the URL itself when signing one, and the HMAC over them streamed from there.
    fn push_token(&self, out: &mut String, spec: &Fields<'_>) -> Result<(), Error> {
        let begin = out.len();
        let field = |out: &mut String, name: &str| {
            if out.len() > begin {
                out.push('~');
            }
            out.push_str(name);
            out.push('=');
        };
        if let Some(ip) = spec.ip {
            field(out, "ip");
            let _ = write!(out, "{}", ip.to_canonical());
        }
        for t in spec.start.iter().chain([&spec.end]) {
            if *t > MAX_TIME {
                return Err(Error::TimeTooLarge(*t));
            }
        }
        if let Some(start) = spec.start {
            if spec.end <= start {
                return Err(Error::EndNotAfterStart {
                    start,
                    end: spec.end,
                });
            }
            field(out, "st");
            push_decimal(out, start);
        }
        field(out, "exp");
        push_decimal(out, spec.end);
        let mut url = None;
        match spec.scope {
            Scope::Acl(acls) => {
                if acls.is_empty() {
                    return Err(Error::EmptyAcl);
                }
                for acl in acls {
                    check_acl(acl)?;
                }
                field(out, "acl");
                for (i, acl) in acls.iter().enumerate() {
                    if i > 0 {
                        out.push('!');
                    }
                    out.push_str(acl);
                }
            }
            Scope::Url(path, query) => {
                let plain = |t: &str| t.bytes().all(|b| b.is_ascii_graphic() && b != b'~');
                if !path.starts_with('/') || !plain(path) || !query.is_none_or(plain) {
                    let value = match query {
                        Some(q) => format!("{path}?{q}"),
                        None => path.to_owned(),
                    };
                    return Err(Error::BadField {
                        field: "url",
                        value,
                    });
                }
                url = Some((path, query));
            }
        }
        if let Some(id) = spec.session_id {
            field_value(id, "id")?;
            field(out, "id");
            out.push_str(id);
        }
        if let Some(data) = spec.data {
            field_value(data, "data")?;
            field(out, "data");
            out.push_str(data);
        }
        let mac = self.mac(&self.key, &out[begin..], url);
        out.push_str("~hmac=");
        push_hex_lower(out, &mac);
        Ok(())
    }

    /// The HMAC input: the fields, then `~url=` with the path and `?query` when present, then
    /// `~salt=` when configured.
    fn mac(&self, key: &MacKey, fields: &str, url: Option<(&str, Option<&str>)>) -> Tag {
        let mut mac = key.start();
        mac.update(fields.as_bytes());
        if let Some((path, query)) = url {
            mac.update(b"~url=");
            mac.update(path.as_bytes());
            if let Some(q) = query {
                mac.update(b"?");
                mac.update(q.as_bytes());
            }
        }
        if let Some(salt) = &self.config.salt {
            mac.update(b"~salt=");
            mac.update(salt.as_bytes());
        }
        mac.finish()
    }

    /// The URL a URL token signs for `url`: its path, and its query unless ignored.
    fn signed_url<'a>(&self, path: &'a str, query: Option<&'a str>) -> String {
        match query {
            Some(q) if !self.config.ignore_query_string && !q.is_empty() => format!("{path}?{q}"),
            _ => path.to_owned(),
        }
    }

    fn refuse_token_param(&self, url: &Url<'_>) -> Result<(), Error> {
        url.refuse_params(&[self.token_name()])
            .map_err(|_| Error::TokenInUrl(self.token_name().to_owned()))
    }
}

/// `*` matches any run of characters, `?` exactly one (greedy with backtracking to the last
/// `*`, so the time is bounded by the product of the lengths).
fn acl_matches(acl: &[u8], path: &[u8]) -> bool {
    let (mut a, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while p < path.len() {
        match acl.get(a) {
            Some(b'*') => {
                star = Some((a, p));
                a += 1;
            }
            Some(c) if *c == b'?' || *c == path[p] => {
                a += 1;
                p += 1;
            }
            _ => match star {
                Some((sa, sp)) => {
                    a = sa + 1;
                    p = sp + 1;
                    star = Some((sa, sp + 1));
                }
                None => return false,
            },
        }
    }
    acl[a..].iter().all(|c| *c == b'*')
}

impl Provider for Akamai {
    fn scheme(&self) -> Scheme {
        Scheme::Akamai
    }

    fn sign_url(&self, url: &str, grant: &Grant) -> Result<String, crate::Error> {
        let parsed = Url::parse(url).map_err(Error::from)?;
        self.refuse_token_param(&parsed)?;
        let query = parsed
            .query
            .filter(|q| !self.config.ignore_query_string && !q.is_empty());
        let spec = Fields {
            scope: Scope::Url(parsed.path, query),
            ip: grant.client_ip,
            start: grant.starts,
            end: grant.expires,
            session_id: None,
            data: None,
        };
        let name = self.token_name();
        let mut signed = String::with_capacity(2 * url.len() + name.len() + 128);
        signed.push_str(url);
        signed.push(parsed.separator());
        signed.push_str(name);
        signed.push('=');
        self.push_token(&mut signed, &spec)?;
        Ok(signed)
    }

    fn sign_prefix(
        &self,
        prefix: &str,
        delivery: Delivery<'_>,
        grant: &Grant,
    ) -> Result<Credential, crate::Error> {
        let parsed_prefix = Url::parse_prefix(prefix).map_err(Error::from)?;
        if parsed_prefix.path.contains(['*', '?']) {
            return Err(Error::WildcardInPrefix(parsed_prefix.path.to_owned()).into());
        }
        let spec = TokenSpec {
            ip: grant.client_ip,
            start: grant.starts,
            ..TokenSpec::new(
                TokenScope::Acl(vec![format!("{}*", parsed_prefix.path)]),
                grant.expires,
            )
        };
        match delivery {
            Delivery::Cookie => Ok(Credential::Cookie {
                name: self.token_name().to_owned(),
                value: self.token(&spec)?,
            }),
            Delivery::Query { url } => {
                let parsed = Url::parse(url).map_err(Error::from)?;
                self.refuse_token_param(&parsed)?;
                if parsed.origin != parsed_prefix.origin
                    || !parsed.path.starts_with(parsed_prefix.path)
                {
                    return Err(Error::OutsidePrefix {
                        url: url.to_owned(),
                        prefix: prefix.to_owned(),
                    }
                    .into());
                }
                let token = self.token(&spec)?;
                Ok(Credential::Url(format!(
                    "{url}{}{}={token}",
                    parsed.separator(),
                    self.token_name()
                )))
            }
            Delivery::Path { .. } => Err(Error::PathDeliveryUnsupported.into()),
        }
    }

    fn verify(&self, request: &EdgeRequest<'_>) -> Result<Verified, Refusal> {
        let url = Url::parse(request.url).map_err(|_| Denial::MalformedToken)?;
        let name = self.token_name();
        let in_query: Vec<&str> = url
            .pairs()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v)
            .collect();
        let token = match in_query.as_slice() {
            [one] => *one,
            [] => request.cookie(name).ok_or(Denial::MissingToken)?,
            _ => return Err(Denial::MalformedToken.into()),
        };
        let (fields, mac) = token.rsplit_once("~hmac=").ok_or(Denial::MalformedToken)?;
        let given = decode_hex_lower(mac).ok_or(Denial::MalformedToken)?;
        let (mut ip, mut start, mut end, mut acl) = (None, None, None, None);
        for field in fields.split('~') {
            let (k, v) = field.split_once('=').ok_or(Denial::MalformedToken)?;
            let time =
                || crate::google_cloud_cdn::parse_time(v).map_err(|_| Denial::MalformedToken);
            match k {
                "ip" => ip = Some(v),
                "st" => start = Some(time()?),
                "exp" => end = Some(time()?),
                "acl" => acl = Some(v),
                "id" | "data" => {}
                _ => return Err(Denial::MalformedToken.into()),
            }
        }
        let end = end.ok_or(Denial::MalformedToken)?;
        // A URL token signs the request URL without the token parameter.
        let rest: Vec<String> = url
            .pairs()
            .filter(|(n, _)| *n != name)
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        let query = rest.join("&");
        let signed_url = acl
            .is_none()
            .then(|| self.signed_url(url.path, Some(&query)));
        let matches = |key: &MacKey| {
            let url = signed_url.as_deref().map(|u| (u, None));
            ct_eq(&self.mac(key, fields, url), &given)
        };
        let key = if matches(&self.key) {
            "primary"
        } else if self.transition.as_ref().is_some_and(matches) {
            "transition"
        } else {
            return Err(Denial::InvalidHmac.into());
        };
        if request.now >= end {
            return Err(Denial::Expired.into());
        }
        if start.is_some_and(|s| request.now < s) {
            return Err(Denial::NotYetValid.into());
        }
        if let Some(acl) = acl {
            if !acl
                .split('!')
                .any(|a| acl_matches(a.as_bytes(), url.path.as_bytes()))
            {
                return Err(Denial::AclMismatch.into());
            }
        }
        if let Some(ip) = ip {
            let client = request.client_ip.map(|c| c.to_canonical().to_string());
            if client.as_deref() != Some(ip) {
                return Err(Denial::IpMismatch.into());
            }
        }
        Ok(Verified {
            key: key.to_owned(),
            expires: end,
        })
    }

    fn signing_params(&self) -> Vec<&str> {
        vec![self.token_name()]
    }
}

#[cfg(test)]
mod tests {
    use super::acl_matches;

    #[test]
    fn acl_wildcards() {
        assert!(acl_matches(b"/dl/*", b"/dl/a/b.zip"));
        assert!(acl_matches(b"/dl/?.zip", b"/dl/a.zip"));
        assert!(!acl_matches(b"/dl/?.zip", b"/dl/ab.zip"));
        assert!(!acl_matches(b"/dl/*", b"/other"));
        assert!(acl_matches(b"/dl/a.zip", b"/dl/a.zip"));
        assert!(!acl_matches(b"/dl/a.zip", b"/dl/a.zipx"));
    }
}
