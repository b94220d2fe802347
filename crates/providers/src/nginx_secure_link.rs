//! nginx `secure_link` with `secure_link_md5`: the hash of an expression the operator writes.
//!
//! Specification (nginx `ngx_http_secure_link_module`): `secure_link $arg_<hash>,$arg_<expires>;`
//! reads the hash and the expiry from the request, `secure_link_md5 "<expression>";` names the
//! string whose MD5, in base64url without padding (padding accepted), must equal the hash.
//! `$secure_link` is then `""` (bad hash), `"0"` (expired) or `"1"`.
//!
//! The expression is written as in nginx.conf, with the secret replaced by the placeholder
//! `$secret` (so the secret can live in a file and a second one can be accepted during
//! rotation), for example `"$secure_link_expires$uri$remote_addr $secret"`. Variables:
//! `$secure_link_expires`, `$uri`, `$remote_addr`, `$arg_<name>`, `$secret`; `${name}` also works;
//! everything else is literal text. An unknown variable is refused when the expression is parsed.
//!
//! Pitfalls handled: nginx's `$uri` is the **decoded, normalized** path, so it is signed decoded
//! (`/a%20b` signs `/a b`), and a path nginx would rewrite before the check (dot segments, `//`,
//! an encoded `/` or NUL) is refused rather than guessed; expressions are plain concatenations,
//! so `"$uri$arg_e"` and `"$uri $arg_e"` differ and are kept verbatim; an expression without
//! `$secure_link_expires` cannot carry an expiry, and one without `$remote_addr` cannot bind an
//! IP: a grant asking for either is refused. MD5 over a secret-bearing string is not an HMAC;
//! it is what nginx checks. Prefix credentials need a regex capture in nginx.conf and are not
//! offered here.
//!
//! (Longer than 300 lines on purpose: one scheme, the expression parser, the signer and the verifier, read in one place against
//! its specification.)

use crate::crypto::{ct_eq, md5};
use crate::encoding::{b64url_unpadded, decode_b64url_any};
use crate::url::{Url, UrlError};
use crate::{Credential, Delivery, EdgeRequest, Grant, Provider, Refusal, Scheme, Verified};

/// Latest expiry (nginx parses it into a 64-bit `time_t`).
pub const MAX_EXPIRES: u64 = i64::MAX as u64;

/// Input refused by the signer, or configuration refused at load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("the secret is empty")]
    EmptySecret,
    #[error("the expression must contain $secret exactly once")]
    SecretPlaceholder,
    #[error("unknown variable ${0} in the expression (known: secure_link_expires, uri, remote_addr, arg_<name>, secret)")]
    UnknownVariable(String),
    #[error("unterminated ${{...}} in the expression")]
    Unterminated,
    #[error("invalid parameter name {0:?}")]
    BadParamName(String),
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error(
        "the path {0:?} is not in the form nginx checks ($uri): no dot segments, '//', %2F or %00"
    )]
    AmbiguousPath(String),
    #[error("the expression has no $secure_link_expires, so the link cannot expire")]
    ExpiryNotSigned,
    #[error("the expression has no $remote_addr, so the link cannot be bound to a client IP")]
    IpNotSigned,
    #[error("the expression has $remote_addr: give the client IP")]
    IpRequired,
    #[error("secure_link has no start time")]
    StartTimeUnsupported,
    #[error("expiry {0} is beyond what nginx parses")]
    ExpiresTooLarge(u64),
    #[error("prefix credentials need a regex capture in nginx.conf; sign each URL instead")]
    PrefixUnsupported,
    #[error("the crypto library failed to compute MD5")]
    Crypto,
}

/// Why nginx refuses: `$secure_link` is empty (bad) or `"0"` (expired).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Denial {
    #[error("$secure_link is \"\": the hash parameter is missing")]
    MissingHash,
    #[error("$secure_link is \"\": the hash does not match")]
    BadHash,
    #[error("$secure_link is \"0\": the link has expired")]
    Expired,
}

