//! Azure Blob Storage service SAS for one blob, signed with the storage account key.
//!
//! Specification (Microsoft Learn "Create a service SAS", "Define a stored access policy"; the
//! layout reproduced the `sig` of azure-storage-blob 12.31.1 for `sv=2026-10-06`):
//!
//! ```text
//! string to sign = sp \n st \n se \n /blob/<account>/<container>/<blob> \n si \n sip \n spr \n
//!                  sv \n sr \n snapshot \n ses \n rscc \n rscd \n rsce \n rscl \n rsct
//! sig            = b64(HMAC-SHA256(b64decode(account key), string to sign))
//! ```
//!
//! The canonical resource has the blob name decoded; the URL keeps it encoded. What is signed:
//! `sp=r`, `sr=b`, `sv` [`VERSION`], `se` (the grant's expiry), `st` only when the grant has a
//! start (omitting it avoids the clock-skew failures of `st` = now), `spr=https` (or
//! `https,http` for the emulator), `sip` for the client's IPv4 address, `rscd` for the download
//! name (the URL's `response-content-disposition`, the service's spelling of it), and `si` with
//! a stored access policy. The query is written in the SDK's order, each value encoded as it
//! encodes them (everything outside A-Z a-z 0-9 - . _ ~ / as %XX).
//!
//! A stored access policy (`si`) lets an operator revoke every live link by deleting or
//! changing the policy, without rotating the account key. Azure lets each of the permissions,
//! start and expiry be given either in the policy or in the SAS, never in both. Here the policy
//! holds the permissions (create it with `r` and without start or expiry) and every SAS keeps
//! its own short `se`, so links stay short-lived and are revocable.
//!
//! A storage account has two keys; both verify, the active one signs.
//!
//! (Longer than 300 lines on purpose: one scheme, its keys and location, the signer and its
//! verifier, read in one place against the specification.)

use std::net::{IpAddr, Ipv4Addr};

use crate::crypto::{ct_eq, HmacSha256};
use crate::encoding::{b64_standard, decode_b64_standard, percent_decode, push_unreserved_encoded};
use crate::time::{parse_extended, Civil};
use crate::url::{Url, UrlError};
use crate::{Credential, Delivery, EdgeRequest, Grant, Provider, Refusal, Scheme, Verified};

/// The signed service version (`sv`) whose string-to-sign layout this module writes.
pub const VERSION: &str = "2026-10-06";

/// Query parameters a SAS may carry; a URL with any other is refused (unsigned, it could change
/// what is served: `snapshot`, `versionid`).
pub const SAS_PARAMS: [&str; 16] = [
    "sv", "sp", "st", "se", "sip", "spr", "si", "sr", "sig", "ses", "snapshot", "rscc", "rscd",
    "rsce", "rscl", "rsct",
];

/// Longest stored access policy identifier.
pub const MAX_POLICY_ID_LEN: usize = 64;

/// A storage account key's length: 512 bits.
pub const KEY_LEN: usize = 64;

/// Input refused by the SAS signer, or key material and options refused at load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("key {0}: the account key is not base64 (copy key1 or key2 from the storage account's access keys)")]
    KeyNotBase64(String),
    #[error("key {name}: an account key decodes to 64 bytes, got {len}")]
    KeyLength { name: String, len: usize },
    #[error("no account key given")]
    NoKeys,
    #[error("{0} keys given: a storage account has two")]
    TooManyKeys(usize),
    #[error("duplicate key name {0}")]
    DuplicateKeyName(String),
    #[error("the active key {0} is not in the key set")]
    ActiveKeyMissing(String),
    #[error("account {0:?}: a storage account name is 3 to 24 lowercase letters and digits")]
    BadAccountName(String),
    #[error(
        "account: the URL's host is not <account>.blob.<endpoint>; give the storage account's name"
    )]
    AccountMissing,
    #[error("account {given:?} differs from {found:?} in the URL")]
    AccountMismatch { given: String, found: String },
    #[error("container {0:?}: a container name is 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit ($root and $web too)")]
    BadContainerName(String),
    #[error("container: the URL has no container after the account; give it")]
    ContainerMissing,
    #[error("container {given:?} differs from {found:?} in the URL")]
    ContainerMismatch { given: String, found: String },
    #[error("stored policy {0:?}: an identifier is 1 to 64 printable characters")]
    BadPolicyId(String),
    #[error("the URL is http:// and the SAS allows https only (spr=https): Azure refuses every such link; use https, or protocol = \"https,http\" for the emulator")]
    HttpWithHttpsOnly,
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error("the URL {url} is not a blob in {container}")]
    OutsideContainer { url: String, container: String },
    #[error("the URL's query parameter {0:?} would reach Azure unsigned; a blob SAS URL carries only signgate's download name")]
    UnsupportedQuery(String),
    #[error("Azure's sip takes IPv4 addresses: an IPv6 client cannot be bound")]
    Ipv6Unsupported,
    #[error("the time {0} is beyond the year 9999")]
    TimeOutOfRange(u64),
    #[error("the start {starts} is not before the expiry {expires}")]
    StartNotBeforeExpiry { starts: u64, expires: u64 },
    #[error("a blob SAS covers one blob: no folder credential (no cookie, path or query form)")]
    NoFolderCredential,
}

