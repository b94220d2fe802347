//! Azure Blob service SAS: the SDK-generated cases byte for byte, refusals of what cannot be
//! signed, the stored-policy form, and properties of sign → verify (IP binding included, which
//! the emulator does not enforce).

mod common;

use std::net::IpAddr;

use common::*;
use proptest::prelude::*;
use signgate_providers::azure_blob::*;
use signgate_providers::{Delivery, EdgeRequest, Error as AnyError, Grant, Provider, Refusal};

/// The emulator's documented development account key (public).
const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const OTHER_KEY: &str =
    "c2lnbmdhdGUgdGVzdCBrZXkgdHdvLCBub3QgYSByZWFsIGFjY291bnQga2V5OiA2NCBieXRlcyBsb25nISEhIQ==";

/// `YYYY-MM-DDTHH:MM:SSZ` as Unix seconds, computed here independently of the crate.
fn unix_of(text: &str) -> u64 {
    let n = |r: std::ops::Range<usize>| text[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    let (y, m) = if m <= 2 { (y - 1, m + 12) } else { (y, m) };
    let days = 365 * y + y / 4 - y / 100 + y / 400 + (153 * (m - 3) + 2) / 5 + d - 719_469;
    (days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)) as u64
}

fn azure(url: &str, protocol: Protocol, policy: Option<&str>, keys: &[(&str, &str)]) -> AzureBlob {
    let keys = keys
        .iter()
        .map(|(n, k)| AccountKey::from_base64(n, k).unwrap())
        .collect();
    let config = Config {
        location: Location::from_url(url, None, None).unwrap(),
        protocol,
        stored_policy: policy.map(str::to_owned),
    };
    AzureBlob::new(keys, "key1", config).unwrap()
}

fn denial(p: &AzureBlob, url: &str, now: u64, ip: Option<IpAddr>) -> Option<Denial> {
    let request = EdgeRequest {
        method: "GET",
        client_ip: ip,
        ..EdgeRequest::new(url, now)
    };
    match p.verify(&request) {
        Ok(_) => None,
        Err(Refusal::AzureBlob(d)) => Some(d),
        Err(other) => panic!("not an Azure refusal: {other:?}"),
    }
}

