//! Django sessions: every fixture made by real Django, from the database backend (SQLite and
//! Postgres) and from signed cookies, evaluated at the instant the fixtures were made.

use serde_json::{json, Value};
use signgate::clock::Clock;
use signgate_testkit::app::{default_config, repo, settings, spawn_with, TestApp};
use signgate_testkit::backends::postgres_url;
use signgate_testkit::fs::{tempdir, unique};
use signgate_testkit::http::assert_nothing_signed;

use super::{get_with_cookie, rules};

pub fn manifest() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/fixtures/django/manifest.json")).unwrap(),
    )
    .unwrap()
}

// ---------------------------------------------------------------- Django

fn django_config(store: Value) -> Vec<(&'static str, Value)> {
    let m = manifest();
    let mut d = json!({"secret_key": m["secret_key"], "claim_fields": ["roles"]});
    for (k, v) in store.as_object().unwrap() {
        d[k] = v.clone();
    }
    vec![
        ("auth.order", json!(["jwt", "django_session"])),
        ("auth.django_session", d),
        rules(),
    ]
}

pub async fn django_app(store: Value) -> TestApp {
    let overrides = django_config(store);
    let mut s = settings(&default_config(), &overrides).unwrap();
    // The fixtures were made at a known instant; their outcomes hold then.
    s.clock = Clock::Fixed(manifest()["evaluate_at"]["unix"].as_u64().unwrap());
    spawn_with(s).await
}

/// Runs every case of one backend: valid sessions get a URL for their own folder, everything
/// else gets a 401 and nothing signed.
async fn check_cases(app: &TestApp, backend: &str, value_field: &str) -> usize {
    let m = manifest();
    let mut checked = 0;
    for case in m["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["backend"] == backend)
    {
        let name = case["name"].as_str().unwrap();
        let cookie = format!("sessionid={}", case[value_field].as_str().unwrap());
        match case["expected"]["outcome"].as_str().unwrap() {
            "valid" => {
                let subject = case["expected"]["subject"].as_str().unwrap();
                let r =
                    get_with_cookie(app, &format!("/files/users/{subject}/a.txt"), &cookie).await;
                assert_eq!(r.status(), 200, "{name}");
                let body: Value = r.json().await.unwrap();
                assert!(
                    body["url"]
                        .as_str()
                        .unwrap()
                        .contains(&format!("/users/{subject}/a.txt?")),
                    "{name}"
                );
                let other = get_with_cookie(app, "/files/users/someone-else/a.txt", &cookie).await;
                assert_eq!(assert_nothing_signed(other).await.0, 403, "{name}");
            }
            outcome => {
                let (status, body) = assert_nothing_signed(
                    get_with_cookie(app, "/files/public/a.txt", &cookie).await,
                )
                .await;
                assert_eq!(status, 401, "{name} ({outcome}): {body}");
            }
        }
        checked += 1;
    }
    checked
}

#[tokio::test]
async fn django_database_sessions_in_sqlite() {
    let dir = tempdir();
    let db = dir.join("sessions.sqlite3");
    std::fs::copy(repo().join("tests/fixtures/django/sessions.sqlite3"), &db).unwrap();
    let app =
        django_app(json!({"backend": "db", "database_url": format!("sqlite://{}", db.display())}))
            .await;
    assert_eq!(check_cases(&app, "db/sqlite", "session_key").await, 12);
    // Roles stored in the session by the Django view are claims.
    let user7 = manifest()["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "sqlite_valid_user7_roles")
        .unwrap()["session_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = get_with_cookie(&app, "/files/staff/x", &format!("sessionid={user7}")).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn django_database_sessions_in_postgres() {
    let url = postgres_url();
    let schema = unique("sg_django");
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::raw_sql(&format!("CREATE SCHEMA {schema}"))
        .execute(&pool)
        .await
        .unwrap();
    let fixture =
        std::fs::read_to_string(repo().join("tests/fixtures/django/postgres.sql")).unwrap();
    let mut conn = pool.acquire().await.unwrap();
    sqlx::raw_sql(&format!("SET search_path TO {schema}; {fixture}"))
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    let app = django_app(
        json!({"backend": "db", "database_url": url, "table": format!("{schema}.django_session")}),
    )
    .await;
    let checked = check_cases(&app, "db/postgres", "session_key").await;
    sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(checked, 12);
}

#[tokio::test]
async fn django_signed_cookie_sessions() {
    let app = django_app(json!({"backend": "signed_cookies", "cookie_age_seconds": manifest()["session_cookie_age"]})).await;
    assert_eq!(
        check_cases(&app, "signed_cookies", "cookie_value").await,
        13
    );
}
