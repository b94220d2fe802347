//! The hostile corpus: hundreds of distinct malicious or malformed requests, sent byte for byte
//! over TCP to the real server. Each asserts its status and that nothing signed came back: no
//! signed Location, no X-Signed-Url, no CloudFront cookie, no signature in the body. The same run
//! logs at trace level into a buffer, which must contain no token, cookie value, signature or key.

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use signgate_testkit::app::{repo, spawn_app, TestApp};
use signgate_testkit::edge::{edge_distribution, media_rules};
use signgate_testkit::http::{exchange, location};
use signgate_testkit::tokens::{hs256, now, token, DEMO_SECRET};

/// One request of the corpus.
struct Case {
    name: String,
    method: &'static str,
    target: Vec<u8>,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    body: Vec<u8>,
    expect: &'static [u16],
}

fn case(
    name: impl Into<String>,
    target: impl AsRef<[u8]>,
    headers: &[(&str, &[u8])],
    expect: &'static [u16],
) -> Case {
    Case {
        name: name.into(),
        method: "GET",
        target: target.as_ref().to_vec(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.to_vec()))
            .collect(),
        body: Vec::new(),
        expect,
    }
}

async fn send(addr: std::net::SocketAddr, c: &Case) -> (u16, String, String) {
    let mut req = Vec::new();
    req.extend_from_slice(c.method.as_bytes());
    req.push(b' ');
    req.extend_from_slice(&c.target);
    req.extend_from_slice(b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in &c.headers {
        req.extend_from_slice(k);
        req.extend_from_slice(b": ");
        req.extend_from_slice(v);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"\r\n");
    req.extend_from_slice(&c.body);
    exchange(addr, &req).await
}

/// Path suffixes that must never be signed: traversal, encodings, controls, wildcards, lengths.
fn hostile_paths() -> Vec<(String, &'static [u16])> {
    const BAD: &[u16] = &[400];
    let mut p: Vec<(String, &'static [u16])> = [
        "..",
        "../x",
        "public/..",
        "public/../users/bob/x",
        "%2e%2e/x",
        "public/%2e%2e/users/bob/x",
        "public/%2E%2E/users/bob/x",
        "public/.%2e/x",
        "public/%2e./x",
        "public/%252e%252e/x",
        "public/%25252e/x",
        "public%2fusers%2fbob%2fx",
        "public%2Fx",
        "public/a%2fb",
        "public%5cx",
        "public/a%5Cb",
        "public\\x",
        "public\\..\\users\\bob\\x",
        "public/%c0%ae%c0%ae/x",
        "public/%c0%af",
        "public/%e0%80%ae",
        "public/%c1%9c",
        "public/%ff",
        "public/%fe%ff",
        "public/%80",
        "public/%ed%a0%80",
        "public/a;x",
        "public/a;jsessionid=1",
        "public;/x",
        "public/a%3bb",
        "public/a%23frag",
        "public/%23",
        "public//a",
        "public///a",
        "/public/a",
        "public/a/",
        "public/./a",
        "./public/a",
        "public/a%00",
        "public/a%00.pdf",
        "public/%00",
        "public/a%0d%0aX-Injected:%201",
        "public/a%0a",
        "public/a%0d",
        "public/a%09b",
        "public/a%7f",
        "public/a%c2%85",
        "public/a%e2%80%a8",
        "public/a%ef%bb%bf",
        "public/*",
        "public/a*",
        "public/%2a",
        "public/%2A",
        "public/a%3fb",
        "public/a%3F",
        "users/*/x",
        "users/%2a/x",
        "users/alice%2f..%2fbob/x",
        "users/alice/../bob/x",
        "%",
        "public/%",
        "public/%4",
        "public/%zz",
        "public/%%",
        "public/%u002e",
        "public/%2",
        "public/a%2",
        "public/%c3",
        "public/%e2%82",
    ]
    .iter()
    .map(|s| (s.to_string(), BAD))
    .collect();
    p.push((format!("public/{}", "a".repeat(1025)), BAD));
    p.push((format!("public/{}", "%41".repeat(1100)), BAD));
    p.push((format!("public/{}x", "a/".repeat(600)), BAD));
    p.push(("users/bob/x".into(), &[403]));
    p.push(("secret/x".into(), &[403]));
    p.push(("users/alice%20/x".into(), &[403]));
    p
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

async fn spawn_hostile_app(dir: &std::path::Path) -> (TestApp, String) {
    let rs = signgate_cloudfront::SigningKey::generate(
        signgate_cloudfront::KeyPairId::parse("X").unwrap(),
        signgate_cloudfront::KeyType::Rsa2048,
    )
    .unwrap();
    std::fs::write(dir.join("rs.pem"), rs.public_pem()).unwrap();
    let m: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/fixtures/django/manifest.json")).unwrap(),
    )
    .unwrap();
    let issuers = json!([
        {"issuer": "signgate-dev", "audience": ["signgate"], "algorithms": ["HS256"], "secret": DEMO_SECRET},
        {"issuer": "rs-issuer", "audience": ["signgate"], "algorithms": ["RS256"], "public_key_file": dir.join("rs.pem")}
    ]);
    let app = spawn_app(&[
        edge_distribution("127.0.0.1:9".parse().unwrap()),
        media_rules(),
        ("auth.jwt.issuers", issuers),
        ("auth.order", json!(["jwt", "django_session"])),
        (
            "auth.django_session",
            json!({"backend": "signed_cookies", "secret_key": m["secret_key"]}),
        ),
        ("server.login_url", json!("https://app.example.com/login")),
        ("server.public_url", json!("http://127.0.0.1:8080")),
        ("limits.per_ip_per_second", json!(0)),
        ("limits.per_subject_per_second", json!(0)),
    ])
    .await;
    (app, rs.public_pem())
}

/// A tracing writer into a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Buffer {
        self.clone()
    }
}

