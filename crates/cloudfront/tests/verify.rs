//! The verifier refuses each kind of bad request with its own reason, and sign -> verify
//! round-trips while any change to the URL, time, IP, key or signature fails.

mod common;

use proptest::prelude::*;
use signgate_cloudfront::*;

const EXP: u64 = 1_800_000_000;

fn sign(key: &SigningKey, url: &str, c: Conditions, hash: HashAlgorithm) -> String {
    let url = SignableUrl::parse(url).unwrap();
    let policy = Policy::for_url(&url, &c).unwrap();
    key.sign_url(&url, &policy, hash).unwrap()
}

fn at(now: u64) -> Viewer {
    Viewer {
        now,
        client_ip: None,
    }
}

fn expiring(expires: u64) -> Conditions {
    Conditions {
        expires,
        ..Default::default()
    }
}

#[test]
fn each_denial_has_its_reason() {
    let key = common::key("rsa1");
    let keys = common::keys_of(&[&key]);
    let good = sign(
        &key,
        "https://h.example/a.txt?x=1",
        expiring(EXP),
        HashAlgorithm::Sha1,
    );
    assert!(verify_url(&good, &keys, at(EXP - 1)).is_ok());

    let without = |name: &str| {
        let (base, q) = good.split_once('?').unwrap();
        let kept: Vec<&str> = q
            .split('&')
            .filter(|p| !p.starts_with(&format!("{name}=")))
            .collect();
        format!("{base}?{}", kept.join("&"))
    };
    let check = |url: &str, denial: Denial| {
        assert_eq!(
            verify_url(url, &keys, at(EXP - 1)).unwrap_err(),
            denial,
            "{url}"
        )
    };
    check(&without("Key-Pair-Id"), Denial::MissingKeyPairId);
    check(
        &good.replace("Key-Pair-Id=K2JCJMDEHXQW5F", "Key-Pair-Id="),
        Denial::MissingKeyPairId,
    );
    check(&without("Signature"), Denial::MissingSignature);
    check(&without("Expires"), Denial::MissingPolicy);
    check(
        &good.replace("K2JCJMDEHXQW5F", "KUNKNOWN"),
        Denial::UnknownKey,
    );
    check(
        &format!("{good}&Hash-Algorithm=MD5"),
        Denial::UnsupportedHashAlgorithm,
    );
    check(
        &format!("{good}&Hash-Algorithm=SHA256"),
        Denial::InvalidSignature,
    );
    check(&format!("{good}&Expires=1"), Denial::MalformedPolicy);
    check(&format!("{good}&Policy=e30_"), Denial::MalformedPolicy);
    check(
        &good.replace(&format!("Expires={EXP}"), "Expires=soon"),
        Denial::MalformedPolicy,
    );
    check(
        &good.replace(&format!("Expires={EXP}"), "Expires=99999999999"),
        Denial::MalformedPolicy,
    );
    check(
        &good.replace(&format!("Expires={EXP}"), &format!("Expires={}", EXP + 1)),
        Denial::InvalidSignature,
    );
    check(&good.replace("a.txt", "b.txt"), Denial::InvalidSignature);
    check(&good.replace("x=1", "x=2"), Denial::InvalidSignature);
    assert_eq!(
        verify_url(&good, &keys, at(EXP)).unwrap_err(),
        Denial::Expired
    );

    let policy_url = |policy: &str| {
        let sig = encode_base64(
            &key.sign_bytes(policy.as_bytes(), HashAlgorithm::Sha1)
                .unwrap(),
        );
        format!(
            "https://h.example/a.txt?Policy={}&Signature={sig}&Key-Pair-Id=K2JCJMDEHXQW5F",
            encode_base64(policy.as_bytes())
        )
    };
    check(&policy_url("{\"Statement\":[]}"), Denial::MalformedPolicy);
    check(
        &good.replace(&format!("Expires={EXP}"), "Policy=!!!"),
        Denial::MalformedPolicy,
    );
}

