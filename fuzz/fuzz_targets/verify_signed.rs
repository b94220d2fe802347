//! The signed URL and cookie parser plus verifier: never panics, and never accepts a URL it did
//! not see signed (the only key is one the fuzzer cannot sign with).
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use signgate_cloudfront::{verify_cookies, verify_url, KeyPairId, KeyType, PublicKeys, SigningKey, Viewer};

fn keys() -> &'static PublicKeys {
    static KEYS: OnceLock<PublicKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let key = SigningKey::generate(KeyPairId::parse("KFUZZ").unwrap(), KeyType::EcdsaP256).unwrap();
        let mut keys = PublicKeys::default();
        keys.insert(key.id().clone(), key.verifying_key());
        keys
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let viewer = Viewer { now: 1_700_000_000, client_ip: Some("192.0.2.1".parse().unwrap()) };
    assert!(verify_url(text, keys(), viewer).is_err());
    assert!(verify_url(&format!("https://h.example/a?{text}"), keys(), viewer).is_err());
    let (url, jar) = text.split_once('\n').unwrap_or(("https://h.example/a", text));
    let lookup = |name: &str| jar.split(';').find_map(|p| p.trim().strip_prefix(name)?.strip_prefix('='));
    assert!(verify_cookies(url, lookup, keys(), viewer).is_err());
});
