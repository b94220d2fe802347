//! nginx `secure_link` with `secure_link_md5`: the hash of an expression the operator writes.
//!
//! Specification (nginx `ngx_http_secure_link_module`): `secure_link <value>;` reads the hash
//! and, after the first comma of the value, the expiry; `secure_link_md5 "<expression>";` names
//! the string whose MD5, in base64url (padding optional), must equal the hash. `$secure_link` is
//! then `""` (bad), `"0"` (expired: the expiry is *before* the current second) or `"1"`. The
//! operator's snippet decides the answers (README: 403 for bad, 410 for expired).
//!
//! signgate reads the same lines the operator wrote in nginx.conf ([`Config`]):
//!
//! * `location ~ <regex>` ([`Location`]), optional: its named captures are variables, and a
//!   regex that opens with one, `^(?<sl_folder>/media/[^/]+/)`, names the **folder**;
//! * `secure_link <value>` ([`Source`]): `$arg_h,$arg_e` (the **query form**), `$cookie_h,$cookie_e`
//!   (the **cookie form**) or `$h,$e` with captures (the **path form**: the hash and expiry are
//!   path segments right after the folder, `/media/m1/<hash>/<expires>/index.m3u8`, so the
//!   relative URLs of an HLS playlist inherit them);
//! * `secure_link_md5 "<expression>"` ([`Expression`]) with the secret replaced by `$secret`.
//!
//! A URL link signs `$uri`; a folder credential signs the folder capture instead (prefix by
//! expression). A configuration that cannot be verified safely is refused when it is built: a
//! cookie or path form whose expression does not contain the folder capture, or contains
//! something that differs between the files of one folder (`$uri`, `$arg_*`, another capture);
//! a URL link whose expression has no `$uri`. Before a folder credential is handed out it is
//! verified here against the operator's regex, so a regex that does not read it back as signed
//! is an error, not a link that fails at nginx.
//!
//! Pitfalls handled: nginx's `$uri` and captures are the **decoded, normalized** path, so they are
//! signed decoded (`/a%20b` signs `/a b`), and a path nginx would rewrite before the check (dot
//! segments, `//`, an encoded `/` or NUL) is refused rather than guessed; `$remote_addr` is
//! printed as nginx prints IPv6; `$arg_*` and `$cookie_*` are matched ignoring case, first one
//! wins, values raw; expressions are plain concatenations, kept verbatim; without
//! `$secure_link_expires` a link cannot expire and without `$remote_addr` it cannot be bound to
//! an IP, so grants asking for either are refused. nginx accepts a link through its expiry
//! second; the expiry is written as the grant gives it. MD5 over a secret-bearing string is not
//! an HMAC; it is what nginx checks. nginx computes `$secure_link` once per request, so it
//! cannot try two secrets in turn: rotation is a `map` chosen by the link ([`Rotation`]).
//!
//! (Longer than 300 lines on purpose: the configuration checks, the signer for every form and
//! the verifier, read in one place against the specification; the nginx.conf lines, the
//! request values nginx computes and the errors are in their own files.)

mod directives;
mod error;
mod expression;
mod request;

use crate::crypto::{ct_eq, Md5};
use crate::encoding::{b64url_unpadded, push_b64url_unpadded};
use crate::url::Url;
use crate::{Credential, Delivery, EdgeRequest, Grant, Provider, Refusal, Scheme, Verified};
use directives::Matched;
pub use directives::{Form, Location, Source, Var};
pub use error::{Denial, Error};
use expression::Part;
pub use expression::{Expression, Secret};
use request::{atotm, decode_hash, nginx_addr, nginx_arg, nginx_cookie, nginx_uri};

/// Latest expiry (nginx parses it into a 64-bit `time_t`).
pub const MAX_EXPIRES: u64 = i64::MAX as u64;

/// The query parameter names of `secure_link $arg_<hash>,$arg_<expires>` (the query form in a
/// prefix location, [`SecureLink::new`]).
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

/// A second secret, for rotation. `secure_link_md5` holds one secret and nginx computes
/// `$secure_link` once per request (a second location reached through `error_page` sees the
/// first answer again), so the link names its secret and a `map` picks it:
///
/// ```nginx
/// map $arg_sk $secure_link_secret { default "<previous>"; "<name>" "<current>"; }
/// secure_link_md5 "$secure_link_expires$uri $secure_link_secret";
/// ```
///
/// Links signed with the current secret carry `<selector>=<name>` (a cookie in the cookie form,
/// a path segment before the hash in the path form); every other link, including those signed
/// before the rotation began, which carry nothing, is checked with the `default`: the previous
/// secret. The default is always a real secret, never empty, or anyone could sign.
#[derive(Clone, Debug)]
pub struct Rotation {
    /// The variable the `map` reads, of the form `secure_link` reads.
    pub selector: Var,
    /// The value that selects the current secret.
    pub name: String,
    /// The `map`'s default.
    pub previous: Secret,
}

