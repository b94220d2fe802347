//! Google Media CDN: the vendor's cases byte for byte (signed requests and tokens), refusals of
//! bad input, and properties of sign → verify for every form.

mod common;

use std::net::IpAddr;

use common::*;
use proptest::prelude::*;
use serde_json::Value;
use signgate_providers::google_media_cdn::*;
use signgate_providers::{
    Credential, Delivery, Digest, EdgeRequest, Grant, Provider, Refusal, UrlError,
};

const DUALTOKEN: &str = include_str!("data/media-cdn-dualtoken-vectors.json");

fn all_cases(scheme: &str) -> Vec<Value> {
    let extra: Vec<Value> = serde_json::from_str(DUALTOKEN).unwrap();
    let mut found: Vec<Value> = extra
        .into_iter()
        .filter(|c| c["scheme"] == scheme)
        .collect();
    if scheme != "google-media-cdn/signed-path-component-ed25519" {
        found.extend(cases(scheme));
    }
    found
}

fn ed_signer(case: &Value, padding: SignaturePadding) -> MediaCdn {
    let i = &case["inputs"];
    let key = SigningKey::ed25519_seed(str_of(i, "key_name"), str_of(i, "ed25519_seed_base64url"))
        .unwrap();
    MediaCdn::new(Keyset::single(key), Mode::Signatures)
        .unwrap()
        .with_signature_padding(padding)
}

fn strip_padding(signed: &str) -> String {
    signed.replace("==", "")
}

#[test]
fn signed_url_vectors_match_byte_for_byte_padded_and_unpadded() {
    for case in all_cases("google-media-cdn/signed-url-ed25519") {
        let (i, e) = (&case["inputs"], &case["expected"]);
        let expires = i["expires"].as_u64().unwrap();
        let expected = str_of(e, "signed_url");
        assert!(expected.starts_with(str_of(e, "string_to_sign")));
        let padded = ed_signer(&case, SignaturePadding::Padded);
        assert_eq!(
            padded.signed_url(str_of(i, "url"), expires).unwrap(),
            expected
        );
        let unpadded = ed_signer(&case, SignaturePadding::Unpadded);
        let signed = unpadded
            .sign_url(str_of(i, "url"), &Grant::until(expires))
            .unwrap();
        assert_eq!(signed, strip_padding(expected));
        let key = SigningKey::ed25519_seed("k", str_of(i, "ed25519_seed_base64url")).unwrap();
        assert_eq!(
            base64url(&key.public_key().unwrap()),
            str_of(i, "ed25519_public_base64url")
        );
        for url in [expected.to_owned(), signed] {
            unpadded
                .verify(&EdgeRequest::new(&url, expires - 1))
                .unwrap();
            assert_eq!(
                unpadded.verify(&EdgeRequest::new(&url, expires)),
                Err(Refusal::GoogleMediaCdn(Denial::Expired))
            );
        }
    }
}

#[test]
fn url_prefix_vectors_match_byte_for_byte() {
    for case in all_cases("google-media-cdn/signed-url-prefix-ed25519") {
        let (i, e) = (&case["inputs"], &case["expected"]);
        let expires = i["expires"].as_u64().unwrap();
        let cdn = ed_signer(&case, SignaturePadding::Padded);
        let url = str_of(i, "url");
        let Credential::Url(signed) = cdn
            .sign_prefix(
                str_of(i, "url_prefix"),
                Delivery::Query { url },
                &Grant::until(expires),
            )
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(signed, str_of(e, "signed_url"));
        let policy = str_of(e, "string_to_sign");
        assert!(signed.contains(&format!("?{policy}&Signature=")));
        cdn.verify(&EdgeRequest::new(&signed, expires - 1)).unwrap();
    }
}

