//! Google Cloud CDN signed URLs, `URLPrefix` URLs and the `Cloud-CDN-Cookie`.
//!
//! Specification (Cloud CDN "Use signed URLs" / "Use signed cookies"):
//!
//! * exact URL: `url_to_sign = URL + ("&" | "?") + "Expires=" + E + "&KeyName=" + K`, then
//!   `url_to_sign + "&Signature=" + b64url(HMAC-SHA1(key, url_to_sign))`;
//! * prefix in the query: `policy = "URLPrefix=" + b64url(prefix) + "&Expires=" + E + "&KeyName=" + K`,
//!   appended to any URL under the prefix, then `"&Signature=" + b64url(HMAC-SHA1(key, policy))`;
//! * cookie `Cloud-CDN-Cookie`: the same policy with `:` separators, signed the same way.
//!
//! Keys are 16 random bytes, written base64url; a backend holds up to three named keys.
//!
//! Pitfalls handled: the base64 is base64**url with `=` padding** everywhere (prefix and
//! signature), never standard base64 or stripped; `Expires` is always an integer; a key given in
//! the standard alphabet (`+`, `/`) is refused rather than mis-decoded; key names follow RFC 1035
//! (lowercase, ≤ 63), which satisfies both the docs' and the API's rules; a prefix must have a
//! path (a bare `https://host` would also cover `https://host.evil.example`) and no `?` or `#`.
//! Cloud CDN has no start time and no IP binding: a grant asking for either is refused.
//!
//! (Longer than 300 lines on purpose: one scheme, the key set, the three forms and their verifier, read in one place against
//! its specification.)

use crate::crypto::{ct_eq, Digest, MacKey};
use crate::encoding::{b64url_padded, decode_b64url_padded, has_standard_alphabet};
use crate::url::{Url, UrlError};
use crate::{Credential, Delivery, EdgeRequest, Grant, Provider, Refusal, Scheme, Verified};

/// Query parameters Cloud CDN reserves; a URL that carries one cannot be signed.
pub const RESERVED_PARAMS: [&str; 4] = ["Expires", "KeyName", "Signature", "URLPrefix"];

/// The cookie Cloud CDN reads.
pub const COOKIE_NAME: &str = "Cloud-CDN-Cookie";

/// Most keys a backend service or bucket holds.
pub const MAX_KEYS: usize = 3;

/// Latest expiry: `Expires` is a signed 64-bit Unix time.
pub const MAX_EXPIRES: u64 = i64::MAX as u64;

/// Input refused by the Cloud CDN signer, or key material refused at load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("invalid key name {0:?}: use 1 to 63 characters of a-z, 0-9 and '-', starting with a letter and not ending with '-'")]
    BadKeyName(String),
    #[error("key {0}: the key is not base64url (use '-' and '_', not '+' and '/')")]
    KeyNotBase64Url(String),
    #[error("key {name}: the key must decode to 16 bytes, got {len}")]
    KeyLength { name: String, len: usize },
    #[error("the key set is empty")]
    NoKeys,
    #[error("{0} keys given: a Cloud CDN backend holds at most 3")]
    TooManyKeys(usize),
    #[error("duplicate key name {0}")]
    DuplicateKeyName(String),
    #[error("the active key {0} is not in the key set")]
    ActiveKeyMissing(String),
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error("expiry {0} is beyond the largest Expires Cloud CDN carries")]
    ExpiresTooLarge(u64),
    #[error("Cloud CDN signed URLs have no start time")]
    StartTimeUnsupported,
    #[error("Cloud CDN cannot bind a signed URL to a client IP address")]
    IpBindingUnsupported,
    #[error("Cloud CDN has no path-component form; use the cookie or the query")]
    PathDeliveryUnsupported,
    #[error("the URL {url} is not under the prefix {prefix}")]
    OutsidePrefix { url: String, prefix: String },
}

/// Why Cloud CDN answers 403.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Denial {
    #[error("no Signature in the query or the Cloud-CDN-Cookie")]
    MissingSignature,
    #[error(
        "the Expires, KeyName, Signature (and URLPrefix) values are malformed or out of order"
    )]
    Malformed,
    #[error("the KeyName is not one of the backend's keys")]
    UnknownKeyName,
    #[error("the signature does not match")]
    InvalidSignature,
    #[error("the signed URL or cookie has expired")]
    Expired,
    #[error("the request URL is not under the signed URLPrefix")]
    OutsidePrefix,
}

