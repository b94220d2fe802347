//! CloudFront's URL-safe base64: standard base64 (with padding) where `+`, `=` and `/`
//! become `-`, `_` and `~`. It is not RFC 4648 "base64url": padding is kept and `/` maps to `~`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// Encodes `bytes` the way CloudFront expects in `Policy` and `Signature` values.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = STANDARD.encode(bytes).into_bytes();
    for b in &mut out {
        *b = match *b {
            b'+' => b'-',
            b'=' => b'_',
            b'/' => b'~',
            other => other,
        };
    }
    // Only ASCII substitutions were made on ASCII base64 output.
    String::from_utf8(out).expect("base64 output is ASCII")
}

/// Decodes a CloudFront base64 value. Standard base64 characters `+`, `/` and `=` are refused:
/// CloudFront values never contain them, and accepting two spellings of one signature would make
/// signed URLs malleable.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let mut std = Vec::with_capacity(text.len());
    for &b in text.as_bytes() {
        std.push(match b {
            b'-' => b'+',
            b'_' => b'=',
            b'~' => b'/',
            b'+' | b'/' | b'=' => return None,
            other => other,
        });
    }
    STANDARD.decode(std).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn substitutes_all_three_characters() {
        // 0xfb 0xff 0xbf is "+/+/" in standard base64; one byte pads with "==".
        assert_eq!(encode(&[0xfb, 0xff, 0xbf]), "-~-~");
        assert_eq!(encode(&[0xff]), "~w__");
    }

    #[test]
    fn refuses_standard_alphabet_and_garbage() {
        assert_eq!(decode("~w__"), Some(vec![0xff]));
        assert_eq!(decode("/w=="), None);
        assert_eq!(decode("+w__"), None);
        assert_eq!(decode("not base64!"), None);
    }

    proptest! {
        #[test]
        fn round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let text = encode(&bytes);
            prop_assert!(!text.contains(['+', '/', '=']));
            prop_assert_eq!(decode(&text), Some(bytes));
        }
    }
}