#[test]
fn cookie_vectors_match_byte_for_byte() {
    for case in all_cases("google-media-cdn/signed-cookie-ed25519") {
        let (i, e) = (&case["inputs"], &case["expected"]);
        let expires = i["expires"].as_u64().unwrap();
        let cdn = ed_signer(&case, SignaturePadding::Padded);
        let prefix = str_of(i, "url_prefix");
        let Credential::Cookie { name, value } = cdn
            .sign_prefix(prefix, Delivery::Cookie, &Grant::until(expires))
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(name, str_of(i, "cookie_name"));
        assert_eq!(format!("{name}={value}"), str_of(e, "set_cookie_value"));
        assert!(value.starts_with(str_of(e, "string_to_sign")));
        let cookies = [(name.as_str(), value.as_str())];
        let request = EdgeRequest {
            method: "GET",
            cookies: &cookies,
            ..EdgeRequest::new(prefix, expires - 1)
        };
        cdn.verify(&request).unwrap();
    }
}

#[test]
fn path_component_vector_matches_byte_for_byte() {
    let cases = all_cases("google-media-cdn/signed-path-component-ed25519");
    for case in &cases {
        let (i, e) = (&case["inputs"], &case["expected"]);
        let expires = i["expires"].as_u64().unwrap();
        let cdn = ed_signer(case, SignaturePadding::Unpadded);
        let prefix = str_of(i, "url_prefix");
        let url = format!("{prefix}{}", str_of(i, "filename"));
        let Credential::Url(signed) = cdn
            .sign_prefix(prefix, Delivery::Path { url: &url }, &Grant::until(expires))
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(signed, str_of(e, "signed_url"));
        cdn.verify(&EdgeRequest::new(&signed, expires - 1)).unwrap();
        let sibling = signed.replace("test-filename", "segment-2.ts");
        cdn.verify(&EdgeRequest::new(&sibling, expires - 1))
            .unwrap();
    }
    assert_eq!(cases.len(), 1);
}

fn token_key(i: &Value) -> SigningKey {
    let key = str_of(i, "key_base64url");
    match str_of(i, "algorithm") {
        "ed25519" => SigningKey::ed25519_seed("k", key).unwrap(),
        "sha1" => SigningKey::hmac("k", key, Digest::Sha1).unwrap(),
        "sha256" => SigningKey::hmac("k", key, Digest::Sha256).unwrap(),
        other => panic!("{other}"),
    }
}

