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
    #[error("a character that reads as '/', '\\', '.', '*', '?', ';', '#' or '%' once normalized is not allowed in the object key")]
    LookAlike,
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
            KeyRejection::LookAlike => "look_alike_character",
        }
    }
}

/// What one byte of a key is to [`ObjectKey::check`], looked up in [`BYTE_CLASS`]: the check
/// skips runs of plain bytes with one load and one test per byte (every request's key pays
/// this loop) and looks closer only at the others.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ByteClass {
    Plain,
    Slash,
    /// The first or a later byte of a multi-byte character: the key's characters are checked
    /// after the pass.
    NonAscii,
    Control,
    Backslash,
    Reserved,
}

static BYTE_CLASS: [ByteClass; 256] = {
    let mut table = [ByteClass::Plain; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = match b as u8 {
            0x00..=0x1f | 0x7f => ByteClass::Control,
            b'\\' => ByteClass::Backslash,
            b'*' | b'?' | b';' | b'#' | b'%' => ByteClass::Reserved,
            b'/' => ByteClass::Slash,
            0x80.. => ByteClass::NonAscii,
            _ => ByteClass::Plain,
        };
        b += 1;
    }
    table
};

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
        if !bytes.contains(&b'%') {
            // Nothing to decode (the usual key): one copy, no byte-by-byte rebuild.
            if raw.len() > max_bytes {
                return Err(KeyRejection::TooLong);
            }
            Self::check(raw)?;
            return Ok(ObjectKey(raw.to_owned()));
        }
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
        // One pass over the bytes (every key pays this; no char decoding for ASCII). A byte's
        // refusal outranks a segment's, so a segment's is kept until the pass is over; then,
        // only for keys that hold non-ASCII, the characters a byte cannot show.
        let bytes = key.as_bytes();
        let mut segment_error = None;
        let mut start = 0;
        let mut ascii = true;
        let class = |b: &u8| BYTE_CLASS[usize::from(*b)];
        let mut from = 0;
        while let Some(skipped) = bytes[from..]
            .iter()
            .position(|b| class(b) != ByteClass::Plain)
        {
            let i = from + skipped;
            match class(&bytes[i]) {
                ByteClass::Slash => {
                    segment_error = segment_error.or(Self::segment_error(&bytes[start..i]));
                    start = i + 1;
                }
                ByteClass::NonAscii => ascii = false,
                ByteClass::Control => return Err(KeyRejection::ControlCharacter),
                ByteClass::Backslash => return Err(KeyRejection::Backslash),
                ByteClass::Reserved => return Err(KeyRejection::ReservedCharacter),
                ByteClass::Plain => unreachable!("skipped"),
            }
            from = i + 1;
        }
        let segment_error = segment_error.or(Self::segment_error(&bytes[start..]));
        if !ascii
            && key
                .chars()
                .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}'))
        {
            return Err(KeyRejection::ControlCharacter);
        }
        if let Some(refusal) = segment_error {
            return Err(refusal);
        }
        if !ascii {
            for segment in key.split('/') {
                if let Some(folded) = folded_segment(segment) {
                    if folds_into_path_syntax(&folded) || folded.contains(['*', ';']) {
                        return Err(KeyRejection::LookAlike);
                    }
                }
            }
        }
        Ok(())
    }

    fn segment_error(segment: &[u8]) -> Option<KeyRejection> {
        match segment {
            b"" => Some(KeyRejection::EmptySegment),
            b"." | b".." => Some(KeyRejection::DotSegment),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key's segments, split by byte (`/` is ASCII, so every cut is a character boundary;
    /// `str::split`'s searcher cost more than a whole rule match for a short key).
    pub fn segments(&self) -> Segments<'_> {
        Segments(Some(&self.0))
    }

    /// The key as a URL path: every byte but RFC 3986 unreserved characters and `/` escaped.
    pub fn to_url_path(&self) -> String {
        percent_encode(&self.0, |b| b == b'/')
    }
}