#[tokio::test]
async fn the_hostile_corpus_never_gets_a_signature_or_a_secret_in_the_logs() {
    let logs = Buffer::default();
    tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .init();

    let dir = std::env::temp_dir().join(format!("signgate-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (app, rs_public) = spawn_hostile_app(&dir).await;
    let alice = token("alice", json!({}));
    let bearer = format!("Bearer {alice}");
    let b = bearer.as_bytes();
    let mut cases: Vec<Case> = Vec::new();

    // Paths, through every entry point.
    for (path, expect) in hostile_paths() {
        cases.push(case(
            format!("files path {path:?}"),
            format!("/files/{path}"),
            &[("Authorization", b)],
            expect,
        ));
        let auth_expect: &'static [u16] = if expect == [400] { &[403] } else { expect };
        cases.push(case(
            format!("auth original uri {path:?}"),
            "/auth",
            &[
                ("Authorization", b),
                ("X-Original-URI", format!("/files/{path}").as_bytes()),
            ],
            auth_expect,
        ));
        // A trailing "/" names the same folder, so some bad keys are merely not granted here.
        let cookie_expect: &'static [u16] = if expect == [400] { &[400, 403] } else { &[403] };
        cases.push(case(
            format!("cookies folder {path:?}"),
            format!("/cookies/{path}"),
            &[("Authorization", b)],
            cookie_expect,
        ));
    }

    // Wildcards that would widen a custom policy, in every shape.
    for key in [
        "hls/alice/*",
        "hls/alice/%2a",
        "hls/*",
        "hls/%2A/x",
        "hls/alice%3Fx",
        "hls/a*ice",
    ] {
        cases.push(case(
            format!("cookie wildcard {key:?}"),
            format!("/cookies/{key}"),
            &[("Authorization", b)],
            &[400, 403],
        ));
    }
    for keys in [
        json!(["public/*"]),
        json!(["public/a?b"]),
        json!(["users/*/x"]),
        json!(["hls/alice/*", "users/bob/x"]),
        json!(["../x", "a\\b", "a\u{0}"]),
    ] {
        let mut c = case(
            format!("batch hostile keys {keys}"),
            "/sign",
            &[("Authorization", b), ("Content-Type", b"application/json")],
            &[200],
        );
        c.method = "POST";
        c.body = json!({"keys": keys}).to_string().into_bytes();
        c.headers.push((
            b"Content-Length".to_vec(),
            c.body.len().to_string().into_bytes(),
        ));
        cases.push(c);
    }

    // Open redirects: the login `next` and the cookie `next` never leave home.
    for (i, host) in [
        "evil.example",
        "app.example.com.evil.example",
        "127.0.0.1:8080@evil.example",
    ]
    .iter()
    .enumerate()
    {
        let mut c = case(
            format!("login next with Host {host}"),
            "/files/public/a",
            &[
                ("Accept", b"text/html"),
                ("X-Forwarded-Host", host.as_bytes()),
            ],
            &[302],
        );
        c.headers
            .push((b"X-Test".to_vec(), i.to_string().into_bytes()));
        cases.push(c);
    }
    for next in [
        "//evil.example",
        "/\\evil.example",
        "/%09/evil.example",
        "https:evil.example",
        "evil.com?.good.com",
        "good.com.evil.com",
        "https://evil.example/",
        "%2f%2fevil.example",
        "..%2f..%2fevil",
        "\\\\evil.example",
        "%5c%5cevil.example",
        "javascript:alert(1)",
    ] {
        cases.push(case(
            format!("cookie next {next:?}"),
            format!("/cookies/hls/alice?next={next}"),
            &[],
            &[400, 401],
        ));
        cases.push(case(
            format!("login next via path {next:?}"),
            format!("/files/{next}"),
            &[("Accept", b"text/html")],
            &[302, 400, 404],
        ));
    }

    // Forwarded headers.
    type ForwardCase<'a> = (&'a str, Vec<(&'a str, Vec<u8>)>, &'static [u16]);
    let fwd: Vec<ForwardCase> = vec![
        (
            "underscore alias",
            vec![("X_Original_URI", b"/files/users/bob/x".to_vec())],
            &[403],
        ),
        (
            "Forwarded header only",
            vec![("Forwarded", b"for=1.2.3.4;host=evil;proto=https".to_vec())],
            &[403],
        ),
        (
            "duplicate original uri",
            vec![
                ("X-Original-URI", b"/files/public/a".to_vec()),
                ("X-Original-URI", b"/files/users/bob/x".to_vec()),
            ],
            &[403],
        ),
        (
            "duplicate forwarded uri",
            vec![
                ("X-Forwarded-Uri", b"/files/public/a".to_vec()),
                ("x-forwarded-uri", b"/files/public/b".to_vec()),
            ],
            &[403],
        ),
        (
            "conflicting original and forwarded",
            vec![
                ("X-Original-URI", b"/files/public/a".to_vec()),
                ("X-Forwarded-Uri", b"/files/users/bob/x".to_vec()),
            ],
            &[403],
        ),
        (
            "conflicting original url",
            vec![
                ("X-Original-URI", b"/files/public/a".to_vec()),
                ("X-Original-URL", b"https://h/files/users/bob/x".to_vec()),
            ],
            &[403],
        ),
        (
            "original url without path",
            vec![("X-Original-URL", b"https://evil.example".to_vec())],
            &[403],
        ),
        (
            "relative original uri",
            vec![("X-Original-URI", b"files/public/a".to_vec())],
            &[403],
        ),
        (
            "original uri with fragment",
            vec![("X-Original-URI", b"/files/public/a#x".to_vec())],
            &[403],
        ),
        (
            "POST original method",
            vec![
                ("X-Original-URI", b"/files/public/a".to_vec()),
                ("X-Original-Method", b"POST".to_vec()),
            ],
            &[403],
        ),
        (
            "DELETE forwarded method",
            vec![
                ("X-Forwarded-Uri", b"/files/public/a".to_vec()),
                ("X-Forwarded-Method", b"DELETE".to_vec()),
            ],
            &[403],
        ),
        (
            "lowercase get",
            vec![
                ("X-Original-URI", b"/files/public/a".to_vec()),
                ("X-Original-Method", b"get".to_vec()),
            ],
            &[403],
        ),
        (
            "non UTF-8 original uri",
            vec![("X-Original-URI", b"/files/public/\xff".to_vec())],
            &[403],
        ),
        (
            "outside the prefix",
            vec![("X-Original-URI", b"/filesx/public/a".to_vec())],
            &[403],
        ),
        (
            "prefix without key",
            vec![("X-Original-URI", b"/files".to_vec())],
            &[403],
        ),
        (
            "encoded prefix",
            vec![("X-Original-URI", b"/%66iles/public/a".to_vec())],
            &[403],
        ),
        (
            "absolute url in uri header",
            vec![("X-Original-URI", b"http://evil/files/public/a".to_vec())],
            &[403],
        ),
    ];
    for (name, headers, expect) in fwd {
        let mut hs: Vec<(&str, &[u8])> = vec![("Authorization", b)];
        hs.extend(headers.iter().map(|(k, v)| (*k, v.as_slice())));
        cases.push(case(format!("forward auth {name}"), "/auth", &hs, expect));
    }
    // A path and a conflicting original URI on /files: the path is what counts.
    cases.push(case(
        "files path with a conflicting original uri",
        "/files/users/bob/x",
        &[
            ("Authorization", b),
            ("X-Original-URI", b"/files/users/alice/x"),
        ],
        &[403],
    ));

    // Sizes and framing.
    let big = vec![b'a'; 100 * 1024];
    cases.push(case(
        "oversized header",
        "/files/public/a",
        &[("Authorization", b), ("X-Big", &big)],
        &[431, 400],
    ));
    cases.push(case(
        "oversized cookie",
        "/files/public/a",
        &[(
            "Cookie",
            format!("signgate_token={}", "a".repeat(100 * 1024)).as_bytes(),
        )],
        &[431, 400],
    ));
    cases.push(case(
        "oversized uri",
        format!("/files/public/{}", "a".repeat(70 * 1024)),
        &[("Authorization", b)],
        &[414, 400, 431],
    ));
    cases.push(case(
        "non UTF-8 authorization",
        "/files/public/a",
        &[("Authorization", b"Bearer \xff\xfe")],
        &[401],
    ));
    cases.push(case(
        "non UTF-8 cookie",
        "/files/public/a",
        &[("Cookie", b"signgate_token=\xff\xfe")],
        &[401],
    ));
    cases.push(case(
        "non UTF-8 accept",
        "/files/users/bob/a",
        &[("Authorization", b), ("Accept", b"\xff")],
        &[403],
    ));
    let mut dup_cl = case(
        "duplicate content-length",
        "/files/public/a",
        &[
            ("Authorization", b),
            ("Content-Length", b"0"),
            ("Content-Length", b"5"),
        ],
        &[400],
    );
    dup_cl.body = b"hello".to_vec();
    cases.push(dup_cl);
    let mut te = case(
        "transfer-encoding on GET",
        "/files/public/a",
        &[("Authorization", b), ("Transfer-Encoding", b"chunked")],
        &[400],
    );
    te.body = b"5\r\nhello\r\n0\r\n\r\n".to_vec();
    cases.push(te);
    let mut cl_body = case(
        "content-length body on GET",
        "/files/public/a",
        &[("Authorization", b), ("Content-Length", b"5")],
        &[400],
    );
    cl_body.body = b"hello".to_vec();
    cases.push(cl_body);
    let mut te_cl = case(
        "transfer-encoding and content-length",
        "/files/public/a",
        &[
            ("Authorization", b),
            ("Transfer-Encoding", b"chunked"),
            ("Content-Length", b"4"),
        ],
        &[400],
    );
    te_cl.body = b"0\r\n\r\n".to_vec();
    cases.push(te_cl);
    cases.push(case(
        "two authorization headers",
        "/files/public/a",
        &[("Authorization", b), ("Authorization", b)],
        &[401],
    ));
    cases.push(case(
        "bearer and a forged cookie",
        "/files/users/bob/a",
        &[("Authorization", b), ("Cookie", b"signgate_token=x.y.z")],
        &[403],
    ));
    cases.push(case(
        "duplicate token cookies",
        "/files/public/a",
        &[(
            "Cookie",
            format!("signgate_token={alice}; signgate_token={alice}").as_bytes(),
        )],
        &[401],
    ));
    cases.push(case(
        "basic scheme",
        "/files/public/a",
        &[("Authorization", b"Basic YWxpY2U6cHc=")],
        &[401],
    ));
    cases.push(case(
        "empty bearer",
        "/files/public/a",
        &[("Authorization", b"Bearer ")],
        &[401],
    ));
    cases.push(case(
        "bearer twice",
        "/files/public/a",
        &[("Authorization", format!("Bearer Bearer {alice}").as_bytes())],
        &[401],
    ));

    // Tokens, through every entry point.
    for (name, tok, expect) in hostile_tokens(&rs_public) {
        let auth = format!("Bearer {tok}");
        let a = auth.as_bytes();
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

    // Django sessions: every fixture that is not valid, and hand-forged values.
    let fixtures: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/fixtures/django/manifest.json")).unwrap(),
    )
    .unwrap();
    for c in fixtures["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["backend"] == "signed_cookies" && c["expected"]["outcome"] != "valid")
    {
        let cookie = format!("sessionid={}", c["cookie_value"].as_str().unwrap());
        cases.push(case(
            format!("django {}", c["name"]),
            "/files/users/42/a.txt",
            &[("Cookie", cookie.as_bytes())],
            &[401],
        ));
    }
    // Valid Django cookies from 2025 are expired by now's clock.
    for c in fixtures["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["backend"] == "signed_cookies" && c["expected"]["outcome"] == "valid")
    {
        let cookie = format!("sessionid={}", c["cookie_value"].as_str().unwrap());
        cases.push(case(
            format!("django replayed {}", c["name"]),
            "/files/users/42/a.txt",
            &[("Cookie", cookie.as_bytes())],
            &[401],
        ));
    }
    for forged in [
        "x",
        ".",
        "::",
        "a:b:c",
        ".eJw:1uLhM8:AAAA",
        "e30:1uLhM8:",
        &"A".repeat(5000),
        "e30:zzzzzzzzzzzz:abc",
        ".%00:1:2",
    ] {
        cases.push(case(
            format!("django forged {:?}", &forged[..forged.len().min(20)]),
            "/files/users/42/a.txt",
            &[("Cookie", format!("sessionid={forged}").as_bytes())],
            &[401],
        ));
    }

    // Run them all.
    let mut names = HashSet::new();
    for c in &cases {
        assert!(
            names.insert(c.name.clone()),
            "duplicate case name {}",
            c.name
        );
        let (status, head, body) = send(app.addr, c).await;
        assert!(
            c.expect.contains(&status),
            "{}: got {status}, expected {:?}\n{head}\n{body}",
            c.name,
            c.expect
        );
        let lower = head.to_ascii_lowercase();
        assert!(!lower.contains("x-signed-url"), "{}: X-Signed-Url", c.name);
        assert!(
            !lower.contains("set-cookie: cloudfront-"),
            "{}: CloudFront cookie",
            c.name
        );
        assert!(
            !head.contains("Signature=") && !body.contains("Signature="),
            "{}: a signature came back\n{head}\n{body}",
            c.name
        );
        if status == 302 {
            let location = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .starts_with("location:")
                        .then(|| l[9..].trim().to_owned())
                })
                .unwrap();
            let home = location
                .starts_with("https://app.example.com/login?next=http%3A%2F%2F127.0.0.1%3A8080%2F")
                || location.starts_with("http://127.0.0.1:9/hls/alice/");
            assert!(home, "{}: redirect leaves home: {location}", c.name);
        }
    }
    assert!(cases.len() >= 300, "the corpus has {} cases", cases.len());

    // An authorized caller's `next` can only ever lead into the folder the cookies cover.
    for next in [
        "//evil.example",
        "/\\evil.example",
        "https:evil.example",
        "good.com.evil.com",
        "%2f%2fevil.example",
        "javascript:alert(1)",
    ] {
        let (status, head, _) = send(
            app.addr,
            &case(
                "next",
                format!("/cookies/hls/alice?next={next}"),
                &[("Authorization", b)],
                &[],
            ),
        )
        .await;
        if status == 302 {
            let location = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .starts_with("location:")
                        .then(|| l[9..].trim().to_owned())
                })
                .unwrap();
            assert!(
                location.starts_with("http://127.0.0.1:9/hls/alice/"),
                "{next}: {location}"
            );
        } else {
            assert_eq!(status, 400, "{next}");
        }
    }
    eprintln!(
        "hostile corpus: {} distinct requests, none signed",
        cases.len()
    );

    // Normal flows too, so the log has something signed to leak if it ever did.
    let signed = location(&app.get("/files/users/alice/a.txt", Some(&alice)).await);
    let signature = signed
        .split("Signature=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let cookie_set = app
        .get("/cookies/hls/alice", Some(&alice))
        .await
        .text()
        .await
        .unwrap();
    let cookie_sig = serde_json::from_str::<Value>(&cookie_set).unwrap()["cookies"][1]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("signgate::audit"), "logging was captured");
    let mut secrets: Vec<(String, String)> = vec![
        ("token".into(), alice.clone()),
        (
            "token signature".into(),
            alice.rsplit('.').next().unwrap().to_owned(),
        ),
        ("URL signature".into(), signature),
        ("cookie signature".into(), cookie_sig),
        ("demo secret".into(), DEMO_SECRET.to_owned()),
        (
            "django secret".into(),
            fixtures["secret_key"].as_str().unwrap().to_owned(),
        ),
    ];
    for (name, tok, _) in hostile_tokens(&rs_public) {
        if let Some(sig) = tok.rsplit('.').next().filter(|s| s.len() > 20) {
            secrets.push((format!("signature of hostile token {name}"), sig.to_owned()));
        }
    }
    for c in fixtures["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["backend"] == "signed_cookies")
    {
        let v = c["cookie_value"].as_str().unwrap();
        secrets.push((
            format!("django cookie {}", c["name"]),
            v.rsplit(':').next().unwrap().to_owned(),
        ));
    }
    let key_pem = std::fs::read_to_string(repo().join("config/dev/demo-rsa-private.pem")).unwrap();
    secrets.push((
        "private key".into(),
        key_pem
            .lines()
            .find(|l| l.len() > 60 && !l.contains(' '))
            .unwrap()
            .to_owned(),
    ));
    for (what, secret) in secrets {
        assert!(!text.contains(&secret), "{what} appears in the log");
    }
}
