//! The few primitives the schemes need, all from OpenSSL (see docs/decisions/0001): HMAC with
//! SHA-1/SHA-256/MD5, plain MD5 and SHA-256, Ed25519, RSA PKCS#1 v1.5 with SHA-256 (GCS service
//! accounts), and a constant-time comparison.

use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, Private, Public};
use openssl::sign::{Signer, Verifier};

mod hmac_sha256;
pub(crate) use hmac_sha256::HmacSha256;

/// The digest under an HMAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Digest {
    Sha1,
    Sha256,
    Md5,
}

impl Digest {
    fn message_digest(self) -> MessageDigest {
        match self {
            Digest::Sha1 => MessageDigest::sha1(),
            Digest::Sha256 => MessageDigest::sha256(),
            Digest::Md5 => MessageDigest::md5(),
        }
    }
}

/// HMAC of `data` under `key`.
pub(crate) fn hmac(digest: Digest, key: &[u8], data: &[u8]) -> Result<Vec<u8>, ErrorStack> {
    let pkey = PKey::hmac(key)?;
    let mut signer = Signer::new(digest.message_digest(), &pkey)?;
    signer.update(data)?;
    signer.sign_to_vec()
}

/// MD5 of `data` (nginx `secure_link_md5`; not a MAC).
pub(crate) fn md5(data: &[u8]) -> Result<Vec<u8>, ErrorStack> {
    Ok(openssl::hash::hash(MessageDigest::md5(), data)?.to_vec())
}

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> Result<Vec<u8>, ErrorStack> {
    Ok(openssl::hash::hash(MessageDigest::sha256(), data)?.to_vec())
}

/// Equality of two byte strings in time independent of where they differ.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a, b)
}

/// An Ed25519 private key.
#[derive(Clone)]
pub(crate) struct Ed25519Private(PKey<Private>);

/// An Ed25519 public key.
#[derive(Clone)]
pub(crate) struct Ed25519Public(PKey<Public>);

impl Ed25519Private {
    pub(crate) fn from_seed(seed: &[u8]) -> Result<Self, ErrorStack> {
        PKey::private_key_from_raw_bytes(seed, Id::ED25519).map(Ed25519Private)
    }

    /// A PKCS#8 key, PEM or DER; `None` when it parses but is not Ed25519.
    pub(crate) fn from_pkcs8(bytes: &[u8]) -> Option<Self> {
        let key = if bytes.starts_with(b"-----") {
            PKey::private_key_from_pem(bytes).ok()?
        } else {
            PKey::private_key_from_pkcs8(bytes).ok()?
        };
        (key.id() == Id::ED25519).then_some(Ed25519Private(key))
    }

    pub(crate) fn sign(&self, data: &[u8]) -> Result<Vec<u8>, ErrorStack> {
        Signer::new_without_digest(&self.0)?.sign_oneshot_to_vec(data)
    }

    pub(crate) fn public(&self) -> Result<Ed25519Public, ErrorStack> {
        let raw = self.0.raw_public_key()?;
        PKey::public_key_from_raw_bytes(&raw, Id::ED25519).map(Ed25519Public)
    }
}

impl Ed25519Public {
    pub(crate) fn raw(&self) -> Vec<u8> {
        self.0.raw_public_key().unwrap_or_default()
    }

    pub(crate) fn verify(&self, data: &[u8], signature: &[u8]) -> bool {
        Verifier::new_without_digest(&self.0)
            .and_then(|mut v| v.verify_oneshot(signature, data))
            .unwrap_or(false)
    }
}

/// An RSA private key (RSASSA-PKCS1-v1_5 with SHA-256, as GCS V4 service-account signatures).
#[derive(Clone)]
pub(crate) struct RsaPrivate(PKey<Private>);

/// Why a PEM text is not an RSA private key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RsaKeyError {
    /// Not a PEM private key OpenSSL reads (or one encrypted with a passphrase).
    NotPem,
    /// A private key of another type (EC, Ed25519, ...).
    NotRsa,
}

impl RsaPrivate {
    /// A PKCS#8 or PKCS#1 PEM private key. Never prompts: an encrypted key is refused.
    pub(crate) fn from_pem(pem: &[u8]) -> Result<Self, RsaKeyError> {
        let key =
            PKey::private_key_from_pem_callback(pem, |_| Ok(0)).map_err(|_| RsaKeyError::NotPem)?;
        if key.id() != Id::RSA {
            return Err(RsaKeyError::NotRsa);
        }
        Ok(RsaPrivate(key))
    }

    pub(crate) fn sign_sha256(&self, data: &[u8]) -> Result<Vec<u8>, ErrorStack> {
        let mut signer = Signer::new(MessageDigest::sha256(), &self.0)?;
        signer.update(data)?;
        signer.sign_to_vec()
    }

    pub(crate) fn verify_sha256(&self, data: &[u8], signature: &[u8]) -> bool {
        Verifier::new(MessageDigest::sha256(), &self.0)
            .and_then(|mut v| {
                v.update(data)?;
                v.verify(signature)
            })
            .unwrap_or(false)
    }
}
