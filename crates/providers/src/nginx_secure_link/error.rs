//! What the signer refuses and why nginx would refuse a request.

use crate::url::UrlError;

/// Input refused by the signer, or configuration refused at load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("the secret is empty")]
    EmptySecret,
    #[error("the secret contains {0:?}, which nginx would not read literally in a quoted string")]
    SecretCharacter(char),
    #[error("the expression must contain $secret exactly once")]
    SecretPlaceholder,
    #[error("unknown variable ${0} in the expression (known: secure_link_expires, uri, remote_addr, arg_<name>, secret, and the location's named captures)")]
    UnknownVariable(String),
    #[error("unterminated ${{...}} in the expression")]
    Unterminated,
    #[error("invalid parameter name {0:?}")]
    BadParamName(String),
    #[error("{0:?} is not one nginx variable ($arg_<name>, $cookie_<name> or $<capture>)")]
    BadVariable(String),
    #[error(
        "secure_link {0:?} mixes kinds of variables; use two $arg_, two $cookie_ or two captures"
    )]
    MixedSource(String),
    #[error("the location regex cannot be used: {0}")]
    BadLocation(String),
    #[error("${0} is not a named capture of the location regex")]
    UnknownCapture(String),
    #[error("the rotation map must read a variable of the form secure_link reads ({0})")]
    RotationSelector(&'static str),
    #[error("invalid key name {0:?} for the rotation map: use letters, digits, '-' or '_'")]
    BadKeyName(String),
    #[error("nginx checks one secret per request: a previous secret needs a Rotation (a map chosen by the link)")]
    PreviousNeedsRotation,
    #[error("the {0} form signs a folder: the location regex must open with the folder capture, ^(?<name>..., and the expression must contain $name")]
    FolderNotSigned(&'static str),
    #[error("{0} differs between the files of one folder: a folder credential can sign $secure_link_expires, the folder capture, $remote_addr and text only")]
    NotAFolderExpression(String),
    #[error("the expression has no $uri, so a link would not be bound to its URL")]
    UriNotSigned,
    #[error("this location reads the credential from the {configured} form; {asked} cannot be delivered")]
    DeliveryNotConfigured {
        configured: &'static str,
        asked: &'static str,
    },
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error(
        "the path {0:?} is not in the form nginx checks ($uri): no dot segments, '//', %2F or %00"
    )]
    AmbiguousPath(String),
    #[error("the location regex does not match {0:?}")]
    OutsideLocation(String),
    #[error("a folder prefix must end with '/': {0:?}")]
    FolderWithoutSlash(String),
    #[error("{url} is not under {prefix}")]
    OutsidePrefix { url: String, prefix: String },
    #[error("the location regex does not read {0} as signed (folder, hash, expiry or key capture differ)")]
    LayoutMismatch(String),
    #[error("the expression has no $secure_link_expires, so the link cannot expire")]
    ExpiryNotSigned,
    #[error("the expression has no $remote_addr, so the link cannot be bound to a client IP")]
    IpNotSigned,
    #[error("the expression has $remote_addr: give the client IP")]
    IpRequired,
    #[error("secure_link has no start time")]
    StartTimeUnsupported,
    #[error("expiry {0} is beyond what nginx parses")]
    ExpiresTooLarge(u64),
    #[error("nginx reads an expiry of 0 as a bad link")]
    ExpiresZero,
}

/// Why nginx refuses: `$secure_link` is empty (bad) or `"0"` (expired), or this location does
/// not apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Denial {
    #[error("the location regex does not match this path")]
    OutsideLocation,
    #[error("$secure_link is \"\": the hash is missing")]
    MissingHash,
    #[error("$secure_link is \"\": the expiry is not a positive number")]
    MalformedExpiry,
    #[error("$secure_link is \"\": the hash does not match")]
    BadHash,
    #[error("$secure_link is \"0\": the link has expired")]
    Expired,
}

impl Denial {
    pub fn code(self) -> &'static str {
        match self {
            Denial::OutsideLocation => "outside_location",
            Denial::MissingHash => "missing_hash",
            Denial::MalformedExpiry => "malformed_expiry",
            Denial::BadHash => "bad_hash",
            Denial::Expired => "expired",
        }
    }
}