/// Why Azure answers 403 to a SAS URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Denial {
    #[error("no sig in the query")]
    MissingSignature,
    #[error("the SAS parameters are malformed or repeated")]
    Malformed,
    #[error("the query carries a parameter the SAS does not cover")]
    UncoveredParameter,
    #[error("the signed version (sv) is not the one signgate writes")]
    UnsupportedVersion,
    #[error("the signed resource (sr) is not one blob")]
    WrongResource,
    #[error("the SAS does not grant read (sp)")]
    PermissionMissing,
    #[error("the SAS names a stored access policy (si) that is not this distribution's")]
    UnknownPolicy,
    #[error("the SAS has no expiry (se) of its own")]
    NoExpiry,
    #[error("the URL is not a blob of this container")]
    OutsideContainer,
    #[error("the signature does not match")]
    InvalidSignature,
    #[error("the SAS is not valid yet (st)")]
    NotYetValid,
    #[error("the SAS has expired (se)")]
    Expired,
    #[error("the SAS allows https only (spr)")]
    ProtocolNotAllowed,
    #[error("the client's address is not the signed one (sip)")]
    IpMismatch,
}

impl Denial {
    /// A stable, machine-readable name.
    pub fn code(self) -> &'static str {
        match self {
            Denial::MissingSignature => "missing_signature",
            Denial::Malformed => "malformed",
            Denial::UncoveredParameter => "uncovered_parameter",
            Denial::UnsupportedVersion => "unsupported_version",
            Denial::WrongResource => "wrong_resource",
            Denial::PermissionMissing => "permission_missing",
            Denial::UnknownPolicy => "unknown_policy",
            Denial::NoExpiry => "no_expiry",
            Denial::OutsideContainer => "outside_container",
            Denial::InvalidSignature => "invalid_signature",
            Denial::NotYetValid => "not_yet_valid",
            Denial::Expired => "expired",
            Denial::ProtocolNotAllowed => "protocol_not_allowed",
            Denial::IpMismatch => "ip_mismatch",
        }
    }
}

/// One of the storage account's two keys, under the name the configuration gives it.
#[derive(Clone)]
pub struct AccountKey {
    name: String,
    /// HMAC-SHA256 under the key, its padded blocks hashed once (not per signature).
    mac: HmacSha256,
}

impl std::fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AccountKey({}, <redacted>)", self.name)
    }
}

