//! Google Cloud Storage V4: the signed URL's shape, refusals of what cannot be signed exactly,
//! and properties of sign → verify with both kinds of key. (The googleapis conformance cases
//! run through this crate in the service's tests/it/stores_gcs.rs.)

mod common;

use common::*;
use proptest::prelude::*;
use signgate_providers::gcs::*;
use signgate_providers::{Delivery, EdgeRequest, Error as AnyError, Grant, Provider, Refusal};

/// The conformance cases' service account (a published test key).
fn rsa_key() -> SigningKey {
    let case = &cases("gcs/v4-signed-url")[0];
    let i = &case["inputs"];
    SigningKey::service_account(
        "sa",
        str_of(i, "service_account_email"),
        str_of(i, "service_account_private_key_pem").as_bytes(),
    )
    .unwrap()
}

const HMAC_SECRET: &str = "bGoa+V7g/yqDXvKRqq+JTFn4uQZbPiQJo4pf9RzJ";

fn hmac_key() -> SigningKey {
    SigningKey::hmac("hmac", "GOOG1EXAMPLEACCESSID", HMAC_SECRET).unwrap()
}

const T: u64 = 1_549_011_600; // 2019-02-01T09:00:00Z

fn denial(gcs: &Gcs, url: &str, now: u64) -> Option<Denial> {
    match gcs.verify(&EdgeRequest::new(url, now)) {
        Ok(_) => None,
        Err(Refusal::Gcs(d)) => Some(d),
        Err(other) => panic!("not a GCS refusal: {other:?}"),
    }
}

fn gcs_error(result: Result<String, AnyError>) -> Error {
    match result {
        Err(AnyError::Gcs(e)) => e,
        other => panic!("expected a GCS error, got {other:?}"),
    }
}

#[test]
fn a_download_url_has_the_v4_shape_and_carries_the_download_name_in_the_canonical_query() {
    let gcs = Gcs::new(rsa_key());
    let url = "https://storage.googleapis.com/test-bucket/dl/caf%C3%A9%20menu.pdf?response-content-disposition=attachment%3B%20filename%3D%22menu.pdf%22";
    let signed = gcs.sign_url(url, &Grant::until(T + 300).signed(T)).unwrap();
    let (head, sig) = signed.split_once("&X-Goog-Signature=").unwrap();
    assert_eq!(
        head,
        "https://storage.googleapis.com/test-bucket/dl/caf%C3%A9%20menu.pdf?X-Goog-Algorithm=GOOG4-RSA-SHA256\
         &X-Goog-Credential=test-iam-credentials%40dummy-project-id.iam.gserviceaccount.com%2F20190201%2Fauto%2Fstorage%2Fgoog4_request\
         &X-Goog-Date=20190201T090000Z&X-Goog-Expires=300&X-Goog-SignedHeaders=host\
         &response-content-disposition=attachment%3B%20filename%3D%22menu.pdf%22"
    );
    assert_eq!(sig.len(), 512, "RSA-2048, hex");
    assert!(sig.bytes().all(|b| HEX.as_bytes().contains(&b)));
    let ok = gcs.verify(&EdgeRequest::new(&signed, T)).unwrap();
    assert_eq!((ok.key.as_str(), ok.expires), ("sa", T + 300));
    let inline = signed.replace("attachment%3B", "inline%3B");
    assert_eq!(denial(&gcs, &inline, T), Some(Denial::InvalidSignature));
    // The method is signed: the GET link opens no HEAD.
    let head = EdgeRequest {
        method: "HEAD",
        ..EdgeRequest::new(&signed, T)
    };
    assert!(gcs.verify(&head).is_err());
}

