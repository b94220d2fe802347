//! Hostile JWTs through every entry point (`/files`, `/auth`, `/cookies`, `/sign` and the token
//! cookie): `alg: none`, algorithm confusion, wrong or rotated-out secrets, bad claims, injected
//! `kid`s, broken shapes; and valid tokens whose subject can never match a folder.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use signgate_testkit::tokens::{hs256, now, token};

use super::{case, run, Corpus, Hostile};

#[tokio::test]
async fn the_hostile_corpus_never_gets_a_signature_or_a_secret_in_the_logs() {
    run("tokens", 199, cases).await;
}

fn cases(h: &Hostile) -> Corpus {
    let mut cases = Vec::new();
    let mut secrets = Vec::new();
    // Tokens, through every entry point.
    for (name, tok, expect) in hostile_tokens(&h.rs_public) {
        let auth = format!("Bearer {tok}");
        let a = auth.as_bytes();
        if let Some(sig) = tok.rsplit('.').next().filter(|s| s.len() > 20) {
            secrets.push((format!("signature of hostile token {name}"), sig.to_owned()));
        }
        cases.push(case(
            format!("jwt {name} on files"),
            "/files/users/alice/a.txt",
            &[("Authorization", a)],
            expect,
        ));
        cases.push(case(
            format!("jwt {name} on auth"),
            "/auth",
            &[
                ("Authorization", a),
                ("X-Original-URI", b"/files/users/alice/a.txt"),
            ],
            expect,
        ));
        let cookie_expect: &'static [u16] = if expect == [403] { &[403] } else { &[401] };
        cases.push(case(
            format!("jwt {name} on cookies"),
            "/cookies/hls/alice",
            &[("Authorization", a)],
            cookie_expect,
        ));
        let mut c = case(
            format!("jwt {name} on batch"),
            "/sign",
            &[("Authorization", a), ("Content-Type", b"application/json")],
            if expect == [403] { &[200] } else { &[401] },
        );
        c.method = "POST";
        c.body = br#"{"keys": ["users/alice/a.txt"]}"#.to_vec();
        c.headers.push((
            b"Content-Length".to_vec(),
            c.body.len().to_string().into_bytes(),
        ));
        cases.push(c);
        if tok.len() < 4000 {
            cases.push(case(
                format!("jwt {name} in the cookie"),
                "/files/users/alice/a.txt",
                &[("Cookie", format!("signgate_token={tok}").as_bytes())],
                expect,
            ));
        }
    }
    Corpus { cases, secrets }
}