impl AccountKey {
    /// The key as the portal and `az storage account keys list` show it: 64 bytes in base64.
    pub fn from_base64(name: &str, text: &str) -> Result<Self, Error> {
        let secret =
            decode_b64_standard(text.trim()).ok_or_else(|| Error::KeyNotBase64(name.to_owned()))?;
        if secret.len() != KEY_LEN {
            return Err(Error::KeyLength {
                name: name.to_owned(),
                len: secret.len(),
            });
        }
        Ok(AccountKey {
            name: name.to_owned(),
            mac: HmacSha256::new(&secret),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn sign(&self, string_to_sign: &str) -> [u8; 32] {
        self.mac.mac(string_to_sign.as_bytes())
    }
}

/// Where one container's blobs are: the account, the container, and the path before a blob's
/// name (`/container`, or `/account/container` on the emulator's and IP-style URLs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    account: String,
    container: String,
    prefix: String,
    https: bool,
}

fn valid_account(name: &str) -> bool {
    (3..=24).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn valid_container(name: &str) -> bool {
    let b = name.as_bytes();
    name == "$root"
        || name == "$web"
        || ((3..=63).contains(&b.len())
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-'
            && !name.contains("--"))
}

impl Location {
    /// From a distribution's URL (`https://<account>.blob.core.windows.net/<container>`, the
    /// emulator's `http://127.0.0.1:10000/<account>/<container>`, a custom domain, or only an
    /// origin) and the `account` and `container` options where the URL does not say them.
    pub fn from_url(
        url: &str,
        account: Option<&str>,
        container: Option<&str>,
    ) -> Result<Self, Error> {
        let parsed = Url::parse(url)?;
        let authority = parsed.origin.split_once("://").map_or("", |(_, a)| a);
        let host = match authority.rfind(':') {
            Some(i) if !authority[i..].contains(']') => &authority[..i],
            _ => authority,
        }
        .to_ascii_lowercase();
        let mut labels = host.split('.');
        let from_host = match (labels.next(), labels.next()) {
            (Some(first), Some("blob")) => Some(first.to_owned()),
            _ => None,
        };
        let account = match (account, from_host.as_deref()) {
            (Some(given), Some(found)) if given != found => {
                return Err(Error::AccountMismatch {
                    given: given.to_owned(),
                    found: found.to_owned(),
                })
            }
            (Some(given), _) => given.to_owned(),
            (None, Some(found)) => found.to_owned(),
            (None, None) => return Err(Error::AccountMissing),
        };
        if !valid_account(&account) {
            return Err(Error::BadAccountName(account));
        }
        let segments: Vec<&str> = parsed.path.split('/').filter(|s| !s.is_empty()).collect();
        let ip_style =
            host == "localhost" || host.parse::<IpAddr>().is_ok() || host.starts_with('[');
        // The emulator's (and IP-style) URLs put the account first in the path; a bare
        // emulator origin (the command line's) means that form too.
        let account_in_path = from_host.is_none()
            && (segments.first() == Some(&account.as_str()) || (ip_style && segments.is_empty()));
        let rest = if account_in_path && !segments.is_empty() {
            &segments[1..]
        } else {
            &segments[..]
        };
        let container = match (container, rest.first()) {
            (Some(given), Some(found)) if given != *found => {
                return Err(Error::ContainerMismatch {
                    given: given.to_owned(),
                    found: (*found).to_owned(),
                })
            }
            (Some(given), _) => given.to_owned(),
            (None, Some(found)) => (*found).to_owned(),
            (None, None) => return Err(Error::ContainerMissing),
        };
        if !valid_container(&container) {
            return Err(Error::BadContainerName(container));
        }
        let prefix = if account_in_path {
            format!("/{account}/{container}")
        } else {
            format!("/{container}")
        };
        Ok(Location {
            account,
            container,
            prefix,
            https: parsed.origin.starts_with("https://"),
        })
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    pub fn container(&self) -> &str {
        &self.container
    }

    /// The blob name (decoded) of a URL path under this container.
    fn blob<'a>(&self, path: &'a str) -> Option<&'a str> {
        let rest = path.strip_prefix(&self.prefix)?.strip_prefix('/')?;
        (!rest.is_empty()).then_some(rest)
    }

    fn canonical_resource(&self, blob: &str) -> String {
        format!("/blob/{}/{}/{blob}", self.account, self.container)
    }
}

/// `spr`: the protocols a SAS allows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    /// `https` (the default, and Microsoft's advice).
    #[default]
    Https,
    /// `https,http`: for the emulator, which speaks http.
    HttpsAndHttp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Https => "https",
            Protocol::HttpsAndHttp => "https,http",
        }
    }
}

/// How a distribution's SAS are made besides its keys.
#[derive(Clone, Debug)]
pub struct Config {
    pub location: Location,
    pub protocol: Protocol,
    /// A stored access policy on the container (`si`), holding the permissions.
    pub stored_policy: Option<String>,
}

/// The fields of a service SAS, decoded, in the order the string to sign lists them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SasFields {
    pub permissions: Option<String>,
    pub start: Option<String>,
    pub expiry: Option<String>,
    pub identifier: Option<String>,
    pub ip: Option<String>,
    pub protocol: Option<String>,
    pub version: String,
    pub resource: String,
    pub snapshot: Option<String>,
    pub encryption_scope: Option<String>,
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_encoding: Option<String>,
    pub content_language: Option<String>,
    pub content_type: Option<String>,
}

