//! Signing: a policy's bytes signed with the active key, laid out as CloudFront reads them in a
//! URL or in cookies.

use openssl::hash::MessageDigest;
use openssl::sign::Signer;

use crate::encoding;
use crate::error::SignError;
use crate::keys::SigningKey;
use crate::policy::{Policy, PolicyKind};
use crate::url::SignableUrl;
use crate::Error;

/// The digest under the signature. CloudFront assumes SHA-1 unless `Hash-Algorithm=SHA256`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    #[default]
    Sha1,
    Sha256,
}

impl HashAlgorithm {
    /// Parses `SHA1`/`SHA256` (any case, with or without the dash).
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_uppercase().as_str() {
            "SHA1" | "SHA-1" => Some(HashAlgorithm::Sha1),
            "SHA256" | "SHA-256" => Some(HashAlgorithm::Sha256),
            _ => None,
        }
    }

    /// The value CloudFront uses in `Hash-Algorithm`.
    pub fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha1 => "SHA1",
            HashAlgorithm::Sha256 => "SHA256",
        }
    }

    pub(crate) fn digest(self) -> MessageDigest {
        match self {
            HashAlgorithm::Sha1 => MessageDigest::sha1(),
            HashAlgorithm::Sha256 => MessageDigest::sha256(),
        }
    }
}

/// Names of the signed cookies, in the order they are written.
pub mod cookie_names {
    pub const EXPIRES: &str = "CloudFront-Expires";
    pub const POLICY: &str = "CloudFront-Policy";
    pub const SIGNATURE: &str = "CloudFront-Signature";
    pub const KEY_PAIR_ID: &str = "CloudFront-Key-Pair-Id";
    pub const HASH_ALGORITHM: &str = "CloudFront-Hash-Algorithm";
}

/// A policy signed once, with the query parameters that carry it (`Policy=...&Signature=...
/// &Key-Pair-Id=...`): every URL its resource covers is signed by appending them, with no
/// further signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedPolicy {
    policy: Policy,
    query: String,
}

impl SignedPolicy {
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The signing parameters, without a leading `?` or `&`.
    pub fn query(&self) -> &str {
        &self.query
    }

    /// `url` carrying this signature, when the policy covers it (a canned policy covers its own
    /// URL only): byte for byte what [`SigningKey::sign_url`] gives for the same policy.
    pub fn sign_url(&self, url: &SignableUrl) -> Result<String, crate::InputError> {
        if !covers(&self.policy, url) {
            return Err(mismatch(&self.policy, url));
        }
        Ok(self.url_unchecked(url))
    }

    fn url_unchecked(&self, url: &SignableUrl) -> String {
        let mut out = String::with_capacity(url.as_str().len() + self.query.len() + 1);
        out.push_str(url.as_str());
        out.push(if url.query().is_some() { '&' } else { '?' });
        out.push_str(&self.query);
        out
    }
}

fn covers(policy: &Policy, url: &SignableUrl) -> bool {
    policy.resource().matches(url)
        && (policy.kind() == PolicyKind::Custom || policy.resource().as_str() == url.as_str())
}

fn mismatch(policy: &Policy, url: &SignableUrl) -> crate::InputError {
    crate::InputError::ResourceMismatch {
        pattern: policy.resource().to_string(),
        url: url.to_string(),
    }
}

/// The cookies that carry a signature, as `(name, value)` pairs in CloudFront's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCookies(pub Vec<(&'static str, String)>);

impl SignedCookies {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl SigningKey {
    /// Signs raw policy bytes: RSASSA-PKCS1-v1_5, or ECDSA with a DER-encoded signature. Both
    /// are deterministic (ECDSA by RFC 6979): one key signs one policy with the same bytes in
    /// every process.
    pub fn sign_bytes(&self, message: &[u8], hash: HashAlgorithm) -> Result<Vec<u8>, SignError> {
        if let Some(ec) = &self.ec {
            return Ok(ec.sign(message, hash)?.to_der()?);
        }
        let mut signer = Signer::new(hash.digest(), &self.key)?;
        signer.update(message)?;
        Ok(signer.sign_to_vec()?)
    }

    /// Signs `url` under `policy`, which must have been made for it with [`Policy::for_url`].
    /// The URL's own query parameters come first, then `Expires` or `Policy`, `Signature`,
    /// `Key-Pair-Id` and, for SHA-256, `Hash-Algorithm`.
    pub fn sign_url(
        &self,
        url: &SignableUrl,
        policy: &Policy,
        hash: HashAlgorithm,
    ) -> Result<String, Error> {
        if !covers(policy, url) {
            return Err(mismatch(policy, url).into());
        }
        Ok(self.sign_policy(policy, hash)?.url_unchecked(url))
    }

    /// Signs `policy` once, for every URL its resource covers: a custom policy with a wildcard
    /// resource (`https://d.example/users/alice/*`) signs a whole folder with one signature.
    pub fn sign_policy(
        &self,
        policy: &Policy,
        hash: HashAlgorithm,
    ) -> Result<SignedPolicy, SignError> {
        let signature = encoding::encode(&self.sign_bytes(policy.json().as_bytes(), hash)?);
        let mut query = String::with_capacity(signature.len() + 2 * policy.json().len() + 64);
        match policy.kind() {
            PolicyKind::Canned => {
                query.push_str("Expires=");
                query.push_str(&policy.expires().to_string());
            }
            PolicyKind::Custom => {
                query.push_str("Policy=");
                query.push_str(&encoding::encode(policy.json().as_bytes()));
            }
        }
        query.push_str("&Signature=");
        query.push_str(&signature);
        query.push_str("&Key-Pair-Id=");
        query.push_str(self.id.as_str());
        if hash == HashAlgorithm::Sha256 {
            query.push_str("&Hash-Algorithm=SHA256");
        }
        Ok(SignedPolicy {
            policy: policy.clone(),
            query,
        })
    }

    /// Signs `policy` as cookies: `CloudFront-Expires` (canned) or `CloudFront-Policy` (custom),
    /// `CloudFront-Signature`, `CloudFront-Key-Pair-Id`, and `CloudFront-Hash-Algorithm` for
    /// SHA-256.
    pub fn sign_cookies(
        &self,
        policy: &Policy,
        hash: HashAlgorithm,
    ) -> Result<SignedCookies, SignError> {
        let signature = encoding::encode(&self.sign_bytes(policy.json().as_bytes(), hash)?);
        let mut cookies = Vec::with_capacity(4);
        match policy.kind() {
            PolicyKind::Canned => {
                cookies.push((cookie_names::EXPIRES, policy.expires().to_string()))
            }
            PolicyKind::Custom => cookies.push((
                cookie_names::POLICY,
                encoding::encode(policy.json().as_bytes()),
            )),
        }
        cookies.push((cookie_names::SIGNATURE, signature));
        cookies.push((cookie_names::KEY_PAIR_ID, self.id.as_str().to_owned()));
        if hash == HashAlgorithm::Sha256 {
            cookies.push((cookie_names::HASH_ALGORITHM, hash.name().to_owned()));
        }
        Ok(SignedCookies(cookies))
    }
}