#[test]
fn what_cannot_be_signed_exactly_is_refused() {
    let gcs = Gcs::new(rsa_key());
    let url = "https://storage.googleapis.com/b/o";
    let sign = |url: &str, grant: Grant| gcs_error(gcs.sign_url(url, &grant));
    assert_eq!(sign(url, Grant::until(T + 10)), Error::SigningTimeMissing);
    assert_eq!(
        sign(url, Grant::until(T + 604_801).signed(T)),
        Error::LifetimeTooLong(604_801)
    );
    assert!(gcs
        .sign_url(url, &Grant::until(T + 604_800).signed(T))
        .is_ok());
    assert!(matches!(
        sign(url, Grant::until(T).signed(T)),
        Error::ExpiryNotAfterSigning { .. }
    ));
    let starts = Grant {
        starts: Some(T),
        ..Grant::until(T + 10).signed(T)
    };
    assert_eq!(sign(url, starts), Error::StartTimeUnsupported);
    let ip = Grant {
        client_ip: Some("192.0.2.1".parse().unwrap()),
        ..Grant::until(T + 10).signed(T)
    };
    assert_eq!(sign(url, ip), Error::IpBindingUnsupported);
    let g = Grant::until(T + 10).signed(T);
    for bad in [
        "https://storage.googleapis.com/b/o?x-goog-date=1",
        "https://storage.googleapis.com/b/o?X-Goog-Signature=00",
    ] {
        assert!(matches!(sign(bad, g), Error::Url(_)), "{bad}");
    }
    for (bad, part) in [
        ("https://storage.googleapis.com/b/a%2fb", "path"),
        ("https://storage.googleapis.com/b/a%2Fb", "path"),
        ("https://storage.googleapis.com/b/a!b", "path"),
        ("https://storage.googleapis.com/b/%61", "path"),
        ("https://storage.googleapis.com/b/o?a=b+c", "query"),
        ("https://storage.googleapis.com/b/o?a", "query"),
    ] {
        match sign(bad, g) {
            Error::NotCanonical { part: p, .. } => assert_eq!(p, part, "{bad}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
    assert!(matches!(
        gcs.sign_prefix("https://storage.googleapis.com/b/", Delivery::Cookie, &g),
        Err(AnyError::Gcs(Error::NoFolderCredential))
    ));
}

#[test]
fn service_account_files_without_an_rsa_private_key_are_refused_naming_the_key() {
    let case = &cases("gcs/v4-signed-url")[0];
    let pem = str_of(&case["inputs"], "service_account_private_key_pem");
    let json = |fields: serde_json::Value| fields.to_string();
    let ok = json(
        serde_json::json!({"type": "service_account", "client_email": "a@b.iam.gserviceaccount.com", "private_key": pem}),
    );
    assert_eq!(
        SigningKey::service_account_json("sa", &ok)
            .unwrap()
            .client_id(),
        "a@b.iam.gserviceaccount.com"
    );
    let missing = json(
        serde_json::json!({"type": "service_account", "client_email": "a@b.iam.gserviceaccount.com"}),
    );
    assert_eq!(
        SigningKey::service_account_json("sa", &missing).unwrap_err(),
        Error::MissingField {
            name: "sa".into(),
            field: "private_key"
        }
    );
    assert_eq!(
        SigningKey::service_account_json("sa", "-----BEGIN PRIVATE KEY-----").unwrap_err(),
        Error::KeyNotJson("sa".into())
    );
    let user = json(serde_json::json!({"type": "authorized_user", "client_id": "x"}));
    assert!(matches!(
        SigningKey::service_account_json("sa", &user).unwrap_err(),
        Error::NotServiceAccount { .. }
    ));
    let ec = openssl::ec::EcKey::generate(
        &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
    )
    .unwrap();
    let ec_pem = String::from_utf8(
        openssl::pkey::PKey::from_ec_key(ec)
            .unwrap()
            .private_key_to_pem_pkcs8()
            .unwrap(),
    )
    .unwrap();
    let not_rsa = json(serde_json::json!({"client_email": "a@b.c", "private_key": ec_pem}));
    assert_eq!(
        SigningKey::service_account_json("sa", &not_rsa).unwrap_err(),
        Error::KeyNotRsa("sa".into())
    );
    let garbage = json(serde_json::json!({"client_email": "a@b.c", "private_key": "nope"}));
    assert_eq!(
        SigningKey::service_account_json("sa", &garbage).unwrap_err(),
        Error::KeyNotPem("sa".into())
    );
}

#[test]
fn hmac_signatures_follow_the_goog4_key_chain() {
    // The HMAC chain written out here with OpenSSL directly, independently of the crate.
    let gcs = Gcs::new(hmac_key());
    let request = Request {
        method: Method::Get,
        origin: "https://storage.googleapis.com",
        path: "/test-bucket/test-object",
        query: &[],
        headers: &[],
    };
    let signed = gcs.sign_request(&request, T, 10).unwrap();
    assert!(signed
        .string_to_sign
        .starts_with("GOOG4-HMAC-SHA256\n20190201T090000Z\n20190201/auto/storage/goog4_request\n"));
    let mac = |key: &[u8], data: &str| {
        let pkey = openssl::pkey::PKey::hmac(key).unwrap();
        let mut s =
            openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &pkey).unwrap();
        s.update(data.as_bytes()).unwrap();
        s.sign_to_vec().unwrap()
    };
    let mut k = format!("GOOG4{HMAC_SECRET}").into_bytes();
    for part in ["20190201", "auto", "storage", "goog4_request"] {
        k = mac(&k, part);
    }
    let expected = hex::encode(mac(&k, &signed.string_to_sign));
    assert!(signed
        .url
        .ends_with(&format!("&X-Goog-Signature={expected}")));
    assert!(signed.url.contains(
        "X-Goog-Credential=GOOG1EXAMPLEACCESSID%2F20190201%2Fauto%2Fstorage%2Fgoog4_request"
    ));
    assert!(gcs.verify(&EdgeRequest::new(&signed.url, T)).is_ok());
    // A service account's verifier refuses it: another algorithm.
    assert_eq!(
        denial(&Gcs::new(rsa_key()), &signed.url, T),
        Some(Denial::WrongAlgorithm)
    );
}

fn segments() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[a-zA-Z0-9 ._~!'()*&=+,;é€-]{1,12}", 1..4)
}

fn url_of(host: &str, segments: &[String], download: &Option<String>) -> String {
    let path: Vec<String> = segments
        .iter()
        .map(|s| {
            s.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect()
        })
        .collect();
    let mut url = format!("https://{host}/{}", path.join("/"));
    if let Some(name) = download {
        let enc: String = format!("attachment; filename=\"{name}\"")
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        url.push_str(&format!("?response-content-disposition={enc}"));
    }
    url
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn signed_urls_verify_for_their_lifetime_and_every_change_is_refused(
        rsa in any::<bool>(),
        virtual_hosted in any::<bool>(),
        segs in segments(),
        download in prop::option::of("[a-z0-9 .]{1,10}"),
        signed_at in 1_000_000_000u64..4_000_000_000,
        lifetime in 1u64..=604_800,
        index in any::<usize>(),
    ) {
        let gcs = Gcs::new(if rsa { rsa_key() } else { hmac_key() });
        let host = if virtual_hosted { "my-bucket.storage.googleapis.com" } else { "storage.googleapis.com" };
        let mut segs = segs;
        if !virtual_hosted {
            segs.insert(0, "my-bucket".to_owned());
        }
        let url = url_of(host, &segs, &download);
        let signed = gcs.sign_url(&url, &Grant::until(signed_at + lifetime).signed(signed_at)).unwrap();
        let (unsigned, _) = signed.split_once('?').unwrap();
        prop_assert_eq!(unsigned, url.split_once('?').map_or(url.as_str(), |(u, _)| u));
        prop_assert_eq!(denial(&gcs, &signed, signed_at), None);
        prop_assert_eq!(denial(&gcs, &signed, signed_at + lifetime - 1), None);
        prop_assert_eq!(denial(&gcs, &signed, signed_at + lifetime), Some(Denial::Expired));
        prop_assert_eq!(denial(&gcs, &signed, signed_at - 1), Some(Denial::NotYetValid));
        let moved = signed.replacen(&format!("{unsigned}?"), &format!("{unsigned}x?"), 1);
        prop_assert_eq!(denial(&gcs, &moved, signed_at), Some(Denial::InvalidSignature));
        let longer = signed.replace(&format!("X-Goog-Expires={lifetime}&"), &format!("X-Goog-Expires={}&", lifetime % 604_800 + 1));
        if longer != signed {
            prop_assert_eq!(denial(&gcs, &longer, signed_at), Some(Denial::InvalidSignature));
        }
        let (head, sig) = signed.split_once("X-Goog-Signature=").unwrap();
        let changed = format!("{head}X-Goog-Signature={}", change_char(sig, index, HEX));
        prop_assert_eq!(denial(&gcs, &changed, signed_at), Some(Denial::InvalidSignature));
        let upper = format!("{head}X-Goog-Signature={}", sig.to_ascii_uppercase());
        if upper != signed {
            prop_assert_ne!(denial(&gcs, &upper, signed_at), None);
        }
        let other_host = signed.replacen("storage.googleapis.com", "storage.example.com", 1);
        prop_assert_eq!(denial(&gcs, &other_host, signed_at), Some(Denial::InvalidSignature));
        let unsigned_param = format!("{signed}&generation=1");
        prop_assert_eq!(denial(&gcs, &unsigned_param, signed_at), Some(Denial::InvalidSignature));
        let twice = format!("{signed}&X-Goog-Date=20190201T090000Z");
        prop_assert_eq!(denial(&gcs, &twice, signed_at), Some(Denial::Malformed));
        let no_sig = head.trim_end_matches('&');
        prop_assert_eq!(denial(&gcs, no_sig, signed_at), Some(Denial::MissingSignature));
        if let Some(name) = &download {
            let other = signed.replacen("filename%3D%22", "filename%3D%22x", 1);
            prop_assert!(other != signed, "{}", name);
            prop_assert_eq!(denial(&gcs, &other, signed_at), Some(Denial::InvalidSignature));
        }
    }
}
