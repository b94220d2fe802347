//! nginx secure_link_md5: the published cases, refusals of bad input, and properties of
//! sign → verify.

mod common;

use std::net::IpAddr;

use common::*;
use proptest::prelude::*;
use signgate_providers::nginx_secure_link::*;
use signgate_providers::{EdgeRequest, Grant, Provider, Refusal};

fn link(expression: &str, secret: &str, params: Params) -> SecureLink {
    SecureLink::new(
        Expression::parse(expression).unwrap(),
        Secret::new(secret).unwrap(),
        None,
        params,
    )
    .unwrap()
}

#[test]
fn nginx_tests_vector_verifies_with_standard_padding() {
    for case in cases("nginx/secure_link_md5") {
        let i = &case["inputs"];
        // "secure_link Xr4ilOzQ4PCOq3aQ0qbuaQ==; secure_link_md5 secret;"
        let config = str_of(i, "config");
        let hash = config
            .split("secure_link ")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap();
        let secret = config
            .split("secure_link_md5 ")
            .nth(1)
            .unwrap()
            .trim_end_matches(';');
        let nginx = link(
            "$secret",
            secret,
            Params {
                hash: "md5".into(),
                expires: None,
            },
        );
        let url = format!("http://localhost/?md5={hash}");
        assert_eq!(case["expected"]["secure_link"], "1");
        assert_eq!(
            nginx.verify(&EdgeRequest::new(&url, 0)).unwrap().key,
            "primary"
        );
        let unpadded = url.trim_end_matches('=');
        assert!(nginx.verify(&EdgeRequest::new(unpadded, 0)).is_ok());
    }
}

/// nginx.org ngx_http_secure_link_module, the documentation's example.
#[test]
fn documentation_example_matches_byte_for_byte() {
    let nginx = link(
        "$secure_link_expires$uri$remote_addr $secret",
        "secret",
        Params::default(),
    );
    let grant = Grant {
        client_ip: Some("127.0.0.1".parse().unwrap()),
        ..Grant::until(2147483647)
    };
    let signed = nginx.sign_url("http://localhost/s/link", &grant).unwrap();
    assert_eq!(
        signed,
        "http://localhost/s/link?md5=_e4Nc3iduzkWRm01TBBNYw&expires=2147483647"
    );
    let request = EdgeRequest {
        method: "GET",
        client_ip: grant.client_ip,
        ..EdgeRequest::new(&signed, 0)
    };
    assert!(nginx.verify(&request).is_ok());
    // nginx: expired when the expiry is before the current second.
    assert!(nginx
        .verify(&EdgeRequest {
            method: "GET",
            now: 2147483647,
            ..request
        })
        .is_ok());
    assert_eq!(
        nginx.verify(&EdgeRequest {
            method: "GET",
            now: 2147483648,
            ..request
        }),
        Err(Refusal::NginxSecureLink(Denial::Expired))
    );
}

#[test]
fn uri_is_signed_decoded_as_nginx_sees_it() {
    let nginx = link("$secure_link_expires$uri $secret", "s3", Params::default());
    let encoded = nginx
        .sign_url("https://h/%41b%20c", &Grant::until(9))
        .unwrap();
    let plain = nginx
        .sign_url("https://h/Ab%20c", &Grant::until(9))
        .unwrap();
    assert_eq!(
        encoded.split_once('?').unwrap().1,
        plain.split_once('?').unwrap().1
    );
    for path in [
        "https://h/a/../b",
        "https://h/a/./b",
        "https://h/a//b",
        "https://h/a%2Fb",
        "https://h/a%00",
    ] {
        assert!(matches!(
            nginx.sign_url(path, &Grant::until(9)),
            Err(signgate_providers::Error::NginxSecureLink(
                Error::AmbiguousPath(_)
            ))
        ));
    }
}

#[test]
fn bad_configuration_and_input_are_refused() {
    assert_eq!(
        Expression::parse("$uri secret").unwrap_err(),
        Error::SecretPlaceholder
    );
    assert_eq!(
        Expression::parse("$uri$secret$secret").unwrap_err(),
        Error::SecretPlaceholder
    );
    assert_eq!(
        Expression::parse("$host$secret").unwrap_err(),
        Error::UnknownVariable("host".into())
    );
    assert_eq!(
        Expression::parse("${uri$secret").unwrap_err(),
        Error::Unterminated
    );
    assert!(Expression::parse("${secure_link_expires}${uri}$arg_u|$secret").is_ok());
    assert_eq!(Secret::new("").unwrap_err(), Error::EmptySecret);
    assert_eq!(Secret::new("a$b").unwrap_err(), Error::SecretCharacter('$'));
    assert_eq!(
        SecureLink::new(
            Expression::parse("$secure_link_expires$uri $secret").unwrap(),
            Secret::new("new").unwrap(),
            Some(Secret::new("old").unwrap()),
            Params::default()
        )
        .unwrap_err(),
        Error::PreviousNeedsRotation
    );
    assert!(!format!("{:?}", Secret::new("hush").unwrap()).contains("hush"));
    let e = Expression::parse("$uri$secret").unwrap();
    let bad = Params {
        hash: "a b".into(),
        ..Params::default()
    };
    assert!(SecureLink::new(e, Secret::new("s").unwrap(), None, bad).is_err());
    let err = |r: Result<String, signgate_providers::Error>| match r {
        Err(signgate_providers::Error::NginxSecureLink(e)) => e,
        other => panic!("{other:?}"),
    };
    let no_expiry = link("$uri $secret", "s", Params::default());
    assert_eq!(
        err(no_expiry.sign_url("https://h/a", &Grant::until(9))),
        Error::ExpiryNotSigned
    );
    let unbound = link("$secure_link_expires $secret", "s", Params::default());
    assert_eq!(
        err(unbound.sign_url("https://h/a", &Grant::until(9))),
        Error::UriNotSigned
    );
    let with_ip = link(
        "$secure_link_expires$uri$remote_addr $secret",
        "s",
        Params::default(),
    );
    assert_eq!(
        err(with_ip.sign_url("https://h/a", &Grant::until(9))),
        Error::IpRequired
    );
    let no_ip = link("$secure_link_expires$uri $secret", "s", Params::default());
    let ip = Grant {
        client_ip: Some("192.0.2.1".parse().unwrap()),
        ..Grant::until(9)
    };
    assert_eq!(err(no_ip.sign_url("https://h/a", &ip)), Error::IpNotSigned);
    assert_eq!(
        err(no_ip.sign_url("https://h/a", &Grant::until(u64::MAX))),
        Error::ExpiresTooLarge(u64::MAX)
    );
    let custom = link(
        "$secure_link_expires$uri $secret",
        "s",
        Params {
            hash: "h".into(),
            expires: Some("e".into()),
        },
    );
    for url in ["https://h/a?h=1", "https://h/a?E=1", "https://h/a#x"] {
        assert!(custom.sign_url(url, &Grant::until(9)).is_err(), "{url}");
    }
    let signed = custom
        .sign_url("https://h/a?x=1", &Grant::until(9))
        .unwrap();
    assert!(signed.starts_with("https://h/a?x=1&h="), "{signed}");
    assert!(custom.verify(&EdgeRequest::new(&signed, 0)).is_ok());
}

