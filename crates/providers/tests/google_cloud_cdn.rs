//! Google Cloud CDN: the vendors' cases byte for byte, refusals of bad input, and properties of
//! sign → verify.

mod common;

use common::*;
use proptest::prelude::*;
use signgate_providers::google_cloud_cdn::*;
use signgate_providers::{Credential, Delivery, EdgeRequest, Grant, Provider, Refusal, UrlError};

fn provider(name: &str, key: &str) -> CloudCdn {
    CloudCdn::new(KeySet::single(Key::from_base64url(name, key).unwrap()))
}

fn from_case(case: &serde_json::Value) -> CloudCdn {
    let i = &case["inputs"];
    provider(str_of(i, "key_name"), str_of(i, "key_base64url"))
}

#[test]
fn signed_url_vectors_match_byte_for_byte_and_verify() {
    for case in cases("google-cloud-cdn/signed-url") {
        let (i, e) = (&case["inputs"], &case["expected"]);
        let cdn = from_case(&case);
        let grant = Grant::until(i["expires"].as_u64().unwrap());
        let url = str_of(i, "url");
        assert_eq!(
            cdn.url_to_sign(url, &grant).unwrap(),
            str_of(e, "string_to_sign")
        );
        let signed = cdn.sign_url(url, &grant).unwrap();
        assert_eq!(signed, str_of(e, "signed_url"));
        let ok = cdn
            .verify(&EdgeRequest::new(&signed, grant.expires - 1))
            .unwrap();
        assert_eq!(ok.key, "my-key");
        assert_eq!(
            cdn.verify(&EdgeRequest::new(&signed, grant.expires)),
            Err(Refusal::GoogleCloudCdn(Denial::Expired))
        );
    }
}

#[test]
fn url_prefix_vectors_match_byte_for_byte_and_verify() {
    for case in cases("google-cloud-cdn/signed-url-prefix") {
        let (i, e) = (&case["inputs"], &case["expected"]);
        let cdn = from_case(&case);
        let grant = Grant::until(i["expires"].as_u64().unwrap());
        let prefix = str_of(i, "url_prefix");
        let query = cdn.prefix_query(prefix, &grant).unwrap();
        assert_eq!(query, str_of(e, "query_suffix"));
        assert!(query.starts_with(&format!("{}&Signature=", str_of(e, "string_to_sign"))));
        let entry = format!("{prefix}some/object.mp4");
        let Credential::Url(url) = cdn
            .sign_prefix(prefix, Delivery::Query { url: &entry }, &grant)
            .unwrap()
        else {
            panic!("a URL was asked for")
        };
        assert_eq!(url, format!("{entry}?{query}"));
        cdn.verify(&EdgeRequest::new(&url, grant.expires - 1))
            .unwrap();
    }
}

#[test]
fn cookie_vector_with_mismatched_timestamps_neither_matches_nor_verifies() {
    for case in cases("google-cloud-cdn/signed-cookie") {
        let (i, e) = (&case["inputs"], &case["expected"]);
        let cdn = from_case(&case);
        let grant = Grant::until(i["expires"].as_u64().unwrap());
        let prefix = str_of(i, "url_prefix");
        let bad = str_of(e, "must_not_equal");
        let value = cdn.cookie_value(prefix, &grant).unwrap();
        assert_ne!(value, bad);
        let cookies = [(COOKIE_NAME, bad)];
        let url = format!("{prefix}seg1.ts");
        let request = EdgeRequest {
            method: "GET",
            cookies: &cookies,
            ..EdgeRequest::new(&url, grant.expires - 1)
        };
        assert_eq!(
            cdn.verify(&request),
            Err(Refusal::GoogleCloudCdn(Denial::InvalidSignature))
        );
        let cookies = [(COOKIE_NAME, value.as_str())];
        cdn.verify(&EdgeRequest {
            method: "GET",
            cookies: &cookies,
            ..request
        })
        .unwrap();
    }
}

const KEY: &str = "nZtRohdNF9m3cKM24IcK4w==";

#[test]
fn urls_that_carry_cloud_cdn_parameters_are_refused() {
    let cdn = provider("my-key", KEY);
    for url in [
        "https://h.example/a?Expires=1",
        "https://h.example/a?x=1&KeyName=k",
        "https://h.example/a?Signature=abc",
        "https://h.example/a?URLPrefix=abc",
        "https://h.example/a?expire%73=1",
    ] {
        let err = cdn.sign_url(url, &Grant::until(10)).unwrap_err();
        assert!(
            matches!(
                err,
                signgate_providers::Error::GoogleCloudCdn(Error::Url(UrlError::ReservedParameter(
                    _
                )))
            ),
            "{url}: {err}"
        );
    }
}

