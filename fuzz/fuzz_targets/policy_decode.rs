//! The custom-policy decoder: never panics; what it accepts has a sane expiry and resource.
#![no_main]
use libfuzzer_sys::fuzz_target;
use signgate_cloudfront::{decode_base64, Policy, MAX_EPOCH};

fuzz_target!(|data: &[u8]| {
    for bytes in [Some(data.to_vec()), std::str::from_utf8(data).ok().and_then(decode_base64)].into_iter().flatten() {
        if let Some(policy) = Policy::decode(&bytes) {
            assert!(policy.expires() <= MAX_EPOCH);
            assert!(policy.starts().is_none_or(|s| s <= MAX_EPOCH));
            assert_eq!(policy.json().as_bytes(), bytes.as_slice());
        }
    }
});
