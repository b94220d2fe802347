//! Google Cloud Storage V4 signed URLs (`provider = "gcs"`). No local server checks V4
//! signatures, so three independent checks: Google's conformance cases through the providers
//! crate byte for byte, `signgate sign`/`verify --provider gcs` as the real binary, and the
//! service's answers (/files 302 and JSON, /sign) checked with the crate's verifier built from
//! the key file, not from signgate's configuration. (The round-trip property test is in
//! crates/providers/tests/gcs.rs.)

use std::process::{Command, Output};

use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use signgate_providers::gcs::{Gcs, Method, Request, SigningKey};
use signgate_providers::{EdgeRequest, Provider};
use signgate_testkit::app::{default_config, repo, settings, spawn_app, TestApp};
use signgate_testkit::http::{assert_nothing_signed, location};
use signgate_testkit::providers::{distribution, store_verifier};
use signgate_testkit::tokens::{now, token};

const BASE: &str = "https://storage.googleapis.com/signgate-demo-bucket";

/// The vendors' cases: the repository's copy of the shared vectors, or the file named by
/// SIGNGATE_PROVIDER_VECTORS (to run cases beyond those).
fn gcs_cases() -> Vec<Value> {
    let path = std::env::var_os("SIGNGATE_PROVIDER_VECTORS").map_or_else(
        || repo().join("crates/providers/tests/data/provider-vectors.json"),
        Into::into,
    );
    let all: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    all.into_iter()
        .filter(|c| c["scheme"] == "gcs/v4-signed-url")
        .collect()
}

/// `2019-02-01T09:00:00Z` as Unix seconds (days-from-civil, written here for the test).
fn unix_of(text: &str) -> u64 {
    let n = |r: std::ops::Range<usize>| text[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    let (y, m) = if m <= 2 { (y - 1, m + 12) } else { (y, m) };
    let days = 365 * y + y / 4 - y / 100 + y / 400 + (153 * (m - 3) + 2) / 5 + d - 719_469;
    (days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)) as u64
}

