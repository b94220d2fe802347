//! Step 1 of a request: the object key, parsed from the raw request path.
//!
//! The path is hostile until parsed. Escapes that could change the meaning of the path after
//! another decoding (`%2F`, `%5C`, `%2E`, `%25`) are refused rather than decoded, as are dot
//! segments, empty segments, backslashes, control characters, invalid UTF-8 (overlong forms
//! included), wildcards that would widen a custom policy, and keys that are too long.

use std::fmt;

/// A validated object key: UTF-8, `/`-separated, non-empty segments, no wildcards.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectKey(String);

/// Why a path is not a valid object key. Each one is a 400 with its code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyRejection {
    #[error("the object key is empty")]
    Empty,
    #[error("the object key is longer than allowed")]
    TooLong,
    #[error("the path has an invalid %-escape")]
    InvalidEscape,
    #[error("encoded '/', '\\', '.' or '%' is not allowed in the path")]
    EncodedSeparator,
    #[error("the object key is not valid UTF-8")]
    InvalidUtf8,
    #[error("control characters are not allowed in the object key")]
    ControlCharacter,
    #[error("backslashes are not allowed in the object key")]
    Backslash,
    #[error("'.' and '..' segments are not allowed in the object key")]
    DotSegment,
    #[error("empty segments ('//', or a leading or trailing '/') are not allowed")]
    EmptySegment,
    #[error("'*', '?', ';', '#' and '%' are not allowed in the object key")]
    ReservedCharacter,
}

impl KeyRejection {
    pub fn code(self) -> &'static str {
        match self {
            KeyRejection::Empty => "empty_key",
            KeyRejection::TooLong => "key_too_long",
            KeyRejection::InvalidEscape => "invalid_escape",
            KeyRejection::EncodedSeparator => "encoded_separator",
            KeyRejection::InvalidUtf8 => "invalid_utf8",
            KeyRejection::ControlCharacter => "control_character",
            KeyRejection::Backslash => "backslash",
            KeyRejection::DotSegment => "dot_segment",
            KeyRejection::EmptySegment => "empty_segment",
            KeyRejection::ReservedCharacter => "reserved_character",
        }
    }
}

impl ObjectKey {
    /// Parses the raw (still percent-encoded) path that follows the files prefix, without its
    /// leading `/`. `max_bytes` bounds the decoded key.
    pub fn from_raw_path(raw: &str, max_bytes: usize) -> Result<Self, KeyRejection> {
        if raw.is_empty() {
            return Err(KeyRejection::Empty);
        }
        // Each escape is 3 bytes for 1; anything longer than that cannot fit.
        if raw.len() > max_bytes.saturating_mul(3) {
            return Err(KeyRejection::TooLong);
        }
        let bytes = raw.as_bytes();
        let mut decoded = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'%' {
                let hi = bytes.get(i + 1).and_then(|c| hex(*c));
                let lo = bytes.get(i + 2).and_then(|c| hex(*c));
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(KeyRejection::InvalidEscape);
                };
                let value = hi << 4 | lo;
                if matches!(value, b'/' | b'\\' | b'.' | b'%') {
                    return Err(KeyRejection::EncodedSeparator);
                }
                decoded.push(value);
                i += 3;
            } else {
                decoded.push(b);
                i += 1;
            }
        }
        if decoded.len() > max_bytes {
            return Err(KeyRejection::TooLong);
        }
        let key = String::from_utf8(decoded).map_err(|_| KeyRejection::InvalidUtf8)?;
        Self::check(&key)?;
        Ok(ObjectKey(key))
    }

    /// Checks an already-decoded key (for keys that arrive in a JSON body, say).
    pub fn parse(key: &str, max_bytes: usize) -> Result<Self, KeyRejection> {
        if key.is_empty() {
            return Err(KeyRejection::Empty);
        }
        if key.len() > max_bytes {
            return Err(KeyRejection::TooLong);
        }
        Self::check(key)?;
        Ok(ObjectKey(key.to_owned()))
    }

    fn check(key: &str) -> Result<(), KeyRejection> {
        for c in key.chars() {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') {
                return Err(KeyRejection::ControlCharacter);
            }
            match c {
                '\\' => return Err(KeyRejection::Backslash),
                '*' | '?' | ';' | '#' | '%' => return Err(KeyRejection::ReservedCharacter),
                _ => {}
            }
        }
        for segment in key.split('/') {
            match segment {
                "" => return Err(KeyRejection::EmptySegment),
                "." | ".." => return Err(KeyRejection::DotSegment),
                _ => {}
            }
        }
        Ok(())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn segments(&self) -> impl Iterator<Item = &str> + Clone {
        self.0.split('/')
    }

    /// The key as a URL path: every byte but RFC 3986 unreserved characters and `/` escaped.
    pub fn to_url_path(&self) -> String {
        percent_encode(&self.0, |b| b == b'/')
    }
}