/// One `location` block of the operator's nginx.conf, as signgate needs it.
#[derive(Clone, Debug)]
pub struct Config {
    /// `location ~ <regex>`; `None` for a prefix location, where only `$uri` tells URLs apart.
    pub location: Option<Location>,
    /// `secure_link <value>;`
    pub source: Source,
    /// `secure_link_md5 "<expression>";`
    pub expression: Expression,
    /// The secret links are signed with.
    pub secret: Secret,
    pub rotation: Option<Rotation>,
}

/// The nginx secure_link signer and verifier.
#[derive(Clone, Debug)]
pub struct SecureLink {
    location: Option<Location>,
    source: Source,
    expression: Expression,
    secret: Secret,
    rotation: Option<Rotation>,
    /// Whether the expression has `$secure_link_expires`, `$uri` and `$remote_addr` (asked on
    /// every link, answered once).
    signs: Signs,
}

#[derive(Clone, Copy, Debug)]
struct Signs {
    expires: bool,
    uri: bool,
    remote_addr: bool,
}

/// The capture values an expression sees.
#[derive(Clone, Copy)]
enum Captured<'a> {
    Nothing,
    Matched(&'a Matched<'a>),
    /// Signing a folder: the folder capture is the only capture a folder expression has.
    Folder(&'a [u8]),
}

/// The request values an expression can use.
struct Values<'a> {
    expires: &'a str,
    uri: &'a [u8],
    remote_addr: &'a str,
    query: Option<&'a str>,
    captured: Captured<'a>,
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

impl SecureLink {
    /// The query form in a prefix location: `secure_link $arg_<hash>,$arg_<expires>;`, one link
    /// per URL. A previous secret needs a [`Rotation`] (see [`SecureLink::configure`]).
    pub fn new(
        expression: Expression,
        secret: Secret,
        previous: Option<Secret>,
        params: Params,
    ) -> Result<Self, Error> {
        if previous.is_some() {
            return Err(Error::PreviousNeedsRotation);
        }
        param_name(&params.hash)?;
        if let Some(e) = &params.expires {
            param_name(e)?;
        }
        SecureLink::configure(Config {
            location: None,
            source: Source {
                hash: Var::Arg(params.hash),
                expires: params.expires.map(Var::Arg),
            },
            expression,
            secret,
            rotation: None,
        })
    }

    /// Any form, from the operator's location block; refuses what cannot be verified safely.
    pub fn configure(config: Config) -> Result<Self, Error> {
        let signs = Signs {
            expires: config.expression.has(&Part::Expires),
            uri: config.expression.has(&Part::Uri),
            remote_addr: config.expression.has(&Part::RemoteAddr),
        };
        let link = SecureLink {
            location: config.location,
            source: config.source,
            expression: config.expression,
            secret: config.secret,
            rotation: config.rotation,
            signs,
        };
        let form = link.source.form();
        let selector = link.rotation.as_ref().map(|r| &r.selector);
        for var in link.source.vars().chain(selector) {
            if let Var::Capture(name) = var {
                link.capture(name)?;
            }
        }
        for name in link.expression.captures() {
            link.capture(name)?;
        }
        if let Some(rotation) = &link.rotation {
            if rotation.selector.form() != form {
                return Err(Error::RotationSelector(form.name()));
            }
            param_name(&rotation.name).map_err(|_| Error::BadKeyName(rotation.name.clone()))?;
        }
        if form != Form::Query {
            link.folder_capture(form)?;
        }
        Ok(link)
    }

    fn capture(&self, name: &str) -> Result<(), Error> {
        match &self.location {
            Some(l) if l.has_capture(name) => Ok(()),
            _ => Err(Error::UnknownCapture(name.to_owned())),
        }
    }

