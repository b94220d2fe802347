//! GET /files/{key}: the object key taken from the raw path, the signed 302, HEAD, JSON for
//! apps, and download names inside the signed URL.

use serde_json::{json, Value};
use signgate_testkit::app::spawn_app;
use signgate_testkit::edge::verify;
use signgate_testkit::http::{
    assert_nothing_signed, assert_raw_nothing_signed, location, raw_request,
};
use signgate_testkit::tokens::{now, token};

#[tokio::test]
async fn signed_redirect_for_a_public_object() {
    let app = spawn_app(&[]).await;
    let t = token("alice", json!({}));
    let r = app.get("/files/public/videos/intro.mp4", Some(&t)).await;
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["cache-control"], "private, no-store");
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    let url = location(&r);
    assert!(
        url.starts_with("https://d111111abcdef8.cloudfront.net/public/videos/intro.mp4?Expires="),
        "{url}"
    );
    let v = verify(&url, None);
    assert_eq!(v.key_pair_id, "KDEMO2RSA0001");
    let lifetime = v.policy.expires() - now();
    assert!((295..=300).contains(&lifetime), "lifetime {lifetime}");
}

#[tokio::test]
async fn head_is_answered_like_get() {
    let app = spawn_app(&[]).await;
    let r = app
        .client
        .head(app.url("/files/public/a.txt"))
        .bearer_auth(token("alice", json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    verify(&location(&r), None);
}

#[tokio::test]
async fn json_for_apps() {
    let app = spawn_app(&[]).await;
    let r = app
        .client
        .get(app.url("/files/users/alice/notes%20%C3%A9t%C3%A9.txt"))
        .bearer_auth(token("alice", json!({})))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "private, no-store");
    let body: Value = r.json().await.unwrap();
    let url = body["url"].as_str().unwrap();
    assert!(
        url.starts_with(
            "https://d111111abcdef8.cloudfront.net/users/alice/notes%20%C3%A9t%C3%A9.txt?Expires="
        ),
        "{url}"
    );
    assert_eq!(
        verify(url, None).policy.expires(),
        body["expires_at"].as_u64().unwrap()
    );
}

#[tokio::test]
async fn malformed_object_paths_are_400() {
    let app = spawn_app(&[]).await;
    let t = token("alice", json!({}));
    for path in [
        "/files/public/../users/bob/x",
        "/files/public/%2e%2e/users/bob/x",
        "/files/public/%252e%252e/x",
        "/files/public%2fx",
        "/files/public/a%5cb",
        "/files/public\\a",
        "/files/public//a",
        "/files/public/a%00b",
        "/files/public/a%0d%0ab",
        "/files/public/%c0%ae%c0%ae/x",
        "/files/public/%ff",
        "/files/public/a;x=1",
        "/files/public/*",
        "/files/public/a%3f",
        "/files/public/%zz",
        "/files/",
    ] {
        let auth = format!("Bearer {t}");
        let (status, head, body) = raw_request(
            app.addr,
            path.as_bytes(),
            &[("Authorization", auth.as_bytes())],
        )
        .await;
        assert_raw_nothing_signed(&head, &body);
        assert_eq!(status, 400, "{path}: {body}");
        assert!(
            serde_json::from_str::<Value>(&body).unwrap()["error"].is_string(),
            "{path}: {body}"
        );
    }
    let long = format!("/files/public/{}", "a".repeat(1100));
    assert_eq!(
        assert_nothing_signed(app.get(&long, Some(&t)).await)
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn download_names_go_into_the_signed_url() {
    let app = spawn_app(&[]).await;
    let t = token("alice", json!({}));
    let r = app
        .get(
            "/files/public/r.pdf?download=Rapport%20%C3%A9t%C3%A9.pdf",
            Some(&t),
        )
        .await;
    assert_eq!(r.status(), 302);
    let url = location(&r);
    let expected = "response-content-disposition=attachment%3B%20filename%3D%22Rapport%20_t_.pdf%22%3B%20filename%2A%3DUTF-8%27%27Rapport%2520%25C3%25A9t%25C3%25A9.pdf&Expires=";
    assert!(url.contains(expected), "{url}");
    verify(&url, None);
    let (status, _) = assert_nothing_signed(
        app.get("/files/public/r.pdf?download=a%0d%0ab", Some(&t))
            .await,
    )
    .await;
    assert_eq!(status, 400);
}

/// GET under the files prefix skips the route table (the request frame answers it directly);
/// everything else still goes through it. Both must answer as the table's object routes would.
#[tokio::test]
async fn the_object_route_answers_as_the_route_table_does_for_every_method_and_prefix() {
    let app = spawn_app(&[("server.files_prefix", json!("/media"))]).await;
    let t = token("alice", json!({}));
    let r = app.get("/media/public/a.txt", Some(&t)).await;
    assert_eq!(r.status(), 302);
    verify(&location(&r), None);
    // Not under the prefix: no object route, and nothing signed.
    for path in ["/files/public/a.txt", "/mediax/public/a.txt", "/media"] {
        let r = app.get(path, Some(&t)).await;
        assert_eq!(r.status(), 404, "{path}");
        assert!(r.headers().get("location").is_none(), "{path}");
    }
    // The prefix with an empty key: the table's `{prefix}/` route, a 400 for the key.
    let r = app.get("/media/", Some(&t)).await;
    assert_eq!(r.status(), 400);
    // Other methods on an object path: the table's 405, naming GET and HEAD.
    for method in [
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let r = app
            .client
            .request(method.clone(), app.url("/media/public/a.txt"))
            .bearer_auth(&t)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405, "{method}");
        let allow = r.headers()["allow"].to_str().unwrap().to_owned();
        assert!(allow.contains("GET") && allow.contains("HEAD"), "{allow}");
        assert!(r.headers().get("location").is_none());
    }
    // HEAD still goes through the table and is answered like GET.
    let r = app
        .client
        .head(app.url("/media/public/a.txt"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    // Both paths count their answers under the same route: the GET and the HEAD 302s.
    let metrics = app.metrics_text().await;
    let signed: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("signgate_requests_total{"))
        .filter(|l| l.contains(r#"route="files""#) && l.contains(r#"status="302""#))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(signed, 2.0, "{metrics}");
}