impl Denial {
    pub fn code(self) -> &'static str {
        match self {
            Denial::MissingHash => "missing_hash",
            Denial::BadHash => "bad_hash",
            Denial::Expired => "expired",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Expires,
    Uri,
    RemoteAddr,
    Arg(String),
    Secret,
}

/// The operator's `secure_link_md5` expression, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expression(Vec<Part>);

impl Expression {
    pub fn parse(text: &str) -> Result<Self, Error> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            literal.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let (name, len) = if let Some(braced) = after.strip_prefix('{') {
                let end = braced.find('}').ok_or(Error::Unterminated)?;
                (&braced[..end], end + 2)
            } else {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], end)
            };
            let part = match name {
                "secure_link_expires" => Part::Expires,
                "uri" => Part::Uri,
                "remote_addr" => Part::RemoteAddr,
                "secret" => Part::Secret,
                n if n.starts_with("arg_") && n.len() > 4 => Part::Arg(n[4..].to_owned()),
                n => return Err(Error::UnknownVariable(n.to_owned())),
            };
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            parts.push(part);
            rest = &after[len..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        if parts.iter().filter(|p| **p == Part::Secret).count() != 1 {
            return Err(Error::SecretPlaceholder);
        }
        Ok(Expression(parts))
    }

    fn has(&self, part: &Part) -> bool {
        self.0.contains(part)
    }
}

/// A secret, never printed.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    pub fn new(secret: &str) -> Result<Self, Error> {
        if secret.is_empty() {
            return Err(Error::EmptySecret);
        }
        Ok(Secret(secret.as_bytes().to_vec()))
    }
}

/// The query parameter names of `secure_link $arg_<hash>,$arg_<expires>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    pub hash: String,
    pub expires: Option<String>,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            hash: "md5".to_owned(),
            expires: Some("expires".to_owned()),
        }
    }
}

/// The request values an expression can use.
struct Values<'a> {
    expires: &'a str,
    uri: &'a [u8],
    remote_addr: &'a str,
    query: Option<&'a str>,
}

/// The nginx secure_link signer and verifier.
#[derive(Clone, Debug)]
pub struct SecureLink {
    expression: Expression,
    secret: Secret,
    previous: Option<Secret>,
    params: Params,
}

fn param_name(name: &str) -> Result<(), Error> {
    if !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Ok(())
    } else {
        Err(Error::BadParamName(name.to_owned()))
    }
}

/// `$uri` for a raw path: percent-decoded; `None` where nginx would normalize it first.
fn nginx_uri(path: &str) -> Option<Vec<u8>> {
    let lower = path.to_ascii_lowercase();
    if !path.starts_with('/')
        || path.contains("//")
        || lower.contains("%2f")
        || lower.contains("%00")
    {
        return None;
    }
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(path).collect();
    let text = String::from_utf8_lossy(&decoded);
    if text.split('/').any(|seg| seg == "." || seg == "..") || text.contains("//") {
        return None;
    }
    Some(decoded)
}

impl SecureLink {
    pub fn new(
        expression: Expression,
        secret: Secret,
        previous: Option<Secret>,
        params: Params,
    ) -> Result<Self, Error> {
        param_name(&params.hash)?;
        if let Some(e) = &params.expires {
            param_name(e)?;
        }
        Ok(SecureLink {
            expression,
            secret,
            previous,
            params,
        })
    }

    fn hash(&self, secret: &Secret, v: &Values<'_>) -> Option<Vec<u8>> {
        let mut text = Vec::new();
        for part in &self.expression.0 {
            match part {
                Part::Text(t) => text.extend_from_slice(t.as_bytes()),
                Part::Expires => text.extend_from_slice(v.expires.as_bytes()),
                Part::Uri => text.extend_from_slice(v.uri),
                Part::RemoteAddr => text.extend_from_slice(v.remote_addr.as_bytes()),
                Part::Secret => text.extend_from_slice(&secret.0),
                Part::Arg(name) => {
                    let value = v
                        .query
                        .into_iter()
                        .flat_map(|q| q.split('&'))
                        .find_map(|p| p.split_once('=').filter(|(n, _)| n == name).map(|(_, v)| v))
                        .unwrap_or_default();
                    text.extend_from_slice(value.as_bytes());
                }
            }
        }
        md5(&text).ok()
    }
}

