//! Media CDN key material: Ed25519 keys (the keyset holds their public halves) and HMAC shared
//! keys, by name, in a keyset of at most three of each with one active key.

use crate::crypto::{ct_eq, Digest, Ed25519Private, Ed25519Public, MacKey};
use crate::encoding::{decode_b64url_any, hex_lower};
use crate::google_cloud_cdn::KeyName;

use super::Error;

/// Most keys of each kind a keyset holds.
pub const MAX_KEYS_PER_KIND: usize = 3;

/// One signing key.
#[derive(Clone)]
pub struct SigningKey {
    name: String,
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Ed25519 {
        private: Ed25519Private,
        public: Ed25519Public,
    },
    Hmac {
        /// The HMAC state under the secret, its padded blocks hashed once.
        mac: MacKey,
        digest: Digest,
    },
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.kind {
            Kind::Ed25519 { .. } => "ed25519",
            Kind::Hmac { digest, .. } => match digest {
                Digest::Sha1 => "hmac-sha1",
                Digest::Sha256 => "hmac-sha256",
                Digest::Md5 => "hmac-md5",
            },
        };
        write!(f, "SigningKey({}, {kind}, <redacted>)", self.name)
    }
}

/// Decodes base64 in either alphabet (not mixed), padding optional.
fn decode_any_base64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    let standard = text.contains(['+', '/']);
    if standard && text.contains(['-', '_']) {
        return None;
    }
    let url: String = text
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    decode_b64url_any(&url)
}

fn key_name(name: &str) -> Result<String, Error> {
    KeyName::parse(name)
        .map(|n| n.as_str().to_owned())
        .map_err(|_| Error::BadKeyName(name.to_owned()))
}

impl SigningKey {
    /// An Ed25519 key from its 32-byte seed in base64 (either alphabet).
    pub fn ed25519_seed(name: &str, seed_base64: &str) -> Result<Self, Error> {
        let name = key_name(name)?;
        let seed =
            decode_any_base64(seed_base64).ok_or_else(|| Error::KeyNotBase64(name.clone()))?;
        if seed.len() != 32 {
            return Err(Error::Ed25519SeedLength {
                name,
                len: seed.len(),
            });
        }
        let private =
            Ed25519Private::from_seed(&seed).map_err(|_| Error::BadEd25519Key(name.clone()))?;
        Self::ed25519(name, private)
    }

    /// An Ed25519 key in PKCS#8 (PEM or DER).
    pub fn ed25519_pkcs8(name: &str, pkcs8: &[u8]) -> Result<Self, Error> {
        let name = key_name(name)?;
        let private =
            Ed25519Private::from_pkcs8(pkcs8).ok_or_else(|| Error::BadEd25519Key(name.clone()))?;
        Self::ed25519(name, private)
    }

    fn ed25519(name: String, private: Ed25519Private) -> Result<Self, Error> {
        let public = private
            .public()
            .map_err(|_| Error::BadEd25519Key(name.clone()))?;
        Ok(SigningKey {
            name,
            kind: Kind::Ed25519 { private, public },
        })
    }

    /// An HMAC shared key (base64, either alphabet) for tokens, with its digest (SHA-1 or SHA-256).
    pub fn hmac(name: &str, secret_base64: &str, digest: Digest) -> Result<Self, Error> {
        let name = key_name(name)?;
        if digest == Digest::Md5 {
            return Err(Error::HmacDigest(name));
        }
        let secret =
            decode_any_base64(secret_base64).ok_or_else(|| Error::KeyNotBase64(name.clone()))?;
        if secret.len() < 16 {
            return Err(Error::HmacKeyTooShort {
                name,
                len: secret.len(),
            });
        }
        Ok(SigningKey {
            name,
            kind: Kind::Hmac {
                mac: MacKey::new(digest, &secret),
                digest,
            },
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn is_ed25519(&self) -> bool {
        matches!(self.kind, Kind::Ed25519 { .. })
    }

    /// The raw 32-byte public key to upload to the keyset (Ed25519 keys only).
    pub fn public_key(&self) -> Option<Vec<u8>> {
        match &self.kind {
            Kind::Ed25519 { public, .. } => Some(public.raw()),
            Kind::Hmac { .. } => None,
        }
    }

    /// Ed25519 signature, or HMAC.
    pub(crate) fn sign(&self, data: &[u8]) -> Result<Vec<u8>, Error> {
        match &self.kind {
            Kind::Ed25519 { private, .. } => private.sign(data).map_err(|_| Error::Crypto),
            Kind::Hmac { mac, .. } => Ok(mac.mac(data).to_vec()),
        }
    }

    /// The token's signature field: `Signature=<b64url-np>` or `hmac=<hex>`.
    pub(crate) fn token_signature(&self, data: &[u8]) -> Result<String, Error> {
        let mac = self.sign(data)?;
        Ok(match self.kind {
            Kind::Ed25519 { .. } => format!("Signature={}", crate::encoding::b64url_unpadded(&mac)),
            Kind::Hmac { .. } => format!("hmac={}", hex_lower(&mac)),
        })
    }

    pub(crate) fn verify(&self, data: &[u8], signature: &[u8]) -> bool {
        match &self.kind {
            Kind::Ed25519 { public, .. } => public.verify(data, signature),
            Kind::Hmac { mac, .. } => ct_eq(&mac.mac(data), signature),
        }
    }
}

/// A keyset: up to three Ed25519 keys and three HMAC keys, one of them active.
#[derive(Clone, Debug)]
pub struct Keyset {
    keys: Vec<SigningKey>,
    active: usize,
}

impl Keyset {
    pub fn new(keys: Vec<SigningKey>, active: &str) -> Result<Self, Error> {
        if keys.is_empty() {
            return Err(Error::NoKeys);
        }
        let ed = keys.iter().filter(|k| k.is_ed25519()).count();
        if ed > MAX_KEYS_PER_KIND || keys.len() - ed > MAX_KEYS_PER_KIND {
            return Err(Error::TooManyKeys);
        }
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].iter().any(|o| o.name == k.name) {
                return Err(Error::DuplicateKeyName(k.name.clone()));
            }
        }
        let active = keys
            .iter()
            .position(|k| k.name == active)
            .ok_or_else(|| Error::ActiveKeyMissing(active.to_owned()))?;
        Ok(Keyset { keys, active })
    }

    pub fn single(key: SigningKey) -> Self {
        Keyset {
            keys: vec![key],
            active: 0,
        }
    }

    pub fn active(&self) -> &SigningKey {
        &self.keys[self.active]
    }

    pub(crate) fn get(&self, name: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.name == name)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &SigningKey> {
        self.keys.iter()
    }
}
