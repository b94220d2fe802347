//! The README's nginx snippet, run by a real nginx in front of the real signgate:
//! `auth_request` to /auth, `auth_request_set`, and the 302 issued after the access phase.

use serde_json::json;
use signgate_testkit::app::spawn_app;
use signgate_testkit::edge::{edge_distribution, media_root, media_rules, spawn_edge, verify};
use signgate_testkit::http::{
    assert_nothing_signed, assert_raw_nothing_signed, location, raw_request,
};
use signgate_testkit::nginx::{readme_snippet, Nginx};
use signgate_testkit::tokens::token;

/// nginx with the README's snippet in a server whose `auth_request` goes to `signgate`.
async fn start_nginx(signgate: std::net::SocketAddr) -> Nginx {
    let snippet =
        readme_snippet("nginx-snippet", "nginx").replace("127.0.0.1:8080", &signgate.to_string());
    Nginx::start(
        |_| {},
        |port, dir| {
            format!(
                "  server {{\n    listen 127.0.0.1:{port};\n    root {}/html;\n{snippet}\n  }}\n",
                dir.display()
            )
        },
    )
    .await
}

#[tokio::test]
async fn nginx_auth_request_redirects_to_the_signed_url() {
    let root = media_root();
    let edge = spawn_edge(&root).await;
    let app = spawn_app(&[edge_distribution(edge), media_rules()]).await;
    let nginx = start_nginx(app.addr).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |path: &str| nginx.url(path);
    let alice = token("alice", json!({}));

    let r = client
        .get(url("/files/users/alice/notes.txt"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let signed = location(&r);
    assert!(
        signed.starts_with(&format!("http://{edge}/users/alice/notes.txt?Expires=")),
        "{signed}"
    );
    verify(&signed, None);
    // The edge serves the right bytes for that URL.
    let body = client.get(&signed).send().await.unwrap();
    assert_eq!(body.status(), 200);
    assert_eq!(body.bytes().await.unwrap().as_ref(), b"alice's notes");

    let (status, _) = assert_nothing_signed(
        client
            .get(url("/files/users/alice/report.pdf"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = assert_nothing_signed(
        client
            .get(url("/files/users/bob/report.pdf"))
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403);
    let auth = format!("Bearer {alice}");
    let (status, head, body) = raw_request(
        nginx.addr(),
        b"/files/public/%2e%2e/users/bob/x",
        &[("Authorization", auth.as_bytes())],
    )
    .await;
    assert_raw_nothing_signed(&head, &body);
    assert_eq!(status, 403, "malformed paths are refused through nginx too");
}
