//! Signing: the key set and hash a distribution or rule names, custom policies bound to the
//! client IP, stable URLs reused from the cache while authorization still runs, and the same
//! stable URL from every replica (ECDSA signatures are deterministic, RFC 6979).

use serde_json::json;
use signgate_testkit::app::spawn_app;
use signgate_testkit::edge::{demo_public_keys, verify};
use signgate_testkit::fs::config_copy;
use signgate_testkit::http::{assert_nothing_signed, client, location};
use signgate_testkit::process::Signgate;
use signgate_testkit::tokens::{now, token};

use crate::SIGNGATE;

#[tokio::test]
async fn urls_bound_to_the_client_ip_use_a_custom_policy() {
    let rules = json!([{"pattern": "ip/**", "access": "authenticated", "distribution": "demo", "policy": "custom", "bind_client_ip": true}]);
    let app = spawn_app(&[("rules", rules)]).await;
    let url = location(
        &app.get("/files/ip/a.bin", Some(&token("alice", json!({}))))
            .await,
    );
    assert!(url.contains("Policy="), "{url}");
    let v = verify(&url, Some("127.0.0.1"));
    assert_eq!(v.policy.ip().unwrap().to_string(), "127.0.0.1/32");
    let denied = signgate_cloudfront::verify_url(
        &url,
        &demo_public_keys(),
        signgate_cloudfront::Viewer {
            now: now(),
            client_ip: Some("192.0.2.1".parse().unwrap()),
        },
    );
    assert_eq!(
        denied.unwrap_err(),
        signgate_cloudfront::Denial::IpNotAllowed
    );
}

#[tokio::test]
async fn ecdsa_and_sha256_distributions() {
    let key_sets = json!([{"name": "ec", "active": "KDEMO2ECDSA01", "keys": [{"key_pair_id": "KDEMO2ECDSA01", "private_key_file": "dev/demo-ecdsa-private.pem"}]}]);
    let dists = json!([{"name": "demo", "url": "https://media.example.com/private", "key_set": "ec", "hash": "sha256"}]);
    let app = spawn_app(&[("key_sets", key_sets), ("distributions", dists)]).await;
    let url = location(
        &app.get("/files/public/a.txt", Some(&token("alice", json!({}))))
            .await,
    );
    assert!(
        url.starts_with("https://media.example.com/private/public/a.txt?Expires="),
        "{url}"
    );
    assert!(
        url.ends_with("&Key-Pair-Id=KDEMO2ECDSA01&Hash-Algorithm=SHA256"),
        "{url}"
    );
    verify(&url, None);
}

#[tokio::test]
async fn a_rule_can_sign_with_its_own_key_set() {
    let key_sets = json!([
        {"name": "demo", "active": "KDEMO2RSA0001", "keys": [{"key_pair_id": "KDEMO2RSA0001", "private_key_file": "dev/demo-rsa-private.pem"}]},
        {"name": "ec", "active": "KDEMO2ECDSA01", "keys": [{"key_pair_id": "KDEMO2ECDSA01", "private_key_file": "dev/demo-ecdsa-private.pem"}]}
    ]);
    let rules = json!([
        {"pattern": "hls/**", "access": "authenticated", "distribution": "demo", "key_set": "ec"},
        {"pattern": "public/**", "access": "authenticated", "distribution": "demo"}
    ]);
    let app = spawn_app(&[("key_sets", key_sets), ("rules", rules)]).await;
    let t = token("alice", json!({}));
    assert!(location(&app.get("/files/hls/a.ts", Some(&t)).await)
        .ends_with("Key-Pair-Id=KDEMO2ECDSA01"));
    assert!(location(&app.get("/files/public/a", Some(&t)).await)
        .ends_with("Key-Pair-Id=KDEMO2RSA0001"));
}