/// The origin and resource path a conformance case addresses, by the client libraries' rules:
/// `hostname` over `clientEndpoint` over `emulatorHostname` over `universeDomain`; path style
/// unless `urlStyle` says virtual-hosted or a bucket-bound host.
fn origin_and_path(i: &Value) -> (String, String) {
    let scheme = i["scheme"].as_str().unwrap_or("https");
    let with_scheme = |host: &str| {
        if host.contains("://") {
            host.to_owned()
        } else {
            format!("{scheme}://{host}")
        }
    };
    let endpoint = if let Some(h) = i["hostname"].as_str() {
        with_scheme(h)
    } else if let Some(h) = i["clientEndpoint"].as_str() {
        with_scheme(h)
    } else if let Some(h) = i["emulatorHostname"].as_str() {
        with_scheme(h)
    } else if let Some(d) = i["universeDomain"].as_str() {
        format!("{scheme}://storage.{d}")
    } else {
        format!("{scheme}://storage.googleapis.com")
    };
    let bucket = i["bucket"].as_str().unwrap();
    let object = i["object"].as_str().map(|o| format!("/{o}"));
    match i["urlStyle"].as_str() {
        Some("VIRTUAL_HOSTED_STYLE") => {
            let (s, host) = endpoint.split_once("://").unwrap();
            (format!("{s}://{bucket}.{host}"), object.unwrap_or_default())
        }
        Some("BUCKET_BOUND_HOSTNAME") => (
            with_scheme(i["bucketBoundHostname"].as_str().unwrap()),
            object.unwrap_or_default(),
        ),
        _ => (endpoint, format!("/{bucket}{}", object.unwrap_or_default())),
    }
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn pairs(v: &Value) -> Vec<(String, String)> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn googleapis_conformance_cases_sign_byte_for_byte_through_the_crate() {
    let (mut checked, mut skipped) = (0, Vec::new());
    for case in gcs_cases() {
        let (i, e) = (&case["inputs"], &case["expected"]);
        let description = i["description"].as_str().unwrap();
        let method = match i["method"].as_str().unwrap() {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            // Uploads (PUT, POST resumable) are not download URLs: signgate never signs them.
            other => {
                skipped.push(format!("{description} ({other})"));
                continue;
            }
        };
        let key = SigningKey::service_account(
            "sa",
            i["service_account_email"].as_str().unwrap(),
            i["service_account_private_key_pem"]
                .as_str()
                .unwrap()
                .as_bytes(),
        )
        .unwrap();
        let gcs = Gcs::new(key);
        let (origin, path) = origin_and_path(i);
        let (query, headers) = (pairs(&i["queryParameters"]), pairs(&i["headers"]));
        let query: Vec<(&str, &str)> = query
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let request = Request {
            method,
            origin: &origin,
            path: &path,
            query: &query,
            headers: &headers,
        };
        let expiration = i["expiration"]
            .as_u64()
            .or_else(|| i["expiration"].as_str().and_then(|s| s.parse().ok()))
            .unwrap();
        let signed_at = unix_of(i["timestamp"].as_str().unwrap());
        let signed = gcs.sign_request(&request, signed_at, expiration).unwrap();
        assert_eq!(signed.url, e["url"].as_str().unwrap(), "{description}");
        let string_to_sign = e["string_to_sign"].as_str().unwrap();
        assert_eq!(signed.string_to_sign, string_to_sign, "{description}");
        // One published case's canonical_request disagrees with its own string-to-sign (whose
        // hash, like its signature and URL, is over the request actually signed): that field
        // is compared only where it hashes to the string-to-sign's last line.
        let published = e["canonical_request"].as_str().unwrap();
        let published_hash = sha256_hex(published);
        if string_to_sign.ends_with(&published_hash) {
            assert_eq!(signed.canonical_request, published, "{description}");
        } else {
            println!("{description}: the published canonical_request is inconsistent with its string_to_sign; compared the string-to-sign, signature and URL only");
            assert!(string_to_sign.ends_with(&sha256_hex(&signed.canonical_request)));
        }
        // signgate's verifier accepts Google's own URL, for as long as it lives, where it can
        // check every signed header (a browser sends only host).
        if headers.is_empty() && method == Method::Get {
            let url = e["url"].as_str().unwrap();
            let verified = gcs
                .verify(&EdgeRequest::new(url, signed_at))
                .unwrap_or_else(|r| panic!("{description}: {r}"));
            assert_eq!(verified.expires, signed_at + expiration);
            assert!(gcs
                .verify(&EdgeRequest::new(url, signed_at + expiration))
                .is_err());
        }
        checked += 1;
    }
    println!("skipped, not GET/HEAD download URLs: {skipped:?}");
    assert!(checked >= 8, "only {checked} cases checked");
}

fn run(args: &[&str]) -> Output {
    Command::new(crate::SIGNGATE)
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn signgate_sign_and_verify_with_provider_gcs_agree_with_the_crates_verifier() {
    let sa = "sa=config/dev/providers/gcs-service-account.json";
    let url = format!("{BASE}/reports/caf%C3%A9%20menu.pdf");
    let expires = (now() + 600).to_string();
    let out = run(&[
        "sign",
        "--provider",
        "gcs",
        "--provider-key",
        sa,
        "--url",
        &url,
        "--expires",
        &expires,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let signed = stdout(&out).trim().to_owned();
    assert!(
        signed.starts_with(&format!("{url}?X-Goog-Algorithm=GOOG4-RSA-SHA256&")),
        "{signed}"
    );
    let verified = store_verifier("gcs", BASE, None)
        .verify(&EdgeRequest::new(&signed, now()))
        .unwrap();
    assert!(verified.expires.abs_diff(now() + 600) <= 2);
    let verify = |url: &str, extra: &[&str]| {
        let mut args = vec![
            "verify",
            "--provider",
            "gcs",
            "--provider-key",
            sa,
            "--url",
            url,
        ];
        args.extend(extra);
        run(&args)
    };
    let ok = verify(&signed, &[]);
    assert!(ok.status.success(), "{}", stdout(&ok));
    assert_eq!(
        stdout(&ok).trim(),
        format!("valid: key sa, expires {}", verified.expires)
    );
    let tampered = verify(&signed.replace("menu", "secret"), &[]);
    assert_eq!(tampered.status.code(), Some(1));
    assert_eq!(
        stdout(&tampered).trim(),
        "gcs: the signature does not match"
    );
    let later = (verified.expires).to_string();
    let expired = verify(&signed, &["--now", &later]);
    assert_eq!(expired.status.code(), Some(1));
    assert_eq!(stdout(&expired).trim(), "gcs: the signed URL has expired");

    // An HMAC key: the key file holds the secret, the access ID is an option.
    let hmac = "h=config/dev/providers/gcs-hmac.secret";
    let id = "hmac_access_id=GOOG1ESIGNGATEDEMOACCESSID";
    let out = run(&[
        "sign",
        "--provider",
        "gcs",
        "--provider-key",
        hmac,
        "--option",
        id,
        "--url",
        &url,
        "--expires",
        &expires,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let signed = stdout(&out).trim().to_owned();
    assert!(
        signed.contains(
            "X-Goog-Algorithm=GOOG4-HMAC-SHA256&X-Goog-Credential=GOOG1ESIGNGATEDEMOACCESSID%2F"
        ),
        "{signed}"
    );
    let ok = run(&[
        "verify",
        "--provider",
        "gcs",
        "--provider-key",
        hmac,
        "--option",
        id,
        "--url",
        &signed,
    ]);
    assert!(ok.status.success(), "{}", stdout(&ok));
    // The service account's verifier refuses an HMAC-signed URL.
    let other = verify(&signed, &[]);
    assert_eq!(
        stdout(&other).trim(),
        "gcs: X-Goog-Algorithm is not this key's algorithm"
    );

    // More than seven days is refused before anything is printed.
    let week = (now() + 604_800 + 60).to_string();
    let out = run(&[
        "sign",
        "--provider",
        "gcs",
        "--provider-key",
        sa,
        "--url",
        &url,
        "--expires",
        &week,
    ]);
    assert!(!out.status.success());
    assert!(stdout(&out).is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("X-Goog-Expires is at most 604800 seconds")
    );
}

/// The service with one gcs distribution `gcs` at BASE and `rules`.
async fn app_with(rules: Value) -> TestApp {
    spawn_app(&[
        ("distributions", json!([distribution("gcs", "gcs", BASE)])),
        ("rules", rules),
    ])
    .await
}

fn rule(pattern: &str, extra: Value) -> Value {
    let mut r = json!({"pattern": pattern, "access": "authenticated", "distribution": "gcs"});
    for (k, v) in extra.as_object().unwrap() {
        r[k] = v.clone();
    }
    r
}

#[tokio::test]
async fn files_redirects_answers_json_and_signs_batches_the_stores_verifier_accepts() {
    let app = app_with(json!([rule(
        "users/{sub}/**",
        json!({"lifetime_seconds": 900})
    )]))
    .await;
    let verifier = store_verifier("gcs", BASE, None);
    let t = token("alice", json!({}));
    let r = app
        .get(
            "/files/users/alice/caf%C3%A9%20menu.pdf?download=Menu%202026.pdf",
            Some(&t),
        )
        .await;
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["cache-control"], "private, no-store");
    let url = location(&r);
    assert!(
        url.starts_with(&format!("{BASE}/users/alice/caf%C3%A9%20menu.pdf?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=signgate-demo%40signgate-demo.iam.gserviceaccount.com%2F")),
        "{url}"
    );
    assert!(url.contains("&X-Goog-Expires=900&"), "{url}");
    assert!(url.contains("&response-content-disposition=attachment%3B%20filename%3D%22Menu%202026.pdf%22&X-Goog-Signature="), "{url}");
    let verified = verifier.verify(&EdgeRequest::new(&url, now())).unwrap();
    assert!(verified.expires.abs_diff(now() + 900) <= 2);
    assert!(verifier
        .verify(&EdgeRequest::new(
            &url.replace("Menu%202026", "Other"),
            now()
        ))
        .is_err());
    assert!(verifier
        .verify(&EdgeRequest::new(&url.replace("/alice/", "/bob/"), now()))
        .is_err());
    assert_nothing_signed(app.get("/files/users/bob/a.pdf", Some(&t)).await).await;

    let r = app
        .client
        .get(app.url("/files/users/alice/a.txt"))
        .bearer_auth(&t)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let verified = verifier
        .verify(&EdgeRequest::new(body["url"].as_str().unwrap(), now()))
        .unwrap();
    assert_eq!(body["expires_at"].as_u64().unwrap(), verified.expires);

    let keys: Vec<String> = (0..20).map(|n| format!("users/alice/{n}.bin")).collect();
    let mut asked = keys.clone();
    asked.push("users/bob/x.bin".into());
    let r = app
        .client
        .post(app.url("/sign"))
        .bearer_auth(&t)
        .json(&json!({ "keys": asked }))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    let results = body["results"].as_array().unwrap();
    for (item, key) in results.iter().zip(&keys) {
        let url = item["url"].as_str().unwrap();
        assert!(url.starts_with(&format!("{BASE}/{key}?")), "{url}");
        verifier
            .verify(&EdgeRequest::new(url, now()))
            .unwrap_or_else(|e| panic!("{item}: {e}"));
    }
    assert_eq!(results[20]["status"], 403);
    assert!(results[20].get("url").is_none());
}

#[tokio::test]
async fn two_replicas_answer_one_object_with_the_same_signed_url_within_a_step() {
    let (lifetime, step) = (900, 60);
    let rules = json!([rule(
        "users/{sub}/**",
        json!({"lifetime_seconds": lifetime, "cache_step_seconds": step})
    )]);
    let a = app_with(rules.clone()).await;
    let b = app_with(rules).await;
    let t = token("alice", json!({}));
    // Two seconds apart, in one step: without a step-bound X-Goog-Date they would differ.
    signgate_testkit::app::wait_for_room_in_step(lifetime, step, 3).await;
    let first = location(&a.get("/files/users/alice/menu.pdf", Some(&t)).await);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let second = location(&b.get("/files/users/alice/menu.pdf", Some(&t)).await);
    assert_eq!(first, second, "one URL from both replicas");
    let verified = store_verifier("gcs", BASE, None)
        .verify(&EdgeRequest::new(&first, now()))
        .unwrap();
    assert!(verified.expires >= now() + lifetime - 3, "{first}");
    assert_eq!(verified.expires % step, 0, "the expiry is the step's end");
}

fn config_error(dist: Value, rules: Value) -> String {
    let overrides = [("distributions", json!([dist])), ("rules", rules)];
    format!(
        "{:#}",
        settings(&default_config(), &overrides).expect_err("the configuration is refused")
    )
}

#[tokio::test]
async fn what_gcs_cannot_do_stops_the_start_naming_the_rule_or_the_key() {
    let d = distribution("gcs", "gcs", BASE);
    let e = config_error(d.clone(), json!([rule("hls/**", json!({"cookies": true}))]));
    assert!(
        e.contains("rules[0].cookies: gcs (distribution \"gcs\") signs one object per URL and has no folder credential"),
        "{e}"
    );
    let e = config_error(
        d.clone(),
        json!([rule(
            "a/**",
            json!({"lifetime_seconds": 604_800, "cache_step_seconds": 60})
        )]),
    );
    assert!(
        e.contains("rules[0].lifetime_seconds: gcs (distribution \"gcs\") cannot sign a link valid for 604859 s (lifetime_seconds + cache_step_seconds - 1): gcs: X-Goog-Expires is at most 604800 seconds"),
        "{e}"
    );
    assert!(settings(
        &default_config(),
        &[
            ("distributions", json!([d.clone()])),
            (
                "rules",
                json!([rule("a/**", json!({"lifetime_seconds": 604_800}))])
            ),
        ]
    )
    .is_ok());
    let e = config_error(
        d.clone(),
        json!([rule("a/**", json!({"bind_client_ip": true}))]),
    );
    assert!(
        e.contains("rules[0].bind_client_ip: gcs (distribution \"gcs\") cannot bind"),
        "{e}"
    );

    // Key files that are not a service account's RSA key are refused naming the key.
    let dir = signgate_testkit::fs::tempdir();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let no_key = write(
        "no-key.json",
        r#"{"type": "service_account", "client_email": "a@b.iam.gserviceaccount.com"}"#,
    );
    let pem = write(
        "key.pem",
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
    );
    let ed25519 = write(
        "ed25519.json",
        &json!({"type": "service_account", "client_email": "a@b.iam.gserviceaccount.com",
                "private_key": std::fs::read_to_string(repo().join("config/dev/providers/google-media-cdn-ed25519.pem")).unwrap()})
        .to_string(),
    );
    for (file, message) in [
        (
            &no_key,
            "distributions[0].keys[0]: gcs: key sa: the JSON key file has no private_key",
        ),
        (
            &pem,
            "distributions[0].keys[0]: gcs: key sa: the key file is not JSON",
        ),
        (
            &ed25519,
            "distributions[0].keys[0]: gcs: key sa: private_key is not an RSA key",
        ),
    ] {
        let mut bad = d.clone();
        bad["keys"] = json!([{"name": "sa", "key_file": file}]);
        let e = config_error(bad, json!([rule("a/**", json!({}))]));
        assert!(e.contains(message), "{e}");
    }
    let mut hmac = d.clone();
    hmac["keys"] = json!([{"name": "h", "key_file": "dev/providers/gcs-hmac.secret"}]);
    hmac["hmac_access_id"] = json!("GOOG1/BAD");
    let e = config_error(hmac, json!([rule("a/**", json!({}))]));
    assert!(
        e.contains("distributions[0].hmac_access_id: gcs: HMAC access ID"),
        "{e}"
    );
    let mut foreign = d;
    foreign["stored_policy"] = json!("p");
    let e = config_error(foreign, json!([rule("a/**", json!({}))]));
    assert!(
        e.contains("distributions[0].stored_policy: not an option of provider \"gcs\""),
        "{e}"
    );
}