impl Denial {
    /// A stable, machine-readable name.
    pub fn code(self) -> &'static str {
        match self {
            Denial::MissingSignature => "missing_signature",
            Denial::Malformed => "malformed",
            Denial::UnknownKeyName => "unknown_key_name",
            Denial::InvalidSignature => "invalid_signature",
            Denial::Expired => "expired",
            Denial::OutsidePrefix => "outside_prefix",
        }
    }
}

/// A key name as Cloud CDN accepts it (RFC 1035 label, at most 63 characters).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyName(String);

impl KeyName {
    pub fn parse(name: &str) -> Result<Self, Error> {
        let b = name.as_bytes();
        let ok = (1..=63).contains(&b.len())
            && b[0].is_ascii_lowercase()
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b[b.len() - 1] != b'-';
        if ok {
            Ok(KeyName(name.to_owned()))
        } else {
            Err(Error::BadKeyName(name.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One named 128-bit signing key.
#[derive(Clone)]
pub struct Key {
    name: KeyName,
    /// HMAC-SHA1 under the 16-byte secret, its padded blocks hashed once.
    mac: MacKey,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({}, <redacted>)", self.name.0)
    }
}

impl Key {
    /// A key as `gcloud` takes it: 16 bytes in base64url (padding optional).
    pub fn from_base64url(name: &str, text: &str) -> Result<Self, Error> {
        let name = KeyName::parse(name)?;
        let text = text.trim();
        if has_standard_alphabet(text) {
            return Err(Error::KeyNotBase64Url(name.0));
        }
        let bytes = crate::encoding::decode_b64url_any(text)
            .ok_or_else(|| Error::KeyNotBase64Url(name.0.clone()))?;
        let secret: [u8; 16] = bytes.as_slice().try_into().map_err(|_| Error::KeyLength {
            name: name.0.clone(),
            len: bytes.len(),
        })?;
        Ok(Key {
            name,
            mac: MacKey::new(Digest::Sha1, &secret),
        })
    }

    pub fn name(&self) -> &KeyName {
        &self.name
    }

    fn mac(&self, data: &str) -> crate::crypto::Tag {
        self.mac.mac(data.as_bytes())
    }
}

/// Up to three named keys, one of them used to sign; verification accepts any of them.
#[derive(Clone, Debug)]
pub struct KeySet {
    keys: Vec<Key>,
    active: usize,
}

impl KeySet {
    pub fn new(keys: Vec<Key>, active: &str) -> Result<Self, Error> {
        if keys.is_empty() {
            return Err(Error::NoKeys);
        }
        if keys.len() > MAX_KEYS {
            return Err(Error::TooManyKeys(keys.len()));
        }
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].iter().any(|o| o.name == k.name) {
                return Err(Error::DuplicateKeyName(k.name.0.clone()));
            }
        }
        let active = keys
            .iter()
            .position(|k| k.name.0 == active)
            .ok_or_else(|| Error::ActiveKeyMissing(active.to_owned()))?;
        Ok(KeySet { keys, active })
    }

    /// A set of one key, which signs.
    pub fn single(key: Key) -> Self {
        KeySet {
            keys: vec![key],
            active: 0,
        }
    }

    pub fn active(&self) -> &Key {
        &self.keys[self.active]
    }

    fn get(&self, name: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.name.0 == name)
    }
}

/// The Cloud CDN signer and verifier.
#[derive(Clone, Debug)]
pub struct CloudCdn {
    keys: KeySet,
}

impl CloudCdn {
    pub fn new(keys: KeySet) -> Self {
        CloudCdn { keys }
    }

    /// The policy (`URLPrefix=…&Expires=…&KeyName=…`) for `prefix`, with `sep` between fields.
    fn policy(&self, prefix: &str, expires: u64, sep: char) -> String {
        format!(
            "URLPrefix={}{sep}Expires={expires}{sep}KeyName={}",
            b64url_padded(prefix.as_bytes()),
            self.keys.active().name.0
        )
    }

    fn signature(&self, data: &str) -> String {
        b64url_padded(&self.keys.active().mac(data))
    }

