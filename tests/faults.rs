//! Backends going away during a load run: Redis (sessions) and Postgres (grants) are cut by TCP
//! proxies while workers hammer signgate. Nobody unauthorized is ever signed, every request that
//! needs the missing backend gets a 503, and service comes back without a restart.

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use helpers::*;
use serde_json::json;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Up,
    RedisDown,
    PostgresDown,
}

#[tokio::test]
async fn backends_fail_during_load_and_nothing_unauthorized_is_signed() {
    let (Some(redis_url), Some(pg_url)) = (
        service_url("SIGNGATE_TEST_REDIS_URL"),
        service_url("SIGNGATE_TEST_POSTGRES_URL"),
    ) else {
        return;
    };
    // Sessions: alice (has bought the file), bob (has not). Grants: in their own schema.
    let prefix = format!("{}:", unique("sgfault"));
    let client = redis::Client::open(redis_url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    for (id, user) in [("a", "alice"), ("b", "bob")] {
        let _: () = redis::cmd("SET")
            .arg(format!("{prefix}{id}"))
            .arg(json!({"user_id": user}).to_string())
            .arg("EX")
            .arg(120)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    let schema = unique("sg_fault");
    let pool = sqlx::PgPool::connect(&pg_url).await.unwrap();
    sqlx::raw_sql(&format!("CREATE SCHEMA {schema}; CREATE TABLE {schema}.p (u text, k text); INSERT INTO {schema}.p VALUES ('alice', 'shop/film.mp4');"))
        .execute(&pool)
        .await
        .unwrap();

    let redis_proxy = FaultProxy::start(url_addr(&redis_url)).await;
    let pg_proxy = FaultProxy::start(url_addr(&pg_url)).await;
    let app = spawn_app(&[
        ("auth.order", json!(["redis_session"])),
        ("auth.redis_session", json!({"url": url_via(&redis_url, redis_proxy.addr), "cookie": "sid", "key_prefix": prefix, "subject_field": "user_id", "query_timeout_ms": 300, "connect_timeout_ms": 300})),
        ("grants", json!([{"name": "shop", "database_url": url_via(&pg_url, pg_proxy.addr), "query": format!("SELECT 1 FROM {schema}.p WHERE u = $1 AND k = $2"),
                           "params": ["subject", "key"], "allow_ttl_seconds": 0, "deny_ttl_seconds": 0, "query_timeout_ms": 300, "connect_timeout_ms": 300}])),
        ("rules", json!([{"pattern": "shop/**", "access": "authenticated", "distribution": "demo", "grant": "shop"}])),
        ("limits.per_ip_per_second", json!(0)),
        ("limits.per_subject_per_second", json!(0)),
    ])
    .await;

    let phase = Arc::new(Mutex::new(Phase::Up));
    let stop = Arc::new(AtomicBool::new(false));
    type Sample = (Phase, &'static str, u16, bool);
    let log: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let mut workers = Vec::new();
    for (who, cookie) in [
        ("alice", "sid=a"),
        ("bob", "sid=b"),
        ("mallory", "sid=forged"),
        ("alice", "sid=a"),
        ("bob", "sid=b"),
    ] {
        let (phase, stop, log, url, client) = (
            phase.clone(),
            stop.clone(),
            log.clone(),
            app.url("/files/shop/film.mp4"),
            app.client.clone(),
        );
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let before = *phase.lock().unwrap();
                let r = client
                    .get(&url)
                    .header("cookie", cookie)
                    .header("accept", "application/json")
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let body = r.text().await.unwrap_or_default();
                let after = *phase.lock().unwrap();
                // Only keep samples that did not straddle a phase change.
                if before == after {
                    log.lock()
                        .unwrap()
                        .push((after, who, status, body.contains("Signature=")));
                }
            }
        }));
    }
    let set = |p: Phase| *phase.lock().unwrap() = p;
    let wait = |ms| tokio::time::sleep(Duration::from_millis(ms));
    wait(700).await;
    redis_proxy.down();
    set(Phase::RedisDown);
    wait(1000).await;
    set(Phase::Up);
    redis_proxy.up();
    wait(1500).await;
    pg_proxy.down();
    set(Phase::PostgresDown);
    wait(1000).await;
    set(Phase::Up);
    pg_proxy.up();
    wait(1500).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }

    let log: Vec<Sample> = std::mem::take(&mut *log.lock().unwrap());
    assert!(log.len() > 50, "the load ran ({} samples)", log.len());
    for (p, who, status, signed) in log.iter() {
        if *who != "alice" {
            assert!(!*signed && *status != 200, "{who} was signed during {p:?}");
        }
        match p {
            Phase::RedisDown => assert_eq!(*status, 503, "{who} during the Redis outage"),
            Phase::PostgresDown if *who != "mallory" => {
                assert_eq!(*status, 503, "{who} during the Postgres outage")
            }
            _ => {}
        }
    }
    // After both outages, alice is served again and the others are refused, without a restart.
    let tail: Vec<_> = log.iter().rev().take(40).collect();
    assert!(
        tail.iter()
            .any(|(p, who, s, _)| *p == Phase::Up && *who == "alice" && *s == 200),
        "alice recovered"
    );
    assert!(
        tail.iter().any(|(_, who, s, _)| *who == "bob" && *s == 403),
        "bob is refused by the grant again"
    );
    assert!(
        tail.iter()
            .any(|(_, who, s, _)| *who == "mallory" && *s == 401),
        "the forged session is refused again"
    );
    for phase in [Phase::RedisDown, Phase::PostgresDown] {
        assert!(
            log.iter().any(|(p, ..)| *p == phase),
            "samples during {phase:?}"
        );
    }

    sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&pool)
        .await
        .unwrap();
    let _: () = redis::cmd("DEL")
        .arg(vec![format!("{prefix}a"), format!("{prefix}b")])
        .query_async(&mut conn)
        .await
        .unwrap();
}
