//! Session cookies from real stores: Redis, Django's database backend (SQLite and Postgres) and
//! Django's signed cookies, with fixtures made by real Django (scripts/django-fixtures/).

use serde_json::{json, Value};
use signgate::clock::Clock;

use crate::helpers::*;

fn manifest() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/fixtures/django/manifest.json")).unwrap(),
    )
    .unwrap()
}

fn rules() -> (&'static str, Value) {
    (
        "rules",
        json!([
            {"pattern": "public/**", "access": "authenticated", "distribution": "demo"},
            {"pattern": "users/{sub}/**", "access": "authenticated", "distribution": "demo"},
            {"pattern": "staff/**", "access": "authenticated", "distribution": "demo", "require": [{"claim": "roles", "any_of": ["staff", "editors"]}]}
        ]),
    )
}

async fn get_with_cookie(app: &TestApp, path: &str, cookie: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("cookie", cookie)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
}

// ---------------------------------------------------------------- Redis

async fn redis_conn(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

fn redis_config(url: &str, prefix: &str, format: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("auth.order", json!(["jwt", "redis_session"])),
        (
            "auth.redis_session",
            json!({"url": url, "cookie": "sid", "key_prefix": prefix, "format": format, "subject_field": "user_id", "claim_fields": ["roles"], "query_timeout_ms": 300, "connect_timeout_ms": 300}),
        ),
        rules(),
    ]
}

