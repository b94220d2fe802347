//! Pattern matching: any pattern the configuration accepts, matched against any key the request
//! path accepts, never panics and finishes in bounded work (libFuzzer's per-input timeout turns
//! a blow-up into a finding). The input is split at the first newline: pattern, then key.
#![no_main]
use libfuzzer_sys::fuzz_target;
use signgate::authenticate::User;
use signgate::authorize::KeyPattern;
use signgate::object_key::ObjectKey;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Some((pattern, key)) = text.split_once('\n') else { return };
    let (Ok(pattern), Ok(key)) = (KeyPattern::parse(pattern), ObjectKey::parse(key, 4096)) else {
        return;
    };
    let user = User {
        subject: "a_b".into(),
        claims: serde_json::Map::new(),
        via: "fuzz",
    };
    for who in [None, Some(&user)] {
        let _ = pattern.matches(&key, who);
        // A cookie rule whose prefix names this folder can match something below it: the check
        // that keeps cookies from bypassing an earlier rule relies on that.
        if pattern.matches_folder(&key, who) {
            assert!(pattern.could_match_below(&key, who));
        }
    }
});
