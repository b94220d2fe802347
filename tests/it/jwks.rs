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