#[tokio::test]
async fn redis_json_sessions() {
    let Some(url) = service_url("SIGNGATE_TEST_REDIS_URL") else {
        return;
    };
    let prefix = format!("{}:", unique("sgtest"));
    let mut conn = redis_conn(&url).await;
    let set = |k: &str, v: &str| {
        redis::cmd("SET")
            .arg(format!("{prefix}{k}"))
            .arg(v)
            .arg("EX")
            .arg(60)
            .clone()
    };
    let _: () = set("s-alice", r#"{"user_id": "alice", "roles": ["staff"]}"#)
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: () = set("s-bob", r#"{"user_id": 17}"#)
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: () = set("s-anon", r#"{"cart": [1, 2]}"#)
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: () = set("s-garbage", "not json at all")
        .query_async(&mut conn)
        .await
        .unwrap();

    let app = spawn_app(&redis_config(&url, &prefix, "json")).await;
    let r = get_with_cookie(&app, "/files/users/alice/a.txt", "sid=s-alice").await;
    assert_eq!(r.status(), 200);
    verify(
        r.json::<Value>().await.unwrap()["url"].as_str().unwrap(),
        None,
    );
    assert_eq!(
        get_with_cookie(&app, "/files/staff/x", "sid=s-alice")
            .await
            .status(),
        200,
        "claims come from the session"
    );
    assert_eq!(
        get_with_cookie(&app, "/files/users/17/x", "sid=s-bob")
            .await
            .status(),
        200,
        "numeric ids are subjects too"
    );
    assert_eq!(
        get_with_cookie(&app, "/files/staff/x", "sid=s-bob")
            .await
            .status(),
        403
    );
    for (cookie, status) in [
        ("sid=s-unknown", 401),
        ("sid=s-anon", 401),
        ("sid=s%00x", 401),
        ("sid=a b", 401),
    ] {
        let (got, _) =
            assert_nothing_signed(get_with_cookie(&app, "/files/public/a", cookie).await).await;
        assert_eq!(got.as_u16(), status, "{cookie}");
    }
    let r = get_with_cookie(&app, "/files/public/a", "sid=s-garbage").await;
    assert!(r.headers().get("retry-after").is_some());
    assert_eq!(
        assert_nothing_signed(r).await.0,
        503,
        "garbage from the store fails closed"
    );

    let _: () = redis::cmd("DEL")
        .arg(
            ["s-alice", "s-bob", "s-anon", "s-garbage"]
                .map(|k| format!("{prefix}{k}"))
                .to_vec(),
        )
        .query_async(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn redis_hash_sessions() {
    let Some(url) = service_url("SIGNGATE_TEST_REDIS_URL") else {
        return;
    };
    let prefix = format!("{}:", unique("sgtest"));
    let mut conn = redis_conn(&url).await;
    let key = format!("{prefix}h1");
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg("user_id")
        .arg("carol")
        .arg("roles")
        .arg(r#"["staff"]"#)
        .query_async(&mut conn)
        .await
        .unwrap();
    let app = spawn_app(&redis_config(&url, &prefix, "hash")).await;
    assert_eq!(
        get_with_cookie(&app, "/files/users/carol/a", "sid=h1")
            .await
            .status(),
        200
    );
    assert_eq!(
        get_with_cookie(&app, "/files/staff/a", "sid=h1")
            .await
            .status(),
        200
    );
    assert_eq!(
        get_with_cookie(&app, "/files/users/dave/a", "sid=h1")
            .await
            .status(),
        403
    );
    let _: () = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn redis_outage_fails_closed_and_recovers_without_a_restart() {
    let Some(url) = service_url("SIGNGATE_TEST_REDIS_URL") else {
        return;
    };
    let prefix = format!("{}:", unique("sgtest"));
    let mut conn = redis_conn(&url).await;
    let _: () = redis::cmd("SET")
        .arg(format!("{prefix}s1"))
        .arg(r#"{"user_id": "alice"}"#)
        .arg("EX")
        .arg(60)
        .query_async(&mut conn)
        .await
        .unwrap();
    let proxy = FaultProxy::start(url_addr(&url)).await;
    let app = spawn_app(&redis_config(&url_via(&url, proxy.addr), &prefix, "json")).await;
    assert_eq!(
        get_with_cookie(&app, "/files/users/alice/a", "sid=s1")
            .await
            .status(),
        200
    );
    assert_eq!(app.get("/readyz", None).await.status(), 200);

    proxy.down();
    for _ in 0..3 {
        let r = get_with_cookie(&app, "/files/users/alice/a", "sid=s1").await;
        assert!(r.headers().get("retry-after").is_some());
        assert_eq!(assert_nothing_signed(r).await.0, 503);
    }
    assert_eq!(app.get("/readyz", None).await.status(), 503);
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains("signgate_backend_up{backend=\"redis_session\"} 0"),
        "{metrics}"
    );

    proxy.up();
    let mut recovered = false;
    for _ in 0..50 {
        if get_with_cookie(&app, "/files/users/alice/a", "sid=s1")
            .await
            .status()
            == 200
        {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(recovered, "requests succeed again once Redis is back");
    assert_eq!(app.get("/readyz", None).await.status(), 200);
    let _: () = redis::cmd("DEL")
        .arg(format!("{prefix}s1"))
        .query_async(&mut conn)
        .await
        .unwrap();
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

async fn django_app(store: Value) -> TestApp {
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
    let dir = crate::config::tempdir();
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
    let Some(url) = service_url("SIGNGATE_TEST_POSTGRES_URL") else {
        return;
    };
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

#[tokio::test]
async fn the_first_authenticator_that_finds_its_credential_decides() {
    let dir = crate::config::tempdir();
    let db = dir.join("sessions.sqlite3");
    std::fs::copy(repo().join("tests/fixtures/django/sessions.sqlite3"), &db).unwrap();
    let app =
        django_app(json!({"backend": "db", "database_url": format!("sqlite://{}", db.display())}))
            .await;
    let key = manifest()["cases"][0]["session_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let cookie = format!("sessionid={key}");
    // Session only: Django decides.
    assert_eq!(
        get_with_cookie(&app, "/files/users/42/a", &cookie)
            .await
            .status(),
        200
    );
    // An invalid bearer token comes first in the order: 401, no fall-through to the session.
    let r = app
        .client
        .get(app.url("/files/users/42/a"))
        .header("cookie", &cookie)
        .bearer_auth("bad.token.value")
        .send()
        .await
        .unwrap();
    assert_eq!(assert_nothing_signed(r).await.0, 401);
}