#[test]
fn bad_keys_and_key_names_are_refused_at_construction() {
    assert!(matches!(
        Key::from_base64url("My_Key", KEY),
        Err(Error::BadKeyName(_))
    ));
    assert!(matches!(
        Key::from_base64url("-key", KEY),
        Err(Error::BadKeyName(_))
    ));
    assert!(matches!(
        Key::from_base64url("key-", KEY),
        Err(Error::BadKeyName(_))
    ));
    assert!(matches!(
        Key::from_base64url(&"k".repeat(64), KEY),
        Err(Error::BadKeyName(_))
    ));
    assert!(Key::from_base64url(&"k".repeat(63), KEY).is_ok());
    assert!(matches!(
        Key::from_base64url("k", "nZtRohdNF9m3cKM24IcK+w=="),
        Err(Error::KeyNotBase64Url(_))
    ));
    assert!(matches!(
        Key::from_base64url("k", "nZtRohdNF9m3cKM24IcK"),
        Err(Error::KeyLength { len: 15, .. })
    ));
    let k = |n: &str| Key::from_base64url(n, KEY).unwrap();
    assert!(matches!(KeySet::new(vec![], "a"), Err(Error::NoKeys)));
    assert!(matches!(
        KeySet::new(vec![k("a"), k("b"), k("c"), k("d")], "a"),
        Err(Error::TooManyKeys(4))
    ));
    assert!(matches!(
        KeySet::new(vec![k("a"), k("a")], "a"),
        Err(Error::DuplicateKeyName(_))
    ));
    assert!(matches!(
        KeySet::new(vec![k("a")], "b"),
        Err(Error::ActiveKeyMissing(_))
    ));
    assert!(!format!("{:?}", k("a")).contains(KEY));
}

#[test]
fn grants_the_scheme_cannot_carry_are_refused() {
    let cdn = provider("my-key", KEY);
    let url = "https://h.example/a";
    let ip = Grant {
        client_ip: Some("192.0.2.1".parse().unwrap()),
        ..Grant::until(10)
    };
    let starts = Grant {
        starts: Some(1),
        ..Grant::until(10)
    };
    let far = Grant::until(u64::MAX);
    let gcc = |r: Result<String, signgate_providers::Error>| match r {
        Err(signgate_providers::Error::GoogleCloudCdn(e)) => e,
        other => panic!("{other:?}"),
    };
    assert_eq!(gcc(cdn.sign_url(url, &ip)), Error::IpBindingUnsupported);
    assert_eq!(gcc(cdn.sign_url(url, &starts)), Error::StartTimeUnsupported);
    assert_eq!(
        gcc(cdn.sign_url(url, &far)),
        Error::ExpiresTooLarge(u64::MAX)
    );
    for prefix in [
        "https://h.example/a?",
        "https://h.example/a#x",
        "https://h.example",
    ] {
        assert!(
            cdn.sign_prefix(prefix, Delivery::Cookie, &Grant::until(10))
                .is_err(),
            "{prefix}"
        );
    }
    assert!(cdn
        .sign_prefix(
            "https://h.example/a/",
            Delivery::Path {
                url: "https://h.example/a/x"
            },
            &Grant::until(10)
        )
        .is_err());
    assert!(cdn
        .sign_prefix(
            "https://h.example/a/",
            Delivery::Query {
                url: "https://h.example/b/x"
            },
            &Grant::until(10)
        )
        .is_err());
}

fn keys() -> impl Strategy<Value = (String, [u8; 16])> {
    ("[a-z][a-z0-9-]{0,10}[a-z0-9]", any::<[u8; 16]>())
}

fn key((name, bytes): &(String, [u8; 16])) -> Key {
    Key::from_base64url(name, &base64url(bytes)).unwrap()
}

fn paths() -> impl Strategy<Value = String> {
    "(/[a-z0-9._-]{1,8}){1,4}"
}

fn queries() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[a-z]{1,5}=[a-z0-9]{0,5}(&[a-z]{1,5}=[a-z0-9]{0,5}){0,2}")
}

fn url_of(path: &str, query: &Option<String>) -> String {
    match query {
        Some(q) => format!("https://media.example.com{path}?{q}"),
        None => format!("https://media.example.com{path}"),
    }
}

fn refusal(cdn: &CloudCdn, request: &EdgeRequest<'_>) -> Option<Denial> {
    match cdn.verify(request) {
        Ok(_) => None,
        Err(Refusal::GoogleCloudCdn(d)) => Some(d),
        #[allow(unreachable_patterns)]
        Err(other) => panic!("{other:?}"),
    }
}

/// The same signed text with one character of its signature changed.
fn change_signature(signed: &str, index: usize) -> String {
    let (head, sig) = signed.rsplit_once("Signature=").unwrap();
    let bare = sig.trim_end_matches('=');
    format!(
        "{head}Signature={}{}",
        change_char(bare, index, B64URL),
        &sig[bare.len()..]
    )
}