    /// The folder capture, when the expression signs it and nothing that varies inside it.
    fn folder_capture(&self, form: Form) -> Result<&str, Error> {
        let folder = self
            .location
            .as_ref()
            .and_then(Location::folder)
            .filter(|f| self.expression.has(&Part::Capture((*f).to_owned())))
            .ok_or(Error::FolderNotSigned(form.name()))?;
        let varying = if self.signs.uri {
            Some("$uri".to_owned())
        } else if self.expression.has_arg() {
            Some("$arg_*".to_owned())
        } else {
            self.expression
                .captures()
                .find(|c| *c != folder)
                .map(|c| format!("${c}"))
        };
        match varying {
            Some(v) => Err(Error::NotAFolderExpression(v)),
            None => Ok(folder),
        }
    }

    /// The expiry text and `$remote_addr` a grant signs.
    fn grant_values(&self, grant: &Grant) -> Result<(u64, String), Error> {
        if grant.starts.is_some() {
            return Err(Error::StartTimeUnsupported);
        }
        if !self.signs.expires {
            return Err(Error::ExpiryNotSigned);
        }
        if grant.expires > MAX_EXPIRES {
            return Err(Error::ExpiresTooLarge(grant.expires));
        }
        if grant.expires == 0 {
            return Err(Error::ExpiresZero);
        }
        let remote_addr = match (grant.client_ip, self.signs.remote_addr) {
            (Some(ip), true) => nginx_addr(ip),
            (None, true) => return Err(Error::IpRequired),
            (Some(_), false) => return Err(Error::IpNotSigned),
            (None, false) => String::new(),
        };
        Ok((grant.expires, remote_addr))
    }

    /// MD5 of the expression with the request's values, each part streamed into the digest as
    /// nginx concatenates it.
    fn hash(&self, secret: &Secret, v: &Values<'_>) -> [u8; 16] {
        let mut md5 = Md5::default();
        for part in &self.expression.0 {
            md5.update(match part {
                Part::Text(t) => t.as_bytes(),
                Part::Expires => v.expires.as_bytes(),
                Part::Uri => v.uri,
                Part::RemoteAddr => v.remote_addr.as_bytes(),
                Part::Secret => &secret.0,
                Part::Arg(name) => nginx_arg(v.query, name).unwrap_or_default().as_bytes(),
                Part::Capture(name) => match v.captured {
                    Captured::Nothing => &[],
                    Captured::Matched(m) => m.get(name),
                    Captured::Folder(folder) => folder,
                },
            });
        }
        md5.finish()
    }

    /// The hash and expiry as `secure_link` reads them, with the rotation's key name: each value
    /// in the variable it goes to, in the order of `secure_link` (then the key).
    fn credential_values(&self, hash: &[u8], expires: &str) -> Vec<(&Var, String)> {
        let hash = b64url_unpadded(hash);
        let mut values = match &self.source.expires {
            Some(var) => vec![(&self.source.hash, hash), (var, expires.to_owned())],
            None => vec![(&self.source.hash, format!("{hash},{expires}"))],
        };
        if let Some(r) = &self.rotation {
            values.push((&r.selector, r.name.clone()));
        }
        values
    }

    /// `url` with the credential appended to its query.
    /// (Written straight into the link: the values [`SecureLink::credential_values`] gives, in
    /// its order.)
    fn query_link(&self, url: &str, parsed: &Url<'_>, hash: &[u8], expires: &str) -> String {
        let mut link = String::with_capacity(url.len() + 96);
        link.push_str(url);
        link.push(parsed.separator());
        link.push_str(self.source.hash.name());
        link.push('=');
        push_b64url_unpadded(&mut link, hash);
        match &self.source.expires {
            Some(var) => {
                link.push('&');
                link.push_str(var.name());
                link.push('=');
            }
            None => link.push(','),
        }
        link.push_str(expires);
        if let Some(r) = &self.rotation {
            link.push('&');
            link.push_str(r.selector.name());
            link.push('=');
            link.push_str(&r.name);
        }
        link
    }

    fn refuse_own_params(&self, parsed: &Url<'_>) -> Result<(), Error> {
        if parsed.query.is_none() {
            return Ok(());
        }
        let selector = self.rotation.as_ref().map(|r| &r.selector);
        let own: Vec<&str> = self
            .source
            .vars()
            .chain(selector)
            .filter(|v| matches!(v, Var::Arg(_)))
            .map(Var::name)
            .collect();
        Ok(parsed.refuse_params(&own)?)
    }

