//! Rate limits per client IP and per subject: 429 with Retry-After, nothing signed; [`shared`]:
//! the same limits counted in Redis by several replicas.

mod shared;

use serde_json::json;
use signgate_testkit::app::spawn_app;
use signgate_testkit::http::assert_nothing_signed;
use signgate_testkit::tokens::token;

#[tokio::test]
async fn per_ip_rate_limit_answers_429_with_retry_after() {
    let app = spawn_app(&[
        ("limits.per_ip_per_second", json!(1)),
        ("limits.per_ip_burst", json!(2)),
        ("server.max_batch_keys", json!(2)),
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
        ("server.max_batch_keys", json!(1)),
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

#[tokio::test]
async fn a_batch_is_charged_one_unit_per_key_all_or_nothing() {
    let app = spawn_app(&[
        ("limits.per_subject_per_second", json!(1)),
        ("limits.per_subject_burst", json!(10)),
        ("server.max_batch_keys", json!(8)),
    ])
    .await;
    let sign = |keys: Vec<String>, who: &str| {
        app.client
            .post(app.url("/sign"))
            .bearer_auth(token(who, json!({})))
            .json(&json!({ "keys": keys }))
            .send()
    };
    let eight: Vec<String> = (0..8).map(|i| format!("public/{i}.ts")).collect();
    let r = sign(eight.clone(), "alice").await.unwrap();
    assert_eq!(r.status(), 200);
    // 8 of 10 units are spent: another batch of 8 is refused whole, before any signature.
    let (status, _) = assert_nothing_signed(sign(eight.clone(), "alice").await.unwrap()).await;
    assert_eq!(status, 429);
    // What is left still buys a request of one.
    assert_eq!(
        app.get("/files/public/a", Some(&token("alice", json!({}))))
            .await
            .status(),
        302
    );
    assert_eq!(
        sign(eight, "bob").await.unwrap().status(),
        200,
        "bob has his own"
    );
}

#[tokio::test]
async fn anonymous_batches_are_charged_to_the_client_address() {
    let rules = json!([{"pattern": "open/**", "access": "public", "distribution": "demo"}]);
    let app = spawn_app(&[
        ("rules", rules),
        ("limits.per_ip_per_second", json!(1)),
        ("limits.per_ip_burst", json!(12)),
        ("server.max_batch_keys", json!(10)),
    ])
    .await;
    let keys: Vec<String> = (0..10).map(|i| format!("open/{i}.ts")).collect();
    let post = || {
        app.client
            .post(app.url("/sign"))
            .json(&json!({ "keys": keys }))
            .send()
    };
    assert_eq!(post().await.unwrap().status(), 200);
    let (status, _) = assert_nothing_signed(post().await.unwrap()).await;
    assert_eq!(status, 429);
}

#[tokio::test]
async fn a_burst_that_cannot_hold_the_largest_batch_stops_the_start() {
    let overrides = [
        ("limits.per_subject_per_second", json!(5)),
        ("limits.per_subject_burst", json!(20)),
        ("server.max_batch_keys", json!(100)),
    ];
    let err = signgate_testkit::app::settings(&signgate_testkit::app::default_config(), &overrides)
        .expect_err("refused");
    let message = format!("{err:#}");
    assert!(
        message.contains("limits.per_subject_burst: 20 is below server.max_batch_keys (100)"),
        "{message}"
    );
}

#[tokio::test]
async fn grant_queries_are_charged_and_cached_decisions_are_not() {
    let dir = signgate_testkit::fs::tempdir();
    let db = dir.join("grants.sqlite3");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", db.display()))
        .await
        .unwrap();
    sqlx::raw_sql("CREATE TABLE p (user_id TEXT, object_key TEXT);")
        .execute(&pool)
        .await
        .unwrap();
    let grants = json!([{"name": "p", "database_url": format!("sqlite://{}", db.display()),
        "query": "SELECT 1 FROM p WHERE user_id = ?1 AND object_key = ?2", "params": ["subject", "key"],
        "allow_ttl_seconds": 60, "deny_ttl_seconds": 60}]);
    let rules = json!([{"pattern": "shop/**", "access": "authenticated", "distribution": "demo", "grant": "p"}]);
    let app = spawn_app(&[
        ("grants", grants),
        ("rules", rules),
        ("limits.per_subject_per_second", json!(1)),
        ("limits.per_subject_burst", json!(100)),
        ("server.max_batch_keys", json!(100)),
    ])
    .await;
    let t = token("mallory", json!({}));
    // Each new object costs its request and its query: 2 units; 100 units last 50 objects.
    let mut answered = 0;
    for i in 0..60 {
        let status = app
            .get(&format!("/files/shop/{i}.pdf"), Some(&t))
            .await
            .status();
        if status == 429 {
            break;
        }
        assert_eq!(status, 403, "no grant row: denied");
        answered += 1;
    }
    assert_eq!(
        answered, 50,
        "a denied object is a query, and a query is work"
    );
    // A cached decision costs only the request: a second subject asks one object again and again.
    let t = token("eve", json!({}));
    let mut answered = 0;
    for _ in 0..120 {
        if app.get("/files/shop/0.pdf", Some(&t)).await.status() == 429 {
            break;
        }
        answered += 1;
    }
    assert_eq!(
        answered, 99,
        "one query, then 98 cached answers and the 99 requests"
    );
}
