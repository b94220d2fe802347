//! Akamai Auth Token 2.0: the generated cases byte for byte, refusals of bad input, and
//! properties of sign → verify for ACL and URL tokens.

mod common;

use std::net::IpAddr;

use common::*;
use proptest::prelude::*;
use serde_json::Value;
use signgate_providers::akamai::*;
use signgate_providers::{Credential, Delivery, Digest, EdgeRequest, Grant, Provider, Refusal};

fn digest(name: &str) -> Digest {
    match name {
        "sha256" => Digest::Sha256,
        "sha1" => Digest::Sha1,
        "md5" => Digest::Md5,
        other => panic!("{other}"),
    }
}

fn signer(i: &Value) -> Akamai {
    let config = Config {
        token_name: TokenName::parse(str_of(i, "token_name")).unwrap(),
        algorithm: digest(str_of(i, "algorithm")),
        salt: i["salt"].as_str().map(str::to_owned),
        ignore_query_string: true,
    };
    Akamai::new(HexKey::parse(str_of(i, "key_hex")).unwrap(), None, config).unwrap()
}

#[test]
fn edgeauth_vectors_match_byte_for_byte_and_verify() {
    let cases = cases("akamai/edgeauth-token-2.0");
    for case in &cases {
        let (i, e) = (&case["inputs"], &case["expected"]);
        assert_eq!(str_of(i, "field_delimiter"), "~");
        assert_eq!(str_of(i, "acl_delimiter"), "!");
        let akamai = signer(i);
        let scope = match (&i["acl"], i["url"].as_str()) {
            (Value::String(acl), _) => TokenScope::Acl(vec![acl.clone()]),
            (Value::Array(acls), _) => TokenScope::Acl(
                acls.iter()
                    .map(|a| a.as_str().unwrap().to_owned())
                    .collect(),
            ),
            (_, Some(url)) => TokenScope::Url(url.to_owned()),
            _ => panic!("no scope in {case}"),
        };
        let request_path = match &scope {
            TokenScope::Url(u) => u.clone(),
            TokenScope::Acl(acls) => acls[0].replace('*', "x"),
        };
        let spec = TokenSpec {
            start: i["start_time"].as_u64(),
            ..TokenSpec::new(scope, i["end_time"].as_u64().unwrap())
        };
        let token = akamai.token(&spec).unwrap();
        assert_eq!(token, str_of(e, "token"));
        assert_eq!(
            format!("{}={token}", akamai.token_name()),
            str_of(e, "hdnts_cookie_or_query")
        );
        assert!(str_of(e, "hmac_input").starts_with(token.rsplit_once("~hmac=").unwrap().0));
        let url = format!(
            "https://a.example{request_path}?{}={token}",
            akamai.token_name()
        );
        let now = spec.start.unwrap_or(spec.end - 1);
        assert_eq!(
            akamai.verify(&EdgeRequest::new(&url, now)).unwrap().key,
            "primary"
        );
        let cookies = [(akamai.token_name(), token.as_str())];
        let plain = format!("https://a.example{request_path}");
        akamai
            .verify(&EdgeRequest {
                method: "GET",
                cookies: &cookies,
                ..EdgeRequest::new(&plain, now)
            })
            .unwrap();
    }
    assert_eq!(cases.len(), 3);
}

const KEY: &str = "0123456789abcdef0123456789abcdef";

fn default_signer() -> Akamai {
    Akamai::new(HexKey::parse(KEY).unwrap(), None, Config::default()).unwrap()
}

