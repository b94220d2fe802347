//! The request frame every answer passes through: a request id on every answer (kept only from
//! trusted proxies), and a time limit that answers 503 and signs nothing.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::json;
use signgate_testkit::app::spawn_app;
use signgate_testkit::backends::{jwks_issuer, slow_jwks_provider};
use signgate_testkit::http::assert_nothing_signed;
use signgate_testkit::tokens::{claims, ec_jwk, sign};

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
async fn a_request_that_takes_too_long_is_503_and_signs_nothing() {
    let (key, jwk) = ec_jwk("late");
    // The provider answers after the request timeout.
    let base = slow_jwks_provider(Duration::from_secs(2), json!({"keys": [jwk]})).await;
    let app = spawn_app(&[
        (
            "auth.jwt.issuers",
            jwks_issuer(&format!("{base}/jwks.json"), 0),
        ),
        ("server.request_timeout_ms", json!(300)),
    ])
    .await;
    let t = sign(Algorithm::ES256, Some("late"), &claims("idp"), &key);
    let started = std::time::Instant::now();
    let (status, _) = assert_nothing_signed(app.get("/files/public/a", Some(&t)).await).await;
    assert_eq!(status, 503);
    assert!(started.elapsed() < Duration::from_millis(1500));
}