impl SasFields {
    /// The string to sign for the blob or container at `canonical_resource`
    /// (`/blob/<account>/<container>[/<blob>]`).
    pub fn string_to_sign(&self, canonical_resource: &str) -> String {
        fn o(v: &Option<String>) -> &str {
            v.as_deref().unwrap_or_default()
        }
        let fields = [
            o(&self.permissions),
            o(&self.start),
            o(&self.expiry),
            canonical_resource,
            o(&self.identifier),
            o(&self.ip),
            o(&self.protocol),
            &self.version,
            &self.resource,
            o(&self.snapshot),
            o(&self.encryption_scope),
            o(&self.cache_control),
            o(&self.content_disposition),
            o(&self.content_encoding),
            o(&self.content_language),
            o(&self.content_type),
        ];
        let mut out = String::with_capacity(fields.iter().map(|f| f.len() + 1).sum());
        for (i, field) in fields.into_iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(field);
        }
        out
    }

    /// The SAS query with `sig`, in the SDK's order.
    pub fn query(&self, sig: &str) -> String {
        let mut out = String::new();
        self.push_query(&mut out, sig);
        out
    }

    /// Appends [`Self::query`] to `out`.
    fn push_query(&self, out: &mut String, sig: &str) {
        let fields = [
            ("st", self.start.as_deref()),
            ("se", self.expiry.as_deref()),
            ("sp", self.permissions.as_deref()),
            ("sip", self.ip.as_deref()),
            ("spr", self.protocol.as_deref()),
            ("sv", Some(self.version.as_str())),
            ("si", self.identifier.as_deref()),
            ("sr", Some(self.resource.as_str())),
            ("ses", self.encryption_scope.as_deref()),
            ("rscc", self.cache_control.as_deref()),
            ("rscd", self.content_disposition.as_deref()),
            ("rsce", self.content_encoding.as_deref()),
            ("rscl", self.content_language.as_deref()),
            ("rsct", self.content_type.as_deref()),
            ("sig", Some(sig)),
        ];
        out.reserve(
            fields
                .iter()
                .map(|(n, v)| v.map_or(0, |v| n.len() + v.len() + 8))
                .sum(),
        );
        let mut first = true;
        for (name, value) in fields {
            if let Some(value) = value {
                if !first {
                    out.push('&');
                }
                first = false;
                out.push_str(name);
                out.push('=');
                // As the SDK encodes a SAS value: `/` kept, every other reserved byte escaped.
                push_unreserved_encoded(out, value.as_bytes(), true);
            }
        }
    }
}

/// Whether `ip` is the address or within the inclusive range `sip` names.
fn ip_allowed(sip: &str, ip: Option<IpAddr>) -> Result<bool, Denial> {
    let parse = |t: &str| t.parse::<Ipv4Addr>().map_err(|_| Denial::Malformed);
    let (low, high) = match sip.split_once('-') {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => (parse(sip)?, parse(sip)?),
    };
    Ok(match ip.map(|ip| ip.to_canonical()) {
        Some(IpAddr::V4(ip)) => low <= ip && ip <= high,
        _ => false,
    })
}

/// The Azure Blob service SAS signer and verifier.
#[derive(Clone, Debug)]
pub struct AzureBlob {
    keys: Vec<AccountKey>,
    active: usize,
    config: Config,
}

impl AzureBlob {
    /// `keys` (one or both of the account's), `active` signing.
    pub fn new(keys: Vec<AccountKey>, active: &str, config: Config) -> Result<Self, Error> {
        if keys.is_empty() {
            return Err(Error::NoKeys);
        }
        if keys.len() > 2 {
            return Err(Error::TooManyKeys(keys.len()));
        }
        if keys.len() == 2 && keys[0].name == keys[1].name {
            return Err(Error::DuplicateKeyName(keys[0].name.clone()));
        }
        let active = keys
            .iter()
            .position(|k| k.name == active)
            .ok_or_else(|| Error::ActiveKeyMissing(active.to_owned()))?;
        if let Some(id) = &config.stored_policy {
            let ok = (1..=MAX_POLICY_ID_LEN).contains(&id.chars().count())
                && id.chars().all(|c| !c.is_control());
            if !ok {
                return Err(Error::BadPolicyId(id.clone()));
            }
        }
        if !config.location.https && config.protocol == Protocol::Https {
            return Err(Error::HttpWithHttpsOnly);
        }
        Ok(AzureBlob {
            keys,
            active,
            config,
        })
    }

    pub fn location(&self) -> &Location {
        &self.config.location
    }

