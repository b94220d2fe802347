//! The hostile corpus: hundreds of distinct malicious or malformed requests, sent byte for byte
//! over TCP to the real server, one module per class of attack (docs/security.md links each).
//!
//! Every class is one test that hands its cases to [`run`], the one runner: it starts the
//! service with logging captured at trace level (for this test's thread only, see
//! [`LogCapture`]), sends each case as it is, and asserts its status and that nothing signed came
//! back: no signed Location, no X-Signed-Url, no CloudFront cookie, no signature in the body.
//! Then, after normal flows that do sign something, it asserts that the captured log holds an
//! audit line of this run and no token, cookie value, signature or key.
//!
//! One class attacks the local edge instead of the service (`edge`): it has its own runner, which
//! sends each case to the edge and asserts that nothing outside the signed folder is served.

mod edge;
mod forward_auth;
mod framing;
mod headers;
mod paths;
mod patterns;
mod redirects;
mod sessions;
mod tokens;
mod wildcards;

use std::collections::HashSet;
use std::net::SocketAddr;

use serde_json::{json, Value};
use signgate_testkit::app::{repo, spawn_app, TestApp};
use signgate_testkit::edge::{edge_distribution, media_rules};
use signgate_testkit::fs::tempdir;
use signgate_testkit::http::{exchange, location};
use signgate_testkit::logs::LogCapture;
use signgate_testkit::tokens::{token, DEMO_SECRET};

/// `auth.django_session.max_session_bytes` of the hostile app (signed cookies).
pub const MAX_SESSION_BYTES: usize = 4094;

/// What a case must be answered with.
pub enum Expect {
    /// One of these statuses, and nothing signed.
    Unsigned(&'static [u16]),
    /// An authorized caller asking for alice's folder cookies: cookies may be set, but a 302
    /// must land inside `hls/alice/` on the distribution; anything else must be a 400.
    IntoAlicesFolder,
}

/// One request of the corpus.
pub struct Case {
    pub name: String,
    pub method: &'static str,
    pub target: Vec<u8>,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub body: Vec<u8>,
    pub expect: Expect,
}

/// A GET of `target` with `headers` (after Host and Connection), expecting one of `expect` and
/// nothing signed.
pub fn case(
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
        expect: Expect::Unsigned(expect),
    }
}

/// A class's cases, and the secrets they carry that must never reach the log (beyond those
/// [`run`] always looks for).
#[derive(Default)]
pub struct Corpus {
    pub cases: Vec<Case>,
    pub secrets: Vec<(String, String)>,
}

/// What the classes build their cases from.
pub struct Hostile {
    /// A valid token for alice, and `Bearer {alice}`.
    pub alice: String,
    pub bearer: String,
    /// The public key of the `rs-issuer` (RS256) issuer, PEM.
    pub rs_public: String,
    /// tests/fixtures/django/manifest.json.
    pub fixtures: Value,
}

/// Runs one class: at least `at_least` cases from `build`, then the log checks.
pub async fn run(class: &str, at_least: usize, build: fn(&Hostile) -> Corpus) {
    let logs = LogCapture::start();
    let dir = tempdir();
    let (app, rs_public) = spawn_hostile_app(&dir).await;
    let alice = token("alice", json!({}));
    let hostile = Hostile {
        bearer: format!("Bearer {alice}"),
        alice: alice.clone(),
        rs_public,
        fixtures: fixtures(),
    };
    let Corpus { cases, secrets } = build(&hostile);

    let mut names = HashSet::new();
    for c in &cases {
        assert!(
            names.insert(c.name.clone()),
            "duplicate case name {}",
            c.name
        );
        let (status, head, body) = send(app.addr, c).await;
        match c.expect {
            Expect::Unsigned(expect) => assert_unsigned(c, expect, status, &head, &body),
            Expect::IntoAlicesFolder => {
                if status == 302 {
                    let location = location_of(&head);
                    assert!(
                        location.starts_with("http://127.0.0.1:9/hls/alice/"),
                        "{}: {location}",
                        c.name
                    );
                } else {
                    assert_eq!(status, 400, "{}", c.name);
                }
            }
        }
    }
    assert!(
        cases.len() >= at_least,
        "the {class} corpus has {} cases, fewer than {at_least}",
        cases.len()
    );
    eprintln!(
        "hostile {class}: {} distinct requests, none signed",
        cases.len()
    );

    // Normal flows too, so the log has something signed to leak if it ever did.
    let r = app.get("/files/users/alice/a.txt", Some(&alice)).await;
    let request_id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let signed = location(&r);
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

    let text = logs.text();
    assert!(text.contains("signgate::audit"), "logging was captured");
    assert!(
        text.lines()
            .any(|l| l.contains("signgate::audit") && l.contains(&request_id)),
        "this run's audit lines were captured (request {request_id})"
    );
    let mut all_secrets: Vec<(String, String)> = vec![
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
            hostile.fixtures["secret_key"].as_str().unwrap().to_owned(),
        ),
    ];
    all_secrets.extend(secrets);
    for c in hostile.fixtures["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["backend"] == "signed_cookies")
    {
        let v = c["cookie_value"].as_str().unwrap();
        all_secrets.push((
            format!("django cookie {}", c["name"]),
            v.rsplit(':').next().unwrap().to_owned(),
        ));
    }
    let key_pem = std::fs::read_to_string(repo().join("config/dev/demo-rsa-private.pem")).unwrap();
    all_secrets.push((
        "private key".into(),
        key_pem
            .lines()
            .find(|l| l.len() > 60 && !l.contains(' '))
            .unwrap()
            .to_owned(),
    ));
    for (what, secret) in all_secrets {
        assert!(!text.contains(&secret), "{what} appears in the log");
    }
}