/// The segments of an [`ObjectKey`], from [`ObjectKey::segments`].
#[derive(Clone)]
pub struct Segments<'a>(Option<&'a str>);

impl<'a> Iterator for Segments<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.0?;
        match rest.bytes().position(|b| b == b'/') {
            Some(i) => {
                self.0 = Some(&rest[i + 1..]);
                Some(&rest[..i])
            }
            None => {
                self.0 = None;
                Some(rest)
            }
        }
    }
}

/// What a decoded path segment reads as once an origin folds compatibility characters: Unicode
/// NFKC (Java's `Normalizer`, Python's `unicodedata`, .NET's `Normalize(FormKC)`, used by some
/// origins and upload handlers on paths), then the slash look-alikes NFKC leaves alone that
/// Windows' best-fit code-page conversion still turns into `/` or `\` (division slash, fraction
/// slash, set minus and the mathematical solidi). `None` for an ASCII segment, which nothing
/// folds. Fullwidth `．．／` (U+FF0E U+FF0E U+FF0F) folds to `../`, U+2025 (two dot leader) to
/// `..`, U+2100 (account of) to `a/c`.
pub(crate) fn folded_segment(segment: &str) -> Option<String> {
    use unicode_normalization::UnicodeNormalization;
    if segment.is_ascii() {
        return None;
    }
    Some(
        segment
            .nfkc()
            .map(|c| match c {
                '\u{2044}' | '\u{2215}' | '\u{29F8}' => '/',
                '\u{2216}' | '\u{29F5}' | '\u{29F9}' => '\\',
                c => c,
            })
            .collect(),
    )
}