    /// The SAS fields for `grant`, with the download name `content_disposition`.
    fn fields(
        &self,
        grant: &Grant,
        content_disposition: Option<String>,
    ) -> Result<SasFields, Error> {
        let time = |t: u64| {
            Civil::from_unix(t)
                .map(|c| c.extended())
                .ok_or(Error::TimeOutOfRange(t))
        };
        if let Some(starts) = grant.starts {
            if starts >= grant.expires {
                return Err(Error::StartNotBeforeExpiry {
                    starts,
                    expires: grant.expires,
                });
            }
        }
        let ip = match grant.client_ip.map(|ip| ip.to_canonical()) {
            None => None,
            Some(IpAddr::V4(ip)) => Some(ip.to_string()),
            Some(IpAddr::V6(_)) => return Err(Error::Ipv6Unsupported),
        };
        let policy = self.config.stored_policy.clone();
        Ok(SasFields {
            // With a stored access policy, the policy holds the permissions.
            permissions: policy.is_none().then(|| "r".to_owned()),
            start: grant.starts.map(time).transpose()?,
            expiry: Some(time(grant.expires)?),
            identifier: policy,
            ip,
            protocol: Some(self.config.protocol.as_str().to_owned()),
            version: VERSION.to_owned(),
            resource: "b".to_owned(),
            content_disposition,
            ..SasFields::default()
        })
    }
}

impl Provider for AzureBlob {
    fn scheme(&self) -> Scheme {
        Scheme::AzureBlob
    }

    fn sign_url(&self, url: &str, grant: &Grant) -> Result<String, crate::Error> {
        let parsed = Url::parse(url).map_err(Error::from)?;
        if parsed.origin.starts_with("http://") && self.config.protocol == Protocol::Https {
            return Err(Error::HttpWithHttpsOnly.into());
        }
        let location = &self.config.location;
        let outside = || Error::OutsideContainer {
            url: url.to_owned(),
            container: location.prefix.clone(),
        };
        let blob = location.blob(parsed.path).ok_or_else(outside)?;
        let blob = percent_decode(blob).ok_or_else(outside)?;
        let mut content_disposition = None;
        for (name, value) in parsed.pairs() {
            match (name, percent_decode(value)) {
                ("response-content-disposition", Some(value)) if content_disposition.is_none() => {
                    content_disposition = Some(value)
                }
                _ => return Err(Error::UnsupportedQuery(name.to_owned()).into()),
            }
        }
        let fields = self.fields(grant, content_disposition)?;
        let string_to_sign = fields.string_to_sign(&location.canonical_resource(&blob));
        let mac = self.keys[self.active].sign(&string_to_sign);
        let mut out = String::with_capacity(url.len() + 160);
        out.push_str(parsed.origin);
        out.push_str(parsed.path);
        out.push('?');
        fields.push_query(&mut out, &b64_standard(&mac));
        Ok(out)
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
        let location = &self.config.location;
        let blob = location.blob(url.path).ok_or(Denial::OutsideContainer)?;
        let blob = percent_decode(blob).ok_or(Denial::OutsideContainer)?;
        let mut values: [Option<String>; SAS_PARAMS.len()] = Default::default();
        for (name, value) in url.pairs() {
            let i = SAS_PARAMS
                .iter()
                .position(|p| *p == name)
                .ok_or(Denial::UncoveredParameter)?;
            if values[i].is_some() {
                return Err(Denial::Malformed.into());
            }
            values[i] = Some(percent_decode(value).ok_or(Denial::Malformed)?);
        }
        let take = |name: &str| {
            let i = SAS_PARAMS.iter().position(|p| *p == name).unwrap_or(0);
            values[i].clone()
        };
        let sig = take("sig").ok_or(Denial::MissingSignature)?;
        if take("sv").as_deref() != Some(VERSION) {
            return Err(Denial::UnsupportedVersion.into());
        }
        if take("sr").as_deref() != Some("b") || take("snapshot").is_some() {
            return Err(Denial::WrongResource.into());
        }
        let fields = SasFields {
            permissions: take("sp"),
            start: take("st"),
            expiry: take("se"),
            identifier: take("si"),
            ip: take("sip"),
            protocol: take("spr"),
            version: VERSION.to_owned(),
            resource: "b".to_owned(),
            snapshot: None,
            encryption_scope: take("ses"),
            cache_control: take("rscc"),
            content_disposition: take("rscd"),
            content_encoding: take("rsce"),
            content_language: take("rscl"),
            content_type: take("rsct"),
        };
        match (&fields.identifier, &fields.permissions) {
            (Some(id), _) if Some(id) != self.config.stored_policy.as_ref() => {
                return Err(Denial::UnknownPolicy.into())
            }
            (_, Some(sp)) if !sp.contains('r') => return Err(Denial::PermissionMissing.into()),
            (None, None) => return Err(Denial::PermissionMissing.into()),
            _ => {}
        }
        let string_to_sign = fields.string_to_sign(&location.canonical_resource(&blob));
        let given = decode_b64_standard(&sig).ok_or(Denial::InvalidSignature)?;
        let key = self
            .keys
            .iter()
            .find(|k| ct_eq(&k.sign(&string_to_sign), &given))
            .ok_or(Denial::InvalidSignature)?;
        let expiry = fields.expiry.as_deref().ok_or(Denial::NoExpiry)?;
        let expires = parse_extended(expiry).ok_or(Denial::Malformed)?;
        if let Some(start) = &fields.start {
            if request.now < parse_extended(start).ok_or(Denial::Malformed)? {
                return Err(Denial::NotYetValid.into());
            }
        }
        if request.now >= expires {
            return Err(Denial::Expired.into());
        }
        match fields.protocol.as_deref() {
            None | Some("https,http") => {}
            Some("https") if url.origin.starts_with("https://") => {}
            Some("https") => return Err(Denial::ProtocolNotAllowed.into()),
            Some(_) => return Err(Denial::Malformed.into()),
        }
        if let Some(sip) = &fields.ip {
            if !ip_allowed(sip, request.client_ip)? {
                return Err(Denial::IpMismatch.into());
            }
        }
        Ok(Verified {
            key: key.name.clone(),
            expires,
        })
    }