/// The URL path of a blob name, as the SDK encodes it.
fn encoded(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn generated_blob_sas_cases_match_byte_for_byte_and_verify() {
    let mut checked = 0;
    for case in cases("azure-blob/service-sas") {
        let (i, e) = (&case["inputs"], &case["expected"]);
        let Some(blob) = i["blob"].as_str() else {
            println!(
                "skipped (a container SAS, not a blob download): {}",
                case["source"]
            );
            continue;
        };
        let account = str_of(i, "account_name");
        let container = str_of(i, "container");
        let base = format!("https://{account}.blob.core.windows.net/{container}");
        let protocol = match i["protocol"].as_str() {
            None | Some("https") => Protocol::Https,
            Some("https,http") => Protocol::HttpsAndHttp,
            Some(other) => panic!("protocol {other}"),
        };
        let p = azure(
            &base,
            protocol,
            i["policy_id"].as_str(),
            &[("key1", str_of(i, "account_key_base64"))],
        );
        assert_eq!(str_of(i, "permission"), "r");
        let expires = unix_of(str_of(i, "expiry"));
        let grant = Grant {
            starts: i["start"].as_str().map(unix_of),
            client_ip: i["ip"].as_str().map(|ip| ip.parse().unwrap()),
            ..Grant::until(expires)
        };
        let mut url = format!("{base}/{}", encoded(blob));
        if let Some(cd) = i["content_disposition"].as_str() {
            url.push_str(&format!(
                "?response-content-disposition={}",
                encoded(cd).replace('/', "%2F")
            ));
        }
        let signed = p.sign_url(&url, &grant).unwrap();
        assert_eq!(signed, str_of(e, "blob_url"));
        assert!(signed.ends_with(str_of(e, "sas_query")));
        let fields = SasFields {
            permissions: Some("r".into()),
            start: i["start"].as_str().map(str::to_owned),
            expiry: Some(str_of(i, "expiry").to_owned()),
            ip: i["ip"].as_str().map(str::to_owned),
            protocol: Some(protocol.as_str().to_owned()),
            version: VERSION.into(),
            resource: "b".into(),
            content_disposition: i["content_disposition"].as_str().map(str::to_owned),
            ..SasFields::default()
        };
        assert_eq!(
            fields.string_to_sign(&format!("/blob/{account}/{container}/{blob}")),
            str_of(e, "string_to_sign")
        );
        let ip = grant.client_ip;
        let ok = p
            .verify(&EdgeRequest {
                method: "GET",
                client_ip: ip,
                ..EdgeRequest::new(&signed, expires - 1)
            })
            .unwrap();
        assert_eq!((ok.key.as_str(), ok.expires), ("key1", expires));
        assert_eq!(denial(&p, &signed, expires, ip), Some(Denial::Expired));
        checked += 1;
    }
    assert!(checked > 0);
}

#[test]
fn a_download_name_and_the_client_address_are_signed_in_the_sdks_order() {
    let p = azure(
        "https://acct1.blob.core.windows.net/media",
        Protocol::Https,
        None,
        &[("key1", DEV_KEY)],
    );
    let t = 1_767_225_600; // 2026-01-01T00:00:00Z
    let grant = Grant {
        client_ip: Some("192.0.2.10".parse().unwrap()),
        ..Grant::until(t + 3600)
    };
    let url = "https://acct1.blob.core.windows.net/media/a%20b.pdf?response-content-disposition=attachment%3B%20filename%3D%22a%20b.pdf%22";
    let signed = p.sign_url(url, &grant).unwrap();
    let (head, sig) = signed.split_once("&sig=").unwrap();
    assert_eq!(
        head,
        "https://acct1.blob.core.windows.net/media/a%20b.pdf?se=2026-01-01T01%3A00%3A00Z&sp=r&sip=192.0.2.10\
         &spr=https&sv=2026-10-06&sr=b&rscd=attachment%3B%20filename%3D%22a%20b.pdf%22"
    );
    assert!(
        !sig.contains(['+', '=']),
        "the signature is URL-encoded: {sig}"
    );
    let v4 = |s: &str| Some(s.parse().unwrap());
    assert_eq!(denial(&p, &signed, t, v4("192.0.2.10")), None);
    assert_eq!(
        denial(&p, &signed, t, v4("192.0.2.11")),
        Some(Denial::IpMismatch)
    );
    assert_eq!(denial(&p, &signed, t, None), Some(Denial::IpMismatch));
    let inline = signed.replace("rscd=attachment", "rscd=inline");
    assert_eq!(
        denial(&p, &inline, t, v4("192.0.2.10")),
        Some(Denial::InvalidSignature)
    );
    let unbound = signed.replace("&sip=192.0.2.10", "");
    assert_eq!(
        denial(&p, &unbound, t, v4("192.0.2.10")),
        Some(Denial::InvalidSignature)
    );
    let other_ip = signed.replace("sip=192.0.2.10", "sip=192.0.2.11");
    assert_eq!(
        denial(&p, &other_ip, t, v4("192.0.2.11")),
        Some(Denial::InvalidSignature)
    );
    let http = signed.replacen("https://", "http://", 1);
    assert_eq!(
        denial(&p, &http, t, v4("192.0.2.10")),
        Some(Denial::ProtocolNotAllowed)
    );
}

#[test]
fn what_cannot_be_signed_is_refused() {
    let p = azure(
        "https://acct1.blob.core.windows.net/media",
        Protocol::Https,
        None,
        &[("key1", DEV_KEY)],
    );
    let g = Grant::until(1_767_229_200);
    let err = |url: &str, grant: &Grant| match p.sign_url(url, grant) {
        Err(AnyError::AzureBlob(e)) => e,
        other => panic!("{url}: {other:?}"),
    };
    assert!(matches!(
        err("https://acct1.blob.core.windows.net/other/a", &g),
        Error::OutsideContainer { .. }
    ));
    assert!(matches!(
        err("https://acct1.blob.core.windows.net/media/", &g),
        Error::OutsideContainer { .. }
    ));
    assert!(matches!(
        err("https://acct1.blob.core.windows.net/mediax/a", &g),
        Error::OutsideContainer { .. }
    ));
    assert_eq!(
        err("https://acct1.blob.core.windows.net/media/a?snapshot=1", &g),
        Error::UnsupportedQuery("snapshot".into())
    );
    assert_eq!(
        err("https://acct1.blob.core.windows.net/media/a?sig=x", &g),
        Error::UnsupportedQuery("sig".into())
    );
    assert_eq!(
        err("http://acct1.blob.core.windows.net/media/a", &g),
        Error::HttpWithHttpsOnly
    );
    let v6 = Grant {
        client_ip: Some("2001:db8::1".parse().unwrap()),
        ..g
    };
    assert_eq!(
        err("https://acct1.blob.core.windows.net/media/a", &v6),
        Error::Ipv6Unsupported
    );
    let backwards = Grant {
        starts: Some(g.expires),
        ..g
    };
    assert!(matches!(
        err("https://acct1.blob.core.windows.net/media/a", &backwards),
        Error::StartNotBeforeExpiry { .. }
    ));
    assert!(matches!(
        p.sign_prefix(
            "https://acct1.blob.core.windows.net/media/",
            Delivery::Cookie,
            &g
        ),
        Err(AnyError::AzureBlob(Error::NoFolderCredential))
    ));
    let location = Location::from_url(
        "http://127.0.0.1:10000/devstoreaccount1/media",
        None,
        Some("media"),
    );
    assert_eq!(location, Err(Error::AccountMissing));
    let location = Location::from_url(
        "http://127.0.0.1:10000/devstoreaccount1/media",
        Some("devstoreaccount1"),
        None,
    )
    .unwrap();
    let https_only = AzureBlob::new(
        vec![AccountKey::from_base64("key1", DEV_KEY).unwrap()],
        "key1",
        Config {
            location,
            protocol: Protocol::Https,
            stored_policy: None,
        },
    );
    assert_eq!(https_only.unwrap_err(), Error::HttpWithHttpsOnly);
}

#[test]
fn with_a_stored_policy_the_policy_holds_the_permissions_and_the_sas_its_expiry() {
    let p = azure(
        "https://acct1.blob.core.windows.net/media",
        Protocol::Https,
        Some("signgate-read"),
        &[("key1", DEV_KEY)],
    );
    let t = 1_767_225_600;
    let signed = p
        .sign_url(
            "https://acct1.blob.core.windows.net/media/a.pdf",
            &Grant::until(t + 60),
        )
        .unwrap();
    let (head, _) = signed.split_once("&sig=").unwrap();
    assert_eq!(
        head,
        "https://acct1.blob.core.windows.net/media/a.pdf?se=2026-01-01T00%3A01%3A00Z&spr=https&sv=2026-10-06&si=signgate-read&sr=b"
    );
    assert_eq!(denial(&p, &signed, t, None), None);
    assert_eq!(denial(&p, &signed, t + 60, None), Some(Denial::Expired));
    let plain = azure(
        "https://acct1.blob.core.windows.net/media",
        Protocol::Https,
        None,
        &[("key1", DEV_KEY)],
    );
    assert_eq!(
        denial(&plain, &signed, t, None),
        Some(Denial::UnknownPolicy)
    );
    let other = azure(
        "https://acct1.blob.core.windows.net/media",
        Protocol::Https,
        Some("other"),
        &[("key1", DEV_KEY)],
    );
    assert_eq!(
        denial(&other, &signed, t, None),
        Some(Denial::UnknownPolicy)
    );
}

#[test]
fn both_account_keys_verify_and_the_active_one_signs() {
    let base = "https://acct1.blob.core.windows.net/media";
    let both = azure(
        base,
        Protocol::Https,
        None,
        &[("key1", DEV_KEY), ("key2", OTHER_KEY)],
    );
    let only_two = azure(base, Protocol::Https, None, &[("key1", OTHER_KEY)]);
    let signed = both
        .sign_url(&format!("{base}/a"), &Grant::until(100))
        .unwrap();
    assert_eq!(
        both.verify(&EdgeRequest::new(&signed, 0)).unwrap().key,
        "key1"
    );
    assert_eq!(
        denial(&only_two, &signed, 0, None),
        Some(Denial::InvalidSignature)
    );
    let by_two = only_two
        .sign_url(&format!("{base}/a"), &Grant::until(100))
        .unwrap();
    assert_eq!(
        both.verify(&EdgeRequest::new(&by_two, 0)).unwrap().key,
        "key2"
    );
}

fn blob_names() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ._~!'()*&=+,;é€-]{1,10}(/[a-zA-Z0-9 ._é-]{1,10}){0,2}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sas_urls_verify_until_they_expire_and_every_change_is_refused(
        blob in blob_names(),
        emulator in any::<bool>(),
        starts in prop::option::of(1_700_000_000u64..1_800_000_000),
        lifetime in 1u64..=10_000_000,
        ip in prop::option::of(any::<[u8; 4]>()),
        download in prop::option::of("[a-z0-9 .]{1,10}"),
        index in any::<usize>(),
    ) {
        let (base, protocol) = if emulator {
            ("http://127.0.0.1:10000/devstoreaccount1/media", Protocol::HttpsAndHttp)
        } else {
            ("https://devstoreaccount1.blob.core.windows.net/media", Protocol::Https)
        };
        let keys = [("key1", DEV_KEY)];
        let p = AzureBlob::new(
            keys.iter().map(|(n, k)| AccountKey::from_base64(n, k).unwrap()).collect(),
            "key1",
            Config { location: Location::from_url(base, Some("devstoreaccount1"), None).unwrap(), protocol, stored_policy: None },
        ).unwrap();
        let from = starts.unwrap_or(1_750_000_000);
        let expires = from + lifetime;
        let ip = ip.map(IpAddr::from);
        let grant = Grant { starts, client_ip: ip, ..Grant::until(expires) };
        let mut url = format!("{base}/{}", encoded(&blob));
        if let Some(name) = &download {
            url.push_str(&format!("?response-content-disposition={}", encoded(&format!("attachment; filename=\"{name}\"")).replace('/', "%2F")));
        }
        let signed = p.sign_url(&url, &grant).unwrap();
        let expected_start = format!("{base}/{}?", encoded(&blob));
        prop_assert!(signed.starts_with(&expected_start));
        prop_assert_eq!(denial(&p, &signed, from, ip), None);
        prop_assert_eq!(denial(&p, &signed, expires - 1, ip), None);
        prop_assert_eq!(denial(&p, &signed, expires, ip), Some(Denial::Expired));
        if starts.is_some() {
            prop_assert_eq!(denial(&p, &signed, from - 1, ip), Some(Denial::NotYetValid));
        }
        let moved = signed.replacen("?", "x?", 1);
        prop_assert_eq!(denial(&p, &moved, from, ip), Some(Denial::InvalidSignature));
        let (head, sig) = signed.split_once("&sig=").unwrap();
        let changed = format!("{head}&sig={}", change_char(sig, index, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"));
        prop_assert_ne!(denial(&p, &changed, from, ip), None);
        let write = signed.replacen("sp=r&", "sp=rw&", 1);
        prop_assert_eq!(denial(&p, &write, from, ip), Some(Denial::InvalidSignature));
        let extra = format!("{signed}&versionid=1");
        prop_assert_eq!(denial(&p, &extra, from, ip), Some(Denial::UncoveredParameter));
        if let Some(ip) = ip {
            let IpAddr::V4(v4) = ip else { unreachable!() };
            let other = IpAddr::V4(std::net::Ipv4Addr::from(u32::from(v4).wrapping_add(1)));
            prop_assert_eq!(denial(&p, &signed, from, Some(other)), Some(Denial::IpMismatch));
        }
        if download.is_some() {
            let other = signed.replacen("filename%3D%22", "filename%3D%22x", 1);
            prop_assert_eq!(denial(&p, &other, from, ip), Some(Denial::InvalidSignature));
        }
    }
}
