//! GET /files/{key}: the signed 302, JSON for apps, and every refusal.

use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn signed_redirect_for_a_public_object() {
    let app = spawn_app(&[]).await;
    let t = token("alice", json!({}));
    let r = app.get("/files/public/videos/intro.mp4", Some(&t)).await;
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["cache-control"], "private, no-store");
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    let url = location(&r);
    assert!(
        url.starts_with("https://d111111abcdef8.cloudfront.net/public/videos/intro.mp4?Expires="),
        "{url}"
    );
    let v = verify(&url, None);
    assert_eq!(v.key_pair_id, "KDEMO2RSA0001");
    let lifetime = v.policy.expires() - now();
    assert!((295..=300).contains(&lifetime), "lifetime {lifetime}");
}

#[tokio::test]
async fn head_is_answered_like_get() {
    let app = spawn_app(&[]).await;
    let r = app
        .client
        .head(app.url("/files/public/a.txt"))
        .bearer_auth(token("alice", json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    verify(&location(&r), None);
}

#[tokio::test]
async fn json_for_apps() {
    let app = spawn_app(&[]).await;
    let r = app
        .client
        .get(app.url("/files/users/alice/notes%20%C3%A9t%C3%A9.txt"))
        .bearer_auth(token("alice", json!({})))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "private, no-store");
    let body: Value = r.json().await.unwrap();
    let url = body["url"].as_str().unwrap();
    assert!(
        url.starts_with(
            "https://d111111abcdef8.cloudfront.net/users/alice/notes%20%C3%A9t%C3%A9.txt?Expires="
        ),
        "{url}"
    );
    assert_eq!(
        verify(url, None).policy.expires(),
        body["expires_at"].as_u64().unwrap()
    );
}

#[tokio::test]
async fn token_from_the_cookie() {
    let app = spawn_app(&[]).await;
    let cookie = format!("other=1; signgate_token={}", token("alice", json!({})));
    let r = app
        .client
        .get(app.url("/files/public/a"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
}

#[tokio::test]
async fn each_user_reads_only_their_folder() {
    let app = spawn_app(&[]).await;
    let alice = token("alice", json!({}));
    assert_eq!(
        app.get("/files/users/alice/a.pdf", Some(&alice))
            .await
            .status(),
        302
    );
    let (status, body) =
        assert_nothing_signed(app.get("/files/users/bob/a.pdf", Some(&alice)).await).await;
    assert_eq!(status, 403);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        "forbidden"
    );
    let (status, _) = assert_nothing_signed(app.get("/files/secret/x", Some(&alice)).await).await;
    assert_eq!(status, 403, "no rule matches: denied by default");
}

#[tokio::test]
async fn not_found_hides_existence_when_configured() {
    let app = spawn_app(&[("server.deny_as_not_found", json!(true))]).await;
    let (status, _) = assert_nothing_signed(
        app.get("/files/users/bob/a.pdf", Some(&token("alice", json!({}))))
            .await,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn no_credential_is_401_with_a_bearer_challenge() {
    let app = spawn_app(&[]).await;
    let r = app.get("/files/public/a.txt", None).await;
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let (status, body) = assert_nothing_signed(r).await;
    assert_eq!(status, 401);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        "unauthenticated"
    );
}

#[tokio::test]
async fn an_invalid_credential_is_401_even_for_public_objects() {
    let rules = json!([
        {"pattern": "open/**", "access": "public", "distribution": "demo"},
        {"pattern": "public/**", "access": "authenticated", "distribution": "demo"}
    ]);
    let app = spawn_app(&[("rules", rules)]).await;
    assert_eq!(
        app.get("/files/open/a", None).await.status(),
        302,
        "public needs no login"
    );
    let forged = hs256(
        &json!({"sub": "alice", "iss": "signgate-dev", "aud": "signgate", "exp": now() + 60}),
        b"another-secret-of-at-least-32-bytes!!",
    );
    let r = app.get("/files/open/a", Some(&forged)).await;
    assert_eq!(
        r.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
    let (status, body) = assert_nothing_signed(r).await;
    assert_eq!(status, 401);
    assert!(!body.contains(&forged), "the token never appears in a body");
}

#[tokio::test]
async fn malformed_object_paths_are_400() {
    let app = spawn_app(&[]).await;
    let t = token("alice", json!({}));
    for path in [
        "/files/public/../users/bob/x",
        "/files/public/%2e%2e/users/bob/x",
        "/files/public/%252e%252e/x",
        "/files/public%2fx",
        "/files/public/a%5cb",
        "/files/public\\a",
        "/files/public//a",
        "/files/public/a%00b",
        "/files/public/a%0d%0ab",
        "/files/public/%c0%ae%c0%ae/x",
        "/files/public/%ff",
        "/files/public/a;x=1",
        "/files/public/*",
        "/files/public/a%3f",
        "/files/public/%zz",
        "/files/",
    ] {
        let auth = format!("Bearer {t}");
        let (status, head, body) = raw_request(
            app.addr,
            path.as_bytes(),
            &[("Authorization", auth.as_bytes())],
        )
        .await;
        assert_raw_nothing_signed(&head, &body);
        assert_eq!(status, 400, "{path}: {body}");
        assert!(
            serde_json::from_str::<Value>(&body).unwrap()["error"].is_string(),
            "{path}: {body}"
        );
    }
    let long = format!("/files/public/{}", "a".repeat(1100));
    assert_eq!(
        assert_nothing_signed(app.get(&long, Some(&t)).await)
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn download_names_go_into_the_signed_url() {
    let app = spawn_app(&[]).await;
    let t = token("alice", json!({}));
    let r = app
        .get(
            "/files/public/r.pdf?download=Rapport%20%C3%A9t%C3%A9.pdf",
            Some(&t),
        )
        .await;
    assert_eq!(r.status(), 302);
    let url = location(&r);
    let expected = "response-content-disposition=attachment%3B%20filename%3D%22Rapport%20_t_.pdf%22%3B%20filename%2A%3DUTF-8%27%27Rapport%2520%25C3%25A9t%25C3%25A9.pdf&Expires=";
    assert!(url.contains(expected), "{url}");
    verify(&url, None);
    let (status, _) = assert_nothing_signed(
        app.get("/files/public/r.pdf?download=a%0d%0ab", Some(&t))
            .await,
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn browsers_go_to_the_login_page_and_come_back_here() {
    let app = spawn_app(&[
        ("server.login_url", json!("https://app.example.com/login")),
        ("server.public_url", json!("https://files.example.com")),
    ])
    .await;
    let r = app
        .client
        .get(app.url("/files/public/a%20b.txt?download=x.txt"))
        .header("accept", "text/html,application/xhtml+xml")
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(
        location(&r),
        "https://app.example.com/login?next=https%3A%2F%2Ffiles.example.com%2Ffiles%2Fpublic%2Fa%2520b.txt%3Fdownload%3Dx.txt"
    );
    // Non-browsers still get a 401.
    assert_eq!(app.get("/files/public/a", None).await.status(), 401);
}

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
async fn role_requirements() {
    let rules = json!([{"pattern": "staff/**", "access": "authenticated", "distribution": "demo", "require": [{"claim": "roles", "any_of": ["staff", "admin"]}]}]);
    let app = spawn_app(&[("rules", rules)]).await;
    assert_eq!(
        app.get(
            "/files/staff/a",
            Some(&token("alice", json!({"roles": ["staff"]})))
        )
        .await
        .status(),
        302
    );
    assert_eq!(
        app.get(
            "/files/staff/a",
            Some(&token("bob", json!({"roles": ["guest"]})))
        )
        .await
        .status(),
        403
    );
    assert_eq!(
        app.get("/files/staff/a", Some(&token("eve", json!({}))))
            .await
            .status(),
        403
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
async fn per_ip_rate_limit_answers_429_with_retry_after() {
    let app = spawn_app(&[
        ("limits.per_ip_per_second", json!(1)),
        ("limits.per_ip_burst", json!(2)),
    ])
    .await;
    let t = token("alice", json!({}));
    assert_eq!(app.get("/files/public/a", Some(&t)).await.status(), 302);
    assert_eq!(app.get("/files/public/a", Some(&t)).await.status(), 302);
    let r = app.get("/files/public/a", Some(&t)).await;
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_eq!(assert_nothing_signed(r).await.0, 429);
}

#[tokio::test]
async fn per_subject_rate_limit() {
    let app = spawn_app(&[
        ("limits.per_subject_per_second", json!(1)),
        ("limits.per_subject_burst", json!(1)),
    ])
    .await;
    assert_eq!(
        app.get("/files/public/a", Some(&token("alice", json!({}))))
            .await
            .status(),
        302
    );
    assert_eq!(
        app.get("/files/public/a", Some(&token("alice", json!({}))))
            .await
            .status(),
        429
    );
    assert_eq!(
        app.get("/files/public/a", Some(&token("bob", json!({}))))
            .await
            .status(),
        302,
        "another subject is not limited"
    );
}

#[tokio::test]
async fn health_readiness_metrics_and_unknown_routes() {
    let app = spawn_app(&[]).await;
    assert_eq!(app.get("/healthz", None).await.status(), 200);
    assert_eq!(app.get("/readyz", None).await.status(), 200);
    assert_eq!(app.get("/nope", None).await.status(), 404);
    app.get("/files/public/a", Some(&token("alice", json!({}))))
        .await;
    app.get("/files/public/a", Some("not-a-token")).await;
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains("signgate_requests_total{route=\"files\",outcome=\"signed\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("signgate_auth_failures_total{reason=\"malformed\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("signgate_signing_seconds_count 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn every_answer_carries_a_request_id() {
    let app = spawn_app(&[]).await;
    let id = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let is_uuid = |s: &str| uuid::Uuid::parse_str(s).is_ok();
    // Made here, and different for each request.
    let (a, b) = (
        app.get("/files/public/a", None).await,
        app.get("/files/public/a", None).await,
    );
    assert!(is_uuid(&id(&a)) && is_uuid(&id(&b)) && id(&a) != id(&b));
    // Refusals before any route carry one too.
    let long = format!("/files/{}", "a".repeat(9000));
    let r = app.client.get(app.url(&long)).send().await.unwrap();
    assert_eq!(r.status(), 414);
    assert!(is_uuid(&id(&r)));
    // A trusted proxy's id is kept (the default configuration trusts loopback); one that is too
    // long or not visible ASCII is replaced.
    let get_with = |value: String| {
        app.client
            .get(app.url("/files/public/a"))
            .header("x-request-id", value)
            .send()
    };
    assert_eq!(
        id(&get_with("proxy-7f3a".into()).await.unwrap()),
        "proxy-7f3a"
    );
    for bad in ["x".repeat(129), "two words".into(), "tab\there".into()] {
        let r = get_with(bad.clone()).await.unwrap();
        assert!(is_uuid(&id(&r)), "{bad:?} was replaced");
    }
    // From a client that is not a trusted proxy, even a well-formed id is replaced: nobody
    // picks the id their own requests are audited under.
    let direct = spawn_app(&[("server.trusted_proxies", serde_json::json!([]))]).await;
    let r = direct
        .client
        .get(direct.url("/files/public/a"))
        .header("x-request-id", "proxy-7f3a")
        .send()
        .await
        .unwrap();
    assert!(is_uuid(&id(&r)));
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
        "ECDSA signatures are randomized: equal URLs come from the cache"
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