fn token_fields(i: &Value) -> TokenFields {
    let scope = if let Some(p) = i["url_prefix"].as_str() {
        TokenScope::UrlPrefix(p.to_owned())
    } else if let Some(p) = i["full_path"].as_str() {
        TokenScope::FullPath(p.to_owned())
    } else {
        TokenScope::PathGlobs(
            str_of(i, "path_globs")
                .split(',')
                .map(str::to_owned)
                .collect(),
        )
    };
    TokenFields {
        starts: i["starts"].as_u64(),
        session_id: i["session_id"].as_str().map(str::to_owned),
        data: i["data"].as_str().map(str::to_owned),
        headers: i["headers"]
            .as_array()
            .map(|h| {
                h.iter()
                    .map(|p| {
                        (
                            p[0].as_str().unwrap().to_owned(),
                            p[1].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        ip_ranges: i["ip_ranges"]
            .as_str()
            .map(|r| r.split(',').map(|r| IpRange::parse(r).unwrap()).collect())
            .unwrap_or_default(),
        ..TokenFields::new(scope, i["expires"].as_u64().unwrap())
    }
}

#[test]
fn token_vectors_match_byte_for_byte_and_verify() {
    let cases = all_cases("google-media-cdn/token");
    for case in &cases {
        let (i, e) = (&case["inputs"], &case["expected"]);
        let cdn = MediaCdn::new(Keyset::single(token_key(i)), Mode::Tokens).unwrap();
        let fields = token_fields(i);
        let token = cdn.token(&fields).unwrap();
        assert_eq!(token, str_of(e, "token"), "{case}");
        let path = match &fields.scope {
            TokenScope::FullPath(p) => p.clone(),
            _ => "/a/b.ts".to_owned(),
        };
        let url = format!("http://10.20.30.40{path}?edge-cache-token={token}");
        let request = EdgeRequest {
            method: "GET",
            client_ip: Some("203.0.113.7".parse().unwrap()),
            ..EdgeRequest::new(&url, fields.expires - 1)
        };
        let result = cdn.verify(&request);
        if fields.headers.is_empty() {
            assert_eq!(result.unwrap().key, "k");
        } else {
            assert_eq!(
                result,
                Err(Refusal::GoogleMediaCdn(Denial::HeadersNotVerifiable))
            );
        }
    }
    assert_eq!(cases.len(), 16);
}

#[test]
fn bad_input_and_keys_are_refused() {
    let seed = "BxwXXNjeGaoWqjr7GHEymRJkP4SaOC12dTGixk7Yr8I=";
    let ed = SigningKey::ed25519_seed("ed", seed).unwrap();
    let cdn = MediaCdn::new(Keyset::single(ed.clone()), Mode::Signatures).unwrap();
    let media = |r: Result<String, signgate_providers::Error>| match r {
        Err(signgate_providers::Error::GoogleMediaCdn(e)) => e,
        other => panic!("{other:?}"),
    };
    for url in [
        "https://m.example/a?Expires=1",
        "https://m.example/a?KeyName=x",
        "https://m.example/a?Signature=x",
        "https://m.example/a?URLPrefix=x",
        "https://m.example/a?edge-cache-token=x",
    ] {
        assert!(matches!(
            media(cdn.sign_url(url, &Grant::until(10))),
            Error::Url(UrlError::ReservedParameter(_))
        ));
    }
    let ip = Grant {
        client_ip: Some("192.0.2.1".parse().unwrap()),
        ..Grant::until(10)
    };
    assert_eq!(
        media(cdn.sign_url("https://m.example/a", &ip)),
        Error::NeedsTokens
    );
    assert_eq!(
        media(cdn.sign_url("https://m.example/a", &Grant::until(u64::MAX))),
        Error::ExpiresTooLarge(u64::MAX)
    );
    assert!(cdn
        .sign_prefix("https://m.example/a?x", Delivery::Cookie, &Grant::until(10))
        .is_err());
    assert!(cdn
        .sign_prefix("https://m.example/a#x", Delivery::Cookie, &Grant::until(10))
        .is_err());
    assert!(cdn
        .sign_prefix(
            "https://m.example/a",
            Delivery::Path {
                url: "https://m.example/a/b"
            },
            &Grant::until(10)
        )
        .is_err());
    assert!(cdn
        .sign_prefix(
            "https://m.example/a/",
            Delivery::Path {
                url: "https://m.example/b/c"
            },
            &Grant::until(10)
        )
        .is_err());
    assert!(matches!(
        SigningKey::ed25519_seed("Bad_Name", seed),
        Err(Error::BadKeyName(_))
    ));
    assert!(matches!(
        SigningKey::ed25519_seed("k", "AAAA"),
        Err(Error::Ed25519SeedLength { len: 3, .. })
    ));
    assert!(matches!(
        SigningKey::ed25519_seed("k", "not base64!"),
        Err(Error::KeyNotBase64(_))
    ));
    assert!(matches!(
        SigningKey::ed25519_pkcs8("k", b"junk"),
        Err(Error::BadEd25519Key(_))
    ));
    assert!(matches!(
        SigningKey::hmac("k", "AAAA", Digest::Sha256),
        Err(Error::HmacKeyTooShort { .. })
    ));
    assert!(matches!(
        SigningKey::hmac("k", seed, Digest::Md5),
        Err(Error::HmacDigest(_))
    ));
    let hmac = SigningKey::hmac("sh", seed, Digest::Sha256).unwrap();
    assert_eq!(
        MediaCdn::new(Keyset::single(hmac.clone()), Mode::Signatures).unwrap_err(),
        Error::SignaturesNeedEd25519
    );
    let ed_n = |n: &str| SigningKey::ed25519_seed(n, seed).unwrap();
    assert_eq!(
        Keyset::new(vec![ed_n("a"), ed_n("b"), ed_n("c"), ed_n("d")], "a").unwrap_err(),
        Error::TooManyKeys
    );
    assert!(Keyset::new(vec![ed_n("a"), ed_n("b"), ed_n("c"), hmac.clone()], "sh").is_ok());
    assert_eq!(
        Keyset::new(vec![ed_n("a"), ed_n("a")], "a").unwrap_err(),
        Error::DuplicateKeyName("a".into())
    );
    assert_eq!(
        Keyset::new(vec![ed_n("a")], "b").unwrap_err(),
        Error::ActiveKeyMissing("b".into())
    );
    assert!(!format!("{ed:?}").contains(seed));
    let tokens = MediaCdn::new(Keyset::single(hmac), Mode::Tokens).unwrap();
    let fields = |scope| TokenFields::new(scope, 10);
    for bad in [
        fields(TokenScope::FullPath("no-slash".into())),
        fields(TokenScope::FullPath("/a~b".into())),
        fields(TokenScope::PathGlobs(vec![])),
        fields(TokenScope::PathGlobs(vec!["/a,b".into()])),
        fields(TokenScope::UrlPrefix("https://m.example/a?b".into())),
        TokenFields {
            starts: Some(10),
            ..fields(TokenScope::FullPath("/a".into()))
        },
        TokenFields {
            session_id: Some("a~b".into()),
            ..fields(TokenScope::FullPath("/a".into()))
        },
        TokenFields::new(TokenScope::FullPath("/a".into()), u64::MAX),
    ] {
        assert!(tokens.token(&bad).is_err(), "{bad:?}");
    }
    assert!(IpRange::parse("300.0.0.0/8").is_err());
}

/// Keys for the properties: an Ed25519 seed or an HMAC secret, with a name.
fn keys() -> impl Strategy<Value = SigningKey> {
    ("[a-z][a-z0-9]{0,6}", any::<[u8; 32]>(), 0..3u8).prop_map(|(name, bytes, kind)| {
        let b64 = base64url(&bytes);
        match kind {
            0 => SigningKey::ed25519_seed(&name, &b64).unwrap(),
            1 => SigningKey::hmac(&name, &b64, Digest::Sha1).unwrap(),
            _ => SigningKey::hmac(&name, &b64, Digest::Sha256).unwrap(),
        }
    })
}

fn ed_keys() -> impl Strategy<Value = SigningKey> {
    ("[a-z][a-z0-9]{0,6}", any::<[u8; 32]>())
        .prop_map(|(name, bytes)| SigningKey::ed25519_seed(&name, &base64url(&bytes)).unwrap())
}

fn paths() -> impl Strategy<Value = String> {
    "(/[a-z0-9._-]{1,8}){1,3}"
}

fn ips() -> impl Strategy<Value = Option<IpAddr>> {
    prop_oneof![
        Just(None),
        any::<[u8; 4]>().prop_map(|b| Some(IpAddr::from(b))),
        any::<[u8; 16]>().prop_map(|b| Some(IpAddr::from(b).to_canonical())),
    ]
}

fn other_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::from(std::net::Ipv4Addr::from(u32::from(v4) ^ 1)),
        IpAddr::V6(v6) => IpAddr::from(std::net::Ipv6Addr::from(u128::from(v6) ^ 1)),
    }
}

fn refusal(
    cdn: &MediaCdn,
    url: &str,
    cookies: &[(&str, &str)],
    ip: Option<IpAddr>,
    now: u64,
) -> Option<Denial> {
    match cdn.verify(&EdgeRequest {
        method: "GET",
        url,
        cookies,
        client_ip: ip,
        now,
    }) {
        Ok(_) => None,
        Err(Refusal::GoogleMediaCdn(d)) => Some(d),
        Err(other) => panic!("{other:?}"),
    }
}

/// A credential applied to a request for `target`.
struct Applied {
    url: String,
    cookie: Option<String>,
}

fn apply(credential: &Credential, entry: &str, target: &str) -> Applied {
    match credential {
        Credential::Url(url) => Applied {
            url: url.replacen(entry_tail(entry), entry_tail(target), 1),
            cookie: None,
        },
        Credential::Cookie { value, .. } => Applied {
            url: target.to_owned(),
            cookie: Some(value.clone()),
        },
        Credential::Cookies(_) => panic!("Media CDN sets one cookie"),
    }
}

/// The last path segment (what a relative URL replaces).
fn entry_tail(url: &str) -> &str {
    url.rsplit('/').next().unwrap()
}

fn check(
    cdn: &MediaCdn,
    applied: &Applied,
    tweak: &dyn Fn(&str) -> String,
    ip: Option<IpAddr>,
    now: u64,
) -> Option<Denial> {
    match &applied.cookie {
        Some(value) => {
            let value = tweak(value);
            refusal(cdn, &applied.url, &[(COOKIE_NAME, &value)], ip, now)
        }
        None => refusal(cdn, &tweak(&applied.url), &[], ip, now),
    }
}

/// One signature character changed, wherever the signature sits.
fn change_signature(text: &str, index: usize) -> String {
    if let Some((head, sig)) = text.rsplit_once("hmac=") {
        let end = sig.find(['/', '&']).unwrap_or(sig.len());
        return format!(
            "{head}hmac={}{}",
            change_char(&sig[..end], index, HEX),
            &sig[end..]
        );
    }
    let (head, sig) = text.rsplit_once("Signature=").unwrap();
    let end = sig.find(['/', '&', '=']).unwrap_or(sig.len());
    format!(
        "{head}Signature={}{}",
        change_char(&sig[..end], index, B64URL),
        &sig[end..]
    )
}

proptest! {
    #[test]
    fn signed_requests_verify_and_every_change_is_refused(
        key in ed_keys(), other in ed_keys(), dir in paths(), file in "[a-z0-9]{1,8}\\.ts",
        expires in 1u64..4_000_000_000, index in any::<usize>(), form in 0..4u8, padded in any::<bool>(),
    ) {
        let padding = if padded { SignaturePadding::Padded } else { SignaturePadding::Unpadded };
        let cdn = MediaCdn::new(Keyset::single(key.clone()), Mode::Signatures).unwrap().with_signature_padding(padding);
        let prefix = format!("https://m.example{dir}/");
        let entry = format!("{prefix}{file}");
        let grant = Grant::until(expires);
        let credential = match form {
            0 => Credential::Url(cdn.sign_url(&entry, &grant).unwrap()),
            1 => cdn.sign_prefix(&prefix, Delivery::Query { url: &entry }, &grant).unwrap(),
            2 => cdn.sign_prefix(&prefix, Delivery::Cookie, &grant).unwrap(),
            _ => cdn.sign_prefix(&prefix, Delivery::Path { url: &entry }, &grant).unwrap(),
        };
        let same = |s: &str| s.to_owned();
        let here = apply(&credential, &entry, &entry);
        prop_assert_eq!(check(&cdn, &here, &same, None, expires - 1), None);
        prop_assert_eq!(check(&cdn, &here, &same, None, expires), Some(Denial::Expired));
        let later = |s: &str| s.replace(&format!("Expires={expires}"), &format!("Expires={}", expires + 1));
        prop_assert_eq!(check(&cdn, &here, &later, None, 0), Some(Denial::InvalidSignature));
        let sig = |s: &str| change_signature(s, index);
        prop_assert_ne!(check(&cdn, &here, &sig, None, 0), None);
        let sibling = format!("{prefix}other.ts");
        let moved = apply(&credential, &entry, &sibling);
        let expected = if form == 0 { Some(Denial::InvalidSignature) } else { None };
        prop_assert_eq!(check(&cdn, &moved, &same, None, 0), expected);
        if form == 1 || form == 2 {
            let outside = Applied { url: here.url.replacen(&format!("m.example{dir}/"), "m.example/elsewhere/", 1), cookie: here.cookie.clone() };
            prop_assert_eq!(check(&cdn, &outside, &same, None, 0), Some(Denial::OutsideScope));
        }
        if form == 3 {
            let outside = Applied { url: here.url.replacen(&format!("m.example{dir}/"), "m.example/elsewhere/", 1), cookie: None };
            prop_assert_eq!(check(&cdn, &outside, &same, None, 0), Some(Denial::InvalidSignature));
        }
        let verdict = check(&MediaCdn::new(Keyset::single(other.clone()), Mode::Signatures).unwrap(), &here, &same, None, 0);
        if other.name() == key.name() {
            prop_assert_eq!(verdict, Some(Denial::InvalidSignature));
        } else {
            prop_assert_eq!(verdict, Some(Denial::UnknownKeyName));
        }
    }

    #[test]
    fn tokens_verify_and_every_change_is_refused(
        key in keys(), other in keys(), dir in paths(), file in "[a-z0-9]{1,8}\\.ts",
        expires in 2u64..4_000_000_000, starts in proptest::option::of(0u64..2), ip in ips(),
        index in any::<usize>(), form in 0..4u8,
    ) {
        let cdn = MediaCdn::new(Keyset::single(key.clone()), Mode::Tokens).unwrap();
        let prefix = format!("https://m.example{dir}/");
        let entry = format!("{prefix}{file}");
        let grant = Grant { starts, client_ip: ip, expires, signed_at: None };
        let credential = match form {
            0 => Credential::Url(cdn.sign_url(&entry, &grant).unwrap()),
            1 => cdn.sign_prefix(&prefix, Delivery::Query { url: &entry }, &grant).unwrap(),
            2 => cdn.sign_prefix(&prefix, Delivery::Cookie, &grant).unwrap(),
            _ => cdn.sign_prefix(&prefix, Delivery::Path { url: &entry }, &grant).unwrap(),
        };
        let same = |s: &str| s.to_owned();
        let here = apply(&credential, &entry, &entry);
        let valid_from = starts.unwrap_or(0).max(1);
        prop_assert_eq!(check(&cdn, &here, &same, ip, expires - 1), None);
        prop_assert_eq!(check(&cdn, &here, &same, ip, valid_from), None);
        prop_assert_eq!(check(&cdn, &here, &same, ip, expires), Some(Denial::Expired));
        if starts == Some(1) {
            prop_assert_eq!(check(&cdn, &here, &same, ip, 0), Some(Denial::NotYetValid));
        }
        let later = |s: &str| s.replace(&format!("Expires={expires}"), &format!("Expires={}", expires + 1));
        prop_assert_eq!(check(&cdn, &here, &later, ip, valid_from), Some(Denial::InvalidSignature));
        let sig = |s: &str| change_signature(s, index);
        prop_assert_ne!(check(&cdn, &here, &sig, ip, valid_from), None);
        let moved = apply(&credential, &entry, &format!("{prefix}other.ts"));
        let expected = if form == 0 { Some(Denial::InvalidSignature) } else { None };
        prop_assert_eq!(check(&cdn, &moved, &same, ip, valid_from), expected);
        if form == 1 || form == 2 {
            let outside = Applied { url: here.url.replacen(&format!("m.example{dir}/"), "m.example/elsewhere/", 1), cookie: here.cookie.clone() };
            prop_assert_eq!(check(&cdn, &outside, &same, ip, valid_from), Some(Denial::OutsideScope));
        }
        if let Some(ip) = ip {
            prop_assert_eq!(check(&cdn, &here, &same, Some(other_ip(ip)), valid_from), Some(Denial::IpNotAllowed));
            prop_assert_eq!(check(&cdn, &here, &same, None, valid_from), Some(Denial::IpNotAllowed));
        }
        let wrong = MediaCdn::new(Keyset::single(other), Mode::Tokens).unwrap();
        prop_assert_eq!(check(&wrong, &here, &same, ip, valid_from), Some(Denial::InvalidSignature));
        // A keyset that also holds the signing key accepts the token whichever key is active.
        let rotated = Keyset::new(vec![SigningKey::ed25519_seed("zzz", &base64url(&[9; 32])).unwrap(), key.clone()], "zzz");
        if let Ok(rotated) = rotated {
            let both = MediaCdn::new(rotated, Mode::Tokens).unwrap();
            prop_assert_eq!(check(&both, &here, &same, ip, valid_from), None);
        }
    }
}