#[test]
fn bad_input_and_keys_are_refused() {
    assert_eq!(HexKey::parse("abc").unwrap_err(), Error::KeyNotHex("token"));
    assert_eq!(HexKey::parse("zz").unwrap_err(), Error::KeyNotHex("token"));
    assert_eq!(HexKey::parse("").unwrap_err(), Error::EmptyKey("token"));
    assert_eq!(
        HexKey::parse_transition("a").unwrap_err(),
        Error::KeyNotHex("transition")
    );
    assert!(!format!("{:?}", HexKey::parse(KEY).unwrap()).contains(KEY));
    assert!(TokenName::parse("bad name").is_err());
    let salty = Config {
        salt: Some("a~b".into()),
        ..Config::default()
    };
    assert_eq!(
        Akamai::new(HexKey::parse(KEY).unwrap(), None, salty).unwrap_err(),
        Error::BadSalt
    );
    let akamai = default_signer();
    let acl = |a: &str| akamai.token(&TokenSpec::new(TokenScope::Acl(vec![a.to_owned()]), 10));
    assert_eq!(acl("/dl/a!b"), Err(Error::BangInAcl("/dl/a!b".into())));
    assert!(matches!(acl("dl/*"), Err(Error::BadAcl(_))));
    assert!(matches!(acl("/dl/a~b"), Err(Error::BadAcl(_))));
    assert!(matches!(acl("/dl/a b"), Err(Error::BadAcl(_))));
    assert_eq!(
        akamai.token(&TokenSpec::new(TokenScope::Acl(vec![]), 10)),
        Err(Error::EmptyAcl)
    );
    assert_eq!(
        akamai.token(&TokenSpec::new(
            TokenScope::Acl(vec!["/a".into()]),
            u64::MAX
        )),
        Err(Error::TimeTooLarge(u64::MAX))
    );
    let late_start = TokenSpec {
        start: Some(10),
        ..TokenSpec::new(TokenScope::Url("/a".into()), 10)
    };
    assert!(matches!(
        akamai.token(&late_start),
        Err(Error::EndNotAfterStart { .. })
    ));
    let tilde = TokenSpec {
        session_id: Some("a~b".into()),
        ..TokenSpec::new(TokenScope::Url("/a".into()), 10)
    };
    assert!(matches!(
        akamai.token(&tilde),
        Err(Error::BadField { field: "id", .. })
    ));
    assert!(akamai
        .sign_url("https://a.example/a?__token__=x", &Grant::until(10))
        .is_err());
    assert!(akamai
        .sign_url("https://a.example/a#f", &Grant::until(10))
        .is_err());
    assert!(akamai
        .sign_prefix(
            "https://a.example/a!b/",
            Delivery::Cookie,
            &Grant::until(10)
        )
        .is_err());
    assert!(akamai
        .sign_prefix("https://a.example/a*/", Delivery::Cookie, &Grant::until(10))
        .is_err());
    assert!(akamai
        .sign_prefix("https://a.example/a?x", Delivery::Cookie, &Grant::until(10))
        .is_err());
    assert!(akamai
        .sign_prefix(
            "https://a.example/a/",
            Delivery::Path {
                url: "https://a.example/a/b"
            },
            &Grant::until(10)
        )
        .is_err());
    assert!(akamai
        .sign_prefix(
            "https://a.example/a/",
            Delivery::Query {
                url: "https://a.example/b/c"
            },
            &Grant::until(10)
        )
        .is_err());
}

#[test]
fn the_transition_key_verifies_during_rotation() {
    let old = HexKey::parse(KEY).unwrap();
    let new = HexKey::parse("fedcba9876543210fedcba9876543210").unwrap();
    let signed = default_signer()
        .sign_url("https://a.example/f.zip", &Grant::until(100))
        .unwrap();
    let rotating = Akamai::new(new.clone(), Some(old), Config::default()).unwrap();
    assert_eq!(
        rotating.verify(&EdgeRequest::new(&signed, 0)).unwrap().key,
        "transition"
    );
    let done = Akamai::new(new, None, Config::default()).unwrap();
    assert_eq!(
        done.verify(&EdgeRequest::new(&signed, 0)),
        Err(Refusal::Akamai(Denial::InvalidHmac))
    );
}