    fn uri_of(path: &str) -> Result<std::borrow::Cow<'_, [u8]>, Error> {
        nginx_uri(path).ok_or_else(|| Error::AmbiguousPath(path.to_owned()))
    }

    fn not_configured(&self, asked: &'static str) -> Error {
        Error::DeliveryNotConfigured {
            configured: self.source.form().name(),
            asked,
        }
    }

    /// A folder credential, before it is checked against the operator's regex.
    fn folder_credential(
        &self,
        prefix: &str,
        delivery: Delivery<'_>,
        hash: &[u8],
        expires: &str,
    ) -> Result<Credential, Error> {
        let under = |url: &str| -> Result<(), Error> {
            if url.starts_with(prefix) {
                Ok(())
            } else {
                Err(Error::OutsidePrefix {
                    url: url.to_owned(),
                    prefix: prefix.to_owned(),
                })
            }
        };
        Ok(match delivery {
            Delivery::Cookie => {
                let mut cookies: Vec<(String, String)> = self
                    .credential_values(hash, expires)
                    .into_iter()
                    .map(|(var, value)| (var.name().to_owned(), value))
                    .collect();
                if cookies.len() == 1 {
                    let (name, value) = cookies.remove(0);
                    Credential::Cookie { name, value }
                } else {
                    Credential::Cookies(cookies)
                }
            }
            Delivery::Query { url } => {
                let parsed = Url::parse(url)?;
                under(url)?;
                self.refuse_own_params(&parsed)?;
                Credential::Url(self.query_link(url, &parsed, hash, expires))
            }
            Delivery::Path { url } => {
                Url::parse(url)?;
                under(url)?;
                let mut link = prefix.to_owned();
                let mut values = self.credential_values(hash, expires);
                if self.rotation.is_some() {
                    values.rotate_right(1);
                }
                for (_, value) in values {
                    link.push_str(&value);
                    link.push('/');
                }
                link.push_str(&url[prefix.len()..]);
                Credential::Url(link)
            }
        })
    }
}

impl Provider for SecureLink {
    fn scheme(&self) -> Scheme {
        Scheme::NginxSecureLink
    }

    fn sign_url(&self, url: &str, grant: &Grant) -> Result<String, crate::Error> {
        if self.source.form() != Form::Query {
            return Err(self.not_configured("a signed URL").into());
        }
        let (expires, remote_addr) = self.grant_values(grant)?;
        let mut digits = itoa::Buffer::new();
        let expires = digits.format(expires);
        if !self.signs.uri {
            return Err(Error::UriNotSigned.into());
        }
        let parsed = Url::parse(url).map_err(Error::from)?;
        self.refuse_own_params(&parsed)?;
        let uri = Self::uri_of(parsed.path)?;
        let matched = match &self.location {
            Some(location) => Some(
                location
                    .captures(&uri)
                    .ok_or_else(|| Error::OutsideLocation(parsed.path.to_owned()))?,
            ),
            None => None,
        };
        let values = Values {
            expires,
            uri: &uri,
            remote_addr: &remote_addr,
            query: parsed.query,
            captured: matched
                .as_ref()
                .map_or(Captured::Nothing, Captured::Matched),
        };
        let hash = self.hash(&self.secret, &values);
        Ok(self.query_link(url, &parsed, &hash, expires))
    }

    fn sign_prefix(
        &self,
        prefix: &str,
        delivery: Delivery<'_>,
        grant: &Grant,
    ) -> Result<Credential, crate::Error> {
        let asked = match delivery {
            Delivery::Cookie => Form::Cookie,
            Delivery::Query { .. } => Form::Query,
            Delivery::Path { .. } => Form::Path,
        };
        if asked != self.source.form() {
            return Err(self.not_configured(asked.name()).into());
        }
        self.folder_capture(asked)?;
        let (expires, remote_addr) = self.grant_values(grant)?;
        let mut digits = itoa::Buffer::new();
        let expires = digits.format(expires);
        let parsed = Url::parse_prefix(prefix).map_err(Error::from)?;
        if !parsed.path.ends_with('/') {
            return Err(Error::FolderWithoutSlash(prefix.to_owned()).into());
        }
        let folder = Self::uri_of(parsed.path)?;
        let values = Values {
            expires,
            uri: &folder,
            remote_addr: &remote_addr,
            query: None,
            captured: Captured::Folder(&folder),
        };
        let hash = self.hash(&self.secret, &values);
        let credential = self.folder_credential(prefix, delivery, &hash, expires)?;
        // What nginx will do with it, with the operator's regex: the folder capture must read
        // back the folder signed, and the path form's segments the hash and expiry written.
        let (url, cookies) = match &credential {
            Credential::Url(url) => (url.as_str(), Vec::new()),
            Credential::Cookie { name, value } => (prefix, vec![(name.as_str(), value.as_str())]),
            Credential::Cookies(list) => (
                prefix,
                list.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect(),
            ),
        };
        let check = EdgeRequest {
            method: "GET",
            url,
            cookies: &cookies,
            client_ip: grant.client_ip,
            now: 0,
        };
        if self.verify(&check).is_err() {
            return Err(Error::LayoutMismatch(url.to_owned()).into());
        }
        Ok(credential)
    }

