//! The verified-token cache (docs/decisions/0003-verified-token-cache.md): only a token that
//! passed every check is remembered, by its exact text, and it still expires on time.

use std::time::Duration;

use serde_json::{json, Value};
use signgate_testkit::app::spawn_app;
use signgate_testkit::http::assert_nothing_signed;
use signgate_testkit::tokens::{b64url, now, token, DEMO_SECRET};

fn issuer_with_leeway(leeway: u64) -> Value {
    json!([{"issuer": "signgate-dev", "audience": ["signgate"], "algorithms": ["HS256"], "secret": DEMO_SECRET, "leeway_seconds": leeway}])
}

#[tokio::test]
async fn a_remembered_token_still_expires_on_time() {
    let app = spawn_app(&[("auth.jwt.issuers", issuer_with_leeway(0))]).await;
    // `exp` is whole seconds: a token valid for the rest of this second and the next one.
    let exp = now() + 1;
    let t = token("alice", json!({"exp": exp}));
    assert_eq!(app.get("/files/public/a", Some(&t)).await.status(), 302);
    assert_eq!(app.get("/files/public/a", Some(&t)).await.status(), 302);
    assert_eq!(app.metric("signgate_jwt_cache_hits_total").await, 1.0);
    while now() <= exp {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = assert_nothing_signed(app.get("/files/public/a", Some(&t)).await).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("expired"), "{body}");
}

#[tokio::test]
async fn a_refused_token_is_never_remembered() {
    // Not valid yet (leeway 0): refused every time, never a cache hit.
    let app = spawn_app(&[("auth.jwt.issuers", issuer_with_leeway(0))]).await;
    let t = token("alice", json!({"nbf": now() + 3}));
    for _ in 0..2 {
        let (status, _) = assert_nothing_signed(app.get("/files/public/a", Some(&t)).await).await;
        assert_eq!(status, 401);
    }
    assert_eq!(app.metric("signgate_jwt_cache_hits_total").await, 0.0);
}

#[tokio::test]
async fn only_the_exact_token_is_remembered() {
    let app = spawn_app(&[]).await;
    let good = token("alice", json!({}));
    assert_eq!(app.get("/files/public/a", Some(&good)).await.status(), 302);
    let (head, signature) = good.rsplit_once('.').unwrap();
    let header = head.split_once('.').unwrap().0;
    let swap = |c: char| if c == 'A' { 'B' } else { 'A' };
    let mut first = signature.chars();
    let other_first = swap(first.next().unwrap());
    let forged_payload = b64url(
        json!({"sub": "mallory", "iss": "signgate-dev", "aud": "signgate", "exp": now() + 600})
            .to_string()
            .as_bytes(),
    );
    let variants = [
        format!("{head}.{other_first}{}", first.as_str()),
        format!("{good}A"),
        format!("{header}.{forged_payload}.{signature}"),
        good[..good.len() - 1].to_owned(),
    ];
    for v in &variants {
        let (status, body) = assert_nothing_signed(app.get("/files/public/a", Some(v)).await).await;
        assert_eq!(status, 401, "{v}: {body}");
    }
    assert_eq!(app.get("/files/public/a", Some(&good)).await.status(), 302);
    assert_eq!(app.metric("signgate_jwt_cache_hits_total").await, 1.0);
}

#[tokio::test]
async fn the_token_cache_can_be_turned_off() {
    let app = spawn_app(&[("auth.jwt.verified_cache_seconds", json!(0))]).await;
    let t = token("alice", json!({}));
    for _ in 0..3 {
        assert_eq!(app.get("/files/public/a", Some(&t)).await.status(), 302);
    }
    assert_eq!(app.metric("signgate_jwt_cache_hits_total").await, 0.0);
    assert_eq!(app.metric("signgate_jwt_cache_misses_total").await, 0.0);
}

#[tokio::test]
async fn the_credential_check_still_runs_on_tokens_not_remembered() {
    // Remembered tokens are looked up as sent, before the credential check; anything not found
    // is checked before it is verified. A correctly signed token longer than a token may be is
    // refused by that check alone (verification would accept it).
    let app = spawn_app(&[]).await;
    let long = token("alice", json!({"pad": "x".repeat(9000)}));
    assert!(long.len() > 8192, "{}", long.len());
    for _ in 0..2 {
        let (status, body) =
            assert_nothing_signed(app.get("/files/public/a", Some(&long)).await).await;
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("malformed"), "{body}");
    }
    // Bytes no token has, around a remembered token, are not that token.
    let good = token("alice", json!({}));
    assert_eq!(app.get("/files/public/a", Some(&good)).await.status(), 302);
    for v in [
        format!("{good}!"),
        format!("{good}%"),
        format!("!{good}"),
        format!("{good},{good}"),
    ] {
        let (status, body) =
            assert_nothing_signed(app.get("/files/public/a", Some(&v)).await).await;
        assert_eq!(status, 401, "{v}: {body}");
        assert!(body.contains("malformed"), "{v}: {body}");
    }
    // The spaces around a token are not part of it: the same remembered token.
    let spaced = format!("  {good}  ");
    assert_eq!(
        app.get("/files/public/a", Some(&spaced)).await.status(),
        302
    );
    assert_eq!(app.metric("signgate_jwt_cache_hits_total").await, 1.0);
}
