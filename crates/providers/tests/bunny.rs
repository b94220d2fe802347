//! Bunny CDN HS256 tokens: the vendor's cases byte for byte, refusals of bad input, and
//! properties of sign → verify in the query and directory forms.

mod common;

use std::net::IpAddr;

use common::*;
use proptest::prelude::*;
use signgate_providers::bunny::*;
use signgate_providers::{Credential, Delivery, EdgeRequest, Grant, Provider, Refusal, UrlError};

fn zone(key: &str) -> Bunny {
    Bunny::new(SecurityKey::new(key).unwrap(), IpBinding::V4AndV6Slash64)
}

/// The first non-empty string among the spellings the vendor's two test sources use.
fn text<'a>(i: &'a serde_json::Value, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .filter_map(|n| i[*n].as_str())
        .find(|s| !s.is_empty())
}

fn flag(i: &serde_json::Value, names: &[&str]) -> bool {
    names.iter().any(|n| i[*n].as_bool() == Some(true))
}

#[test]
fn hs256_vectors_match_byte_for_byte_and_verify() {
    let cases = cases("bunny-cdn/token-auth-hs256");
    for case in &cases {
        let (i, e) = (&case["inputs"], &case["expected"]);
        let bunny = zone(str_of(i, "security_key"));
        let options = TokenOptions {
            placement: if flag(i, &["isDirectory", "is_directory"]) {
                Placement::Directory
            } else {
                Placement::Query
            },
            token_path: text(i, &["pathAllowed", "path_allowed"]).map(str::to_owned),
            countries_allowed: text(i, &["countriesAllowed", "countries_allowed"])
                .map(str::to_owned),
            countries_blocked: text(i, &["countriesBlocked", "countries_blocked"])
                .map(str::to_owned),
            speed_limit: i["speedLimit"].as_u64().filter(|l| *l > 0),
            ignore_params: flag(i, &["ignoreParams", "ignore_params"]),
        };
        let ip: Option<IpAddr> = text(i, &["userIp", "user_ip"]).map(|s| s.parse().unwrap());
        let expires = i["expires"].as_u64().unwrap();
        let signed = bunny.sign(str_of(i, "url"), &options, expires, ip).unwrap();
        assert_eq!(signed, str_of(e, "signed_url"), "{case}");
        if let Some(token) = e["token"].as_str() {
            assert!(signed.contains(token));
        }
        let request = EdgeRequest {
            method: "GET",
            client_ip: ip,
            ..EdgeRequest::new(&signed, expires - 1)
        };
        bunny
            .verify(&request)
            .unwrap_or_else(|d| panic!("{d}: {signed}"));
    }
    assert_eq!(cases.len(), 7);
}

#[test]
fn ipv6_binds_its_slash_64_only_where_the_zone_allows_it() {
    let url = "https://z.b-cdn.net/a.jpg";
    let ip: IpAddr = "2001:db8:85a3::8a2e:370:7334".parse().unwrap();
    let v4_only = Bunny::new(SecurityKey::new("k").unwrap(), IpBinding::V4Only);
    assert_eq!(
        v4_only.sign(url, &TokenOptions::default(), 10, Some(ip)),
        Err(Error::Ipv6NotBound(ip))
    );
    let mapped: IpAddr = "::ffff:1.2.3.4".parse().unwrap();
    let v4: IpAddr = "1.2.3.4".parse().unwrap();
    assert_eq!(
        v4_only.sign(url, &TokenOptions::default(), 10, Some(mapped)),
        v4_only.sign(url, &TokenOptions::default(), 10, Some(v4))
    );
    let both = zone("k");
    let signed = both
        .sign(url, &TokenOptions::default(), 10, Some(ip))
        .unwrap();
    let neighbour: IpAddr = "2001:db8:85a3::1".parse().unwrap();
    let elsewhere: IpAddr = "2001:db8:85a4::1".parse().unwrap();
    let at = |ip| {
        both.verify(&EdgeRequest {
            method: "GET",
            client_ip: Some(ip),
            ..EdgeRequest::new(&signed, 0)
        })
    };
    assert!(at(neighbour).is_ok());
    assert_eq!(at(elsewhere), Err(Refusal::Bunny(Denial::InvalidToken)));
}

