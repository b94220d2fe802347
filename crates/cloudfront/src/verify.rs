//! Verification as CloudFront performs it: find the key, rebuild (canned) or decode (custom) the
//! policy, check the signature with the right digest, then time, client IP and resource.

use std::collections::HashMap;
use std::net::IpAddr;

use openssl::sign::Verifier;

use crate::encoding;
use crate::error::Denial;
use crate::keys::{KeyPairId, VerifyingKey};
use crate::policy::{policy_json, Policy, PolicyKind, MAX_EPOCH};
use crate::sign::{cookie_names, HashAlgorithm};
use crate::url::{ResourcePattern, SignableUrl};

/// Public keys by Key-Pair-Id, as a distribution's trusted key groups hold them.
#[derive(Clone, Debug, Default)]
pub struct PublicKeys(HashMap<String, VerifyingKey>);

impl PublicKeys {
    pub fn insert(&mut self, id: KeyPairId, key: VerifyingKey) {
        self.0.insert(id.as_str().to_owned(), key);
    }
    pub fn get(&self, id: &str) -> Option<&VerifyingKey> {
        self.0.get(id)
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The request facts CloudFront checks a policy against.
#[derive(Clone, Copy, Debug)]
pub struct Viewer {
    /// Current time, Unix seconds.
    pub now: u64,
    /// The client's address; a policy with `IpAddress` fails without one.
    pub client_ip: Option<IpAddr>,
}

/// What a valid signature granted.
#[derive(Clone, Debug)]
pub struct Verified {
    pub key_pair_id: String,
    pub hash: HashAlgorithm,
    pub policy: Policy,
    /// The request URL with the signing parameters removed (what CloudFront forwards).
    pub unsigned_url: String,
}

/// The signing values of one request, from the query string or from cookies.
#[derive(Default)]
struct Credentials<'a> {
    expires: Option<&'a str>,
    policy: Option<&'a str>,
    signature: Option<&'a str>,
    key_pair_id: Option<&'a str>,
    hash: Option<&'a str>,
}

/// Verifies a signed URL. Any fragment is ignored, as browsers never send it.
pub fn verify_url(signed_url: &str, keys: &PublicKeys, viewer: Viewer) -> Result<Verified, Denial> {
    let signed_url = signed_url.split('#').next().unwrap_or_default();
    let (base, query) = split_query(signed_url);
    let mut creds = Credentials::default();
    let mut kept: Vec<&str> = Vec::new();
    if let Some(query) = query {
        for pair in query.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match name {
                "Expires" => &mut creds.expires,
                "Policy" => &mut creds.policy,
                "Signature" => &mut creds.signature,
                "Key-Pair-Id" => &mut creds.key_pair_id,
                "Hash-Algorithm" => &mut creds.hash,
                _ => {
                    kept.push(pair);
                    continue;
                }
            };
            if slot.replace(value).is_some() {
                return Err(Denial::MalformedPolicy);
            }
        }
    }
    let mut unsigned = base.to_owned();
    if !kept.is_empty() {
        unsigned.push('?');
        unsigned.push_str(&kept.join("&"));
    }
    check(creds, unsigned, keys, viewer)
}

/// Verifies signed cookies for a request to `request_url`. `cookie` looks a cookie up by name.
pub fn verify_cookies<'a>(
    request_url: &str,
    cookie: impl Fn(&str) -> Option<&'a str>,
    keys: &PublicKeys,
    viewer: Viewer,
) -> Result<Verified, Denial> {
    let creds = Credentials {
        expires: cookie(cookie_names::EXPIRES),
        policy: cookie(cookie_names::POLICY),
        signature: cookie(cookie_names::SIGNATURE),
        key_pair_id: cookie(cookie_names::KEY_PAIR_ID),
        hash: cookie(cookie_names::HASH_ALGORITHM),
    };
    let request_url = request_url.split('#').next().unwrap_or_default();
    check(creds, request_url.to_owned(), keys, viewer)
}

fn split_query(url: &str) -> (&str, Option<&str>) {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let path_start = url[authority_start..]
        .find('/')
        .map_or(url.len(), |i| authority_start + i);
    match url[path_start..].find('?') {
        Some(i) => (&url[..path_start + i], Some(&url[path_start + i + 1..])),
        None => (url, None),
    }
}

fn check(
    creds: Credentials<'_>,
    unsigned_url: String,
    keys: &PublicKeys,
    viewer: Viewer,
) -> Result<Verified, Denial> {
    let key_pair_id = creds
        .key_pair_id
        .filter(|v| !v.is_empty())
        .ok_or(Denial::MissingKeyPairId)?;
    let signature = creds
        .signature
        .filter(|v| !v.is_empty())
        .ok_or(Denial::MissingSignature)?;
    let hash = match creds.hash {
        None => HashAlgorithm::Sha1,
        Some("SHA1") => HashAlgorithm::Sha1,
        Some("SHA256") => HashAlgorithm::Sha256,
        Some(_) => return Err(Denial::UnsupportedHashAlgorithm),
    };
    let key = keys.get(key_pair_id).ok_or(Denial::UnknownKey)?;

    let (policy, signed_bytes) = match (creds.expires, creds.policy) {
        (None, None) => return Err(Denial::MissingPolicy),
        (Some(_), Some(_)) => return Err(Denial::MalformedPolicy),
        (Some(expires), None) => {
            let expires = parse_epoch(expires).ok_or(Denial::MalformedPolicy)?;
            let json = policy_json(&unsigned_url, expires, None, None);
            let policy = Policy::decode_canned(
                json.clone(),
                ResourcePattern::from_policy(unsigned_url.clone()),
                expires,
            );
            (policy, json.into_bytes())
        }
        (None, Some(encoded)) => {
            let bytes = encoding::decode(encoded).ok_or(Denial::MalformedPolicy)?;
            (
                Policy::decode(&bytes).ok_or(Denial::MalformedPolicy)?,
                bytes,
            )
        }
    };

    let signature = encoding::decode(signature).ok_or(Denial::InvalidSignature)?;
    let valid = Verifier::new(hash.digest(), &key.key)
        .and_then(|mut v| {
            v.update(&signed_bytes)?;
            v.verify(&signature)
        })
        .unwrap_or(false);
    if !valid {
        return Err(Denial::InvalidSignature);
    }

    if policy.kind() == PolicyKind::Custom
        && !policy
            .resource()
            .matches(&SignableUrl::from_normalized(unsigned_url.clone()))
    {
        return Err(Denial::ResourceMismatch);
    }
    if viewer.now >= policy.expires() {
        return Err(Denial::Expired);
    }
    if policy.starts().is_some_and(|starts| viewer.now < starts) {
        return Err(Denial::NotYetValid);
    }
    if let Some(range) = policy.ip() {
        let allowed = match viewer.client_ip {
            Some(IpAddr::V4(ip)) => range.contains(ip),
            Some(IpAddr::V6(ip)) => ip.to_ipv4_mapped().is_some_and(|ip| range.contains(ip)),
            None => false,
        };
        if !allowed {
            return Err(Denial::IpNotAllowed);
        }
    }
    Ok(Verified {
        key_pair_id: key_pair_id.to_owned(),
        hash,
        policy,
        unsigned_url,
    })
}

fn parse_epoch(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|t| *t <= MAX_EPOCH)
}
