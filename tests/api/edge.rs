//! The local edge: serves only what verifies, as CloudFront would; signed cookies for folders.

use serde_json::{json, Value};

use crate::helpers::*;

async fn setup() -> (TestApp, std::net::SocketAddr) {
    let root = media_root();
    let edge = spawn_edge(&root).await;
    let app = spawn_app(&[edge_distribution(edge), media_rules()]).await;
    (app, edge)
}

#[tokio::test]
async fn the_edge_serves_a_signed_url_with_head_and_range() {
    let (app, _edge) = setup().await;
    let t = token("alice", json!({}));
    let signed = location(
        &app.get("/files/public/report.pdf?download=Q3.pdf", Some(&t))
            .await,
    );
    let r = app.client.get(&signed).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"Q3.pdf\""
    );
    let expected = media_files()
        .into_iter()
        .find(|(p, _)| p == "public/report.pdf")
        .unwrap()
        .1;
    assert_eq!(r.bytes().await.unwrap().to_vec(), expected);

    let head = app.client.head(&signed).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"],
        expected.len().to_string().as_str()
    );

    let range = app
        .client
        .get(&signed)
        .header("range", "bytes=2-5")
        .send()
        .await
        .unwrap();
    assert_eq!(range.status(), 206);
    assert_eq!(
        range.bytes().await.unwrap().to_vec(),
        expected[2..=5].to_vec()
    );
}

#[tokio::test]
async fn the_edge_refuses_with_cloudfront_wording() {
    let (app, edge) = setup().await;
    let t = token("alice", json!({}));
    let signed = location(&app.get("/files/public/report.pdf", Some(&t)).await);
    let cases = [
        (
            format!("http://{edge}/public/report.pdf"),
            "Missing Key-Pair-Id query parameter or cookie value",
        ),
        (
            signed.replace("report.pdf", "other.pdf"),
            "Invalid Signature",
        ),
        (
            signed.replace("Key-Pair-Id=KDEMO2RSA0001", "Key-Pair-Id=KUNKNOWN"),
            "Unknown Key",
        ),
        (
            signed.replace("Signature=", "Signature=AAAA"),
            "Invalid Signature",
        ),
    ];
    for (url, message) in cases {
        let r = app.client.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 403, "{url}");
        assert_eq!(r.headers()["content-type"], "text/xml");
        let body = r.text().await.unwrap();
        assert!(
            body.contains("<Code>AccessDenied</Code>") && body.contains(message),
            "{url}: {body}"
        );
    }
}

#[tokio::test]
async fn folder_cookies_open_a_rendition_and_nothing_else() {
    let (app, edge) = setup().await;
    let t = token("alice", json!({}));
    let r = app
        .get("/cookies/hls/alice?next=master.m3u8", Some(&t))
        .await;
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r), format!("http://{edge}/hls/alice/master.m3u8"));
    let set: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(set.len(), 3, "{set:?}");
    for c in &set {
        assert!(
            c.contains("; Path=/hls/alice/; Max-Age=600") && c.contains("; HttpOnly; SameSite=Lax"),
            "{c}"
        );
        assert!(!c.contains("Domain="), "host-only: {c}");
    }
    let names: Vec<&str> = set.iter().map(|c| c.split('=').next().unwrap()).collect();
    assert_eq!(
        names,
        [
            "CloudFront-Policy",
            "CloudFront-Signature",
            "CloudFront-Key-Pair-Id"
        ]
    );
    let jar = set
        .iter()
        .map(|c| c.split(';').next().unwrap())
        .collect::<Vec<_>>()
        .join("; ");

    for file in ["master.m3u8", "seg0.ts", "seg1.ts"] {
        let r = app
            .client
            .get(format!("http://{edge}/hls/alice/{file}"))
            .header("cookie", &jar)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{file}");
        let expected = media_files()
            .into_iter()
            .find(|(p, _)| p == &format!("hls/alice/{file}"))
            .unwrap()
            .1;
        assert_eq!(r.bytes().await.unwrap().to_vec(), expected);
    }
    let other = app
        .client
        .get(format!("http://{edge}/hls/bob/master.m3u8"))
        .header("cookie", &jar)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 403);
    assert!(other
        .text()
        .await
        .unwrap()
        .contains("Resource does not match"));

    // Another user's folder is never granted; parent folders neither.
    assert_eq!(
        assert_nothing_signed(app.get("/cookies/hls/bob", Some(&t)).await)
            .await
            .0,
        403
    );
    assert_eq!(
        assert_nothing_signed(app.get("/cookies/hls", Some(&t)).await)
            .await
            .0,
        403
    );
    assert_eq!(
        assert_nothing_signed(app.get("/cookies/public", Some(&t)).await)
            .await
            .0,
        403,
        "not a cookie rule"
    );
    assert_eq!(
        assert_nothing_signed(app.get("/cookies/hls/alice", None).await)
            .await
            .0,
        401
    );
    assert_eq!(
        assert_nothing_signed(app.get("/cookies/hls/alice?next=../bob/x", Some(&t)).await)
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn folder_cookies_as_json_for_apps() {
    let (app, _edge) = setup().await;
    let r = app
        .get("/cookies/hls/alice", Some(&token("alice", json!({}))))
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(body["resource"].as_str().unwrap().ends_with("/hls/alice/*"));
    assert_eq!(body["cookies"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn the_edge_proxies_an_origin() {
    let root = media_root();
    let origin = spawn_edge_origin(&root).await;
    let edge = signgate::edge::spawn(
        signgate::edge::Edge {
            keys: demo_public_keys(),
            origin: signgate::edge::Origin::Http {
                base: format!("http://{origin}"),
                client: reqwest::Client::new(),
            },
            base_url: None,
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let app = spawn_app(&[edge_distribution(edge), media_rules()]).await;
    let signed = location(
        &app.get(
            "/files/users/alice/notes.txt",
            Some(&token("alice", json!({}))),
        )
        .await,
    );
    let r = app
        .client
        .get(&signed)
        .header("range", "bytes=0-4")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.text().await.unwrap(), "alice");
    assert_eq!(
        app.client
            .get(format!("http://{edge}/users/alice/notes.txt"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
}

/// A plain static file server standing in for an origin.
async fn spawn_edge_origin(root: &std::path::Path) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new().fallback_service(tower_http::services::ServeDir::new(root));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

#[tokio::test]
async fn folder_cookies_never_bypass_a_stricter_earlier_rule() {
    let rules = json!([
        {"pattern": "videos/*/drm/**", "access": "authenticated", "distribution": "demo", "require": [{"claim": "roles", "any_of": ["premium"]}]},
        {"pattern": "videos/*/**", "access": "authenticated", "distribution": "demo", "cookies": true},
        {"pattern": "clips/*/**", "access": "authenticated", "distribution": "demo", "cookies": true}
    ]);
    let app = spawn_app(&[
        edge_distribution("127.0.0.1:9".parse().unwrap()),
        ("rules", rules),
    ])
    .await;
    let t = token("alice", json!({}));
    assert_eq!(
        assert_nothing_signed(app.get("/files/videos/42/drm/seg.ts", Some(&t)).await)
            .await
            .0,
        403
    );
    assert_eq!(
        assert_nothing_signed(app.get("/cookies/videos/42", Some(&t)).await)
            .await
            .0,
        403,
        "cookies for videos/42 would cover drm/"
    );
    assert_eq!(
        app.get("/cookies/clips/7", Some(&t)).await.status(),
        200,
        "no earlier rule touches clips/7"
    );
}
