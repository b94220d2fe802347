//! Every case in the botocore-generated vectors: RSA byte-identical, ECDSA verified.

use serde_json::Value;
use signgate_cloudfront::*;

const VECTORS: &str = include_str!("data/cloudfront-vectors.json");

fn vectors() -> Value {
    serde_json::from_str(VECTORS).unwrap()
}

fn signing_key(v: &Value, name: &str) -> SigningKey {
    let k = &v["keys"][name];
    let id = KeyPairId::parse(k["key_pair_id"].as_str().unwrap()).unwrap();
    let pem = k["private_pkcs8_pem"].as_str().unwrap();
    SigningKey::from_pem(id, pem.as_bytes(), None).unwrap()
}

fn public_keys(v: &Value) -> PublicKeys {
    let mut keys = PublicKeys::default();
    for (_, k) in v["keys"].as_object().unwrap() {
        let id = KeyPairId::parse(k["key_pair_id"].as_str().unwrap()).unwrap();
        keys.insert(
            id,
            VerifyingKey::from_pem(k["public_pem"].as_str().unwrap().as_bytes()).unwrap(),
        );
    }
    keys
}

fn conditions(case: &Value) -> Conditions {
    Conditions {
        expires: case["expires"].as_u64().unwrap(),
        starts: case["starts"].as_u64(),
        ip: case["ip"].as_str().map(|ip| Ipv4Range::parse(ip).unwrap()),
        resource: case["resource"]
            .as_str()
            .map(|r| ResourcePattern::parse(r).unwrap()),
        force_custom: false,
    }
}

fn hash(case: &Value) -> HashAlgorithm {
    HashAlgorithm::parse(case["hash"].as_str().unwrap()).unwrap()
}

fn kind(case: &Value) -> PolicyKind {
    match case["policy_kind"].as_str().unwrap() {
        "canned" => PolicyKind::Canned,
        "custom" => PolicyKind::Custom,
        other => panic!("unknown policy kind {other}"),
    }
}

fn is_rsa(v: &Value, case: &Value) -> bool {
    v["keys"][case["key"].as_str().unwrap()]["type"] == "rsa-2048"
}

/// The value of one query parameter of a URL.
fn param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    url.split_once('?')?
        .1
        .split('&')
        .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
}

#[test]
fn every_key_form_loads() {
    let v = vectors();
    let mut forms = 0;
    for (name, k) in v["keys"].as_object().unwrap() {
        let id = KeyPairId::parse(k["key_pair_id"].as_str().unwrap()).unwrap();
        let expected = match k["type"].as_str().unwrap() {
            "rsa-2048" => KeyType::Rsa2048,
            "ecdsa-p256" => KeyType::EcdsaP256,
            other => panic!("{other}"),
        };
        let public = k["public_pem"].as_str().unwrap();
        for form in [
            "private_pkcs1_pem",
            "private_pkcs8_pem",
            "private_sec1_pem",
            "private_pkcs8_encrypted_pem",
        ] {
            let Some(pem) = k[form].as_str() else {
                continue;
            };
            let pass = k["passphrase"].as_str().map(str::as_bytes);
            let key = SigningKey::from_pem(id.clone(), pem.as_bytes(), pass)
                .unwrap_or_else(|e| panic!("{name} {form}: {e}"));
            assert_eq!(key.key_type(), expected, "{name} {form}");
            assert_eq!(
                key.public_pem(),
                public,
                "{name} {form} derives the published public key"
            );
            forms += 1;
        }
        assert_eq!(
            VerifyingKey::from_pem(public.as_bytes())
                .unwrap()
                .key_type(),
            expected
        );
    }
    assert_eq!(
        forms, 7,
        "rsa1: pkcs1+pkcs8, rsa2: pkcs1+pkcs8+encrypted, ec1: pkcs8+sec1"
    );
}

#[test]
fn signed_urls_match_botocore() {
    let v = vectors();
    let keys = public_keys(&v);
    let cases = v["signed_urls"].as_array().unwrap();
    assert_eq!(cases.len(), 10);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let key = signing_key(&v, case["key"].as_str().unwrap());
        let url = SignableUrl::parse(case["url"].as_str().unwrap()).unwrap();
        let policy = Policy::for_url(&url, &conditions(case)).unwrap();
        assert_eq!(policy.kind(), kind(case), "{name}");
        assert_eq!(
            policy.json(),
            case["policy_json"].as_str().unwrap(),
            "{name}: policy bytes"
        );
        let signed = key.sign_url(&url, &policy, hash(case)).unwrap();
        let expected = case["signed_url"].as_str().unwrap();
        if is_rsa(&v, case) {
            assert_eq!(signed, expected, "{name}: RSA signatures are deterministic");
        } else {
            // Same URL up to the (randomized) signature; both signatures verify.
            let strip = |u: &str| u.replace(param(u, "Signature").unwrap(), "");
            assert_eq!(strip(&signed), strip(expected), "{name}");
        }
        let starts = case["starts"].as_u64().unwrap_or(0);
        let ip = case["ip"]
            .as_str()
            .map(|ip| ip.split('/').next().unwrap().parse().unwrap());
        let viewer = Viewer {
            now: starts.max(1),
            client_ip: ip,
        };
        for url in [&signed, expected] {
            let verified = verify_url(url, &keys, viewer).unwrap_or_else(|d| panic!("{name}: {d}"));
            assert_eq!(
                verified.policy.json(),
                case["policy_json"].as_str().unwrap()
            );
            assert_eq!(verified.unsigned_url, case["url"].as_str().unwrap());
        }
    }
}