    /// The string an exact signed URL signs (`URL?…Expires=…&KeyName=…`).
    pub fn url_to_sign(&self, url: &str, grant: &Grant) -> Result<String, Error> {
        check_grant(grant)?;
        let parsed = Url::parse(url)?;
        parsed.refuse_params(&RESERVED_PARAMS)?;
        let name = &self.keys.active().name.0;
        // Room for the signature too (`&Signature=` and 28 characters): `sign_url` appends it.
        let mut out = String::with_capacity(url.len() + name.len() + 80);
        out.push_str(url);
        out.push(parsed.separator());
        out.push_str("Expires=");
        crate::encoding::push_decimal(&mut out, grant.expires);
        out.push_str("&KeyName=");
        out.push_str(name);
        Ok(out)
    }

    /// The cookie value for `prefix`, without the cookie name.
    pub fn cookie_value(&self, prefix: &str, grant: &Grant) -> Result<String, Error> {
        check_grant(grant)?;
        Url::parse_prefix(prefix)?;
        let policy = self.policy(prefix, grant.expires, ':');
        let signature = self.signature(&policy);
        Ok(format!("{policy}:Signature={signature}"))
    }

    /// `URLPrefix=…&Expires=…&KeyName=…&Signature=…` for `prefix`, to append to a URL's query.
    pub fn prefix_query(&self, prefix: &str, grant: &Grant) -> Result<String, Error> {
        check_grant(grant)?;
        Url::parse_prefix(prefix)?;
        let policy = self.policy(prefix, grant.expires, '&');
        let signature = self.signature(&policy);
        Ok(format!("{policy}&Signature={signature}"))
    }

    fn check(&self, signed: &str, key_name: &str, signature: &str) -> Result<&Key, Denial> {
        let key = self.keys.get(key_name).ok_or(Denial::UnknownKeyName)?;
        let given = decode_b64url_padded(signature).ok_or(Denial::InvalidSignature)?;
        let expected = key.mac(signed);
        if ct_eq(&given, &expected) {
            Ok(key)
        } else {
            Err(Denial::InvalidSignature)
        }
    }
}

fn check_grant(grant: &Grant) -> Result<(), Error> {
    if grant.starts.is_some() {
        return Err(Error::StartTimeUnsupported);
    }
    if grant.client_ip.is_some() {
        return Err(Error::IpBindingUnsupported);
    }
    if grant.expires > MAX_EXPIRES {
        return Err(Error::ExpiresTooLarge(grant.expires));
    }
    Ok(())
}

/// Strictly parses a decimal Unix time.
pub(crate) fn parse_time(text: &str) -> Result<u64, Denial> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) || text.len() > 19 {
        return Err(Denial::Malformed);
    }
    let value: u64 = text.parse().map_err(|_| Denial::Malformed)?;
    if value > MAX_EXPIRES {
        return Err(Denial::Malformed);
    }
    Ok(value)
}

/// The signed values found in a request.
pub(crate) struct Signed<'a> {
    /// The exact bytes the signature covers.
    pub signed: &'a str,
    pub prefix: Option<&'a str>,
    pub expires: &'a str,
    pub key_name: &'a str,
    pub signature: &'a str,
}

/// Finds `…[URLPrefix=P&]Expires=E&KeyName=K&Signature=S` at the end of the query.
pub(crate) fn from_query<'a>(url: &'a str, query: &'a str) -> Result<Option<Signed<'a>>, Denial> {
    let Some(sig_at) = query.rfind("Signature=") else {
        return Ok(None);
    };
    if sig_at != 0 && !query[..sig_at].ends_with('&') {
        return Ok(None);
    }
    let signature = &query[sig_at + "Signature=".len()..];
    if sig_at == 0 || signature.contains('&') {
        return Err(Denial::Malformed);
    }
    let head = &query[..sig_at - 1];
    let mut fields = head.rsplit('&');
    let key_field = fields.next().unwrap_or_default();
    let expires_field = fields.next().unwrap_or_default();
    let (Some(key_name), Some(expires)) = (
        key_field.strip_prefix("KeyName="),
        expires_field.strip_prefix("Expires="),
    ) else {
        return Err(Denial::Malformed);
    };
    let prefix_field = fields.next().unwrap_or_default();
    let signed = match prefix_field.strip_prefix("URLPrefix=") {
        // Only the policy is signed: `URLPrefix=…&Expires=…&KeyName=…`.
        Some(_) => {
            let policy_len = prefix_field.len() + expires_field.len() + key_field.len() + 2;
            &head[head.len() - policy_len..]
        }
        // The whole URL up to `&Signature=` is signed.
        None => &url[..url.len() - query.len() + head.len()],
    };
    Ok(Some(Signed {
        signed,
        prefix: prefix_field.strip_prefix("URLPrefix="),
        expires,
        key_name,
        signature,
    }))
}

