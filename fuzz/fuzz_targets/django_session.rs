//! Django's signed-session decoder: never panics, never accepts a value the fuzzer could not
//! have signed (it does not know the secret).
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use signgate::authenticate::django::{DjangoSigner, UnsignError, SIGNED_COOKIES_SALT};

fn signer() -> &'static DjangoSigner {
    static S: OnceLock<DjangoSigner> = OnceLock::new();
    S.get_or_init(|| DjangoSigner::new(SIGNED_COOKIES_SALT, b"fuzzing-secret-no-input-contains", &[]))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let result = signer().unsign(text, Some(1_209_600), 1_700_000_000);
    assert!(matches!(result, Err(UnsignError::Malformed | UnsignError::BadSignature)), "{result:?}");
});
