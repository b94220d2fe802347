//! The local edge: serves only what verifies, as CloudFront would, from a folder or an origin.

use serde_json::json;
use signgate_testkit::app::spawn_app;
use signgate_testkit::edge::{
    demo_public_keys, edge_distribution, media_files, media_root, media_rules, spawn_media_app,
};
use signgate_testkit::http::location;
use signgate_testkit::tokens::token;

#[tokio::test]
async fn the_edge_serves_a_signed_url_with_head_and_range() {
    let (app, _edge) = spawn_media_app().await;
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
    let (app, edge) = spawn_media_app().await;
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
async fn the_edge_proxies_an_origin() {
    let root = media_root();
    let origin = spawn_edge_origin(&root).await;
    let edge = signgate::edge::spawn(
        signgate::edge::Edge {
            verifier: signgate::edge::Verifier::CloudFront(demo_public_keys()),
            origin: signgate::edge::Origin::http(&format!("http://{origin}")).unwrap(),
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

/// `signgate edge` with the given extra arguments, which must stop at once with `message`.
fn edge_refuses_to_start(extra: &[&str], message: &str) {
    let root = media_root();
    let repo = env!("CARGO_MANIFEST_DIR");
    let key = format!("KDEMO2RSA0001={repo}/config/dev/demo-rsa-public.pem");
    let mut args = vec![
        "edge",
        "--root",
        root.to_str().unwrap(),
        "--public-key",
        &key,
    ];
    args.extend_from_slice(extra);
    let out = std::process::Command::new(crate::SIGNGATE)
        .args(&args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} started");
    assert!(stderr.contains(message), "{args:?}: {stderr}");
}

#[test]
fn the_edge_needs_a_base_url_viewers_can_name() {
    edge_refuses_to_start(&["--listen", "0.0.0.0:0"], "give --base-url");
    edge_refuses_to_start(&["--listen", "[::]:0"], "give --base-url");
    for bad in [
        "http://127.0.0.1:8081/prefix",
        "http://user@127.0.0.1:8081",
        "127.0.0.1:8081",
        "ftp://127.0.0.1",
    ] {
        edge_refuses_to_start(
            &["--listen", "127.0.0.1:0", "--base-url", bad],
            "--base-url",
        );
    }
}
