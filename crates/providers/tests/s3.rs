//! S3 presigned URLs (SigV4): botocore's URLs byte for byte (the shared vectors and more made
//! with botocore here: tests/data/s3-botocore-vectors.py), AWS's published example, refusals of
//! what cannot be signed exactly, and the verifier refusing every change a store would refuse.

mod common;

use common::*;
use proptest::prelude::*;
use serde_json::Value;
use signgate_providers::s3::*;
use signgate_providers::{Delivery, EdgeRequest, Grant, Provider, Refusal, UrlError};

const AK: &str = "AKIAIOSFODNN7EXAMPLE";
const SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const BASE: &str = "https://signgate-media.s3.eu-west-1.amazonaws.com";
/// 2026-01-01T00:00:00Z.
const T0: u64 = 1_767_225_600;

fn store(region: &str) -> S3 {
    S3::new(
        Credentials::new(AK, SK).unwrap(),
        Region::parse(region).unwrap(),
    )
}

/// Signed at `signed_at`, for `seconds`.
fn grant(signed_at: u64, seconds: u64) -> Grant {
    Grant::until(signed_at + seconds).signed(signed_at)
}

fn refusal(d: Denial) -> Result<signgate_providers::Verified, Refusal> {
    Err(Refusal::S3(d))
}

