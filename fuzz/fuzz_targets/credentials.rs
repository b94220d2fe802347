//! Credential extraction from hostile headers, then JWT verification with a pinned key: never
//! panics, never authenticates a token the fuzzer could not have signed.
#![no_main]
use std::sync::OnceLock;

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use signgate::authenticate::credentials::{bearer_or_cookie, Found};

fn validation() -> &'static (jsonwebtoken::DecodingKey, jsonwebtoken::Validation) {
    static V: OnceLock<(jsonwebtoken::DecodingKey, jsonwebtoken::Validation)> = OnceLock::new();
    V.get_or_init(|| {
        let key = jsonwebtoken::DecodingKey::from_secret(b"fuzzing-secret-that-no-input-contains-0123456789").unwrap();
        (key, jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256))
    })
}

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    for (i, line) in data.split(|b| *b == b'\n').take(8).enumerate() {
        let Ok(value) = HeaderValue::from_bytes(line) else { continue };
        let name = if i % 2 == 0 { "authorization" } else { "cookie" };
        headers.append(name, value);
    }
    if let Found::Token(token) = bearer_or_cookie(&headers, Some("t")) {
        assert!(token.len() <= signgate::authenticate::credentials::MAX_TOKEN_BYTES);
        let (key, validation) = validation();
        assert!(jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, key, validation).is_err());
    }
});

