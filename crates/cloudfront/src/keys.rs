//! Loading CloudFront key pairs: RSA-2048 (PKCS#1, PKCS#8, encrypted PKCS#8) and ECDSA P-256
//! (SEC1, PKCS#8), private for signing and public for verifying, and key sets for rotation.

use std::path::Path;
use std::sync::Arc;

use openssl::ec::EcKey;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private, Public};
use openssl::rsa::Rsa;

use crate::ecdsa::EcdsaSigner;
use crate::error::{InputError, KeyError, KeyProblem};

/// The algorithm family of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    Rsa2048,
    EcdsaP256,
}

/// A CloudFront public key ID (`Key-Pair-Id`), checked to be safe in URLs and cookies.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyPairId(String);

impl KeyPairId {
    pub fn parse(text: &str) -> Result<Self, InputError> {
        let ok =
            !text.is_empty() && text.len() <= 64 && text.bytes().all(|b| b.is_ascii_alphanumeric());
        if ok {
            Ok(KeyPairId(text.to_owned()))
        } else {
            Err(InputError::BadKeyPairId(text.to_owned()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for KeyPairId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A private key that signs, with the Key-Pair-Id CloudFront knows it by.
pub struct SigningKey {
    pub(crate) id: KeyPairId,
    pub(crate) key: PKey<Private>,
    pub(crate) key_type: KeyType,
    /// For ECDSA keys, the deterministic signer (RFC 6979) over the EC key itself: signing a
    /// digest directly skips the per-call setup of OpenSSL's generic signing API, which costs
    /// about as much as the signature.
    pub(crate) ec: Option<EcdsaSigner>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("SigningKey")
            .field("id", &self.id)
            .field("key_type", &self.key_type)
            .finish()
    }
}

impl SigningKey {
    /// Loads a private key from PEM text. `passphrase` is used only for encrypted keys.
    pub fn from_pem(
        id: KeyPairId,
        pem: &[u8],
        passphrase: Option<&[u8]>,
    ) -> Result<Self, KeyError> {
        let label = pem_label(pem)?;
        let encrypted =
            label == "ENCRYPTED PRIVATE KEY" || contains(pem, b"Proc-Type: 4,ENCRYPTED");
        match label {
            "PUBLIC KEY" | "RSA PUBLIC KEY" => return Err(KeyProblem::PublicKeyGiven.into()),
            "PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" => {}
            _ => return Err(KeyProblem::NotPem.into()),
        }
        if encrypted && passphrase.is_none() {
            return Err(KeyProblem::NeedsPassphrase.into());
        }
        // A callback is always passed so that OpenSSL never prompts on a terminal.
        let key = PKey::private_key_from_pem_callback(pem, |buf| {
            let pass = passphrase.unwrap_or_default();
            if pass.len() > buf.len() {
                return Ok(0);
            }
            buf[..pass.len()].copy_from_slice(pass);
            Ok(pass.len())
        })
        .map_err(|_| {
            if encrypted {
                KeyProblem::WrongPassphrase
            } else {
                KeyProblem::Unparseable
            }
        })?;
        let key_type = check_type(
            key.id(),
            key.rsa().ok().map(|r| r.n().num_bits() as u32),
            key.ec_key().ok(),
        )?;
        let ec = match key.ec_key() {
            Ok(ec) => Some(EcdsaSigner::new(ec).map_err(|_| KeyProblem::Unparseable)?),
            Err(_) => None,
        };
        Ok(SigningKey {
            id,
            key,
            key_type,
            ec,
        })
    }

    /// Loads a private key file; errors name the file.
    pub fn from_file(
        id: KeyPairId,
        path: &Path,
        passphrase: Option<&[u8]>,
    ) -> Result<Self, KeyError> {
        let pem = std::fs::read(path)
            .map_err(|e| KeyError::new(KeyProblem::Io(e.kind().to_string())).with_path(path))?;
        Self::from_pem(id, &pem, passphrase).map_err(|e| e.with_path(path))
    }

    pub fn id(&self) -> &KeyPairId {
        &self.id
    }
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The matching public key, for verifying what this key signed.
    pub fn verifying_key(&self) -> VerifyingKey {
        let der = self
            .key
            .public_key_to_der()
            .expect("a loaded key has a public half");
        let key = PKey::public_key_from_der(&der).expect("DER we just wrote parses");
        VerifyingKey {
            key,
            key_type: self.key_type,
        }
    }

    /// The public key as SPKI PEM, the form CloudFront's console takes.
    pub fn public_pem(&self) -> String {
        let pem = self
            .key
            .public_key_to_pem()
            .expect("a loaded key has a public half");
        String::from_utf8(pem).expect("PEM is ASCII")
    }

    /// The private key as unencrypted PKCS#8 PEM.
    pub fn private_pkcs8_pem(&self) -> String {
        let pem = self
            .key
            .private_key_to_pem_pkcs8()
            .expect("a loaded key serializes");
        String::from_utf8(pem).expect("PEM is ASCII")
    }

    /// Makes a new key pair of the given type.
    pub fn generate(id: KeyPairId, key_type: KeyType) -> Result<Self, crate::SignError> {
        let key = match key_type {
            KeyType::Rsa2048 => PKey::from_rsa(Rsa::generate(2048)?)?,
            KeyType::EcdsaP256 => {
                let group = openssl::ec::EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
                PKey::from_ec_key(EcKey::generate(&group)?)?
            }
        };
        let ec = match key.ec_key() {
            Ok(ec) => Some(EcdsaSigner::new(ec)?),
            Err(_) => None,
        };
        Ok(SigningKey {
            id,
            key,
            key_type,
            ec,
        })
    }
}

/// A public key that checks CloudFront signatures.
#[derive(Clone)]
pub struct VerifyingKey {
    pub(crate) key: PKey<Public>,
    pub(crate) key_type: KeyType,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("key_type", &self.key_type)
            .finish()
    }
}

impl VerifyingKey {
    /// Loads an SPKI (`PUBLIC KEY`) or PKCS#1 (`RSA PUBLIC KEY`) PEM public key.
    pub fn from_pem(pem: &[u8]) -> Result<Self, KeyError> {
        let key = match pem_label(pem)? {
            "PUBLIC KEY" => PKey::public_key_from_pem(pem).map_err(|_| KeyProblem::Unparseable)?,
            "RSA PUBLIC KEY" => {
                let rsa =
                    Rsa::public_key_from_pem_pkcs1(pem).map_err(|_| KeyProblem::Unparseable)?;
                PKey::from_rsa(rsa).map_err(|_| KeyProblem::Unparseable)?
            }
            l if l.contains("PRIVATE KEY") => return Err(KeyProblem::PrivateKeyGiven.into()),
            _ => return Err(KeyProblem::NotPem.into()),
        };
        let key_type = check_type(
            key.id(),
            key.rsa().ok().map(|r| r.n().num_bits() as u32),
            key.ec_key().ok(),
        )?;
        Ok(VerifyingKey { key, key_type })
    }

    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let pem = std::fs::read(path)
            .map_err(|e| KeyError::new(KeyProblem::Io(e.kind().to_string())).with_path(path))?;
        Self::from_pem(&pem).map_err(|e| e.with_path(path))
    }

    pub fn key_type(&self) -> KeyType {
        self.key_type
    }
}

fn check_type<T: openssl::pkey::HasPublic>(
    id: Id,
    rsa_bits: Option<u32>,
    ec: Option<EcKey<T>>,
) -> Result<KeyType, KeyProblem> {
    match id {
        Id::RSA => match rsa_bits {
            Some(2048) => Ok(KeyType::Rsa2048),
            Some(bits) => Err(KeyProblem::RsaSize(bits)),
            None => Err(KeyProblem::Unparseable),
        },
        Id::EC => {
            let curve = ec.and_then(|k| k.group().curve_name());
            match curve {
                Some(Nid::X9_62_PRIME256V1) => Ok(KeyType::EcdsaP256),
                Some(nid) => Err(KeyProblem::WrongCurve(
                    nid.short_name().unwrap_or("unknown").to_owned(),
                )),
                None => Err(KeyProblem::WrongCurve("explicit parameters".to_owned())),
            }
        }
        other => Err(KeyProblem::UnsupportedType(format!("{other:?}"))),
    }
}

/// The label of the first PEM block (`PRIVATE KEY`, `EC PRIVATE KEY`, ...).
fn pem_label(pem: &[u8]) -> Result<&str, KeyProblem> {
    let text = std::str::from_utf8(pem).map_err(|_| KeyProblem::NotPem)?;
    let start = text.find("-----BEGIN ").ok_or(KeyProblem::NotPem)? + "-----BEGIN ".len();
    let end = text[start..].find("-----").ok_or(KeyProblem::NotPem)?;
    Ok(&text[start..start + end])
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Several signing keys, one of them active. New URLs are signed with the active key; the others
/// stay so that URLs they signed keep verifying while CloudFront still trusts them.
#[derive(Clone, Debug)]
pub struct KeySet {
    keys: Vec<Arc<SigningKey>>,
    active: usize,
}

impl KeySet {
    pub fn new(keys: Vec<SigningKey>, active: &KeyPairId) -> Result<Self, KeyError> {
        if keys.is_empty() {
            return Err(KeyProblem::Empty.into());
        }
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].iter().any(|o| o.id == k.id) {
                return Err(KeyProblem::DuplicateId(k.id.to_string()).into());
            }
        }
        let active = keys
            .iter()
            .position(|k| &k.id == active)
            .ok_or_else(|| KeyProblem::ActiveMissing(active.to_string()))?;
        Ok(KeySet {
            keys: keys.into_iter().map(Arc::new).collect(),
            active,
        })
    }

    /// The key new signatures are made with.
    pub fn active(&self) -> &Arc<SigningKey> {
        &self.keys[self.active]
    }

    pub fn get(&self, id: &str) -> Option<&Arc<SigningKey>> {
        self.keys.iter().find(|k| k.id.as_str() == id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<SigningKey>> {
        self.keys.iter()
    }

    /// The public halves of every key, for a verifier.
    pub fn public_keys(&self) -> crate::PublicKeys {
        let mut keys = crate::PublicKeys::default();
        for k in &self.keys {
            keys.insert(k.id.clone(), k.verifying_key());
        }
        keys
    }
}
