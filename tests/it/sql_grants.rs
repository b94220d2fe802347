//! SQL grants: a row allows; decisions cached per subject and object; the database failing
//! fails closed and recovers on its own.

use serde_json::{json, Value};
use signgate_testkit::app::{default_config, settings, spawn_app};
use signgate_testkit::backends::{postgres_url, url_addr, url_via, FaultProxy};
use signgate_testkit::fs::{tempdir, unique};
use signgate_testkit::http::assert_nothing_signed;
use signgate_testkit::tokens::token;

fn grant_rules() -> (&'static str, Value) {
    (
        "rules",
        json!([{"pattern": "shop/**", "access": "authenticated", "distribution": "demo", "grant": "purchases"}]),
    )
}

fn grant(url: &str, query: &str) -> (&'static str, Value) {
    (
        "grants",
        json!([{"name": "purchases", "database_url": url, "query": query, "params": ["subject", "key"],
                        "allow_ttl_seconds": 60, "deny_ttl_seconds": 60, "query_timeout_ms": 500, "connect_timeout_ms": 500}]),
    )
}

#[tokio::test]
async fn sqlite_grants_with_a_per_subject_cache() {
    let dir = tempdir();
    let db = dir.join("shop.sqlite3");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::raw_sql("CREATE TABLE purchases (user_id TEXT, object_key TEXT); INSERT INTO purchases VALUES ('alice', 'shop/a.pdf'), ('bob', 'shop/b.pdf');")
        .execute(&pool)
        .await
        .unwrap();
    let app = spawn_app(&[
        grant(
            &format!("sqlite://{}", db.display()),
            "SELECT 1 FROM purchases WHERE user_id = ?1 AND object_key = ?2",
        ),
        grant_rules(),
    ])
    .await;
    let alice = token("alice", json!({}));
    let bob = token("bob", json!({}));
    assert_eq!(
        app.get("/files/shop/a.pdf", Some(&alice)).await.status(),
        302
    );
    assert_eq!(
        assert_nothing_signed(app.get("/files/shop/b.pdf", Some(&alice)).await)
            .await
            .0,
        403
    );
    assert_eq!(
        app.get("/files/shop/b.pdf", Some(&bob)).await.status(),
        302,
        "decisions are never shared across subjects"
    );
    assert_eq!(
        assert_nothing_signed(app.get("/files/shop/a.pdf", Some(&bob)).await)
            .await
            .0,
        403
    );
    assert_eq!(
        assert_nothing_signed(app.get("/files/shop/a.pdf", None).await)
            .await
            .0,
        401
    );

    // Cached: a revoked purchase stays allowed for the allow TTL, a new one denied for the deny TTL.
    sqlx::raw_sql("DELETE FROM purchases WHERE user_id = 'alice'; INSERT INTO purchases VALUES ('alice', 'shop/b.pdf');").execute(&pool).await.unwrap();
    assert_eq!(
        app.get("/files/shop/a.pdf", Some(&alice)).await.status(),
        302
    );
    assert_eq!(
        app.get("/files/shop/b.pdf", Some(&alice)).await.status(),
        403
    );
    // Injection attempts in the key are only ever bound as values.
    assert_eq!(
        assert_nothing_signed(app.get("/files/shop/x'%20OR%20'1'='1", Some(&alice)).await)
            .await
            .0,
        403
    );
}

#[tokio::test]
async fn a_query_that_does_not_prepare_stops_the_start() {
    let dir = tempdir();
    let db = dir.join("shop.sqlite3");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", db.display()))
        .await
        .unwrap();
    sqlx::raw_sql("CREATE TABLE purchases (user_id TEXT, object_key TEXT)")
        .execute(&pool)
        .await
        .unwrap();
    let s = settings(
        &default_config(),
        &[
            grant(
                &format!("sqlite://{}", db.display()),
                "SELECT 1 FROM no_such_table WHERE a = ?1 AND b = ?2",
            ),
            grant_rules(),
        ],
    )
    .unwrap();
    let err = signgate::app::App::build(&s, None)
        .unwrap()
        .check_backends()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("purchases") && err.contains("no_such_table"),
        "{err}"
    );
    // Placeholder count and statement kind are checked before any connection.
    let err = settings(
        &default_config(),
        &[
            grant("sqlite://x", "SELECT 1 FROM p WHERE a = ?1"),
            grant_rules(),
        ],
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("grants[0].query") && err.contains("placeholder"),
        "{err}"
    );
    let err = settings(
        &default_config(),
        &[
            grant("sqlite://x", "DELETE FROM p WHERE a = ?1 AND b = ?2"),
            grant_rules(),
        ],
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("single SELECT"), "{err}");
}

#[tokio::test]
async fn postgres_grants_fail_closed_during_an_outage_and_recover() {
    let url = postgres_url();
    let schema = unique("sg_grants");
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::raw_sql(&format!(
        "CREATE SCHEMA {schema}; CREATE TABLE {schema}.purchases (user_id text, object_key text); INSERT INTO {schema}.purchases VALUES ('alice', 'shop/a.pdf');"
    ))
    .execute(&pool)
    .await
    .unwrap();
    let proxy = FaultProxy::start(url_addr(&url)).await;
    let query = format!("SELECT 1 FROM {schema}.purchases WHERE user_id = $1 AND object_key = $2");
    let mut g = grant(&url_via(&url, proxy.addr), &query);
    g.1[0]["allow_ttl_seconds"] = json!(0);
    g.1[0]["deny_ttl_seconds"] = json!(0);
    let app = spawn_app(&[g, grant_rules()]).await;
    let alice = token("alice", json!({}));
    assert_eq!(
        app.get("/files/shop/a.pdf", Some(&alice)).await.status(),
        302
    );
    assert_eq!(
        app.get("/files/shop/z.pdf", Some(&alice)).await.status(),
        403
    );

    proxy.down();
    let r = app.get("/files/shop/a.pdf", Some(&alice)).await;
    assert!(r.headers().get("retry-after").is_some());
    assert_eq!(assert_nothing_signed(r).await.0, 503);
    assert_eq!(app.get("/readyz", None).await.status(), 503);

    proxy.up();
    let mut recovered = false;
    for _ in 0..50 {
        if app.get("/files/shop/a.pdf", Some(&alice)).await.status() == 302 {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(recovered, "requests succeed again once Postgres is back");
    sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&pool)
        .await
        .unwrap();
}
