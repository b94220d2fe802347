//! POST /sign: the mobile shape — many keys in one call, per-key errors.

use serde_json::{json, Value};
use signgate_testkit::app::spawn_app;
use signgate_testkit::edge::{edge_distribution, media_files, media_root, media_rules, spawn_edge};
use signgate_testkit::http::assert_nothing_signed;
use signgate_testkit::tokens::token;

#[tokio::test]
async fn fifty_keys_in_one_call_then_each_downloaded_from_the_edge() {
    let root = media_root();
    let edge = spawn_edge(&root).await;
    let app = spawn_app(&[edge_distribution(edge), media_rules()]).await;
    let mut keys: Vec<String> = (0..40).map(|i| format!("public/batch/{i}.bin")).collect();
    keys.extend((0..5).map(|i| format!("users/bob/{i}.txt")));
    keys.extend(
        [
            "users/alice/notes.txt",
            "secret/x",
            "public/../x",
            "public/a*",
            "public/report.pdf",
        ]
        .map(String::from),
    );
    assert_eq!(keys.len(), 50);
    let r = app
        .client
        .post(app.url("/sign"))
        .bearer_auth(token("alice", json!({})))
        .json(&json!({"keys": keys}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "private, no-store");
    let body: Value = r.json().await.unwrap();
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 50);
    let files = media_files();
    let mut downloaded = 0;
    for (key, result) in keys.iter().zip(results) {
        assert_eq!(result["key"], key.as_str());
        let expected_error = if key.starts_with("users/bob/") || key == "secret/x" {
            Some("forbidden")
        } else if key == "public/../x" {
            Some("dot_segment")
        } else if key == "public/a*" {
            Some("reserved_character")
        } else {
            None
        };
        match expected_error {
            Some(code) => {
                assert_eq!(result["error"], code, "{key}");
                assert!(result.get("url").is_none());
            }
            None => {
                let url = result["url"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{key}: {result}"));
                let bytes = app
                    .client
                    .get(url)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                assert_eq!(
                    bytes.to_vec(),
                    files.iter().find(|(p, _)| p == key).unwrap().1,
                    "{key}"
                );
                downloaded += 1;
            }
        }
    }
    assert_eq!(downloaded, 42);
}

#[tokio::test]
async fn batch_limits_and_errors() {
    let app = spawn_app(&[("server.max_batch_keys", json!(10))]).await;
    let t = token("alice", json!({}));
    let eleven: Vec<String> = (0..11).map(|i| format!("public/{i}")).collect();
    let r = app
        .client
        .post(app.url("/sign"))
        .bearer_auth(&t)
        .json(&json!({"keys": eleven}))
        .send()
        .await
        .unwrap();
    assert_eq!(assert_nothing_signed(r).await.0, 413);
    let r = app
        .client
        .post(app.url("/sign"))
        .bearer_auth(&t)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(assert_nothing_signed(r).await.0, 400);
    let huge = format!("{{\"keys\": [\"{}\"]}}", "a".repeat(300 * 1024));
    let r = app
        .client
        .post(app.url("/sign"))
        .bearer_auth(&t)
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(assert_nothing_signed(r).await.0, 413);
    let r = app
        .client
        .post(app.url("/sign"))
        .bearer_auth("bad.token.here")
        .json(&json!({"keys": ["public/a"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(assert_nothing_signed(r).await.0, 401);
    let r = app
        .client
        .post(app.url("/sign"))
        .json(&json!({"keys": ["public/a"]}))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["results"][0]["error"], "unauthenticated");
    assert_eq!(body["results"][0]["status"], 401);
}

#[tokio::test]
async fn an_anonymous_batch_writes_one_audit_line_not_one_per_key() {
    let logs = signgate_testkit::logs::LogCapture::start();
    let app = spawn_app(&[]).await;
    let keys: Vec<String> = (0..20).map(|i| format!("public/{i}.txt")).collect();
    let r = app
        .client
        .post(app.url("/sign"))
        .json(&json!({ "keys": keys }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 20);
    assert!(results.iter().all(|r| r["status"] == 401), "{body}");
    let audit = logs.audit_lines();
    assert_eq!(audit.len(), 1, "{audit:#?}");
    assert_eq!(audit[0]["decision"], "unauthenticated");
    assert_eq!(audit[0]["keys"], 20);
}