/// Status as expected, and nothing signed: no X-Signed-Url, no CloudFront cookie, no signature
/// anywhere, and a redirect only to the login page or into alice's folder.
fn assert_unsigned(c: &Case, expect: &[u16], status: u16, head: &str, body: &str) {
    assert!(
        expect.contains(&status),
        "{}: got {status}, expected {:?}\n{head}\n{body}",
        c.name,
        expect
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
        let location = location_of(head);
        let home = location
            .starts_with("https://app.example.com/login?next=http%3A%2F%2F127.0.0.1%3A8080%2F")
            || location.starts_with("http://127.0.0.1:9/hls/alice/");
        assert!(home, "{}: redirect leaves home: {location}", c.name);
    }
}

fn location_of(head: &str) -> String {
    head.lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("location:")
                .then(|| l[9..].trim().to_owned())
        })
        .unwrap()
}

async fn send(addr: SocketAddr, c: &Case) -> (u16, String, String) {
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

fn fixtures() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/fixtures/django/manifest.json")).unwrap(),
    )
    .unwrap()
}

/// The service with the demo HS256 issuer and an RS256 one (its key made here), Django signed
/// cookies after JWTs, a login page, cookie rules, and no rate limits; returns it and the RS256
/// public key.
async fn spawn_hostile_app(dir: &std::path::Path) -> (TestApp, String) {
    let rs = signgate_cloudfront::SigningKey::generate(
        signgate_cloudfront::KeyPairId::parse("X").unwrap(),
        signgate_cloudfront::KeyType::Rsa2048,
    )
    .unwrap();
    std::fs::write(dir.join("rs.pem"), rs.public_pem()).unwrap();
    let m = fixtures();
    let issuers = json!([
        {"issuer": "signgate-dev", "audience": ["signgate"], "algorithms": ["HS256"], "secret": DEMO_SECRET},
        {"issuer": "rs-issuer", "audience": ["signgate"], "algorithms": ["RS256"], "public_key_file": dir.join("rs.pem")}
    ]);
    // The media rules, and two whose patterns a crafted key could make expensive to match.
    let (_, mut rules) = media_rules();
    let rules_list = rules.as_array_mut().unwrap();
    rules_list.push(json!(
        {"pattern": "archive/*_*_*_*_*_*.pdf", "access": "authenticated", "distribution": "demo"}
    ));
    rules_list.push(json!(
        {"pattern": "**/a/**/a/**/a/**/c", "access": "authenticated", "distribution": "demo"}
    ));
    let app = spawn_app(&[
        edge_distribution("127.0.0.1:9".parse().unwrap()),
        ("rules", rules),
        ("auth.jwt.issuers", issuers),
        ("auth.order", json!(["jwt", "django_session"])),
        (
            "auth.django_session",
            json!({"backend": "signed_cookies", "secret_key": m["secret_key"], "max_session_bytes": MAX_SESSION_BYTES}),
        ),
        ("server.login_url", json!("https://app.example.com/login")),
        ("server.public_url", json!("http://127.0.0.1:8080")),
        ("limits.per_ip_per_second", json!(0)),
        ("limits.per_subject_per_second", json!(0)),
    ])
    .await;
    (app, rs.public_pem())
}