/// Parses `URLPrefix=P:Expires=E:KeyName=K:Signature=S`.
pub(crate) fn from_cookie(value: &str) -> Result<Signed<'_>, Denial> {
    let sig_at = value.rfind(":Signature=").ok_or(Denial::Malformed)?;
    let signed = &value[..sig_at];
    let signature = &value[sig_at + ":Signature=".len()..];
    let mut fields = signed.split(':');
    let prefix = fields.next().and_then(|f| f.strip_prefix("URLPrefix="));
    let expires = fields.next().and_then(|f| f.strip_prefix("Expires="));
    let key_name = fields.next().and_then(|f| f.strip_prefix("KeyName="));
    match (prefix, expires, key_name, fields.next()) {
        (Some(prefix), Some(expires), Some(key_name), None) => Ok(Signed {
            signed,
            prefix: Some(prefix),
            expires,
            key_name,
            signature,
        }),
        _ => Err(Denial::Malformed),
    }
}

impl Provider for CloudCdn {
    fn scheme(&self) -> Scheme {
        Scheme::GoogleCloudCdn
    }

    fn sign_url(&self, url: &str, grant: &Grant) -> Result<String, crate::Error> {
        let mut signed = self.url_to_sign(url, grant)?;
        let mac = self.keys.active().mac(&signed);
        signed.push_str("&Signature=");
        crate::encoding::push_b64url_padded(&mut signed, &mac);
        Ok(signed)
    }

    fn sign_prefix(
        &self,
        prefix: &str,
        delivery: Delivery<'_>,
        grant: &Grant,
    ) -> Result<Credential, crate::Error> {
        match delivery {
            Delivery::Cookie => Ok(Credential::Cookie {
                name: COOKIE_NAME.to_owned(),
                value: self.cookie_value(prefix, grant)?,
            }),
            Delivery::Query { url } => {
                let parsed = Url::parse(url).map_err(Error::from)?;
                parsed
                    .refuse_params(&RESERVED_PARAMS)
                    .map_err(Error::from)?;
                let query = self.prefix_query(prefix, grant)?;
                if !format!("{}{}", parsed.origin, parsed.path).starts_with(prefix) {
                    return Err(Error::OutsidePrefix {
                        url: url.to_owned(),
                        prefix: prefix.to_owned(),
                    }
                    .into());
                }
                Ok(Credential::Url(format!(
                    "{url}{}{query}",
                    parsed.separator()
                )))
            }
            Delivery::Path { .. } => Err(Error::PathDeliveryUnsupported.into()),
        }
    }

    fn verify(&self, request: &EdgeRequest<'_>) -> Result<Verified, Refusal> {
        let url = Url::parse(request.url).map_err(|_| Denial::Malformed)?;
        let in_query = match url.query {
            Some(query) => from_query(request.url, query)?,
            None => None,
        };
        let signed = match in_query {
            Some(signed) => signed,
            None => from_cookie(
                request
                    .cookie(COOKIE_NAME)
                    .ok_or(Denial::MissingSignature)?,
            )?,
        };
        let expires = parse_time(signed.expires)?;
        let key = self.check(signed.signed, signed.key_name, signed.signature)?;
        if request.now >= expires {
            return Err(Denial::Expired.into());
        }
        if let Some(prefix) = signed.prefix {
            let prefix = decode_b64url_padded(prefix).ok_or(Denial::Malformed)?;
            let target = format!("{}{}", url.origin, url.path);
            if !target.as_bytes().starts_with(&prefix) {
                return Err(Denial::OutsidePrefix.into());
            }
        }
        Ok(Verified {
            key: key.name.0.clone(),
            expires,
        })
    }

    fn signing_params(&self) -> Vec<&str> {
        RESERVED_PARAMS.to_vec()
    }
}