/// Escapes every byte of `text` except RFC 3986 unreserved characters and those `keep` allows.
pub(crate) fn percent_encode(text: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') || keep(b) {
            out.push(b as char);
        } else {
            push_escape(&mut out, b);
        }
    }
    out
}

/// A query-parameter value: everything but RFC 3986 unreserved characters escaped.
pub(crate) fn encode_component(text: &str) -> String {
    percent_encode(text, |_| false)
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

pub(crate) fn push_escape(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(HEX[usize::from(b >> 4)] as char);
    out.push(HEX[usize::from(b & 0xf)] as char);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(raw: &str) -> Result<String, KeyRejection> {
        ObjectKey::from_raw_path(raw, 1024).map(|k| k.0)
    }

    #[test]
    fn accepts_ordinary_keys_and_decodes_escapes() {
        assert_eq!(key("public/a.txt").unwrap(), "public/a.txt");
        assert_eq!(
            key("public/My%20Holiday%20%C3%A9t%C3%A9.mp4").unwrap(),
            "public/My Holiday été.mp4"
        );
        assert_eq!(key("a/b+c/d.e-f_g~h").unwrap(), "a/b+c/d.e-f_g~h");
        assert_eq!(key("users/alice/.profile").unwrap(), "users/alice/.profile");
        assert_eq!(key("a/...").unwrap(), "a/...");
    }

    #[test]
    fn refuses_traversal_and_encoded_separators() {
        use KeyRejection::*;
        let cases = [
            ("", Empty),
            ("../etc/passwd", DotSegment),
            ("public/../users/bob/x", DotSegment),
            ("public/./a", DotSegment),
            ("public/%2e%2e/x", EncodedSeparator),
            ("public/%2E%2E/x", EncodedSeparator),
            ("public/.%2e/x", EncodedSeparator),
            ("public%2fx", EncodedSeparator),
            ("public%2Fx", EncodedSeparator),
            ("public%5cx", EncodedSeparator),
            ("public/%252e%252e/x", EncodedSeparator),
            ("public\\..\\x", Backslash),
            ("public//a", EmptySegment),
            ("/public/a", EmptySegment),
            ("public/a/", EmptySegment),
            ("public/a%00", ControlCharacter),
            ("public/a%0d%0aSet-Cookie:x", ControlCharacter),
            ("public/a%09b", ControlCharacter),
            ("public/a%7f", ControlCharacter),
            ("public/a%c2%85", ControlCharacter),
            ("public/%c0%ae%c0%ae/x", InvalidUtf8),
            ("public/%ff", InvalidUtf8),
            ("public/%e2%82", InvalidUtf8),
            ("public/%zz", InvalidEscape),
            ("public/%4", InvalidEscape),
            ("public/a%", InvalidEscape),
            ("public/*", ReservedCharacter),
            ("public/%2a", ReservedCharacter),
            ("public/a%3fb", ReservedCharacter),
            ("public/a;jsessionid=1", ReservedCharacter),
            ("public/a%23frag", ReservedCharacter),
        ];
        for (raw, expected) in cases {
            assert_eq!(key(raw), Err(expected), "{raw:?}");
        }
    }

    #[test]
    fn length_is_bounded_after_decoding() {
        let long = "a".repeat(1025);
        assert_eq!(key(&long), Err(KeyRejection::TooLong));
        assert!(key(&"a".repeat(1024)).is_ok());
        assert_eq!(key(&"%20".repeat(1025)), Err(KeyRejection::TooLong));
        assert_eq!(key(&"a".repeat(10_000)), Err(KeyRejection::TooLong));
    }

    #[test]
    fn url_path_escapes_everything_but_unreserved() {
        let k = ObjectKey::parse("public/My Holiday été+(1).mp4", 1024).unwrap();
        assert_eq!(
            k.to_url_path(),
            "public/My%20Holiday%20%C3%A9t%C3%A9%2B%281%29.mp4"
        );
    }

    proptest! {
        #[test]
        fn accepted_keys_round_trip_through_the_url_path(raw in "\\PC{0,40}") {
            if let Ok(k) = ObjectKey::parse(&raw, 1024) {
                let again = ObjectKey::from_raw_path(&k.to_url_path(), 1024).unwrap();
                prop_assert_eq!(again, k);
            }
        }

        #[test]
        fn never_panics_and_never_yields_traversal(raw in "[a-z./%25cefE2\\\\*?]{0,24}") {
            if let Ok(k) = ObjectKey::from_raw_path(&raw, 1024) {
                prop_assert!(k.segments().all(|s| !s.is_empty() && s != "." && s != ".."));
                prop_assert!(!k.as_str().contains(['\\', '*', '?', '%']));
            }
        }
    }
}