fn refusal(nginx: &SecureLink, url: &str, ip: Option<IpAddr>, now: u64) -> Option<Denial> {
    match nginx.verify(&EdgeRequest {
        method: "GET",
        client_ip: ip,
        ..EdgeRequest::new(url, now)
    }) {
        Ok(_) => None,
        Err(Refusal::NginxSecureLink(d)) => Some(d),
        Err(other) => panic!("{other:?}"),
    }
}

proptest! {
    #[test]
    fn links_verify_and_every_change_is_refused(
        secret in "[A-Za-z0-9]{1,16}", other in "[A-Za-z0-9]{1,16}", path in "(/[a-z0-9._-]{1,8}){1,3}",
        expires in 1u64..4_000_000_000, v4 in any::<[u8; 4]>(), bind in any::<bool>(), index in any::<usize>(),
    ) {
        prop_assume!(!path.split('/').any(|s| s == "." || s == ".."));
        let expression = if bind { "$secure_link_expires$uri$remote_addr $secret" } else { "$secure_link_expires$uri $secret" };
        let ip = bind.then(|| IpAddr::from(v4));
        let nginx = link(expression, &secret, Params::default());
        let url = format!("https://h{path}");
        let signed = nginx.sign_url(&url, &Grant { client_ip: ip, ..Grant::until(expires) }).unwrap();
        prop_assert_eq!(refusal(&nginx, &signed, ip, expires), None);
        prop_assert_eq!(refusal(&nginx, &signed, ip, expires + 1), Some(Denial::Expired));
        let moved = signed.replacen(&format!("h{path}"), &format!("h{path}x"), 1);
        prop_assert_eq!(refusal(&nginx, &moved, ip, 0), Some(Denial::BadHash));
        let later = signed.replace(&format!("expires={expires}"), &format!("expires={}", expires + 1));
        prop_assert_eq!(refusal(&nginx, &later, ip, 0), Some(Denial::BadHash));
        let (head, hash) = signed.split_once("md5=").unwrap();
        let hash = hash.split('&').next().unwrap();
        let changed = format!("{head}md5={}{}", change_char(hash, index, B64URL), &signed[head.len() + 4 + hash.len()..]);
        prop_assert_ne!(refusal(&nginx, &changed, ip, 0), None);
        if let Some(IpAddr::V4(v4)) = ip {
            let elsewhere = IpAddr::from(std::net::Ipv4Addr::from(u32::from(v4) ^ 1));
            prop_assert_eq!(refusal(&nginx, &signed, Some(elsewhere), 0), Some(Denial::BadHash));
        }
        if other != secret {
            prop_assert_eq!(refusal(&link(expression, &other, Params::default()), &signed, ip, 0), Some(Denial::BadHash));
            // During rotation the previous secret (the map's default) still verifies the links
            // signed before it began, and the current one those that name it.
            let rotating = SecureLink::configure(Config {
                location: None,
                source: Source::parse("$arg_md5,$arg_expires").unwrap(),
                expression: Expression::parse(expression).unwrap(),
                secret: Secret::new(&other).unwrap(),
                rotation: Some(Rotation {
                    selector: Var::parse("$arg_sk").unwrap(),
                    name: "k2".into(),
                    previous: Secret::new(&secret).unwrap(),
                }),
            }).unwrap();
            let at = |url: &str| rotating.verify(&EdgeRequest { client_ip: ip, ..EdgeRequest::new(url, 0) });
            prop_assert_eq!(at(&signed).unwrap().key, "previous");
            let current = rotating.sign_url(&url, &Grant { client_ip: ip, ..Grant::until(expires) }).unwrap();
            prop_assert!(current.ends_with("&sk=k2"), "{}", current);
            prop_assert_eq!(at(&current).unwrap().key, "primary");
            prop_assert_eq!(at(current.trim_end_matches("&sk=k2")), Err(Refusal::NginxSecureLink(Denial::BadHash)));
            prop_assert_eq!(at(&format!("{signed}&sk=k2")), Err(Refusal::NginxSecureLink(Denial::BadHash)));
        }
    }
}
