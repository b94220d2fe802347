//! The few primitives the schemes need: HMAC with SHA-1/SHA-256/MD5 and plain MD5 from the
//! RustCrypto crates (`hmac`, `sha1`, `sha2`, `md-5`); Ed25519 keys parsed and verified by
//! OpenSSL and signed by aws-lc ([`Ed25519Private`]); plain SHA-256 and RSA PKCS#1 v1.5 with SHA-256 (GCS
//! service accounts) and the constant-time comparison from OpenSSL (see docs/decisions/0001;
//! S3's SigV4 and Azure's SAS keep their own HMAC-SHA256 with the key's pads precomputed on
//! OpenSSL's SHA-256 context, `hmac_sha256`; every other long-lived HMAC key keeps its RustCrypto
//! state keyed once, [`MacKey`]).
//!
//! Why not OpenSSL for the digests: OpenSSL 3 looks up the algorithm's implementation (name
//! maps, property queries, read-write locks) every time a digest is set up, and for an HMAC also
//! builds a key object: about 5.5 µs per HMAC through `PKey::hmac` and `Signer`, and twice the
//! digest's own time for a plain MD5, while the digest of a signed URL (100 bytes or so) takes a
//! quarter of a microsecond. RustCrypto's HMAC sets up on the stack without allocating and uses
//! the CPU's SHA extensions where it has them. `bench/run` compares each provider's whole
//! `sign_url` with `openssl speed -hmac` (or `-evp md5`) over the same message size.
//!
//! `hmac` keeps its `Result` so the schemes' call sites need not change; it never fails.

use hmac::{Hmac, Mac};
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

/// HMAC of `data` under `key`.
pub(crate) fn hmac(digest: Digest, key: &[u8], data: &[u8]) -> Result<Vec<u8>, ErrorStack> {
    fn mac<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
        // HMAC takes a key of any length (a long one is hashed first), so this cannot fail.
        let mut mac = <M as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }
    Ok(match digest {
        Digest::Sha1 => mac::<Hmac<sha1::Sha1>>(key, data),
        Digest::Sha256 => mac::<Hmac<sha2::Sha256>>(key, data),
        Digest::Md5 => mac::<Hmac<md5::Md5>>(key, data),
    })
}

/// HMAC under one key, many messages: the key's padded blocks are hashed once, when the key is
/// loaded, and each MAC starts from a copy of that state (two compressions fewer per signature,
/// which for a URL-sized message is a third to a half of the MAC).
#[derive(Clone)]
pub(crate) enum MacKey {
    Sha1(Hmac<sha1::Sha1>),
    Sha256(Hmac<sha2::Sha256>),
    Md5(Hmac<md5::Md5>),
}

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MacKey(<redacted>)")
    }
}

impl MacKey {
    pub(crate) fn new(digest: Digest, key: &[u8]) -> Self {
        fn keyed<M: Mac + hmac::digest::KeyInit>(key: &[u8]) -> M {
            <M as Mac>::new_from_slice(key).expect("HMAC accepts any key length")
        }
        match digest {
            Digest::Sha1 => MacKey::Sha1(keyed(key)),
            Digest::Sha256 => MacKey::Sha256(keyed(key)),
            Digest::Md5 => MacKey::Md5(keyed(key)),
        }
    }

    /// A MAC in progress under this key (a copy of the keyed state: the key is not consumed),
    /// for a message written piece by piece without being joined first.
    pub(crate) fn start(&self) -> MacKey {
        self.clone()
    }

    /// Adds `data` to a MAC in progress.
    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            MacKey::Sha1(m) => m.update(data),
            MacKey::Sha256(m) => m.update(data),
            MacKey::Md5(m) => m.update(data),
        }
    }

    /// The MAC of everything added since [`MacKey::start`].
    pub(crate) fn finish(self) -> Tag {
        match self {
            MacKey::Sha1(m) => Tag::new(&m.finalize().into_bytes()),
            MacKey::Sha256(m) => Tag::new(&m.finalize().into_bytes()),
            MacKey::Md5(m) => Tag::new(&m.finalize().into_bytes()),
        }
    }

    /// The MAC of `parts` one after the other, as if joined.
    pub(crate) fn mac_parts(&self, parts: &[&[u8]]) -> Tag {
        let mut mac = self.start();
        for part in parts {
            mac.update(part);
        }
        mac.finish()
    }

    pub(crate) fn mac(&self, data: &[u8]) -> Tag {
        self.mac_parts(&[data])
    }
}

/// A MAC or digest value, on the stack (at most SHA-256's 32 bytes): a signature costs no
/// allocation before it is encoded into the URL.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tag {
    bytes: [u8; 32],
    len: usize,
}

impl Tag {
    fn new(value: &[u8]) -> Tag {
        let mut bytes = [0; 32];
        bytes[..value.len()].copy_from_slice(value);
        Tag {
            bytes,
            len: value.len(),
        }
    }
}

impl std::ops::Deref for Tag {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl std::fmt::Debug for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tag(<redacted>)")
    }
}

