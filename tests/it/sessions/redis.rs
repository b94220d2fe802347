//! Redis sessions: JSON and hash values, and an outage that fails closed and recovers.

use serde_json::{json, Value};
use signgate_testkit::app::spawn_app;
use signgate_testkit::backends::{redis_url, url_addr, url_via, FaultProxy};
use signgate_testkit::edge::verify;
use signgate_testkit::fs::unique;
use signgate_testkit::http::assert_nothing_signed;

use super::{get_with_cookie, rules};

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
    let url = redis_url();
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
    let url = redis_url();
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
    let url = redis_url();
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