#[test]
fn bad_input_is_refused() {
    let bunny = zone("SecurityKey");
    let plain = TokenOptions::default();
    for url in [
        "https://z.b-cdn.net/a?token=x",
        "https://z.b-cdn.net/a?expires=1",
        "https://z.b-cdn.net/a?token_path=/",
        "https://z.b-cdn.net/a?bcdn_token=x",
        "https://z.b-cdn.net/a?Limit=1",
    ] {
        assert!(
            matches!(
                bunny.sign(url, &plain, 10, None),
                Err(Error::Url(UrlError::ReservedParameter(_)))
            ),
            "{url}"
        );
    }
    assert_eq!(
        bunny.sign(
            "https://z.b-cdn.net/bcdn_token=x&expires=1/a",
            &plain,
            10,
            None
        ),
        Err(Error::TokenInPath)
    );
    assert_eq!(
        bunny.sign("https://z.b-cdn.net/a?v=1&v=2", &plain, 10, None),
        Err(Error::RepeatedParameter("v".into()))
    );
    assert_eq!(
        bunny.sign("https://z.b-cdn.net/a?v=a+b", &plain, 10, None),
        Err(Error::PlusInQuery)
    );
    assert_eq!(
        bunny.sign("https://z.b-cdn.net/a", &plain, u64::MAX, None),
        Err(Error::ExpiresTooLarge(u64::MAX))
    );
    let ignore_and_countries = TokenOptions {
        ignore_params: true,
        countries_allowed: Some("US".into()),
        ..TokenOptions::default()
    };
    assert_eq!(
        bunny.sign("https://z.b-cdn.net/a", &ignore_and_countries, 10, None),
        Err(Error::IgnoreParamsWithRestrictions)
    );
    let bad_countries = TokenOptions {
        countries_allowed: Some("us, ca".into()),
        ..TokenOptions::default()
    };
    assert!(matches!(
        bunny.sign("https://z.b-cdn.net/a", &bad_countries, 10, None),
        Err(Error::BadCountries(_))
    ));
    let outside = TokenOptions {
        token_path: Some("/b/".into()),
        ..TokenOptions::default()
    };
    assert!(matches!(
        bunny.sign("https://z.b-cdn.net/a", &outside, 10, None),
        Err(Error::OutsideTokenPath { .. })
    ));
    assert_eq!(SecurityKey::new("").unwrap_err(), Error::EmptyKey);
    assert_eq!(SecurityKey::new("key\n").unwrap_err(), Error::KeyWhitespace);
    assert!(!format!("{:?}", SecurityKey::new("secret").unwrap()).contains("secret"));
    let starts = Grant {
        starts: Some(1),
        ..Grant::until(10)
    };
    assert!(bunny.sign_url("https://z.b-cdn.net/a", &starts).is_err());
    assert!(bunny
        .sign_prefix(
            "https://z.b-cdn.net/a/",
            Delivery::Cookie,
            &Grant::until(10)
        )
        .is_err());
    assert!(bunny
        .sign_prefix(
            "https://z.b-cdn.net/a/",
            Delivery::Path {
                url: "https://z.b-cdn.net/b/x"
            },
            &Grant::until(10)
        )
        .is_err());
    assert!(bunny
        .sign_prefix(
            "https://z.b-cdn.net/a?x",
            Delivery::Path {
                url: "https://z.b-cdn.net/a/x"
            },
            &Grant::until(10)
        )
        .is_err());
}

#[test]
fn ignored_query_parameters_are_served_but_not_signed() {
    let bunny = zone("SecurityKey");
    let options = TokenOptions {
        ignore_params: true,
        ..TokenOptions::default()
    };
    let signed = bunny
        .sign("https://z.b-cdn.net/a.jpg?v=1", &options, 100, None)
        .unwrap();
    assert!(signed.contains("&v=1&"), "{signed}");
    assert!(bunny.verify(&EdgeRequest::new(&signed, 0)).is_ok());
    let changed = signed.replace("v=1", "v=2");
    assert!(bunny.verify(&EdgeRequest::new(&changed, 0)).is_ok());
}

fn refusal(bunny: &Bunny, url: &str, ip: Option<IpAddr>, now: u64) -> Option<Denial> {
    match bunny.verify(&EdgeRequest {
        method: "GET",
        client_ip: ip,
        ..EdgeRequest::new(url, now)
    }) {
        Ok(_) => None,
        Err(Refusal::Bunny(d)) => Some(d),
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

/// An address the edge must not accept for `ip`: another IPv4 address, or another /64.
fn other_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::from(std::net::Ipv4Addr::from(u32::from(v4) ^ 1)),
        IpAddr::V6(v6) => IpAddr::from(std::net::Ipv6Addr::from(u128::from(v6) ^ (1 << 64))),
    }
}

fn paths() -> impl Strategy<Value = String> {
    "(/[a-z0-9._-]{1,8}){1,4}"
}

