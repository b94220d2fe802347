//! JWT authentication: algorithms pinned per issuer (no confusion, no `none`), keys from files,
//! and every claim enforced.

use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::json;
use signgate_cloudfront::KeyType;
use signgate_testkit::app::spawn_app;
use signgate_testkit::fs::tempdir;
use signgate_testkit::http::assert_nothing_signed;
use signgate_testkit::tokens::{b64url, claims, hs256, now, pem_pair, sign, token};

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
