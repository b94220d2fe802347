//! Error types of the signing core. Every message names the problem and, where it helps, the fix;
//! none of them contains key material.

use std::path::PathBuf;

/// Input that cannot be turned into a correct signed URL. Refused rather than guessed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("the URL must be absolute, such as https://d111111abcdef8.cloudfront.net/path")]
    NotAbsolute,
    #[error("scheme {0:?} is not supported: use http or https")]
    Scheme(String),
    #[error("a URL with a #fragment cannot be signed: browsers never send the fragment")]
    Fragment,
    #[error("the URL has no host")]
    MissingHost,
    #[error("user:password@ is not allowed in the URL")]
    UserInfo,
    #[error("a non-ASCII host name must be given in its punycode (xn--) form")]
    NonAsciiHost,
    #[error("the host is not a valid DNS name or IP literal")]
    BadHost,
    #[error("the port is not a number")]
    BadPort,
    #[error("'%' must start a %XX escape; write a literal percent sign as %25")]
    StrayPercent,
    #[error("control character U+{0:04X} is not allowed in a URL")]
    ControlCharacter(u32),
    #[error("the URL ends in an empty query string ('?')")]
    EmptyQuery,
    #[error("the URL already carries the CloudFront signing parameter {0}")]
    ReservedParameter(&'static str),
    #[error("the URL is longer than {0} bytes")]
    TooLong(usize),
    #[error("time {0} is after 2147483647, the largest time CloudFront accepts")]
    TimeTooLarge(u64),
    #[error("the expiry ({expires}) must be after the start time ({starts})")]
    ExpiryNotAfterStart { expires: u64, starts: u64 },
    #[error("invalid IP range {0:?}: give an IPv4 address or CIDR such as 192.0.2.0/24")]
    BadIp(String),
    #[error("IPv6 {0:?} cannot be used: CloudFront's IpAddress condition supports IPv4 only")]
    Ipv6(String),
    #[error("the resource pattern {pattern} does not cover the URL {url}")]
    ResourceMismatch { pattern: String, url: String },
    #[error(
        "the URL contains '*', which a custom policy would read as a wildcard; \
         percent-encode it as %2A or give an explicit resource pattern"
    )]
    WildcardInUrl,
    #[error("invalid Key-Pair-Id {0:?}: expected 1 to 64 ASCII letters and digits")]
    BadKeyPairId(String),
}

/// What is wrong with a key, independent of where it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyProblem {
    #[error("cannot read the file: {0}")]
    Io(String),
    #[error("not a PEM-encoded key")]
    NotPem,
    #[error("this is a public key; a private key is needed to sign")]
    PublicKeyGiven,
    #[error("this is a private key; give the public key")]
    PrivateKeyGiven,
    #[error("the key is encrypted: set its passphrase (SIGNGATE_KEY_PASSPHRASE)")]
    NeedsPassphrase,
    #[error("wrong passphrase, or a damaged encrypted key")]
    WrongPassphrase,
    #[error("the PEM block could not be parsed as a key")]
    Unparseable,
    #[error("unsupported key type {0}: CloudFront takes RSA-2048 or ECDSA P-256 keys")]
    UnsupportedType(String),
    #[error("RSA key of {0} bits: CloudFront takes RSA keys of exactly 2048 bits")]
    RsaSize(u32),
    #[error("ECDSA key on curve {0}: CloudFront takes P-256 (prime256v1) only")]
    WrongCurve(String),
    #[error("duplicate Key-Pair-Id {0} in the key set")]
    DuplicateId(String),
    #[error("the active Key-Pair-Id {0} is not in the key set")]
    ActiveMissing(String),
    #[error("the key set is empty")]
    Empty,
}

/// A key that could not be loaded, with the file it came from when there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{problem}", .path.as_ref().map(|p| format!("key file {}: ", p.display())).unwrap_or_default())]
pub struct KeyError {
    pub path: Option<PathBuf>,
    pub problem: KeyProblem,
}

impl KeyError {
    pub(crate) fn new(problem: KeyProblem) -> Self {
        KeyError {
            path: None,
            problem,
        }
    }

    /// Names the file the key came from.
    pub fn with_path(mut self, path: &std::path::Path) -> Self {
        self.path = Some(path.to_path_buf());
        self
    }
}

impl From<KeyProblem> for KeyError {
    fn from(problem: KeyProblem) -> Self {
        KeyError::new(problem)
    }
}

/// Signing failed inside the crypto library. Not expected with a key that loaded.
#[derive(Debug, thiserror::Error)]
#[error("signing failed in the crypto library")]
pub struct SignError(#[from] pub(crate) openssl::error::ErrorStack);

/// Why a signed request is refused, worded after CloudFront's own 403 messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Denial {
    #[error("Missing Key-Pair-Id query parameter or cookie value")]
    MissingKeyPairId,
    #[error("Missing Signature query parameter or cookie value")]
    MissingSignature,
    #[error("Missing Expires or Policy query parameter or cookie value")]
    MissingPolicy,
    #[error("Unknown Key")]
    UnknownKey,
    #[error("Malformed Policy")]
    MalformedPolicy,
    #[error("Unsupported Hash-Algorithm")]
    UnsupportedHashAlgorithm,
    #[error("Invalid Signature")]
    InvalidSignature,
    #[error("Access denied: the signed URL or cookie has expired")]
    Expired,
    #[error("Access denied: the signed URL or cookie is not yet valid")]
    NotYetValid,
    #[error("Access denied: the client IP address is not allowed by the policy")]
    IpNotAllowed,
    #[error("Access denied: the policy's Resource does not match the request URL")]
    ResourceMismatch,
}

impl Denial {
    /// A stable, machine-readable name (for logs and metrics labels).
    pub fn code(self) -> &'static str {
        match self {
            Denial::MissingKeyPairId => "missing_key_pair_id",
            Denial::MissingSignature => "missing_signature",
            Denial::MissingPolicy => "missing_policy",
            Denial::UnknownKey => "unknown_key",
            Denial::MalformedPolicy => "malformed_policy",
            Denial::UnsupportedHashAlgorithm => "unsupported_hash_algorithm",
            Denial::InvalidSignature => "invalid_signature",
            Denial::Expired => "expired",
            Denial::NotYetValid => "not_yet_valid",
            Denial::IpNotAllowed => "ip_not_allowed",
            Denial::ResourceMismatch => "resource_mismatch",
        }
    }
}
