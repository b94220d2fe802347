//! CloudFront signed URLs and signed cookies, byte-exact.
//!
//! The flow is: parse the URL ([`SignableUrl`]), describe the conditions ([`Conditions`]), build
//! the [`Policy`] (canned or custom, chosen from the conditions), and sign it with a
//! [`SigningKey`] from a [`KeySet`]. [`verify_url`] and [`verify_cookies`] check a signed request
//! the way CloudFront does. Time is always passed in; nothing here reads the clock or does I/O
//! beyond loading key files.

mod ecdsa;
mod encoding;
mod error;
mod keys;
mod pattern;
mod policy;
mod rfc6979;
mod scalar;
mod sign;
mod url;
mod verify;

pub use encoding::{decode as decode_base64, encode as encode_base64};
pub use error::{Denial, InputError, KeyError, KeyProblem, SignError};
pub use keys::{KeyPairId, KeySet, KeyType, SigningKey, VerifyingKey};
pub use policy::{Conditions, Ipv4Range, Policy, PolicyKind, MAX_EPOCH};
pub use sign::{cookie_names, HashAlgorithm, SignedCookies, SignedPolicy};
pub use url::{ResourcePattern, SignableUrl, MAX_URL_LEN, SIGNING_PARAMS};
pub use verify::{verify_cookies, verify_url, PublicKeys, Verified, Viewer};

/// Any failure while producing a signed URL.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Sign(#[from] SignError),
}