impl Provider for SecureLink {
    fn scheme(&self) -> Scheme {
        Scheme::NginxSecureLink
    }

    fn sign_url(&self, url: &str, grant: &Grant) -> Result<String, crate::Error> {
        if grant.starts.is_some() {
            return Err(Error::StartTimeUnsupported.into());
        }
        let Some(expires_param) = &self.params.expires else {
            return Err(Error::ExpiryNotSigned.into());
        };
        if !self.expression.has(&Part::Expires) {
            return Err(Error::ExpiryNotSigned.into());
        }
        if grant.expires > MAX_EXPIRES {
            return Err(Error::ExpiresTooLarge(grant.expires).into());
        }
        let remote_addr = match (grant.client_ip, self.expression.has(&Part::RemoteAddr)) {
            (Some(ip), true) => ip.to_canonical().to_string(),
            (None, true) => return Err(Error::IpRequired.into()),
            (Some(_), false) => return Err(Error::IpNotSigned.into()),
            (None, false) => String::new(),
        };
        let parsed = Url::parse(url).map_err(Error::from)?;
        parsed
            .refuse_params(&[self.params.hash.as_str(), expires_param.as_str()])
            .map_err(Error::from)?;
        let uri =
            nginx_uri(parsed.path).ok_or_else(|| Error::AmbiguousPath(parsed.path.to_owned()))?;
        let expires = grant.expires.to_string();
        let values = Values {
            expires: &expires,
            uri: &uri,
            remote_addr: &remote_addr,
            query: parsed.query,
        };
        let hash = self.hash(&self.secret, &values).ok_or(Error::Crypto)?;
        Ok(format!(
            "{url}{}{}={}&{expires_param}={expires}",
            parsed.separator(),
            self.params.hash,
            b64url_unpadded(&hash)
        ))
    }

    fn sign_prefix(
        &self,
        _prefix: &str,
        _delivery: Delivery<'_>,
        _grant: &Grant,
    ) -> Result<Credential, crate::Error> {
        Err(Error::PrefixUnsupported.into())
    }

    fn verify(&self, request: &EdgeRequest<'_>) -> Result<Verified, Refusal> {
        let url = Url::parse(request.url).map_err(|_| Denial::BadHash)?;
        let find = |name: &str| url.pairs().find(|(n, _)| *n == name).map(|(_, v)| v);
        let hash = find(&self.params.hash).ok_or(Denial::MissingHash)?;
        let given = decode_b64url_any(hash).ok_or(Denial::BadHash)?;
        let expires_text = match &self.params.expires {
            Some(name) => find(name).unwrap_or_default(),
            None => "",
        };
        let expires = if expires_text.is_empty() {
            None
        } else {
            Some(crate::google_cloud_cdn::parse_time(expires_text).map_err(|_| Denial::BadHash)?)
        };
        let uri = nginx_uri(url.path).ok_or(Denial::BadHash)?;
        let remote_addr = request
            .client_ip
            .map(|ip| ip.to_canonical().to_string())
            .unwrap_or_default();
        let values = Values {
            expires: expires_text,
            uri: &uri,
            remote_addr: &remote_addr,
            query: url.query,
        };
        let matches = |secret: &Secret| {
            self.hash(secret, &values)
                .is_some_and(|h| ct_eq(&h, &given))
        };
        let key = if matches(&self.secret) {
            "primary"
        } else if self.previous.as_ref().is_some_and(matches) {
            "previous"
        } else {
            return Err(Denial::BadHash.into());
        };
        if expires.is_some_and(|e| request.now >= e) {
            return Err(Denial::Expired.into());
        }
        Ok(Verified {
            key: key.to_owned(),
            expires: expires.unwrap_or(u64::MAX),
        })
    }

    fn signing_params(&self) -> Vec<&str> {
        let mut names = vec![self.params.hash.as_str()];
        names.extend(self.params.expires.as_deref());
        names
    }
}
