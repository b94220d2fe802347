//! JWT authentication: pinned algorithms, key files, JWKS with refetch and outage handling.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use signgate_cloudfront::{KeyPairId, KeyType, SigningKey};

use crate::config::tempdir;
use crate::helpers::*;

fn claims(iss: &str) -> Value {
    json!({"sub": "alice", "iss": iss, "aud": "signgate", "exp": now() + 600})
}

fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn pem_pair(t: KeyType) -> (String, String) {
    let k = SigningKey::generate(KeyPairId::parse("X").unwrap(), t).unwrap();
    (k.private_pkcs8_pem(), k.public_pem())
}

fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn rs256_from_a_key_file_and_no_algorithm_confusion() {
    let dir = tempdir();
    let (private, public) = pem_pair(KeyType::Rsa2048);
    std::fs::write(dir.join("pub.pem"), &public).unwrap();
    let issuers = json!([{"issuer": "rs-issuer", "audience": ["signgate"], "algorithms": ["RS256"], "public_key_file": dir.join("pub.pem")}]);
    let app = spawn_app(&[("auth.jwt.issuers", issuers)]).await;
    let good = sign(
        Algorithm::RS256,
        None,
        &claims("rs-issuer"),
        &EncodingKey::from_rsa_pem(private.as_bytes()).unwrap(),
    );
    assert_eq!(app.get("/files/public/a", Some(&good)).await.status(), 302);

    // RS256 -> HS256 confusion: the public key used as an HMAC secret.
    let confused = hs256(&claims("rs-issuer"), public.as_bytes());
    assert_eq!(
        assert_nothing_signed(app.get("/files/public/a", Some(&confused)).await)
            .await
            .0,
        401
    );

    // alg: none
    let payload = b64url(claims("rs-issuer").to_string().as_bytes());
    let none = format!("{}.{payload}.", b64url(br#"{"alg":"none","typ":"JWT"}"#));
    assert_eq!(
        assert_nothing_signed(app.get("/files/public/a", Some(&none)).await)
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn claims_are_enforced() {
    let app = spawn_app(&[]).await;
    let cases = [
        ("expired", json!({"exp": now() - 120})),
        ("not yet valid", json!({"nbf": now() + 120})),
        ("nbf as a string", json!({"nbf": "0"})),
        ("missing exp", json!({"exp": null})),
        ("wrong audience", json!({"aud": "someone-else"})),
        ("missing audience", json!({"aud": null})),
        ("wrong issuer", json!({"iss": "evil"})),
        ("missing issuer", json!({"iss": null})),
        ("issuer as a list", json!({"iss": ["signgate-dev"]})),
        ("missing subject", json!({"sub": null})),
        ("numeric subject", json!({"sub": 42})),
    ];
    for (what, extra) in cases {
        let t = token("alice", extra);
        let (status, body) =
            assert_nothing_signed(app.get("/files/public/a", Some(&t)).await).await;
        assert_eq!(status, 401, "{what}: {body}");
    }
    // Within the leeway (30 s) an expired token is still accepted.
    assert_eq!(
        app.get(
            "/files/public/a",
            Some(&token("alice", json!({"exp": now() - 5})))
        )
        .await
        .status(),
        302
    );
}

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
async fn a_reload_forgets_remembered_tokens() {
    let (config, original) = config_file("");
    let app = spawn_with(settings(&config, &[]).unwrap()).await;
    let t = token("alice", json!({}));
    assert_eq!(app.get("/files/public/a", Some(&t)).await.status(), 302);
    assert_eq!(app.get("/files/public/a", Some(&t)).await.status(), 302);
    assert_eq!(app.metric("signgate_jwt_cache_hits_total").await, 1.0);
    // The secret is rotated: tokens made with the old one must stop working at once.
    std::fs::write(
        &config,
        original.replace(DEMO_SECRET, "a-rotated-secret-the-old-tokens-do-not-know"),
    )
    .unwrap();
    app.service.reload().unwrap();
    let (status, _) = assert_nothing_signed(app.get("/files/public/a", Some(&t)).await).await;
    assert_eq!(status, 401);
}

/// The issuer `idp` with its JWKS at `{base}/jwks.json`, as TOML to append to a configuration.
fn jwks_issuer_toml(base: &str) -> String {
    format!(
        "\n[[auth.jwt.issuers]]\nissuer = \"idp\"\naudience = [\"signgate\"]\nalgorithms = [\"ES256\"]\njwks_url = \"{base}/jwks.json\"\njwks_min_refresh_seconds = 0\n"
    )
}

/// The default configuration in a temporary file (its relative key paths made absolute) with
/// `extra` TOML appended; returns the path and the text written.
fn config_file(extra: &str) -> (std::path::PathBuf, String) {
    let config = tempdir().join("signgate.toml");
    let config_dir = default_config().parent().unwrap().to_path_buf();
    let text = std::fs::read_to_string(default_config()).unwrap().replace(
        "_file = \"dev/",
        &format!("_file = \"{}/dev/", config_dir.display()),
    ) + extra;
    std::fs::write(&config, &text).unwrap();
    (config, text)
}

#[tokio::test]
async fn a_reload_keeps_the_fetched_jwks_while_the_provider_is_down() {
    let (key, jwk) = ec_jwk("k1");
    let p = provider(json!({"keys": [jwk]}), true).await;
    let (config, _) = config_file(&jwks_issuer_toml(&p.base));
    let app = spawn_with(settings(&config, &[]).unwrap()).await;
    wait_ready(&app).await;
    let first = sign(Algorithm::ES256, Some("k1"), &claims("idp"), &key);
    assert_eq!(app.get("/files/public/a", Some(&first)).await.status(), 302);
    p.up.store(false, Ordering::SeqCst);
    app.service.reload().unwrap();
    // A token the new configuration has never seen (so no remembered verification helps): it
    // verifies with the key set carried over from before the reload.
    let mut other = claims("idp");
    other["sub"] = json!("bob");
    let second = sign(Algorithm::ES256, Some("k1"), &other, &key);
    assert_eq!(
        app.get("/files/public/a", Some(&second)).await.status(),
        302
    );
    assert_eq!(app.get("/readyz", None).await.status(), 200);
    // Without the carried-over keys the same reload would leave nothing to verify with: a
    // fresh start against the provider that is down is not ready and fails closed.
    let fresh = spawn_with(settings(&config, &[]).unwrap()).await;
    let (status, _) =
        assert_nothing_signed(fresh.get("/files/public/a", Some(&second)).await).await;
    assert_eq!(status, 503);
}

#[tokio::test]
async fn a_reload_applies_a_new_request_timeout() {
    // A JWKS provider that answers after two seconds.
    let (key, jwk) = ec_jwk("late");
    let base = slow_jwks_provider(Duration::from_secs(2), json!({"keys": [jwk]})).await;
    let (config, text) = config_file(&jwks_issuer_toml(&base));
    let app = spawn_with(settings(&config, &[]).unwrap()).await;
    std::fs::write(
        &config,
        text.replace("request_timeout_ms = 10000", "request_timeout_ms = 300"),
    )
    .unwrap();
    app.service.reload().unwrap();
    let t = sign(Algorithm::ES256, Some("late"), &claims("idp"), &key);
    let started = std::time::Instant::now();
    let (status, _) = assert_nothing_signed(app.get("/files/public/a", Some(&t)).await).await;
    assert_eq!(status, 503);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "the reloaded 300 ms applied, not the 10 s the process started with"
    );
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

/// A JWKS provider the test controls.
#[derive(Clone)]
struct Provider {
    jwks: Arc<Mutex<Value>>,
    up: Arc<AtomicBool>,
    hits: Arc<AtomicUsize>,
    base: String,
}

async fn jwks(State(p): State<Provider>) -> axum::response::Response {
    p.hits.fetch_add(1, Ordering::SeqCst);
    if !p.up.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    axum::Json(p.jwks.lock().unwrap().clone()).into_response()
}

async fn discovery(State(p): State<Provider>) -> axum::response::Response {
    axum::Json(json!({"issuer": p.base, "jwks_uri": format!("{}/jwks.json", p.base)}))
        .into_response()
}

async fn provider(keys: Value, up: bool) -> Provider {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let p = Provider {
        jwks: Arc::new(Mutex::new(keys)),
        up: Arc::new(AtomicBool::new(up)),
        hits: Arc::new(AtomicUsize::new(0)),
        base,
    };
    let router = axum::Router::new()
        .route("/jwks.json", get(jwks))
        .route("/.well-known/openid-configuration", get(discovery))
        .with_state(p.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    p
}

async fn wait_ready(app: &TestApp) {
    for _ in 0..100 {
        if app.get("/readyz", None).await.status() == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never ready");
}

fn jwks_issuer(url: &str, refresh: u64) -> Value {
    json!([{"issuer": "idp", "audience": ["signgate"], "algorithms": ["ES256"], "jwks_url": url, "jwks_min_refresh_seconds": refresh}])
}

#[tokio::test]
async fn jwks_keys_rotate_with_bounded_refetching() {
    let (key_a, jwk_a) = ec_jwk("a");
    let secret = "an-hmac-secret-published-by-mistake-000";
    let oct = json!({"kty": "oct", "kid": "hs", "k": b64url(secret.as_bytes()), "alg": "HS256"});
    let p = provider(json!({"keys": [jwk_a, oct]}), true).await;
    let app = spawn_app(&[(
        "auth.jwt.issuers",
        jwks_issuer(&format!("{}/jwks.json", p.base), 1),
    )])
    .await;
    wait_ready(&app).await;
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
    let p = provider(json!({"keys": [jwk]}), false).await;
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
    wait_ready(&app).await;
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
    let p = provider(json!({"keys": [jwk]}), true).await;
    let issuers = json!([{"issuer": p.base, "audience": ["signgate"], "algorithms": ["ES256"], "oidc_discovery": true}]);
    let app = spawn_app(&[("auth.jwt.issuers", issuers)]).await;
    wait_ready(&app).await;
    let t = sign(Algorithm::ES256, Some("d1"), &claims(&p.base), &key);
    assert_eq!(app.get("/files/public/a", Some(&t)).await.status(), 302);
}

#[test]
fn tempdirs_are_distinct() {
    assert_ne!(tempdir(), tempdir());
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
