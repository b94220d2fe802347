//! Rate limits per client IP and per subject: 429 with Retry-After, nothing signed.

use serde_json::json;
use signgate_testkit::app::spawn_app;
use signgate_testkit::http::assert_nothing_signed;
use signgate_testkit::tokens::token;

#[tokio::test]
async fn per_ip_rate_limit_answers_429_with_retry_after() {
    let app = spawn_app(&[
        ("limits.per_ip_per_second", json!(1)),
        ("limits.per_ip_burst", json!(2)),
    ])
    .await;
    let t = token("alice", json!({}));
    assert_eq!(app.get("/files/public/a", Some(&t)).await.status(), 302);
    assert_eq!(app.get("/files/public/a", Some(&t)).await.status(), 302);
    let r = app.get("/files/public/a", Some(&t)).await;
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_eq!(assert_nothing_signed(r).await.0, 429);
}

#[tokio::test]
async fn per_subject_rate_limit() {
    let app = spawn_app(&[
        ("limits.per_subject_per_second", json!(1)),
        ("limits.per_subject_burst", json!(1)),
    ])
    .await;
    assert_eq!(
        app.get("/files/public/a", Some(&token("alice", json!({}))))
            .await
            .status(),
        302
    );
    assert_eq!(
        app.get("/files/public/a", Some(&token("alice", json!({}))))
            .await
            .status(),
        429
    );
    assert_eq!(
        app.get("/files/public/a", Some(&token("bob", json!({}))))
            .await
            .status(),
        302,
        "another subject is not limited"
    );
}
