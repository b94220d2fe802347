//! /auth for reverse proxies: 200 with X-Signed-Url, 401 or 403 — never anything else.

use serde_json::json;
use signgate_testkit::app::{spawn_app, TestApp};
use signgate_testkit::edge::verify;
use signgate_testkit::http::assert_nothing_signed;
use signgate_testkit::tokens::token;

async fn auth(app: &TestApp, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = app.client.get(app.url("/auth"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn nginx_style_request_is_signed() {
    let app = spawn_app(&[]).await;
    let bearer = format!("Bearer {}", token("alice", json!({})));
    let r = auth(
        &app,
        &[
            (
                "x-original-uri",
                "/files/users/alice/report.pdf?download=r.pdf",
            ),
            ("x-original-method", "GET"),
            ("authorization", &bearer),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-auth-user"], "alice");
    assert_eq!(r.headers()["cache-control"], "private, no-store");
    let url = r.headers()["x-signed-url"].to_str().unwrap();
    assert!(url.starts_with("https://d111111abcdef8.cloudfront.net/users/alice/report.pdf?response-content-disposition="), "{url}");
    verify(url, None);
}

#[tokio::test]
async fn traefik_and_caddy_style_requests_are_signed() {
    let app = spawn_app(&[]).await;
    let bearer = format!("Bearer {}", token("alice", json!({})));
    let r = auth(
        &app,
        &[
            ("x-forwarded-uri", "/files/public/a.txt"),
            ("x-forwarded-method", "HEAD"),
            ("x-forwarded-host", "files.example.com"),
            ("authorization", &bearer),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    verify(r.headers()["x-signed-url"].to_str().unwrap(), None);
    let r = auth(
        &app,
        &[
            (
                "x-original-url",
                "https://files.example.com/files/public/b.txt",
            ),
            ("authorization", &bearer),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn refusals_are_only_401_or_403() {
    let app = spawn_app(&[]).await;
    let bearer = format!("Bearer {}", token("alice", json!({})));
    let cases: Vec<(Vec<(&str, &str)>, u16)> = vec![
        (vec![("x-original-uri", "/files/public/a.txt")], 401),
        (
            vec![
                ("x-original-uri", "/files/public/a.txt"),
                ("authorization", "Bearer garbage"),
            ],
            401,
        ),
        (
            vec![
                ("x-original-uri", "/files/users/bob/a"),
                ("authorization", &bearer),
            ],
            403,
        ),
        (
            vec![
                ("x-original-uri", "/files/public/../users/bob/a"),
                ("authorization", &bearer),
            ],
            403,
        ),
        (
            vec![
                ("x-original-uri", "/files/public/%2e%2e/x"),
                ("authorization", &bearer),
            ],
            403,
        ),
        (
            vec![
                ("x-original-uri", "/files/public/a%00"),
                ("authorization", &bearer),
            ],
            403,
        ),
        (
            vec![
                ("x-original-uri", "/elsewhere/a"),
                ("authorization", &bearer),
            ],
            403,
        ),
        (vec![("authorization", &bearer)], 403),
        (
            vec![
                ("x-original-uri", "/files/public/a"),
                ("x-original-method", "POST"),
                ("authorization", &bearer),
            ],
            403,
        ),
        (
            vec![
                ("x-original-uri", "/files/public/a"),
                ("x-forwarded-uri", "/files/users/bob/a"),
                ("authorization", &bearer),
            ],
            403,
        ),
        (
            vec![
                ("x-original-uri", "/files/public/a"),
                ("x-original-uri", "/files/public/b"),
                ("authorization", &bearer),
            ],
            403,
        ),
        (
            vec![
                ("x-original-uri", "files/public/a"),
                ("authorization", &bearer),
            ],
            403,
        ),
    ];
    for (headers, expected) in cases {
        let (status, body) = assert_nothing_signed(auth(&app, &headers).await).await;
        assert_eq!(status.as_u16(), expected, "{headers:?}: {body}");
    }
}

#[tokio::test]
async fn headers_from_an_untrusted_peer_are_not_believed() {
    let app = spawn_app(&[("server.trusted_proxies", json!(["10.0.0.0/8"]))]).await;
    let bearer = format!("Bearer {}", token("alice", json!({})));
    let (status, body) = assert_nothing_signed(
        auth(
            &app,
            &[
                ("x-original-uri", "/files/public/a"),
                ("authorization", &bearer),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(status, 403);
    assert!(body.contains("untrusted_proxy"), "{body}");
}

#[tokio::test]
async fn the_request_frames_own_refusals_are_403_on_auth_too() {
    let app = spawn_app(&[]).await;
    let t = token("alice", json!({}));
    let bearer = format!("Bearer {t}");
    let big = "a".repeat(20 * 1024);
    let body_on_get = [
        ("X-Original-URI", "/files/public/a.txt".as_bytes()),
        ("Authorization", bearer.as_bytes()),
        ("Content-Length", b"5".as_slice()),
    ];
    let oversized = [
        ("X-Original-URI", "/files/public/a.txt".as_bytes()),
        ("Authorization", bearer.as_bytes()),
        ("X-Big", big.as_bytes()),
    ];
    for (name, headers, code) in [
        ("body on GET", &body_on_get[..], "body_not_allowed"),
        (
            "oversized header section",
            &oversized[..],
            "headers_too_large",
        ),
    ] {
        let (status, head, body) =
            signgate_testkit::http::raw_request(app.addr, b"/auth", headers).await;
        assert_eq!(status, 403, "{name}: {head}");
        assert!(body.contains(code), "{name}: {body}");
        signgate_testkit::http::assert_raw_nothing_signed(&head, &body);
    }
    // Elsewhere the same refusals keep their own statuses.
    let (status, _, _) =
        signgate_testkit::http::raw_request(app.addr, b"/files/public/a.txt", &oversized[1..])
            .await;
    assert_eq!(status, 431);
}
