//! The object-path canonicalizer: never panics, and whatever it accepts is a safe key that
//! round-trips through its URL form.
#![no_main]
use libfuzzer_sys::fuzz_target;
use signgate::object_key::ObjectKey;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    if let Ok(key) = ObjectKey::from_raw_path(raw, 1024) {
        assert!(key.segments().all(|s| !s.is_empty() && s != "." && s != ".."));
        assert!(!key.as_str().contains(['\\', '*', '?', '%', ';', '#', '\0']));
        assert!(!key.as_str().chars().any(char::is_control));
        let again = ObjectKey::from_raw_path(&key.to_url_path(), 1024).expect("its URL form parses");
        assert_eq!(again, key);
    }
});