/// JWTs that must be refused (401), or that authenticate a subject who can never match (403).
fn hostile_tokens(rs_public_pem: &str) -> Vec<(String, String, &'static [u16])> {
    let now = now();
    let std_claims =
        json!({"sub": "alice", "iss": "signgate-dev", "aud": "signgate", "exp": now + 600});
    let with = |extra: Value| {
        let mut c = std_claims.clone();
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };
    let raw = |header: &str, payload: &Value, sig: &str| {
        format!(
            "{}.{}.{sig}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        )
    };
    let good = token("alice", json!({}));
    let (h, rest) = good.split_once('.').unwrap();
    let (p, s) = rest.split_once('.').unwrap();
    const NO: &[u16] = &[401];
    let mut t: Vec<(String, String, &'static [u16])> = vec![
        (
            "alg none".into(),
            raw(r#"{"alg":"none","typ":"JWT"}"#, &std_claims, ""),
            NO,
        ),
        (
            "alg None".into(),
            raw(r#"{"alg":"None"}"#, &std_claims, ""),
            NO,
        ),
        (
            "alg NONE".into(),
            raw(r#"{"alg":"NONE"}"#, &std_claims, ""),
            NO,
        ),
        (
            "alg none with signature".into(),
            raw(r#"{"alg":"none"}"#, &std_claims, s),
            NO,
        ),
        (
            "alg HS256 header swapped to RS256".into(),
            format!(
                "{}.{p}.{s}",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#)
            ),
            NO,
        ),
        (
            "wrong secret".into(),
            hs256(&std_claims, b"not-the-demo-secret-but-32-bytes-long!"),
            NO,
        ),
        (
            "RS256 public key used as HS256 secret".into(),
            hs256(&with(json!({"iss": "rs-issuer"})), rs_public_pem.as_bytes()),
            NO,
        ),
        (
            "rotated-out secret".into(),
            hs256(&std_claims, b"signgate-demo-secret-of-last-year-0000000"),
            NO,
        ),
        (
            "expired".into(),
            token("alice", json!({"exp": now - 3600})),
            NO,
        ),
        (
            "expired beyond leeway".into(),
            token("alice", json!({"exp": now - 31})),
            NO,
        ),
        (
            "nbf in the future".into(),
            token("alice", json!({"nbf": now + 3600})),
            NO,
        ),
        (
            "nbf as a string".into(),
            token("alice", json!({"nbf": "0"})),
            NO,
        ),
        (
            "exp as a string".into(),
            token("alice", json!({"exp": (now + 600).to_string()})),
            NO,
        ),
        (
            "exp as a float string".into(),
            token("alice", json!({"exp": "1e20"})),
            NO,
        ),
        (
            "missing exp".into(),
            token("alice", json!({"exp": null})),
            NO,
        ),
        (
            "wrong iss".into(),
            token("alice", json!({"iss": "evil"})),
            NO,
        ),
        (
            "iss as an array".into(),
            token("alice", json!({"iss": ["signgate-dev"]})),
            NO,
        ),
        (
            "missing iss".into(),
            token("alice", json!({"iss": null})),
            NO,
        ),
        (
            "wrong aud".into(),
            token("alice", json!({"aud": "evil"})),
            NO,
        ),
        (
            "aud list without ours".into(),
            token("alice", json!({"aud": ["a", "b"]})),
            NO,
        ),
        (
            "missing aud".into(),
            token("alice", json!({"aud": null})),
            NO,
        ),
        (
            "missing sub".into(),
            token("alice", json!({"sub": null})),
            NO,
        ),
        ("empty sub".into(), token("", json!({})), NO),
        ("numeric sub".into(), token("alice", json!({"sub": 7})), NO),
        (
            "sub with a control character".into(),
            token("ali\u{0}ce", json!({})),
            NO,
        ),
        (
            "unknown kid".into(),
            {
                let mut hd = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
                hd.kid = Some("nope".into());
                hd.jku = Some("https://evil.example/jwks".into());
                jsonwebtoken::encode(
                    &hd,
                    &std_claims,
                    &jsonwebtoken::EncodingKey::from_secret(
                        b"attacker-secret-attacker-secret-0000",
                    )
                    .unwrap(),
                )
                .unwrap()
            },
            NO,
        ),
        (
            "injected kid".into(),
            {
                let mut hd = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
                hd.kid = Some("../../../../dev/null".into());
                jsonwebtoken::encode(
                    &hd,
                    &std_claims,
                    &jsonwebtoken::EncodingKey::from_secret(b"")
                        .unwrap_or_else(|_| jsonwebtoken::EncodingKey::from_secret(b"x").unwrap()),
                )
                .unwrap()
            },
            NO,
        ),
        ("truncated".into(), good[..good.len() - 5].to_string(), NO),
        ("signature removed".into(), format!("{h}.{p}."), NO),
        ("two parts".into(), format!("{h}.{p}"), NO),
        ("four parts".into(), format!("{good}.x"), NO),
        (
            "five parts (JWE shape)".into(),
            format!("{h}.{p}.{s}.a.b"),
            NO,
        ),
        (
            "header not JSON".into(),
            format!("{}.{p}.{s}", URL_SAFE_NO_PAD.encode("not json")),
            NO,
        ),
        (
            "payload not JSON".into(),
            format!("{h}.{}.{s}", URL_SAFE_NO_PAD.encode("not json")),
            NO,
        ),
        (
            "payload altered".into(),
            format!(
                "{h}.{}.{s}",
                URL_SAFE_NO_PAD.encode(with(json!({"sub": "bob"})).to_string())
            ),
            NO,
        ),
        (
            "huge token".into(),
            format!("{h}.{}.{s}", "A".repeat(9000)),
            NO,
        ),
        ("token with padding".into(), format!("{good}=="), NO),
    ];
    t.push((
        "sub with a slash".into(),
        token("alice/../bob", json!({})),
        &[403],
    ));
    t.push((
        "sub that is a wildcard".into(),
        token("*", json!({})),
        &[403],
    ));
    t.push(("sub with dots".into(), token("..", json!({})), &[403]));
    t
}