#[test]
fn custom_policy_conditions_are_enforced() {
    let key = common::key("ec1");
    let keys = common::keys_of(&[&key]);
    let c = Conditions {
        expires: EXP,
        starts: Some(EXP - 100),
        ip: Some(Ipv4Range::parse("198.51.100.0/24").unwrap()),
        resource: Some(ResourcePattern::parse("https://h.example/hls/*").unwrap()),
        force_custom: false,
    };
    let signed = sign(
        &key,
        "https://h.example/hls/master.m3u8",
        c.clone(),
        HashAlgorithm::Sha256,
    );
    let viewer = |now, ip: &str| Viewer {
        now,
        client_ip: Some(ip.parse().unwrap()),
    };
    assert!(verify_url(&signed, &keys, viewer(EXP - 50, "198.51.100.7")).is_ok());
    assert!(verify_url(&signed, &keys, viewer(EXP - 100, "::ffff:198.51.100.7")).is_ok());
    assert_eq!(
        verify_url(&signed, &keys, viewer(EXP - 101, "198.51.100.7")).unwrap_err(),
        Denial::NotYetValid
    );
    assert_eq!(
        verify_url(&signed, &keys, viewer(EXP, "198.51.100.7")).unwrap_err(),
        Denial::Expired
    );
    assert_eq!(
        verify_url(&signed, &keys, viewer(EXP - 50, "198.51.101.7")).unwrap_err(),
        Denial::IpNotAllowed
    );
    assert_eq!(
        verify_url(&signed, &keys, viewer(EXP - 50, "2001:db8::1")).unwrap_err(),
        Denial::IpNotAllowed
    );
    assert_eq!(
        verify_url(&signed, &keys, at(EXP - 50)).unwrap_err(),
        Denial::IpNotAllowed
    );

    // The policy travels with the URL, so it can be moved to another object under the pattern,
    // but not outside it.
    let moved = signed.replace("/hls/master.m3u8", "/hls/seg/1.ts");
    assert!(verify_url(&moved, &keys, viewer(EXP - 50, "198.51.100.7")).is_ok());
    let outside = signed.replace("/hls/master.m3u8", "/private/x");
    assert_eq!(
        verify_url(&outside, &keys, viewer(EXP - 50, "198.51.100.7")).unwrap_err(),
        Denial::ResourceMismatch
    );
    let other_host = signed.replace("h.example", "evil.example");
    assert_eq!(
        verify_url(&other_host, &keys, viewer(EXP - 50, "198.51.100.7")).unwrap_err(),
        Denial::ResourceMismatch
    );
}

#[test]
fn cookies_verify_against_the_request_url() {
    let key = common::key("rsa2");
    let keys = common::keys_of(&[&key]);
    let pattern = ResourcePattern::parse("https://media.example.com/hls/42/*").unwrap();
    let policy = Policy::for_resource(pattern, &expiring(EXP)).unwrap();
    let cookies = key.sign_cookies(&policy, HashAlgorithm::Sha1).unwrap();
    let lookup = |n: &str| cookies.get(n);
    assert!(verify_cookies(
        "https://media.example.com/hls/42/v1/seg3.ts",
        lookup,
        &keys,
        at(1)
    )
    .is_ok());
    assert_eq!(
        verify_cookies(
            "https://media.example.com/hls/43/seg3.ts",
            lookup,
            &keys,
            at(1)
        )
        .unwrap_err(),
        Denial::ResourceMismatch
    );
    let none = |_: &str| None;
    assert_eq!(
        verify_cookies("https://media.example.com/hls/42/a", none, &keys, at(1)).unwrap_err(),
        Denial::MissingKeyPairId
    );
}

#[test]
fn a_rotated_key_set_keeps_old_urls_valid() {
    let old = common::key("rsa1");
    let new = common::key("rsa2");
    let old_url = sign(
        &old,
        "https://h.example/a",
        expiring(EXP),
        HashAlgorithm::Sha1,
    );
    let set = KeySet::new(vec![common::key("rsa1"), common::key("rsa2")], new.id()).unwrap();
    let new_url = sign(
        set.active(),
        "https://h.example/a",
        expiring(EXP),
        HashAlgorithm::Sha1,
    );
    assert!(new_url.ends_with("Key-Pair-Id=APKAEIBAERJR2EXAMPLE"));
    let keys = set.public_keys();
    assert!(verify_url(&old_url, &keys, at(1)).is_ok());
    assert!(verify_url(&new_url, &keys, at(1)).is_ok());
}

fn segment() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-zA-Z0-9._~!$'()+,;=:@ é漢-]{1,12}").unwrap()
}