proptest! {
    #[test]
    fn tokens_verify_and_every_change_is_refused(
        key in "[A-Za-z0-9-]{1,36}", other_key in "[A-Za-z0-9-]{1,36}",
        path in paths(), query in proptest::option::of("v=[a-z0-9]{0,6}"),
        expires in 1u64..4_000_000_000, ip in ips(), index in any::<usize>(),
        directory in any::<bool>(),
    ) {
        let bunny = zone(&key);
        let url = match &query {
            Some(q) => format!("https://z.b-cdn.net{path}?{q}"),
            None => format!("https://z.b-cdn.net{path}"),
        };
        let options = TokenOptions {
            placement: if directory { Placement::Directory } else { Placement::Query },
            ..TokenOptions::default()
        };
        let signed = bunny.sign(&url, &options, expires, ip).unwrap();
        prop_assert_eq!(refusal(&bunny, &signed, ip, expires - 1), None);
        prop_assert_eq!(refusal(&bunny, &signed, ip, expires), Some(Denial::Expired));
        let moved = if directory {
            format!("{signed}x")
        } else {
            let at = "https://z.b-cdn.net".len() + path.len();
            format!("{}x{}", &signed[..at], &signed[at..])
        };
        prop_assert_eq!(refusal(&bunny, &moved, ip, 0), Some(Denial::InvalidToken));
        let later = signed.replace(&format!("expires={expires}"), &format!("expires={}", expires + 1));
        prop_assert_eq!(refusal(&bunny, &later, ip, 0), Some(Denial::InvalidToken));
        let token = signed.split("token=").nth(1).unwrap().split('&').next().unwrap();
        let sig = token.rsplit('-').next().unwrap();
        let changed = signed.replace(sig, &change_char(sig, index, B64URL));
        prop_assert_ne!(refusal(&bunny, &changed, ip, 0), None);
        if let Some(ip) = ip {
            prop_assert_eq!(refusal(&bunny, &signed, Some(other_ip(ip)), 0), Some(Denial::InvalidToken));
            prop_assert_eq!(refusal(&bunny, &signed, None, 0), Some(Denial::IpRequired));
        }
        if other_key != key {
            prop_assert_eq!(refusal(&zone(&other_key), &signed, ip, 0), Some(Denial::InvalidToken));
        }
    }

    #[test]
    fn prefix_tokens_cover_the_folder_only(
        dir in paths(), rest in paths(), expires in 1u64..4_000_000_000, ip in ips(),
        directory in any::<bool>(), index in any::<usize>(),
    ) {
        let bunny = zone("SecurityKey");
        let prefix = format!("https://z.b-cdn.net{dir}/");
        let entry = format!("{prefix}playlist.m3u8");
        let delivery = if directory { Delivery::Path { url: &entry } } else { Delivery::Query { url: &entry } };
        let grant = Grant { client_ip: ip, ..Grant::until(expires) };
        let Credential::Url(signed) = bunny.sign_prefix(&prefix, delivery, &grant).unwrap() else { unreachable!() };
        prop_assert_eq!(refusal(&bunny, &signed, ip, expires - 1), None);
        // A relative segment URL inherits the directory token, or keeps the query token.
        let segment = signed.replacen("playlist.m3u8", &rest[1..], 1);
        prop_assert_eq!(refusal(&bunny, &segment, ip, expires - 1), None);
        prop_assert_eq!(refusal(&bunny, &segment, ip, expires), Some(Denial::Expired));
        let outside = signed.replacen(&format!("{dir}/playlist.m3u8"), &format!("{rest}/playlist.m3u8"), 1);
        if !rest.starts_with(&format!("{dir}/")) {
            prop_assert_eq!(refusal(&bunny, &outside, ip, 0), Some(Denial::PathNotAllowed));
        }
        let token = signed.split("token=").nth(1).unwrap().split('&').next().unwrap();
        let sig = token.rsplit('-').next().unwrap();
        prop_assert_ne!(refusal(&bunny, &signed.replace(sig, &change_char(sig, index, B64URL)), ip, 0), None);
        if let Some(ip) = ip {
            prop_assert_eq!(refusal(&bunny, &segment, Some(other_ip(ip)), 0), Some(Denial::InvalidToken));
        }
    }
}

#[test]
fn an_unbound_signature_that_begins_with_1_dash_is_not_read_as_ip_bound() {
    // Found by the property test above: this signature happens to start with "1-".
    let bunny = zone("SecurityKey");
    let prefix = "https://z.b-cdn.net/_ij/p.79.8p/";
    let entry = format!("{prefix}playlist.m3u8");
    let grant = Grant::until(533957532);
    let Credential::Url(signed) = bunny
        .sign_prefix(prefix, Delivery::Query { url: &entry }, &grant)
        .unwrap()
    else {
        unreachable!()
    };
    assert!(signed.contains("token=HS256-1-"), "{signed}");
    let segment = signed.replacen("playlist.m3u8", "_", 1);
    assert_eq!(refusal(&bunny, &segment, None, 1), None);
}