    fn signing_params(&self) -> Vec<&str> {
        SAS_PARAMS.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_location_is_read_from_the_url_or_the_options() {
        let l =
            Location::from_url("https://acct1.blob.core.windows.net/media", None, None).unwrap();
        assert_eq!(
            (l.account(), l.container(), l.prefix.as_str()),
            ("acct1", "media", "/media")
        );
        let l = Location::from_url(
            "http://127.0.0.1:10000/devstoreaccount1/media",
            Some("devstoreaccount1"),
            None,
        )
        .unwrap();
        assert_eq!(l.prefix, "/devstoreaccount1/media");
        let l = Location::from_url(
            "http://127.0.0.1:10000",
            Some("devstoreaccount1"),
            Some("media"),
        )
        .unwrap();
        assert_eq!(l.prefix, "/devstoreaccount1/media");
        let l =
            Location::from_url("https://files.example.com", Some("acct1"), Some("media")).unwrap();
        assert_eq!(l.prefix, "/media");
        assert_eq!(
            Location::from_url("https://files.example.com/media", None, None),
            Err(Error::AccountMissing)
        );
        assert!(matches!(
            Location::from_url(
                "https://acct1.blob.core.windows.net/media",
                Some("other"),
                None
            ),
            Err(Error::AccountMismatch { .. })
        ));
        assert!(matches!(
            Location::from_url("https://acct1.blob.core.windows.net", None, None),
            Err(Error::ContainerMissing)
        ));
        assert!(matches!(
            Location::from_url("https://acct1.blob.core.windows.net/Media", None, None),
            Err(Error::BadContainerName(_))
        ));
    }

    #[test]
    fn sip_is_one_address_or_an_inclusive_range() {
        let ip = |t: &str| Some(t.parse::<IpAddr>().unwrap());
        assert_eq!(ip_allowed("192.0.2.10", ip("192.0.2.10")), Ok(true));
        assert_eq!(ip_allowed("192.0.2.10", ip("192.0.2.11")), Ok(false));
        assert_eq!(
            ip_allowed("192.0.2.10-192.0.2.20", ip("192.0.2.11")),
            Ok(true)
        );
        assert_eq!(ip_allowed("192.0.2.10", ip("::ffff:192.0.2.10")), Ok(true));
        assert_eq!(ip_allowed("192.0.2.10", None), Ok(false));
        assert_eq!(ip_allowed("nope", None), Err(Denial::Malformed));
    }

    #[test]
    fn account_keys_must_be_base64_of_64_bytes() {
        assert!(matches!(
            AccountKey::from_base64("key1", "not base64!"),
            Err(Error::KeyNotBase64(_))
        ));
        assert!(matches!(
            AccountKey::from_base64("key1", "c2hvcnQ="),
            Err(Error::KeyLength { len: 5, .. })
        ));
    }
}