fn arb_url() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![
            "https://d111111abcdef8.cloudfront.net",
            "http://media.example.com:8080",
        ]),
        prop::collection::vec(segment(), 1..5),
        prop::option::of("[a-z]{1,5}=[a-z0-9%]{0,6}"),
    )
        .prop_map(|(host, segs, q)| {
            let q = q
                .map(|q| q.replace('%', "%25"))
                .map(|q| format!("?{q}"))
                .unwrap_or_default();
            format!("{host}/{}{q}", segs.join("/"))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn sign_verify_round_trips_and_tampering_fails(
        url in arb_url(),
        starts in prop::option::of(1u64..1_000_000),
        lifetime in 1u64..1_000_000,
        ip in prop::option::of((any::<[u8; 4]>(), 8u8..=32)),
        sha256 in any::<bool>(),
        ecdsa in any::<bool>(),
        flip in any::<prop::sample::Index>(),
    ) {
        let key = common::key(if ecdsa { "ec1" } else { "rsa1" });
        let other = common::key(if ecdsa { "rsa1" } else { "ec1" });
        let keys = common::keys_of(&[&key]);
        let hash = if sha256 { HashAlgorithm::Sha256 } else { HashAlgorithm::Sha1 };
        let base = starts.unwrap_or(1_700_000_000);
        let expires = base + lifetime;
        let range = ip.map(|(a, p)| Ipv4Range::parse(&format!("{}.{}.{}.{}/{p}", a[0], a[1], a[2], a[3])).unwrap());
        let client = ip.map(|(a, _)| std::net::IpAddr::from(a));
        let c = Conditions { expires, starts, ip: range, resource: None, force_custom: false };
        let signed = sign(&key, &url, c.clone(), hash);
        let viewer = Viewer { now: base, client_ip: client };

        let verified = verify_url(&signed, &keys, viewer).unwrap();
        let normalized = SignableUrl::parse(&url).unwrap();
        prop_assert_eq!(verified.unsigned_url.as_str(), normalized.as_str());

        // Time: at expiry it fails; before the start it fails.
        prop_assert_eq!(verify_url(&signed, &keys, Viewer { now: expires, ..viewer }).unwrap_err(), Denial::Expired);
        if starts.is_some() {
            prop_assert_eq!(verify_url(&signed, &keys, Viewer { now: base - 1, ..viewer }).unwrap_err(), Denial::NotYetValid);
        }
        // IP: an address outside the range fails.
        if let (Some(r), Some(std::net::IpAddr::V4(a))) = (range, client) {
            let outside = std::net::Ipv4Addr::from(u32::from(a) ^ 0x8000_0000);
            if !r.contains(outside) {
                let v = Viewer { client_ip: Some(outside.into()), ..viewer };
                prop_assert_eq!(verify_url(&signed, &keys, v).unwrap_err(), Denial::IpNotAllowed);
            }
        }
        // URL: any change to the object fails.
        let changed = signed.replacen("/", "/x", 3);
        prop_assert!(verify_url(&changed, &keys, viewer).is_err());
        // Key: the same URL signed by another key under the same id fails.
        let mut wrong_keys = PublicKeys::default();
        wrong_keys.insert(key.id().clone(), other.verifying_key());
        prop_assert_eq!(verify_url(&signed, &wrong_keys, viewer).unwrap_err(), Denial::InvalidSignature);
        // Signature: one changed character fails.
        let start = signed.find("Signature=").unwrap() + "Signature=".len();
        let len = signed[start..].find('&').unwrap();
        let i = start + flip.index(len);
        let old = signed.as_bytes()[i];
        let new = if old == b'A' { 'B' } else { 'A' };
        let mut tampered = signed.clone();
        tampered.replace_range(i..=i, &new.to_string());
        prop_assert_eq!(verify_url(&tampered, &keys, viewer).unwrap_err(), Denial::InvalidSignature);
    }

    #[test]
    fn wildcard_resources_cover_their_folder_only(
        url in arb_url(),
        other in segment(),
        ecdsa in any::<bool>(),
    ) {
        let key = common::key(if ecdsa { "ec1" } else { "rsa2" });
        let keys = common::keys_of(&[&key]);
        let signable = SignableUrl::parse(&url).unwrap();
        // The resource is the URL's folder with a wildcard: https://host/a/b/* for https://host/a/b/c
        let path_end = signable.as_str().find('?').unwrap_or(signable.as_str().len());
        let folder = &signable.as_str()[..signable.as_str()[..path_end].rfind('/').unwrap() + 1];
        let resource = ResourcePattern::parse(&format!("{folder}*")).unwrap();
        let c = Conditions { expires: EXP, resource: Some(resource), ..Default::default() };
        let signed = sign(&key, &url, c, HashAlgorithm::Sha1);
        prop_assert!(signed.contains("Policy="));
        prop_assert!(verify_url(&signed, &keys, at(1)).is_ok());
        // The same policy and signature presented for another object in the folder: valid.
        let sibling = SignableUrl::parse(&format!("{folder}{other}")).unwrap();
        let moved = signed.replacen(&signable.as_str()[..path_end], sibling.as_str(), 1);
        prop_assert!(verify_url(&moved, &keys, at(1)).is_ok(), "{}", moved);
        // Outside the folder: resource mismatch.
        let outside = signed.replacen(folder, &format!("{}x-other/", folder), 1);
        let escaped = signed.replacen(&signable.as_str()[..path_end], &format!("https://elsewhere.example/{other}"), 1);
        prop_assert!(verify_url(&outside, &keys, at(1)).is_ok(), "subfolders are covered by *");
        prop_assert_eq!(verify_url(&escaped, &keys, at(1)).unwrap_err(), Denial::ResourceMismatch);
    }

    #[test]
    fn normalization_is_idempotent_and_never_panics(input in "\\PC{0,60}") {
        let candidate = format!("https://h.example/{input}");
        if let Ok(url) = SignableUrl::parse(&candidate) {
            let again = SignableUrl::parse(url.as_str()).unwrap();
            prop_assert_eq!(again.as_str(), url.as_str());
            prop_assert!(url.as_str().is_ascii());
            prop_assert!(!url.as_str().contains([' ', '"', '<', '>', '\\', '#']));
        }
    }

    #[test]
    fn verify_never_panics_on_garbage(input in "\\PC{0,200}") {
        let keys = common::keys_of(&[&common::key("rsa1")]);
        let _ = verify_url(&input, &keys, at(1));
        let _ = verify_url(&format!("https://h.example/a?{input}"), &keys, at(1));
        let _ = Policy::decode(input.as_bytes());
    }
}

#[test]
fn one_folder_policy_signs_every_url_below_it_and_nothing_beside_it() {
    for name in ["rsa1", "ec1"] {
        let key = common::key(name);
        let keys = common::keys_of(&[&key]);
        let resource = ResourcePattern::parse("https://h.example/users/alice/*").unwrap();
        let policy = Policy::for_resource(resource, &expiring(EXP)).unwrap();
        for hash in [HashAlgorithm::Sha1, HashAlgorithm::Sha256] {
            let signed = key.sign_policy(&policy, hash).unwrap();
            let url = |u: &str| signed.sign_url(&SignableUrl::parse(u).unwrap());
            let a = url("https://h.example/users/alice/a.jpg").unwrap();
            let b = url("https://h.example/users/alice/deep/b c.jpg").unwrap();
            let query = |u: &str| u.split_once('?').unwrap().1.to_owned();
            assert_eq!(query(&a), query(&b), "one signature for both");
            assert_eq!(query(&a), signed.query());
            for u in [&a, &b] {
                assert!(verify_url(u, &keys, at(EXP - 1)).is_ok(), "{u}");
            }
            // The same bytes as signing the URL under that policy one by one.
            let one = SignableUrl::parse("https://h.example/users/alice/a.jpg").unwrap();
            assert_eq!(key.sign_url(&one, &policy, hash).unwrap(), a);
            // A query of the URL's own comes first, and is covered by the wildcard.
            let q =
                url("https://h.example/users/alice/a.jpg?response-content-disposition=x").unwrap();
            assert!(q.contains("?response-content-disposition=x&Policy="));
            assert!(verify_url(&q, &keys, at(EXP - 1)).is_ok());
            for outside in [
                "https://h.example/users/alicex/a.jpg",
                "https://h.example/users/bob/a.jpg",
                "https://h.example/users/alice",
                "https://other.example/users/alice/a.jpg",
            ] {
                assert!(
                    matches!(url(outside), Err(InputError::ResourceMismatch { .. })),
                    "{outside}"
                );
                // Carried there by hand, the edge refuses it.
                let moved = format!("{outside}?{}", signed.query());
                assert_eq!(
                    verify_url(&moved, &keys, at(EXP - 1)).unwrap_err(),
                    Denial::ResourceMismatch,
                    "{moved}"
                );
            }
        }
    }
}
