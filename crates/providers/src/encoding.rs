//! The base64 variants and escapes the schemes use. Each scheme names the one it needs; none is
//! chosen implicitly.

use base64::alphabet::URL_SAFE;
use base64::engine::general_purpose::{
    GeneralPurpose, GeneralPurposeConfig, STANDARD, URL_SAFE_NO_PAD,
};
use base64::engine::DecodePaddingMode;
use base64::Engine;

/// RFC 4648 §5 base64url, `=` padding required when decoding.
const URL_PADDED: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// RFC 4648 §5 base64url, padding optional when decoding (canonical either way).
const URL_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// base64url with `=` padding (Google Cloud CDN values).
pub(crate) fn b64url_padded(bytes: &[u8]) -> String {
    URL_PADDED.encode(bytes)
}

/// Appends `bytes` in padded base64url.
pub(crate) fn push_b64url_padded(out: &mut String, bytes: &[u8]) {
    push_b64(&URL_PADDED, out, bytes)
}

/// Appends `bytes` in base64url without padding.
pub(crate) fn push_b64url_unpadded(out: &mut String, bytes: &[u8]) {
    push_b64(&URL_SAFE_NO_PAD, out, bytes)
}

/// Appends `bytes` in `engine`'s base64: a signature-sized value is encoded on the stack in one
/// call (`encode_string` streams through a chunked encoder, about four times the work on a MAC),
/// anything longer through `encode_string`.
fn push_b64(engine: &GeneralPurpose, out: &mut String, bytes: &[u8]) {
    let mut buf = [0u8; 88];
    match engine.encode_slice(bytes, &mut buf) {
        Ok(n) => out.push_str(std::str::from_utf8(&buf[..n]).expect("base64 is ASCII")),
        Err(_) => engine.encode_string(bytes, out),
    }
}

/// Appends `value` in decimal.
pub(crate) fn push_decimal(out: &mut String, value: u64) {
    out.push_str(itoa::Buffer::new().format(value));
}

/// base64url without padding (Media CDN tokens, Bunny, nginx).
pub(crate) fn b64url_unpadded(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes padded base64url only.
pub(crate) fn decode_b64url_padded(text: &str) -> Option<Vec<u8>> {
    URL_PADDED.decode(text).ok()
}

/// Decodes base64url with or without padding.
pub(crate) fn decode_b64url_any(text: &str) -> Option<Vec<u8>> {
    URL_ANY_PADDING.decode(text).ok()
}

/// Decodes unpadded base64url only.
pub(crate) fn decode_b64url_unpadded(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// Standard base64 with `=` padding (Azure's account keys and SAS signatures).
pub(crate) fn b64_standard(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes standard base64 with canonical `=` padding only.
pub(crate) fn decode_b64_standard(text: &str) -> Option<Vec<u8>> {
    STANDARD.decode(text).ok()
}

/// True when `text` uses the standard alphabet's `+` or `/`, a common mistake for base64url keys.
pub(crate) fn has_standard_alphabet(text: &str) -> bool {
    text.contains(['+', '/'])
}

/// Lowercase hex.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push_hex_lower(&mut out, bytes);
    out
}

/// Appends `bytes` percent-encoded as SigV4, GCS V4 and Azure SAS encode: every byte but RFC
/// 3986 unreserved (`A-Z a-z 0-9 - . _ ~`), and `/` when `keep_slash`, as `%XX` in uppercase hex.
pub(crate) fn push_unreserved_encoded(out: &mut String, bytes: &[u8], keep_slash: bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

/// Appends `bytes` in lowercase hex (a table lookup per nibble; `hex::encode` goes through
/// `char` iterators, several times slower on a signature).
pub(crate) fn push_hex_lower(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
}

/// Decodes lowercase hex only (an uppercase spelling would make a second valid token).
pub(crate) fn decode_hex_lower(text: &str) -> Option<Vec<u8>> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    hex::decode(text).ok()
}

/// Percent-decodes `text`; `None` for a stray `%` or bytes that are not UTF-8.
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let ok = bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
            if !ok {
                return None;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub(crate) fn percent_encode_component(text: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    utf8_percent_encode(text, COMPONENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_decoding_refuses_missing_padding() {
        assert!(decode_b64url_padded("nZtRohdNF9m3cKM24IcK4w==").is_some());
        assert!(decode_b64url_padded("nZtRohdNF9m3cKM24IcK4w").is_none());
        assert!(decode_b64url_any("nZtRohdNF9m3cKM24IcK4w").is_some());
        assert!(decode_b64url_unpadded("nZtRohdNF9m3cKM24IcK4w==").is_none());
    }

    #[test]
    fn percent_decoding_refuses_stray_percent() {
        assert_eq!(percent_decode("a%20b").as_deref(), Some("a b"));
        assert_eq!(percent_decode("a%2"), None);
        assert_eq!(percent_decode("a%zz"), None);
    }

    proptest::proptest! {
        #[test]
        fn appended_base64_and_decimals_are_what_the_one_shot_encoders_write(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
            value in proptest::num::u64::ANY,
        ) {
            let mut out = String::from("x");
            push_b64url_padded(&mut out, &bytes);
            proptest::prop_assert_eq!(&out[1..], URL_PADDED.encode(&bytes));
            let mut out = String::from("x");
            push_b64url_unpadded(&mut out, &bytes);
            proptest::prop_assert_eq!(&out[1..], URL_SAFE_NO_PAD.encode(&bytes));
            let mut out = String::from("x");
            push_decimal(&mut out, value);
            proptest::prop_assert_eq!(&out[1..], value.to_string());
        }
    }
}