/// Whether a folded segment ([`folded_segment`]) holds a separator (`/`, `\`), an escape or a
/// query or fragment delimiter (`%`, `?`, `#`), or is a dot segment (only dots before any `;`
/// parameter, as `..` or `...` that Windows trims to nothing). Any of these, after folding, would
/// let an origin that folds read another path than the one signed and verified.
pub(crate) fn folds_into_path_syntax(folded: &str) -> bool {
    if folded.contains(['/', '\\', '%', '?', '#']) {
        return true;
    }
    let before_params = folded.split(';').next().unwrap_or_default();
    !before_params.is_empty() && before_params.bytes().all(|b| b == b'.')
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
    fn every_byte_is_refused_or_kept_as_the_rules_say_wherever_it_stands() {
        use KeyRejection::*;
        // Every ASCII byte but the separator itself (its segments are the cases below).
        for b in (0u8..=0x7f).filter(|&b| b != b'/') {
            let expected = match b {
                0..=0x1f | 0x7f => Err(ControlCharacter),
                b'\\' => Err(Backslash),
                b'*' | b'?' | b';' | b'#' | b'%' => Err(ReservedCharacter),
                _ => Ok(()),
            };
            let c = char::from(b);
            for text in [format!("{c}b"), format!("a/x{c}y/b"), format!("a{c}")] {
                let checked = ObjectKey::parse(&text, 1024).map(|_| ());
                assert_eq!(checked, expected, "{text:?}");
            }
        }
        // A byte's refusal outranks an earlier segment's.
        assert_eq!(ObjectKey::parse("a//b*", 1024), Err(ReservedCharacter));
        assert_eq!(ObjectKey::parse("./a\\", 1024), Err(Backslash));
        assert_eq!(ObjectKey::parse("../a", 1024), Err(DotSegment));
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

    /// The checks of an ASCII key written plainly, in their order of precedence: every byte
    /// first, then every segment.
    fn plain_check(key: &str) -> Result<(), KeyRejection> {
        for b in key.bytes() {
            if b < 0x20 || b == 0x7f {
                return Err(KeyRejection::ControlCharacter);
            }
            if b == b'\\' {
                return Err(KeyRejection::Backslash);
            }
            if b"*?;#%".contains(&b) {
                return Err(KeyRejection::ReservedCharacter);
            }
        }
        for segment in key.split('/') {
            if segment.is_empty() {
                return Err(KeyRejection::EmptySegment);
            }
            if segment == "." || segment == ".." {
                return Err(KeyRejection::DotSegment);
            }
        }
        Ok(())
    }

    proptest! {
        /// The one-pass check refuses what the plain checks refuse, for the same reason, and
        /// a path with no escape (copied as it is) reads as the same key as one decoded.
        #[test]
        fn one_pass_check_agrees_with_the_plain_checks(raw in "[a./\\\\*?;#\x01\x7f]{0,16}") {
            let expected = if raw.is_empty() {
                Err(KeyRejection::Empty)
            } else {
                plain_check(&raw).map(|()| ObjectKey(raw.clone()))
            };
            prop_assert_eq!(ObjectKey::parse(&raw, 1024), expected.clone());
            prop_assert_eq!(ObjectKey::from_raw_path(&raw, 1024), expected);
        }

        #[test]
        fn segments_are_the_keys_text_split_at_every_slash(raw in "[a/\u{e9}]{0,12}") {
            let key = ObjectKey(raw.clone());
            prop_assert_eq!(key.segments().collect::<Vec<_>>(), raw.split('/').collect::<Vec<_>>());
        }

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

        /// Whatever Unicode a key holds, the key an origin folding it (NFKC, all of it at once)
        /// reads has the same segments, none of them a dot segment, and no reserved character.
        #[test]
        fn accepted_keys_mean_the_same_once_normalized(
            raw in "[a.\u{ff0e}\u{ff0f}\u{ff3c}\u{2024}\u{2025}\u{2026}\u{fe52}\u{2100}\u{ff1b}\u{37e}\u{ff0a}\u{2215}\u{ff12}\u{fb01}/]{1,12}"
        ) {
            use unicode_normalization::UnicodeNormalization;
            if let Ok(k) = ObjectKey::parse(&raw, 1024) {
                let folded: String = k.as_str().nfkc().collect();
                prop_assert_eq!(folded.split('/').count(), k.segments().count(), "{:?}", folded);
                prop_assert!(!folded.contains(['\\', '*', '?', ';', '%', '#']), "{:?}", folded);
                prop_assert!(folded.split('/').all(|s| !s.bytes().all(|b| b == b'.')), "{:?}", folded);
            }
        }
    }

    #[test]
    fn look_alikes_of_path_syntax_are_refused_and_other_compatibility_forms_kept() {
        for raw in [
            "users/alice/%EF%BC%8E%EF%BC%8E%EF%BC%8Fbob/secret.txt",
            "users/alice/%EF%BC%8E%EF%BC%8E/bob/secret.txt",
            "users/alice/%E2%80%A5/bob/secret.txt",
            "users/alice/%E2%80%A6/x",
            "users/alice/..%E2%88%95bob",
            "users/alice/..%E2%81%84bob",
            "users/alice/..%EF%BC%BCbob",
            "users/alice/%E2%84%80",
            "users/alice/a%EF%BC%8A.pdf",
            "users/alice/a%CD%BE",
            "users/alice/a%EF%BC%85",
        ] {
            assert_eq!(key(raw), Err(KeyRejection::LookAlike), "{raw}");
        }
        assert_eq!(
            key("public/%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%94.pdf").unwrap(),
            "public/\u{ff12}\u{ff10}\u{ff12}\u{ff14}.pdf"
        );
        assert!(key("public/report%EF%BC%8Epdf").is_ok());
        assert!(key("public/%EF%AC%81le.txt").is_ok());
        assert_eq!(
            ObjectKey::parse("users/alice/\u{ff0e}\u{ff0e}/bob", 1024),
            Err(KeyRejection::LookAlike)
        );
    }
}