/// Unix seconds of `YYYYMMDDTHHMMSSZ`, computed here independently of the crate.
fn unix(amz_date: &str) -> u64 {
    let n = |r: std::ops::Range<usize>| amz_date[r].parse::<u64>().unwrap();
    let (y, m, d) = (n(0..4), n(4..6), n(6..8));
    let leap = |y: u64| (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let days_before_year: u64 = (1970..y).map(|y| if leap(y) { 366 } else { 365 }).sum();
    let month_days = [
        31,
        if leap(y) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let days = days_before_year + month_days[..(m - 1) as usize].iter().sum::<u64>() + d - 1;
    days * 86_400 + n(9..11) * 3600 + n(11..13) * 60 + n(13..15)
}

/// SigV4's encoding, written here independently of the crate.
fn sigv4_encode(text: &str, keep_slash: bool) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            b'/' if keep_slash => "/".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The URL botocore signed, before signing: the bucket's URL (its endpoint and addressing
/// style), the key and the operation's query parameters.
fn unsigned_url(i: &Value, expected_url: &str) -> String {
    let (bucket, region) = (str_of(i, "bucket"), str_of(i, "region"));
    let virtual_hosted = str_of(i, "addressing_style") == "virtual";
    let base = match i["endpoint_url"].as_str() {
        Some(endpoint) if virtual_hosted => {
            let (scheme, host) = endpoint.split_once("://").unwrap();
            format!("{scheme}://{bucket}.{host}")
        }
        Some(endpoint) => format!("{endpoint}/{bucket}"),
        None => {
            let host = match region {
                "us-east-1" => "s3.amazonaws.com".to_owned(),
                _ => format!("s3.{region}.amazonaws.com"),
            };
            match virtual_hosted {
                true => format!("https://{bucket}.{host}"),
                false => format!("https://{host}/{bucket}"),
            }
        }
    };
    let mut url = format!("{base}/{}", sigv4_encode(str_of(i, "key"), true));
    let mut params: Vec<(String, String)> = i["extra_params"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| {
            let name = match name.strip_prefix("Response") {
                // ResponseContentDisposition → response-content-disposition.
                Some(rest) => rest.chars().fold("response".to_owned(), |mut s, c| {
                    if c.is_ascii_uppercase() {
                        s.push('-');
                    }
                    s.push(c.to_ascii_lowercase());
                    s
                }),
                None => {
                    let mut n = name.clone();
                    n[..1].make_ascii_lowercase(); // VersionId → versionId
                    n
                }
            };
            (name, sigv4_encode(value.as_str().unwrap(), false))
        })
        .collect();
    // botocore keeps the caller's order, which JSON objects do not carry: take it from its URL.
    params.sort_by_key(|(name, _)| expected_url.find(&format!("{name}=")));
    for (j, (name, value)) in params.iter().enumerate() {
        url.push(if j == 0 { '?' } else { '&' });
        url.push_str(&format!("{name}={value}"));
    }
    url
}

fn from_case(i: &Value) -> S3 {
    let mut credentials =
        Credentials::new(str_of(i, "access_key_id"), str_of(i, "secret_access_key")).unwrap();
    if let Some(token) = i["session_token"].as_str() {
        credentials = credentials.with_session_token(token).unwrap();
    }
    let method = match i["method"].as_str().unwrap_or("get_object") {
        "head_object" | "HEAD" => Method::Head,
        "get_object" | "GET" => Method::Get,
        other => panic!("no method {other}"),
    };
    S3::new(credentials, Region::parse(str_of(i, "region")).unwrap()).with_method(method)
}

fn botocore_cases() -> Vec<Value> {
    let mine: Vec<Value> =
        serde_json::from_str(include_str!("data/s3-botocore-vectors.json")).unwrap();
    let mut all = cases("aws-s3/sigv4-presigned-url");
    all.extend(mine);
    all
}

#[test]
fn botocore_presigned_urls_match_byte_for_byte_and_verify() {
    let all = botocore_cases();
    assert!(all.len() >= 11, "{} cases", all.len());
    for case in all {
        let (i, e) = (&case["inputs"], &case["expected"]);
        let expected = str_of(e, "presigned_url");
        let s3 = from_case(i);
        let starts = unix(str_of(i, "x_amz_date"));
        let g = grant(starts, i["expires"].as_u64().unwrap());
        let url = unsigned_url(i, expected);
        let signed = s3
            .sign_url(&url, &g)
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(signed, expected, "{}", case["source"]["note"]);
        assert!(signed.ends_with(&format!("&X-Amz-Signature={}", str_of(e, "signature"))));

        let ok = s3
            .verify(&EdgeRequest {
                method: s3.method(),
                ..EdgeRequest::new(&signed, starts)
            })
            .unwrap();
        assert_eq!(
            (ok.key.as_str(), ok.expires),
            (str_of(i, "access_key_id"), g.expires)
        );
        assert_eq!(
            s3.verify(&EdgeRequest {
                method: s3.method(),
                ..EdgeRequest::new(&signed, g.expires)
            }),
            refusal(Denial::Expired)
        );
        let last = signed.chars().last().unwrap();
        let flipped = format!(
            "{}{}",
            &signed[..signed.len() - 1],
            if last == '0' { '1' } else { '0' }
        );
        assert_eq!(
            s3.verify(&EdgeRequest {
                method: s3.method(),
                ..EdgeRequest::new(&flipped, starts)
            }),
            refusal(Denial::InvalidSignature)
        );
    }
}

#[test]
fn the_aws_documentation_example_signs_the_published_canonical_request() {
    // AWS S3 API reference, "Authenticating Requests: Using Query Parameters", the example.
    let url = "https://examplebucket.s3.amazonaws.com/test.txt";
    let g = grant(unix("20130524T000000Z"), 86_400);
    let canonical = store("us-east-1")
        .canonical_request(Method::Get, url, &g)
        .unwrap();
    assert_eq!(
        canonical,
        "GET\n/test.txt\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\nhost:examplebucket.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD"
    );
    assert_eq!(
        hex::encode(openssl::sha::sha256(canonical.as_bytes())),
        "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04"
    );
    let signed = store("us-east-1").sign_url(url, &g).unwrap();
    assert!(signed.ends_with(
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    ));
}

#[test]
fn what_cannot_be_signed_exactly_is_refused() {
    let s3 = store("eu-west-1");
    let g = grant(T0, 300);
    let refused = |url: &str, g: &Grant| match s3.sign_url(url, g) {
        Err(signgate_providers::Error::S3(e)) => e,
        other => panic!("{url}: {other:?}"),
    };
    let url = format!("{BASE}/a.pdf");
    assert_eq!(
        refused(&url, &Grant::until(T0 + 300)),
        Error::SigningTimeRequired
    );
    let starting = Grant {
        starts: Some(T0),
        ..g
    };
    assert_eq!(refused(&url, &starting), Error::StartTimeUnsupported);
    assert_eq!(
        refused(&url, &grant(T0, 604_801)),
        Error::ExpiresTooLong(604_801)
    );
    s3.sign_url(&url, &grant(T0, 604_800)).unwrap();
    assert_eq!(refused(&url, &grant(T0, 0)), Error::ExpiryNotAfterSigning);
    let bound = Grant {
        client_ip: Some("192.0.2.1".parse().unwrap()),
        ..g
    };
    assert_eq!(refused(&url, &bound), Error::IpBindingUnsupported);
    for (path, says) in [
        ("/a(1).pdf", "'(' must be written %28"),
        ("/a+b.pdf", "'+' must be written %2B"),
        ("/caf%c3%a9.pdf", "uppercase"),
        ("/%7Ea.pdf", "'~'"),
        ("/a%2Fb.pdf", "'/'"),
        ("/%FF.pdf", "UTF-8"),
    ] {
        let e = refused(&format!("{BASE}{path}"), &g);
        assert!(
            matches!(&e, Error::NotCanonical(m) if m.contains(says)),
            "{path}: {e}"
        );
    }
    for (query, expected) in [
        ("acl", Error::UnsupportedParameter("acl".into())),
        ("x-id=GetObject", Error::UnsupportedParameter("x-id".into())),
        (
            "versionId=1&versionId=2",
            Error::DuplicateParameter("versionId".into()),
        ),
        (
            "response-content-type=",
            Error::ParameterWithoutValue("response-content-type".into()),
        ),
    ] {
        assert_eq!(refused(&format!("{url}?{query}"), &g), expected, "{query}");
    }
    let e = refused(&format!("{url}?response-content-disposition=a+b"), &g);
    assert!(matches!(e, Error::NotCanonical(_)), "{e}");
    assert_eq!(
        refused(&format!("{url}?x-amz-date=1"), &g),
        Error::Url(UrlError::ReservedParameter("X-Amz-Date".into()))
    );
    assert_eq!(
        refused("https://Signgate-Media.s3.eu-west-1.amazonaws.com/a", &g),
        Error::UppercaseHost
    );
    assert_eq!(refused(BASE, &g), Error::NoObject);
    assert_eq!(refused(&format!("{BASE}/"), &g), Error::NoObject);
    assert_eq!(
        refused(&format!("{url}#x"), &g),
        Error::Url(UrlError::Fragment)
    );
    for delivery in [
        Delivery::Cookie,
        Delivery::Query { url: &url },
        Delivery::Path { url: &url },
    ] {
        assert!(matches!(
            s3.sign_prefix(&format!("{BASE}/"), delivery, &g),
            Err(signgate_providers::Error::S3(Error::NoPrefixForm))
        ));
    }
}

#[test]
fn base_urls_are_checked_before_anything_is_signed_under_them() {
    check_base_url("https://bucket.s3.eu-west-1.amazonaws.com").unwrap();
    check_base_url("http://127.0.0.1:9000/bucket").unwrap();
    assert_eq!(
        check_base_url("https://Bucket.s3.amazonaws.com"),
        Err(Error::UppercaseHost)
    );
    assert!(check_base_url("https://h/bucket?x=1").is_err());
    assert!(check_base_url("https://h/my bucket").is_err());
    assert!(check_base_url("https://h/b(1)").is_err());
}

#[test]
fn the_verifier_refuses_what_the_store_refuses() {
    let s3 = store("eu-west-1");
    let g = grant(T0, 300);
    let url = format!(
        "{BASE}/users/alice/caf%C3%A9%20menu.pdf?response-content-disposition=attachment%3B%20filename%3D%22menu.pdf%22"
    );
    let signed = s3.sign_url(&url, &g).unwrap();
    let at = |u: &str, now: u64| s3.verify(&EdgeRequest::new(u, now));
    assert!(at(&signed, T0).is_ok());
    assert!(at(&signed, T0 + 299).is_ok());
    assert_eq!(at(&signed, T0 + 300), refusal(Denial::Expired));
    assert!(at(&signed, T0 - CLOCK_SKEW).is_ok(), "15 minutes of skew");
    assert_eq!(
        at(&signed, T0 - CLOCK_SKEW - 1),
        refusal(Denial::NotYetValid)
    );

    let changed = |from: &str, to: &str| {
        assert!(signed.contains(from), "{from}");
        signed.replacen(from, to, 1)
    };
    let invalid = refusal(Denial::InvalidSignature);
    assert_eq!(at(&changed("menu.pdf?", "secret.pdf?"), T0), invalid);
    assert_eq!(at(&changed("/users/alice/", "/users/bob/"), T0), invalid);
    assert_eq!(
        at(&changed("%22menu.pdf%22", "%22evil.exe%22"), T0),
        invalid
    );
    assert_eq!(
        at(&changed("signgate-media.", "other-bucket."), T0),
        invalid
    );
    assert_eq!(
        at(&changed("https://", "http://"), T0),
        Ok(at(&signed, T0).unwrap())
    );
    assert_eq!(
        at(&changed("X-Amz-Expires=300", "X-Amz-Expires=3000"), T0),
        invalid
    );
    assert_eq!(
        at(&changed("X-Amz-Expires=300", "X-Amz-Expires=604801"), T0),
        refusal(Denial::ExpiresOutOfRange)
    );
    assert_eq!(at(&changed("T000000Z", "T000001Z"), T0), invalid);
    assert_eq!(
        at(&changed("%2Feu-west-1%2F", "%2Fus-east-1%2F"), T0),
        refusal(Denial::WrongScope)
    );
    assert_eq!(
        at(&changed("Credential=AKIA", "Credential=AKIB"), T0),
        refusal(Denial::UnknownAccessKey)
    );
    assert_eq!(
        at(
            &changed("SignedHeaders=host", "SignedHeaders=host%3Brange"),
            T0
        ),
        refusal(Denial::UnsupportedSignedHeaders)
    );
    assert_eq!(
        at(&changed("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1"), T0),
        refusal(Denial::UnsupportedAlgorithm)
    );
    assert_eq!(
        at(
            &changed("&X-Amz-Date=", "&X-Amz-Date=20260101T000000Z&X-Amz-Date="),
            T0
        ),
        refusal(Denial::Malformed)
    );
    assert_eq!(at(&url, T0), refusal(Denial::MissingSignature));
    // The stores decode and encode again: other spellings of the same request verify.
    assert!(
        at(&changed("%20menu", "+menu"), T0).is_err(),
        "'+' in a path is a plus"
    );
    assert!(at(&changed("%3B%20filename", "%3B+filename"), T0).is_ok());
    assert!(at(&changed("caf%C3%A9", "caf%c3%a9"), T0).is_ok());

    // A HEAD link is not a GET link, and a link of other credentials is not this store's. The
    // request's method decides, as at the store, whichever method the verifier signs for.
    let head = store("eu-west-1").with_method(Method::Head);
    let head_url = head.sign_url(&url, &g).unwrap();
    fn as_head(u: &str) -> EdgeRequest<'_> {
        EdgeRequest {
            method: "HEAD",
            ..EdgeRequest::new(u, T0)
        }
    }
    assert_eq!(at(&head_url, T0), invalid);
    assert!(s3.verify(&as_head(&head_url)).is_ok());
    assert!(head.verify(&as_head(&head_url)).is_ok());
    assert_eq!(head.verify(&EdgeRequest::new(&head_url, T0)), invalid);
    assert_eq!(head.verify(&as_head(&signed)), invalid);
    assert!(head.verify(&EdgeRequest::new(&signed, T0)).is_ok());
    assert_eq!(
        s3.verify(&EdgeRequest {
            method: "PUT",
            ..EdgeRequest::new(&signed, T0)
        }),
        invalid
    );
    let other = S3::new(
        Credentials::new(AK, "a-different-secret-of-forty-characters-xx").unwrap(),
        Region::parse("eu-west-1").unwrap(),
    );
    assert_eq!(at(&other.sign_url(&url, &g).unwrap(), T0), invalid);
}

#[test]
fn temporary_credentials_carry_their_session_token() {
    let token = "IQoJb3JpZ2luX2VjEHcaCXVzLWVhc3QtMSJHMEUCIQD+example/session+token/value==";
    let temporary = S3::new(
        Credentials::new("ASIAIOSFODNN7EXAMPLE", SK)
            .unwrap()
            .with_session_token(token)
            .unwrap(),
        Region::parse("eu-west-1").unwrap(),
    );
    let g = grant(T0, 300);
    let signed = temporary.sign_url(&format!("{BASE}/a.pdf"), &g).unwrap();
    assert!(signed.contains(
        "&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEHcaCXVzLWVhc3QtMSJHMEUCIQD%2Bexample%2Fsession%2Btoken%2Fvalue%3D%3D&X-Amz-Signature="
    ));
    assert!(temporary.verify(&EdgeRequest::new(&signed, T0)).is_ok());
    let dropped = signed.replace("&X-Amz-Security-Token=", "&X-Other=");
    assert_eq!(
        temporary.verify(&EdgeRequest::new(&dropped, T0)),
        refusal(Denial::SecurityToken)
    );
    let long_term = S3::new(
        Credentials::new("ASIAIOSFODNN7EXAMPLE", SK).unwrap(),
        Region::parse("eu-west-1").unwrap(),
    );
    assert_eq!(
        long_term.verify(&EdgeRequest::new(&signed, T0)),
        refusal(Denial::SecurityToken)
    );
}

#[test]
fn a_day_boundary_changes_the_signing_key() {
    // The day's key is cached: a signature made just after midnight must use the new day's.
    let s3 = store("eu-west-1");
    let url = format!("{BASE}/a.pdf");
    let before = s3.sign_url(&url, &grant(T0 - 1, 300)).unwrap();
    let after = s3.sign_url(&url, &grant(T0, 300)).unwrap();
    assert!(before.contains("%2F20251231%2F") && after.contains("%2F20260101%2F"));
    let fresh = store("eu-west-1");
    assert_eq!(fresh.sign_url(&url, &grant(T0, 300)).unwrap(), after);
    assert_eq!(
        store("eu-west-1")
            .sign_url(&url, &grant(T0 - 1, 300))
            .unwrap(),
        before
    );
}

proptest! {
    #[test]
    fn any_key_signs_and_verifies_and_any_other_key_does_not(
        key in "[a-zA-Z0-9 ._~+=!'()*%&;,é/-]{1,40}",
        other in "[a-z]{1,8}",
        starts in 1_000_000_000u64..4_000_000_000,
        seconds in 1u64..=604_800,
        name in proptest::option::of("[ a-zA-Z0-9\"';é]{1,20}"),
    ) {
        prop_assume!(!key.starts_with('/') && !key.ends_with('/') && !key.contains("//"));
        let s3 = store("eu-west-1");
        let mut url = format!("{BASE}/{}", sigv4_encode(&key, true));
        if let Some(name) = &name {
            url.push_str(&format!("?response-content-disposition={}", sigv4_encode(name, false)));
        }
        let g = grant(starts, seconds);
        let signed = s3.sign_url(&url, &g).unwrap();
        prop_assert!(signed.starts_with(&url));
        let ok = s3.verify(&EdgeRequest::new(&signed, starts + seconds - 1)).unwrap();
        prop_assert_eq!(ok.expires, starts + seconds);
        let moved = signed.replacen(&url, &format!("{BASE}/{other}"), 1);
        prop_assert!(s3.verify(&EdgeRequest::new(&moved, starts)).is_err());
    }

    #[test]
    fn any_changed_character_of_the_signature_is_refused(index in 0usize..64, seconds in 1u64..3600) {
        let s3 = store("eu-west-1");
        let signed = s3.sign_url(&format!("{BASE}/a.pdf"), &grant(T0, seconds)).unwrap();
        let at = signed.len() - 64;
        let changed = format!("{}{}", &signed[..at], change_char(&signed[at..], index, HEX));
        prop_assert_eq!(
            s3.verify(&EdgeRequest::new(&changed, T0)),
            refusal(Denial::InvalidSignature)
        );
    }
}
