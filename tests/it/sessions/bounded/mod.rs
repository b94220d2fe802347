//! Sessions longer than `max_session_bytes` are refused (401 `session_too_large`, audited and
//! counted) without being read: at the bound and one byte past it in Redis (a JSON value and a
//! hash), PostgreSQL, SQLite and signed cookies. [`memory`]: the real binary's peak memory while
//! many requests for a 16 MiB session run at once.

mod memory;

use serde_json::{json, Value};
use signgate_testkit::app::{repo, spawn_app, TestApp};
use signgate_testkit::backends::{postgres_url, redis_url};
use signgate_testkit::django::{session_of_len, DB_SALT, SIGNED_COOKIES_SALT};
use signgate_testkit::edge::verify;
use signgate_testkit::fs::{tempdir, unique};
use signgate_testkit::http::assert_nothing_signed;
use signgate_testkit::logs::LogCapture;
use signgate_testkit::tokens::now;

use super::django::manifest;
use super::{get_with_cookie, rules};

/// A bound both a Django value and one a byte longer can be made at (see `session_of_len`).
const DJANGO_BOUND: usize = 4094;

/// Asserts a 401 `session_too_large` with a challenge and nothing signed.
async fn assert_too_large(r: reqwest::Response, what: &str) {
    assert!(
        r.headers().get("www-authenticate").is_some(),
        "{what}: a 401 carries WWW-Authenticate"
    );
    let (status, body) = assert_nothing_signed(r).await;
    assert_eq!(status, 401, "{what}: {body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"], "session_too_large", "{what}");
}

/// The refusals were audited and counted as authentication failures.
async fn assert_audited_and_counted(app: &TestApp, logs: &LogCapture, refused: usize) {
    let metrics = app.metrics_text().await;
    let line = format!("signgate_auth_failures_total{{reason=\"session_too_large\"}} {refused}");
    assert!(metrics.contains(&line), "{line} in\n{metrics}");
    let audited = logs
        .audit_lines()
        .iter()
        .filter(|l| l["decision"] == "unauthenticated" && l["reason"] == "session_too_large")
        .count();
    assert_eq!(audited, refused, "one audit line per refusal");
}

pub(super) async fn redis_conn() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

fn redis_session(prefix: &str, format: &str, max: usize) -> Vec<(&'static str, Value)> {
    vec![
        ("auth.order", json!(["jwt", "redis_session"])),
        (
            "auth.redis_session",
            json!({"url": redis_url(), "cookie": "sid", "key_prefix": prefix, "format": format,
                   "subject_field": "user_id", "max_session_bytes": max}),
        ),
        rules(),
    ]
}