    fn verify(&self, request: &EdgeRequest<'_>) -> Result<Verified, Refusal> {
        let url = Url::parse(request.url).map_err(|_| Denial::BadHash)?;
        let uri = nginx_uri(url.path).ok_or(Denial::BadHash)?;
        let matched = match &self.location {
            Some(location) => Some(location.captures(&uri).ok_or(Denial::OutsideLocation)?),
            None => None,
        };
        let captured = matched
            .as_ref()
            .map_or(Captured::Nothing, Captured::Matched);
        let read = |var: &Var| -> &[u8] {
            match var {
                Var::Arg(name) => nginx_arg(url.query, name).unwrap_or_default().as_bytes(),
                Var::Cookie(name) => nginx_cookie(request.cookies, name)
                    .unwrap_or_default()
                    .as_bytes(),
                Var::Capture(name) => matched.as_ref().map_or(&[][..], |m| m.get(name)),
            }
        };
        // The value of `secure_link`, split at its first comma as the module splits it.
        let mut value = read(&self.source.hash).to_vec();
        if value.is_empty() {
            return Err(Denial::MissingHash.into());
        }
        if let Some(var) = &self.source.expires {
            value.push(b',');
            value.extend_from_slice(read(var));
        }
        let value = String::from_utf8(value).map_err(|_| Denial::BadHash)?;
        let (hash_text, expires_text) = match value.split_once(',') {
            Some((h, e)) => (h, Some(e)),
            None => (value.as_str(), None),
        };
        let expires = match expires_text {
            Some(text) => Some(
                atotm(text)
                    .filter(|e| *e > 0)
                    .ok_or(Denial::MalformedExpiry)?,
            ),
            None => None,
        };
        let given = decode_hash(hash_text).ok_or(Denial::BadHash)?;
        let remote_addr = request.client_ip.map(nginx_addr).unwrap_or_default();
        let values = Values {
            expires: expires_text.unwrap_or_default(),
            uri: &uri,
            remote_addr: &remote_addr,
            query: url.query,
            captured,
        };
        let (secret, key) = match &self.rotation {
            Some(r) if !read(&r.selector).eq_ignore_ascii_case(r.name.as_bytes()) => {
                (&r.previous, "previous")
            }
            _ => (&self.secret, "primary"),
        };
        if !ct_eq(&self.hash(secret, &values), &given) {
            return Err(Denial::BadHash.into());
        }
        if expires.is_some_and(|e| e < request.now) {
            return Err(Denial::Expired.into());
        }
        Ok(Verified {
            key: key.to_owned(),
            expires: expires.unwrap_or(u64::MAX),
        })
    }

    fn signing_params(&self) -> Vec<&str> {
        let selector = self.rotation.as_ref().map(|r| &r.selector);
        self.source
            .vars()
            .chain(selector)
            .filter_map(|v| match v {
                Var::Arg(name) => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The path form's hash, expiry and key segments are not part of the file's path (the
    /// operator's `alias` serves the folder and the rest): they are cut out of it.
    fn origin_request(&self, path: &str, query: Option<&str>) -> (String, String) {
        let query = crate::strip_params(query, &self.signing_params());
        let (Form::Path, Some(location)) = (self.source.form(), &self.location) else {
            return (path.to_owned(), query);
        };
        let Some(matched) = location.captures(path.as_bytes()) else {
            return (path.to_owned(), query);
        };
        let selector = self.rotation.as_ref().map(|r| &r.selector);
        let mut cut: Vec<(usize, usize)> = self
            .source
            .vars()
            .chain(selector)
            .filter_map(|v| {
                let bytes = matched.get(v.name());
                let start = (bytes.as_ptr() as usize).checked_sub(path.as_ptr() as usize)?;
                (!bytes.is_empty()).then_some((start, start + bytes.len()))
            })
            .collect();
        cut.sort_unstable();
        let mut out = String::with_capacity(path.len());
        let mut at = 0;
        for (start, end) in cut {
            if start < at {
                continue;
            }
            out.push_str(&path[at..start]);
            // The segment's own `/` goes with it.
            at = if path[end..].starts_with('/') {
                end + 1
            } else {
                end
            };
        }
        out.push_str(&path[at..]);
        (out, query)
    }
}