/// Plain MD5 written piece by piece (nginx `secure_link_md5`; not a MAC).
#[derive(Clone, Default)]
pub(crate) struct Md5(md5::Md5);

impl Md5 {
    pub(crate) fn update(&mut self, data: &[u8]) {
        use md5::Digest as _;
        self.0.update(data);
    }

    pub(crate) fn finish(self) -> [u8; 16] {
        use md5::Digest as _;
        self.0.finalize().into()
    }
}

/// SHA-256 of `data` (OpenSSL's one-shot `SHA256`, which skips the EVP algorithm fetch a
/// `MessageDigest` hash pays on every call).
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    openssl::sha::sha256(data)
}

/// Equality of two byte strings in time independent of where they differ.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a, b)
}

/// An Ed25519 private key: parsed and checked by OpenSSL, signing through aws-lc (already
/// linked for JWT verification), whose Ed25519 signs about five times faster than OpenSSL 3.0's
/// (7 µs against 35 µs a signature on the benchmark machine). Ed25519 signatures are
/// deterministic, so the bytes signed are the same with either.
#[derive(Clone)]
pub(crate) struct Ed25519Private {
    key: PKey<Private>,
    signer: aws_lc_rs::signature::Ed25519KeyPair,
}

/// An Ed25519 public key.
#[derive(Clone)]
pub(crate) struct Ed25519Public(PKey<Public>);

impl Ed25519Private {
    fn new(key: PKey<Private>) -> Result<Self, ErrorStack> {
        let seed = key.raw_private_key()?;
        let signer = aws_lc_rs::signature::Ed25519KeyPair::from_seed_unchecked(&seed)
            .expect("aws-lc takes the 32-byte seed of a key OpenSSL accepted");
        Ok(Ed25519Private { key, signer })
    }

    pub(crate) fn from_seed(seed: &[u8]) -> Result<Self, ErrorStack> {
        Self::new(PKey::private_key_from_raw_bytes(seed, Id::ED25519)?)
    }

    /// A PKCS#8 key, PEM or DER; `None` when it parses but is not Ed25519.
    pub(crate) fn from_pkcs8(bytes: &[u8]) -> Option<Self> {
        let key = if bytes.starts_with(b"-----") {
            PKey::private_key_from_pem(bytes).ok()?
        } else {
            PKey::private_key_from_pkcs8(bytes).ok()?
        };
        if key.id() != Id::ED25519 {
            return None;
        }
        Self::new(key).ok()
    }

    pub(crate) fn sign(&self, data: &[u8]) -> Result<Vec<u8>, ErrorStack> {
        Ok(self.signer.sign(data).as_ref().to_vec())
    }

    pub(crate) fn public(&self) -> Result<Ed25519Public, ErrorStack> {
        let raw = self.key.raw_public_key()?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyed_mac_is_the_hmac_of_the_joined_parts_under_every_digest_and_key_length() {
        for digest in [Digest::Sha1, Digest::Sha256, Digest::Md5] {
            for len in [0, 1, 16, 63, 64, 65, 200] {
                let key = vec![0xa5; len];
                let keyed = MacKey::new(digest, &key);
                let whole = hmac(digest, &key, b"https://cdn.example.com/a?Expires=1").unwrap();
                assert_eq!(*keyed.mac(b"https://cdn.example.com/a?Expires=1"), *whole);
                let parts = keyed.mac_parts(&[b"https://cdn.example.com/a", b"", b"?Expires=1"]);
                assert_eq!(*parts, *whole, "{digest:?} {len}");
                let mut streamed = keyed.start();
                for piece in ["https://cdn", ".example.com/a?Exp", "", "ires=1"] {
                    streamed.update(piece.as_bytes());
                }
                assert_eq!(*streamed.finish(), *whole, "{digest:?} {len}");
                // The state is copied, not consumed: the same key gives the same MAC again.
                assert_eq!(*keyed.mac(b"https://cdn.example.com/a?Expires=1"), *whole);
            }
        }
        // RFC 2202 test case 2 (HMAC-SHA1 with the key "Jefe").
        assert_eq!(
            hex::encode(&*MacKey::new(Digest::Sha1, b"Jefe").mac(b"what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
    }

    #[test]
    fn streamed_md5_is_the_md5_of_the_joined_pieces() {
        let mut streamed = Md5::default();
        for piece in ["1900000000", "/videos/a.ts", "", "192.0.2.10 secret"] {
            streamed.update(piece.as_bytes());
        }
        let whole = {
            use md5::Digest as _;
            md5::Md5::digest(b"1900000000/videos/a.ts192.0.2.10 secret")
        };
        assert_eq!(streamed.finish()[..], whole[..]);
        // RFC 1321's test suite: MD5("abc").
        let mut abc = Md5::default();
        abc.update(b"abc");
        assert_eq!(
            hex::encode(abc.finish()),
            "900150983cd24fb0d6963f7d28e17f72"
        );
    }
}