/// `{"user_id":"{subject}","pad":"xx…"}`, exactly `len` bytes long.
pub(super) fn json_session_of_len(subject: &str, len: usize) -> String {
    let head = format!(r#"{{"user_id":"{subject}","pad":""#);
    format!("{head}{}\"}}", "x".repeat(len - head.len() - 2))
}

#[tokio::test]
async fn a_redis_value_at_the_bound_is_read_and_one_byte_longer_is_refused_unread() {
    let logs = LogCapture::start();
    let prefix = format!("{}:", unique("sgbound"));
    let mut conn = redis_conn().await;
    for (id, len) in [("at", 4096), ("over", 4097)] {
        let _: () = redis::cmd("SET")
            .arg(format!("{prefix}{id}"))
            .arg(json_session_of_len("alice", len))
            .arg("EX")
            .arg(60)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    let _: () = redis::cmd("HSET")
        .arg(format!("{prefix}hash"))
        .arg("user_id")
        .arg("alice")
        .query_async(&mut conn)
        .await
        .unwrap();
    let app = spawn_app(&redis_session(&prefix, "json", 4096)).await;
    let r = get_with_cookie(&app, "/files/users/alice/a.txt", "sid=at").await;
    assert_eq!(r.status(), 200);
    verify(
        r.json::<Value>().await.unwrap()["url"].as_str().unwrap(),
        None,
    );
    let r = get_with_cookie(&app, "/files/users/alice/a.txt", "sid=over").await;
    assert_too_large(r, "4097 bytes").await;
    // Redis forgets its scripts (a restart, a failover, SCRIPT FLUSH): signgate loads it again.
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut conn)
        .await
        .unwrap();
    let r = get_with_cookie(&app, "/files/users/alice/a.txt", "sid=over").await;
    assert_too_large(r, "4097 bytes, after SCRIPT FLUSH").await;
    let r = get_with_cookie(&app, "/files/users/alice/a.txt", "sid=at").await;
    assert_eq!(r.status(), 200, "after SCRIPT FLUSH");
    // A hash where a JSON string belongs is the store returning garbage, as before.
    let r = get_with_cookie(&app, "/files/users/alice/a.txt", "sid=hash").await;
    assert_eq!(assert_nothing_signed(r).await.0, 503);
    assert_audited_and_counted(&app, &logs, 2).await;
    let _: () = redis::cmd("DEL")
        .arg(&[
            format!("{prefix}at"),
            format!("{prefix}over"),
            format!("{prefix}hash"),
        ])
        .query_async(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_redis_hash_counts_its_names_and_values_and_its_fields() {
    let prefix = format!("{}:", unique("sgbound"));
    let mut conn = redis_conn().await;
    // user_id + alice + pad + the padding: 12 + 3 + the padding's length.
    let hashes: Vec<(&str, Vec<(String, String)>)> = vec![
        ("at", vec![("pad".into(), "x".repeat(8192 - 15))]),
        ("over", vec![("pad".into(), "x".repeat(8192 - 14))]),
        // 1024 fields are read (well within the bytes); 1025 are refused, however short.
        (
            "fields",
            (1..1024)
                .map(|i| (format!("f{i}"), String::new()))
                .collect(),
        ),
        (
            "more",
            (1..1025)
                .map(|i| (format!("f{i}"), String::new()))
                .collect(),
        ),
    ];
    for (id, fields) in &hashes {
        let mut cmd = redis::cmd("HSET");
        cmd.arg(format!("{prefix}{id}")).arg("user_id").arg("alice");
        for (name, value) in fields {
            cmd.arg(name).arg(value);
        }
        let _: () = cmd.query_async(&mut conn).await.unwrap();
    }
    let app = spawn_app(&redis_session(&prefix, "hash", 8192)).await;
    for id in ["at", "fields"] {
        let r = get_with_cookie(&app, "/files/users/alice/a.txt", &format!("sid={id}")).await;
        assert_eq!(r.status(), 200, "{id}");
    }
    for id in ["over", "more"] {
        let r = get_with_cookie(&app, "/files/users/alice/a.txt", &format!("sid={id}")).await;
        assert_too_large(r, id).await;
    }
    let keys: Vec<String> = hashes
        .iter()
        .map(|(id, _)| format!("{prefix}{id}"))
        .collect();
    let _: () = redis::cmd("DEL")
        .arg(&keys)
        .query_async(&mut conn)
        .await
        .unwrap();
}

fn django_db(url: &str, table: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("auth.order", json!(["jwt", "django_session"])),
        (
            "auth.django_session",
            json!({"backend": "db", "secret_key": manifest()["secret_key"], "database_url": url,
                   "table": table, "max_session_bytes": DJANGO_BOUND}),
        ),
        rules(),
    ]
}

/// Session keys (Django's form: lower-case letters and digits) and their rows' values, at the
/// bound and one byte past it, validly signed for user 42.
fn django_rows() -> [(&'static str, String); 2] {
    let secret = manifest()["secret_key"].as_str().unwrap().to_owned();
    let row = |len| session_of_len("42", len, DB_SALT, secret.as_bytes(), now());
    [
        ("boundatthelimit0000000000000000a", row(DJANGO_BOUND)),
        ("boundoverthelimit00000000000000b", row(DJANGO_BOUND + 1)),
    ]
}

async fn check_django_rows(app: &TestApp, logs: &LogCapture) {
    let [(at, _), (over, _)] = django_rows();
    let r = get_with_cookie(app, "/files/users/42/a.txt", &format!("sessionid={at}")).await;
    assert_eq!(r.status(), 200, "a row at the bound is read");
    let r = get_with_cookie(app, "/files/users/42/a.txt", &format!("sessionid={over}")).await;
    assert_too_large(r, "a row one byte past the bound").await;
    assert_audited_and_counted(app, logs, 1).await;
}

#[tokio::test]
async fn a_postgres_session_row_at_the_bound_is_read_and_one_byte_longer_is_refused_unread() {
    let logs = LogCapture::start();
    let url = postgres_url();
    let schema = unique("sg_bound");
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    create_django_table(&pool, &schema).await;
    for (key, data) in django_rows() {
        insert_row(&pool, &schema, key, &data).await;
    }
    let app = spawn_app(&django_db(&url, &format!("{schema}.django_session"))).await;
    check_django_rows(&app, &logs).await;
    drop_schema(&pool, &schema).await;
}

#[tokio::test]
async fn a_sqlite_session_row_at_the_bound_is_read_and_one_byte_longer_is_refused_unread() {
    let logs = LogCapture::start();
    let db = tempdir().join("sessions.sqlite3");
    std::fs::copy(repo().join("tests/fixtures/django/sessions.sqlite3"), &db).unwrap();
    let url = format!("sqlite://{}", db.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    for (key, data) in django_rows() {
        sqlx::query("INSERT INTO django_session VALUES (?1, ?2, '2999-01-01 00:00:00')")
            .bind(key)
            .bind(data)
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
    let app = spawn_app(&django_db(&url, "django_session")).await;
    check_django_rows(&app, &logs).await;
}

#[tokio::test]
async fn a_signed_cookie_at_the_bound_is_verified_and_one_byte_longer_is_refused() {
    let secret = manifest()["secret_key"].as_str().unwrap().to_owned();
    let cookie = |len| {
        let value = session_of_len("42", len, SIGNED_COOKIES_SALT, secret.as_bytes(), now());
        format!("sessionid={value}")
    };
    let app = spawn_app(&[
        ("auth.order", json!(["jwt", "django_session"])),
        (
            "auth.django_session",
            json!({"backend": "signed_cookies", "secret_key": secret, "max_session_bytes": 2046}),
        ),
        rules(),
    ])
    .await;
    let r = get_with_cookie(&app, "/files/users/42/a.txt", &cookie(2046)).await;
    assert_eq!(r.status(), 200);
    let r = get_with_cookie(&app, "/files/users/42/a.txt", &cookie(2047)).await;
    assert_too_large(r, "a signed cookie one byte past the bound").await;
}

pub(super) async fn create_django_table(pool: &sqlx::PgPool, schema: &str) {
    sqlx::raw_sql(&format!(
        "CREATE SCHEMA {schema}; CREATE TABLE {schema}.django_session (session_key varchar(40) \
         PRIMARY KEY, session_data text NOT NULL, expire_date timestamptz NOT NULL)"
    ))
    .execute(pool)
    .await
    .unwrap();
}

pub(super) async fn insert_row(pool: &sqlx::PgPool, schema: &str, key: &str, data: &str) {
    sqlx::query(&format!(
        "INSERT INTO {schema}.django_session VALUES ($1, $2, now() + interval '1 hour')"
    ))
    .bind(key)
    .bind(data)
    .execute(pool)
    .await
    .unwrap();
}

pub(super) async fn drop_schema(pool: &sqlx::PgPool, schema: &str) {
    sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(pool)
        .await
        .unwrap();
}
