//! Django session values made here, as `django.core.signing` makes them (signgate's fixtures,
//! made by real Django, prove signgate reads that format), for sessions of a chosen length.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

pub use signgate::authenticate::django::{DB_SALT, SIGNED_COOKIES_SALT};

use crate::tokens::b64url;

/// `json` signed as Django signs a session (not compressed), dated `timestamp`.
pub fn signed(json: &str, salt: &str, secret: &[u8], timestamp: u64) -> String {
    let value = format!("{}:{}", b64url(json), base62(timestamp));
    let mut key = Sha256::new();
    key.update(salt.as_bytes());
    key.update(b"signer");
    key.update(secret);
    let mut mac = Hmac::<Sha256>::new_from_slice(&key.finalize()).unwrap();
    mac.update(value.as_bytes());
    format!("{value}:{}", b64url(mac.finalize().into_bytes()))
}

/// A signed session of `subject` padded to exactly `len` bytes. Its length is a base64 length
/// (never 4k + 1), the timestamp's base62 and 45 bytes of separators and signature, so with a
/// six-character timestamp (any date from 1999 to 2063) `len` must not be a multiple of 4: a
/// bound of 4k + 2 and one byte more can both be made. Panics when `len` cannot be made.
pub fn session_of_len(
    subject: &str,
    len: usize,
    salt: &str,
    secret: &[u8],
    timestamp: u64,
) -> String {
    let fixed = 45 + base62(timestamp).len();
    let b64_len = len
        .checked_sub(fixed)
        .expect("long enough for the signature");
    assert_ne!(b64_len % 4, 1, "no base64 text is {b64_len} long");
    let json_len = b64_len * 3 / 4;
    let head = format!("{{\"_auth_user_id\":\"{subject}\",\"pad\":\"");
    let pad = json_len
        .checked_sub(head.len() + 2)
        .expect("long enough for the subject");
    let value = signed(
        &format!("{head}{}\"}}", "x".repeat(pad)),
        salt,
        secret,
        timestamp,
    );
    assert_eq!(value.len(), len);
    value
}

/// Django's `b62_encode`, for timestamps.
fn base62(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 62) as usize]);
        n /= 62;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base62_matches_django() {
        assert_eq!(base62(1_748_779_200), "1uLhM8");
        assert_eq!(base62(0), "0");
        assert_eq!(base62(61), "z");
    }

    #[test]
    fn sessions_have_the_length_asked_for() {
        for len in [1025, 1026, 1027, 4094, 4095] {
            assert_eq!(
                session_of_len("42", len, DB_SALT, b"k", 1_748_779_200).len(),
                len
            );
        }
    }
}