fn refusal(
    akamai: &Akamai,
    url: &str,
    cookies: &[(&str, &str)],
    ip: Option<IpAddr>,
    now: u64,
) -> Option<Denial> {
    match akamai.verify(&EdgeRequest {
        method: "GET",
        url,
        cookies,
        client_ip: ip,
        now,
    }) {
        Ok(_) => None,
        Err(Refusal::Akamai(d)) => Some(d),
        Err(other) => panic!("{other:?}"),
    }
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

fn paths() -> impl Strategy<Value = String> {
    "(/[a-z0-9._-]{1,8}){1,3}"
}

fn configs() -> impl Strategy<Value = Config> {
    (
        0..3u8,
        any::<bool>(),
        proptest::option::of("[a-z]{1,8}"),
        any::<bool>(),
    )
        .prop_map(|(alg, hdnts, salt, ignore)| Config {
            token_name: if hdnts {
                TokenName::hdnts()
            } else {
                TokenName::auth_token()
            },
            algorithm: [Digest::Sha256, Digest::Sha1, Digest::Md5][usize::from(alg)],
            salt,
            ignore_query_string: ignore,
        })
}

/// One HMAC hex digit changed.
fn change_hmac(text: &str, index: usize) -> String {
    let (head, mac) = text.rsplit_once("hmac=").unwrap();
    let end = mac.find('&').unwrap_or(mac.len());
    format!(
        "{head}hmac={}{}",
        change_char(&mac[..end], index, HEX),
        &mac[end..]
    )
}

proptest! {
    #[test]
    fn tokens_verify_and_every_change_is_refused(
        config in configs(), key in "([0-9a-f]{2}){8,32}", other_key in "([0-9a-f]{2}){8,32}",
        dir in paths(), file in "[a-z0-9]{1,8}\\.ts", query in proptest::option::of("v=[a-z0-9]{1,4}"),
        expires in 2u64..4_000_000_000, starts in proptest::option::of(0u64..2), ip in ips(),
        index in any::<usize>(), form in 0..3u8,
    ) {
        let akamai = Akamai::new(HexKey::parse(&key).unwrap(), None, config.clone()).unwrap();
        let prefix = format!("https://a.example{dir}/");
        let entry = match &query {
            Some(q) => format!("{prefix}{file}?{q}"),
            None => format!("{prefix}{file}"),
        };
        let grant = Grant { starts, client_ip: ip, expires, signed_at: None };
        let credential = match form {
            0 => Credential::Url(akamai.sign_url(&entry, &grant).unwrap()),
            1 => akamai.sign_prefix(&prefix, Delivery::Query { url: &entry }, &grant).unwrap(),
            _ => akamai.sign_prefix(&prefix, Delivery::Cookie, &grant).unwrap(),
        };
        let name = akamai.token_name().to_owned();
        let at = |target: &str, tweak: &dyn Fn(&str) -> String, ip: Option<IpAddr>, now: u64, verifier: &Akamai| {
            match &credential {
                Credential::Url(url) => {
                    let url = url.replacen(&entry, target, 1);
                    refusal(verifier, &tweak(&url), &[], ip, now)
                }
                Credential::Cookie { value, .. } => {
                    let value = tweak(value);
                    refusal(verifier, target, &[(name.as_str(), value.as_str())], ip, now)
                }
                Credential::Cookies(_) => panic!("Akamai sets one cookie"),
            }
        };
        let same = |s: &str| s.to_owned();
        let from = starts.unwrap_or(0).max(1);
        prop_assert_eq!(at(&entry, &same, ip, expires - 1, &akamai), None);
        prop_assert_eq!(at(&entry, &same, ip, from, &akamai), None);
        prop_assert_eq!(at(&entry, &same, ip, expires, &akamai), Some(Denial::Expired));
        if starts == Some(1) {
            prop_assert_eq!(at(&entry, &same, ip, 0, &akamai), Some(Denial::NotYetValid));
        }
        let later = |s: &str| s.replace(&format!("exp={expires}"), &format!("exp={}", expires + 1));
        prop_assert_eq!(at(&entry, &later, ip, from, &akamai), Some(Denial::InvalidHmac));
        let mac = |s: &str| change_hmac(s, index);
        prop_assert_eq!(at(&entry, &mac, ip, from, &akamai), Some(Denial::InvalidHmac));
        let q = query.as_ref().map(|q| format!("?{q}")).unwrap_or_default();
        let sibling = format!("{prefix}zz-other.ts{q}");
        let outside = format!("https://a.example/elsewhere{dir}/{file}{q}");
        if form == 0 {
            prop_assert_eq!(at(&sibling, &same, ip, from, &akamai), Some(Denial::InvalidHmac));
        } else {
            prop_assert_eq!(at(&sibling, &same, ip, from, &akamai), None);
            prop_assert_eq!(at(&outside, &same, ip, from, &akamai), Some(Denial::AclMismatch));
        }
        if let Some(ip) = ip {
            prop_assert_eq!(at(&entry, &same, Some(other_ip(ip)), from, &akamai), Some(Denial::IpMismatch));
            prop_assert_eq!(at(&entry, &same, None, from, &akamai), Some(Denial::IpMismatch));
        }
        if other_key != key {
            let wrong = Akamai::new(HexKey::parse(&other_key).unwrap(), None, config).unwrap();
            prop_assert_eq!(at(&entry, &same, ip, from, &wrong), Some(Denial::InvalidHmac));
        }
    }
}