#[tokio::test]
async fn stable_urls_are_reused_within_their_step_and_authorization_still_runs() {
    let key_sets = json!([{"name": "demo", "active": "KDEMO2ECDSA01", "keys": [{"key_pair_id": "KDEMO2ECDSA01", "private_key_file": "dev/demo-ecdsa-private.pem"}]}]);
    let rules = json!([
        {"pattern": "videos/**", "access": "authenticated", "distribution": "demo", "lifetime_seconds": 300, "cache_step_seconds": 60},
        {"pattern": "users/{sub}/**", "access": "authenticated", "distribution": "demo", "lifetime_seconds": 300, "cache_step_seconds": 60}
    ]);
    let app = spawn_app(&[("key_sets", key_sets), ("rules", rules)]).await;
    let (alice, bob) = (token("alice", json!({})), token("bob", json!({})));
    let first = location(&app.get("/files/videos/intro.mp4", Some(&alice)).await);
    let second = location(&app.get("/files/videos/intro.mp4", Some(&bob)).await);
    assert_eq!(
        first, second,
        "one URL per object and step (from the cache: the hit counters below)"
    );
    let v = verify(&first, None);
    assert_eq!(
        v.policy.expires() % 60,
        0,
        "the expiry is rounded to the step"
    );
    assert!(v.policy.expires() >= now() + 299 && v.policy.expires() <= now() + 360);
    assert_ne!(
        location(&app.get("/files/videos/other.mp4", Some(&alice)).await),
        first
    );
    let download = location(
        &app.get("/files/videos/intro.mp4?download=a.mp4", Some(&alice))
            .await,
    );
    assert!(download.contains("response-content-disposition") && download != first);
    assert_eq!(
        location(&app.get("/files/users/alice/x", Some(&alice)).await),
        location(&app.get("/files/users/alice/x", Some(&alice)).await)
    );
    assert_eq!(
        assert_nothing_signed(app.get("/files/users/alice/x", Some(&bob)).await)
            .await
            .0,
        403,
        "a cached URL is never handed to someone the rules refuse"
    );
    // Hits: bob's intro.mp4 and alice's second users/alice/x. Misses: the first of each of
    // the four distinct URLs.
    assert_eq!(app.metric("signgate_url_cache_hits_total").await, 2.0);
    assert_eq!(app.metric("signgate_url_cache_misses_total").await, 4.0);
}

#[tokio::test]
async fn two_processes_with_one_ecdsa_key_sign_byte_identical_stable_urls() {
    for hash in ["sha1", "sha256"] {
        let dir = config_copy(&format!("ecdsa-fleet-{hash}"));
        let env = [
            ("SIGNGATE_KEY_SETS", r#"[{name="demo", active="KDEMO2ECDSA01", keys=[{key_pair_id="KDEMO2ECDSA01", private_key_file="dev/demo-ecdsa-private.pem"}]}]"#.to_owned()),
            ("SIGNGATE_DISTRIBUTIONS", format!(r#"[{{name="demo", url="https://d111111abcdef8.cloudfront.net", key_set="demo", hash="{hash}"}}]"#)),
            ("SIGNGATE_RULES", r#"[{pattern="videos/**", access="authenticated", distribution="demo", lifetime_seconds=300, cache_step_seconds=60}]"#.to_owned()),
        ];
        let one = Signgate::start(SIGNGATE, &dir, &env).await;
        let two = Signgate::start(SIGNGATE, &dir, &env).await;
        let t = token("alice", json!({}));
        let get = |port: u16, key: &'static str| {
            let t = t.clone();
            async move {
                location(
                    &client()
                        .get(format!("http://127.0.0.1:{port}/files/videos/{key}"))
                        .bearer_auth(t)
                        .send()
                        .await
                        .unwrap(),
                )
            }
        };
        for key in ["intro.mp4", "2026/ep1/seg-00017.ts"] {
            // Each process signs the object itself (the first request for it is a miss in each
            // one's own cache). Asked again on the first after the second: if the step changed
            // in between, the pair did not share a step and is asked again.
            let (first, second) = loop {
                let first = get(one.port, key).await;
                let second = get(two.port, key).await;
                if get(one.port, key).await == first {
                    break (first, second);
                }
            };
            assert_eq!(
                first, second,
                "{hash} {key}: the same URL from both processes"
            );
            let v = verify(&first, None);
            assert_eq!(v.key_pair_id.as_str(), "KDEMO2ECDSA01");
            assert_eq!(v.policy.expires() % 60, 0);
            assert_eq!(
                first.contains("Hash-Algorithm=SHA256"),
                hash == "sha256",
                "{first}"
            );
        }
    }
}
