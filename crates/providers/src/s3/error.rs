//! What the S3 signer refuses, and why S3 answers 403.

use crate::url::UrlError;

/// Input refused by the S3 signer, or credentials refused at load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("invalid access key ID {0:?}: give the key's ID as its name (3 to 128 visible characters, no '/')")]
    BadAccessKeyId(String),
    #[error("the secret access key of {key} is refused: {reason}")]
    BadSecret { key: String, reason: &'static str },
    #[error("the session token must be 16 to 4096 visible ASCII characters")]
    BadSessionToken,
    #[error("invalid region {0:?}: give the bucket's region as the store names it (eu-west-1, auto for R2, us-east-1 for MinIO)")]
    BadRegion(String),
    #[error("method {0:?}: presigned links are signed for GET or HEAD")]
    UnsupportedMethod(String),
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error("write the host in lowercase: the Host header a client sends is signed")]
    UppercaseHost,
    #[error("the URL names no object: give the bucket's URL and the object's key")]
    NoObject,
    #[error("the URL is not in S3's canonical encoding (every byte but A-Z a-z 0-9 - . _ ~ as %XX): {0}")]
    NotCanonical(String),
    #[error("query parameter {0:?} is not one a presigned download carries (response-*, versionId, partNumber)")]
    UnsupportedParameter(String),
    #[error("query parameter {0:?} is given twice")]
    DuplicateParameter(String),
    #[error("query parameter {0:?} has no value")]
    ParameterWithoutValue(String),
    #[error("S3 presigned URLs carry the moment they were signed (X-Amz-Date): the grant must say it (signed_at)")]
    SigningTimeRequired,
    #[error("S3 presigned URLs have no start time of their own (X-Amz-Date is the signing time)")]
    StartTimeUnsupported,
    #[error("the expiry must come after the signing time")]
    ExpiryNotAfterSigning,
    #[error("X-Amz-Expires would be {0} s; S3 accepts at most 604800 s (7 days)")]
    ExpiresTooLong(u64),
    #[error("the signing time {0} cannot be written as X-Amz-Date (after the year 9999)")]
    DateOutOfRange(u64),
    #[error("S3 presigned URLs cannot bind a client address (AWS checks aws:SourceIp in a bucket policy instead)")]
    IpBindingUnsupported,
    #[error("S3 presigned URLs cover one object and method: there is no folder credential (cookie, path or query)")]
    NoPrefixForm,
}

/// Why S3 (or an S3-compatible store) answers 403.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Denial {
    #[error("no X-Amz-Signature in the query: the request is anonymous")]
    MissingSignature,
    #[error("the X-Amz-* parameters are missing, repeated or malformed")]
    Malformed,
    #[error("X-Amz-Algorithm is not AWS4-HMAC-SHA256")]
    UnsupportedAlgorithm,
    #[error("the access key ID in X-Amz-Credential is not this store's (InvalidAccessKeyId)")]
    UnknownAccessKey,
    #[error("the scope in X-Amz-Credential (date, region, service) does not match X-Amz-Date and the bucket's region")]
    WrongScope,
    #[error("X-Amz-SignedHeaders is not host: headers beside the URL are not checked here")]
    UnsupportedSignedHeaders,
    #[error("X-Amz-Expires must be 1 to 604800 seconds (7 days)")]
    ExpiresOutOfRange,
    #[error("X-Amz-Security-Token is missing, unexpected or not this session's")]
    SecurityToken,
    #[error("the signature does not match (SignatureDoesNotMatch)")]
    InvalidSignature,
    #[error("X-Amz-Date is more than 15 minutes ahead of the store's clock")]
    NotYetValid,
    #[error("the presigned URL has expired (X-Amz-Date + X-Amz-Expires)")]
    Expired,
}

impl Denial {
    /// A stable, machine-readable name.
    pub fn code(self) -> &'static str {
        match self {
            Denial::MissingSignature => "missing_signature",
            Denial::Malformed => "malformed",
            Denial::UnsupportedAlgorithm => "unsupported_algorithm",
            Denial::UnknownAccessKey => "unknown_access_key",
            Denial::WrongScope => "wrong_scope",
            Denial::UnsupportedSignedHeaders => "unsupported_signed_headers",
            Denial::ExpiresOutOfRange => "expires_out_of_range",
            Denial::SecurityToken => "security_token",
            Denial::InvalidSignature => "invalid_signature",
            Denial::NotYetValid => "not_yet_valid",
            Denial::Expired => "expired",
        }
    }
}