#[test]
fn signed_cookies_match_botocore() {
    let v = vectors();
    let keys = public_keys(&v);
    let cases = v["signed_cookies"].as_array().unwrap();
    assert_eq!(cases.len(), 10);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let key = signing_key(&v, case["key"].as_str().unwrap());
        let resource = case["resource"].as_str().unwrap();
        let mut c = conditions(case);
        c.resource = None;
        let policy = match kind(case) {
            PolicyKind::Canned => {
                Policy::for_url(&SignableUrl::parse(resource).unwrap(), &c).unwrap()
            }
            PolicyKind::Custom => {
                Policy::for_resource(ResourcePattern::parse(resource).unwrap(), &c).unwrap()
            }
        };
        assert_eq!(
            policy.json(),
            case["policy_json"].as_str().unwrap(),
            "{name}"
        );
        let cookies = key.sign_cookies(&policy, hash(case)).unwrap();
        let expected = case["cookies"].as_object().unwrap();
        let mut names: Vec<&str> = cookies.0.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        let expected_names: Vec<&str> = expected.keys().map(String::as_str).collect(); // sorted map
        assert_eq!(names, expected_names, "{name}: the same set of cookies");
        for (cookie, value) in &cookies.0 {
            if *cookie == cookie_names::SIGNATURE && !is_rsa(&v, case) {
                continue;
            }
            assert_eq!(
                value,
                expected[*cookie].as_str().unwrap(),
                "{name}: {cookie}"
            );
        }
        // The request URL that the cookies are presented with: the resource, wildcards filled.
        let request = resource.replace('*', "segment0.ts");
        let ip = case["ip"]
            .as_str()
            .map(|ip| ip.split('/').next().unwrap().parse().unwrap());
        let viewer = Viewer {
            now: case["starts"].as_u64().unwrap_or(1),
            client_ip: ip,
        };
        for jar in [
            cookies.0.clone(),
            expected
                .iter()
                .map(|(n, v)| (cookie_name(n), v.as_str().unwrap().to_owned()))
                .collect(),
        ] {
            let lookup = |n: &str| jar.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str());
            verify_cookies(&request, lookup, &keys, viewer)
                .unwrap_or_else(|d| panic!("{name}: {d}"));
        }
    }
}

fn cookie_name(n: &str) -> &'static str {
    [
        cookie_names::EXPIRES,
        cookie_names::POLICY,
        cookie_names::SIGNATURE,
        cookie_names::KEY_PAIR_ID,
        cookie_names::HASH_ALGORITHM,
    ]
    .into_iter()
    .find(|c| *c == n)
    .unwrap()
}

#[test]
fn a_raw_url_signs_to_the_same_bytes_as_its_encoded_form() {
    let v = vectors();
    let case = v["signed_urls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "canned-percent-encoded")
        .unwrap();
    let key = signing_key(&v, "rsa2");
    let raw = SignableUrl::parse("https://d111111abcdef8.cloudfront.net/media/My Holiday été.mp4")
        .unwrap();
    let policy = Policy::for_url(&raw, &conditions(case)).unwrap();
    assert_eq!(
        key.sign_url(&raw, &policy, HashAlgorithm::Sha1).unwrap(),
        case["signed_url"].as_str().unwrap()
    );
}

#[test]
fn the_encrypted_key_signs_like_its_plain_form() {
    let v = vectors();
    let k = &v["keys"]["rsa2"];
    let id = KeyPairId::parse("APKAEIBAERJR2EXAMPLE").unwrap();
    let enc = SigningKey::from_pem(
        id,
        k["private_pkcs8_encrypted_pem"]
            .as_str()
            .unwrap()
            .as_bytes(),
        Some(k["passphrase"].as_str().unwrap().as_bytes()),
    )
    .unwrap();
    let case = &v["signed_urls"][3];
    let url = SignableUrl::parse(case["url"].as_str().unwrap()).unwrap();
    let policy = Policy::for_url(&url, &conditions(case)).unwrap();
    assert_eq!(
        enc.sign_url(&url, &policy, HashAlgorithm::Sha1).unwrap(),
        case["signed_url"].as_str().unwrap()
    );
}