proptest! {
    #[test]
    fn signed_urls_verify_and_every_change_is_refused(
        k in keys(), other in keys(), path in paths(), query in queries(),
        expires in 1u64..4_000_000_000, index in any::<usize>(),
    ) {
        let cdn = CloudCdn::new(KeySet::single(key(&k)));
        let url = url_of(&path, &query);
        let signed = cdn.sign_url(&url, &Grant::until(expires)).unwrap();
        let at = |u: &str, now| refusal(&cdn, &EdgeRequest::new(u, now));
        prop_assert_eq!(at(&signed, expires - 1), None);
        prop_assert_eq!(at(&signed, expires), Some(Denial::Expired));
        let moved = signed.replacen(&path, &format!("{path}x"), 1);
        prop_assert_eq!(at(&moved, 0), Some(Denial::InvalidSignature));
        let later = signed.replace(&format!("Expires={expires}"), &format!("Expires={}", expires + 1));
        prop_assert_eq!(at(&later, 0), Some(Denial::InvalidSignature));
        prop_assert_ne!(at(&change_signature(&signed, index), 0), None);
        if other.1 != k.1 {
            let same_name = CloudCdn::new(KeySet::single(key(&(k.0.clone(), other.1))));
            prop_assert_eq!(refusal(&same_name, &EdgeRequest::new(&signed, 0)), Some(Denial::InvalidSignature));
        }
        if other.0 != k.0 {
            let other_name = CloudCdn::new(KeySet::single(key(&other)));
            prop_assert_eq!(refusal(&other_name, &EdgeRequest::new(&signed, 0)), Some(Denial::UnknownKeyName));
            // A set holding both keys verifies with the named one, whichever signs.
            let both = CloudCdn::new(KeySet::new(vec![key(&other), key(&k)], &other.0).unwrap());
            prop_assert_eq!(refusal(&both, &EdgeRequest::new(&signed, 0)), None);
        }
    }

    #[test]
    fn prefix_credentials_cover_the_prefix_only(
        k in keys(), other in keys(), dir in paths(), rest in paths(),
        expires in 1u64..4_000_000_000, index in any::<usize>(), cookie in any::<bool>(),
    ) {
        let cdn = CloudCdn::new(KeySet::single(key(&k)));
        let prefix = format!("https://media.example.com{dir}/");
        let inside = format!("{prefix}{}", &rest[1..]);
        let outside = format!("https://media.example.com{rest}/{}", &dir[1..]);
        let grant = Grant::until(expires);
        let check = |verifier: &CloudCdn, target: &str, now: u64, tweak: &dyn Fn(&str) -> String| {
            if cookie {
                let Credential::Cookie { name, value } =
                    cdn.sign_prefix(&prefix, Delivery::Cookie, &grant).unwrap() else { unreachable!() };
                let value = tweak(&value);
                let cookies = [(name.as_str(), value.as_str())];
                refusal(verifier, &EdgeRequest { cookies: &cookies, ..EdgeRequest::new(target, now) })
            } else {
                let Credential::Url(url) =
                    cdn.sign_prefix(&prefix, Delivery::Query { url: &inside }, &grant).unwrap() else { unreachable!() };
                let query = &url[inside.len()..];
                refusal(verifier, &EdgeRequest::new(&tweak(&format!("{target}{query}")), now))
            }
        };
        let same = |s: &str| s.to_owned();
        prop_assert_eq!(check(&cdn, &inside, expires - 1, &same), None);
        prop_assert_eq!(check(&cdn, &inside, expires, &same), Some(Denial::Expired));
        if !outside.starts_with(&prefix) {
            prop_assert_eq!(check(&cdn, &outside, 0, &same), Some(Denial::OutsidePrefix));
        }
        let later = |s: &str| s.replace(&format!("Expires={expires}"), &format!("Expires={}", expires + 1));
        prop_assert_eq!(check(&cdn, &inside, 0, &later), Some(Denial::InvalidSignature));
        let signature = |s: &str| change_signature(s, index);
        prop_assert_ne!(check(&cdn, &inside, 0, &signature), None);
        let wider = |s: &str| s.replace(&base64url(prefix.as_bytes()), &base64url(b"https://media.example.com/"));
        prop_assert_eq!(check(&cdn, &outside, 0, &wider), Some(Denial::InvalidSignature));
        if other.1 != k.1 {
            let same_name = CloudCdn::new(KeySet::single(key(&(k.0.clone(), other.1))));
            prop_assert_eq!(check(&same_name, &inside, 0, &same), Some(Denial::InvalidSignature));
        }
    }
}
