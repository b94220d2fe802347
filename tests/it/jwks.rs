//! JWKS: keys fetched from the provider (directly or through OIDC discovery), rotation with
//! bounded refetching, and an unreachable provider failing closed until it answers.

use std::sync::atomic::Ordering;
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use signgate_testkit::app::spawn_app;
use signgate_testkit::backends::{jwks_issuer, JwksProvider};
use signgate_testkit::http::assert_nothing_signed;
use signgate_testkit::tokens::{b64url, claims, ec_jwk, sign};

#[tokio::test]
async fn jwks_keys_rotate_with_bounded_refetching() {
    let (key_a, jwk_a) = ec_jwk("a");
    let secret = "an-hmac-secret-published-by-mistake-000";
    let oct = json!({"kty": "oct", "kid": "hs", "k": b64url(secret.as_bytes()), "alg": "HS256"});
    let p = JwksProvider::start(json!({"keys": [jwk_a, oct]}), true).await;
    let app = spawn_app(&[(
        "auth.jwt.issuers",
        jwks_issuer(&format!("{}/jwks.json", p.base), 1),
    )])
    .await;
    app.wait_ready().await;
    let t = sign(Algorithm::ES256, Some("a"), &claims("idp"), &key_a);
    assert_eq!(app.get("/files/public/a", Some(&t)).await.status(), 302);

    // An oct key in the JWKS is never used, whatever the token says.
    let hs = {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("hs".into());
        jsonwebtoken::encode(
            &h,
            &claims("idp"),
            &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
        )
        .unwrap()
    };
    assert_eq!(
        assert_nothing_signed(app.get("/files/public/a", Some(&hs)).await)
            .await
            .0,
        401
    );

    // The provider rotates to key b; the first token with kid b triggers one refetch.
    let (key_b, jwk_b) = ec_jwk("b");
    *p.jwks.lock().unwrap() = json!({"keys": [jwk_b]});
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = p.hits.load(Ordering::SeqCst);
    let t = sign(Algorithm::ES256, Some("b"), &claims("idp"), &key_b);
    assert_eq!(app.get("/files/public/a", Some(&t)).await.status(), 302);
    assert_eq!(p.hits.load(Ordering::SeqCst), before + 1);

    // Unknown kids within the interval do not hammer the provider.
    for i in 0..5 {
        let t = sign(
            Algorithm::ES256,
            Some(&format!("unknown-{i}")),
            &claims("idp"),
            &key_b,
        );
        assert_eq!(app.get("/files/public/a", Some(&t)).await.status(), 401);
    }
    assert!(
        p.hits.load(Ordering::SeqCst) <= before + 2,
        "refetches are rate limited"
    );
}

#[tokio::test]
async fn unreachable_provider_fails_closed_then_recovers() {
    let (key, jwk) = ec_jwk("k1");
    let p = JwksProvider::start(json!({"keys": [jwk]}), false).await;
    let app = spawn_app(&[(
        "auth.jwt.issuers",
        jwks_issuer(&format!("{}/jwks.json", p.base), 0),
    )])
    .await;
    let t = sign(Algorithm::ES256, Some("k1"), &claims("idp"), &key);
    assert_eq!(app.get("/readyz", None).await.status(), 503);
    let r = app.get("/files/public/a", Some(&t)).await;
    assert!(r.headers().get("retry-after").is_some());
    assert_eq!(assert_nothing_signed(r).await.0, 503);

    p.up.store(true, Ordering::SeqCst);
    app.wait_ready().await;
    assert_eq!(app.get("/files/public/a", Some(&t)).await.status(), 302);

    // Once fetched, keys are kept while the provider is down.
    p.up.store(false, Ordering::SeqCst);
    let unknown = sign(Algorithm::ES256, Some("k2"), &claims("idp"), &key);
    assert_eq!(
        app.get("/files/public/a", Some(&unknown)).await.status(),
        401
    );
    assert_eq!(app.get("/files/public/a", Some(&t)).await.status(), 302);
}

#[tokio::test]
async fn oidc_discovery_finds_the_jwks() {
    let (key, jwk) = ec_jwk("d1");
    let p = JwksProvider::start(json!({"keys": [jwk]}), true).await;
    let issuers = json!([{"issuer": p.base, "audience": ["signgate"], "algorithms": ["ES256"], "oidc_discovery": true}]);
    let app = spawn_app(&[("auth.jwt.issuers", issuers)]).await;
    app.wait_ready().await;
    let t = sign(Algorithm::ES256, Some("d1"), &claims(&p.base), &key);
    assert_eq!(app.get("/files/public/a", Some(&t)).await.status(), 302);
}

#[tokio::test]
async fn a_jwks_urls_query_never_reaches_the_log() {
    let logs = signgate_testkit::logs::LogCapture::start();
    let (_, jwk) = ec_jwk("k");
    let p = JwksProvider::start(json!({"keys": [jwk]}), false).await;
    let url = format!("{}/jwks.json?api_key=s3cret-api-key", p.base);
    let _app = spawn_app(&[("auth.jwt.issuers", jwks_issuer(&url, 1))]).await;
    for _ in 0..100 {
        if logs.text().contains("JWKS fetch failed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let text = logs.text();
    assert!(
        text.contains("JWKS fetch failed"),
        "the failure is logged: {text}"
    );
    assert!(p.hits.load(Ordering::SeqCst) > 0);
    assert!(!text.contains("s3cret-api-key"), "{text}");
}

#[tokio::test]
async fn reloads_while_the_provider_is_down_start_no_more_fetch_loops() {
    let (_, jwk) = ec_jwk("k");
    let p = JwksProvider::start(json!({"keys": [jwk]}), false).await;
    let (config, _) = signgate_testkit::fs::config_file(&format!(
        "\n[[auth.jwt.issuers]]\nissuer = \"idp\"\nalgorithms = [\"ES256\"]\njwks_url = \"{}/jwks.json\"\n",
        p.base
    ));
    let app =
        signgate_testkit::app::spawn_with(signgate_testkit::app::settings(&config, &[]).unwrap())
            .await;
    for _ in 0..5 {
        app.service.reload().unwrap();
    }
    // One loop retries after 0.25 s, 0.75 s, 1.75 s...: three or four fetches in this time. A
    // loop per reload would make it six times as many.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let hits = p.hits.load(Ordering::SeqCst);
    assert!((1..=6).contains(&hits), "{hits} fetches");
}

#[tokio::test]
async fn a_discovered_jwks_uri_must_be_https_outside_loopback() {
    let logs = signgate_testkit::logs::LogCapture::start();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new().route(
        "/.well-known/openid-configuration",
        axum::routing::get(|| async {
            axum::Json(json!({"jwks_uri": "http://keys.example/jwks.json?key=k3y-in-query"}))
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let app = spawn_app(&[(
        "auth.jwt.issuers",
        json!([{"issuer": base, "algorithms": ["ES256"], "oidc_discovery": true}]),
    )])
    .await;
    let mut text = String::new();
    for _ in 0..100 {
        text = logs.text();
        if text.contains("JWKS fetch failed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        text.contains("http://keys.example/jwks.json is not an https:// URL"),
        "{text}"
    );
    assert!(!text.contains("k3y-in-query"), "{text}");
    assert_eq!(app.get("/readyz", None).await.status(), 503);
}
