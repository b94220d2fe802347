//! Backends going away during a load run: Redis (sessions) and Postgres (grants) are cut by TCP
//! proxies while workers hammer signgate. Nobody unauthorized is ever signed, every request that
//! needs the missing backend gets a 503, and service comes back without a restart.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::response::IntoResponse;
use serde_json::json;
use signgate_testkit::app::spawn_app;
use signgate_testkit::backends::{self, url_addr, url_via, FaultProxy};
use signgate_testkit::fs::unique;
use signgate_testkit::tokens::{ec_jwk, now};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Up,
    RedisDown,
    PostgresDown,
}

#[tokio::test]
async fn backends_fail_during_load_and_nothing_unauthorized_is_signed() {
    let (redis_url, pg_url) = (backends::redis_url(), backends::postgres_url());
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

/// The JWKS provider going away during a load run: keys already fetched keep working, tokens
/// for unknown keys are refused, nothing unauthorized is signed, and a new key works once the
/// provider is back.
#[tokio::test]
async fn jwks_provider_lost_during_load() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let (old_key, old_jwk) = ec_jwk("old");
    let (new_key, new_jwk) = ec_jwk("new");
    let (attacker_key, _) = ec_jwk("old");
    let jwks = Arc::new(Mutex::new(json!({"keys": [old_jwk]})));
    let up = Arc::new(AtomicBool::new(true));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (j2, u2) = (jwks.clone(), up.clone());
    let router = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let (j, u) = (j2.clone(), u2.clone());
            async move {
                if u.load(Ordering::SeqCst) {
                    axum::Json(j.lock().unwrap().clone()).into_response()
                } else {
                    axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response()
                }
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let app = spawn_app(&[
        ("auth.jwt.issuers", json!([{"issuer": "idp", "audience": ["signgate"], "algorithms": ["ES256"], "jwks_url": format!("{base}/jwks.json"), "jwks_min_refresh_seconds": 0}])),
        ("limits.per_ip_per_second", json!(0)),
        ("limits.per_subject_per_second", json!(0)),
    ])
    .await;
    for _ in 0..100 {
        if app.get("/readyz", None).await.status() == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let claims =
        |sub: &str| json!({"sub": sub, "iss": "idp", "aud": "signgate", "exp": now() + 600});
    let token = |key: &EncodingKey, kid: &str, sub: &str| {
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some(kid.into());
        jsonwebtoken::encode(&h, &claims(sub), key).unwrap()
    };
    let alice = token(&old_key, "old", "alice");
    let forged = token(&attacker_key, "old", "alice");
    let new_alice = token(&new_key, "new", "alice");

    up.store(false, Ordering::SeqCst);
    let mut handles = Vec::new();
    for (tok, authorized) in [
        (alice.clone(), true),
        (forged.clone(), false),
        (new_alice.clone(), false),
    ] {
        let (client, url) = (app.client.clone(), app.url("/files/users/alice/a.txt"));
        handles.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for _ in 0..40 {
                let r = client.get(&url).bearer_auth(&tok).send().await.unwrap();
                statuses.push(r.status().as_u16());
            }
            (authorized, statuses)
        }));
    }
    for h in handles {
        let (authorized, statuses) = h.await.unwrap();
        if authorized {
            assert!(
                statuses.iter().all(|s| *s == 302),
                "cached keys keep working while the provider is down: {statuses:?}"
            );
        } else {
            assert!(
                statuses.iter().all(|s| *s == 401),
                "never signed: {statuses:?}"
            );
        }
    }
    // The provider returns with the new key: it works without a restart.
    *jwks.lock().unwrap() = json!({"keys": [new_jwk]});
    up.store(true, Ordering::SeqCst);
    let mut ok = false;
    for _ in 0..50 {
        if app
            .get("/files/users/alice/a.txt", Some(&new_alice))
            .await
            .status()
            == 302
        {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "the new key works once the provider is back");
    assert_eq!(
        app.get("/files/users/alice/a.txt", Some(&forged))
            .await
            .status(),
        401
    );
}
