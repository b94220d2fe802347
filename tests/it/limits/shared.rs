//! `[limits] store = "redis"`: replicas sharing one Redis hold one limit together (single checks
//! and batch charges), the configured rate holds across them, and a Redis outage limits each
//! replica locally (still answering, logged once, `backend_up{backend="limits"}` 0) until Redis
//! is back.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use signgate_testkit::app::{spawn_app, TestApp};
use signgate_testkit::backends::{redis_url, url_addr, url_via, FaultProxy};
use signgate_testkit::fs::unique;
use signgate_testkit::http::assert_nothing_signed;
use signgate_testkit::logs::LogCapture;
use signgate_testkit::tokens::token;

/// The overrides for a replica counting in Redis at `url` under `prefix`, with a per-subject
/// limit of `per_second` and `burst` and no per-IP limit. The check timeout is generous: these
/// tests share a busy machine, and a check that timed out would be counted locally.
fn shared(url: &str, prefix: &str, per_second: u32, burst: u32) -> Vec<(&'static str, Value)> {
    vec![
        ("limits.store", json!("redis")),
        ("limits.redis_url", json!(url)),
        ("limits.key_prefix", json!(prefix)),
        ("limits.timeout_ms", json!(1000)),
        ("limits.per_subject_per_second", json!(per_second)),
        ("limits.per_subject_burst", json!(burst)),
        ("limits.per_ip_per_second", json!(0)),
        ("server.max_batch_keys", json!(burst.min(8))),
    ]
}

fn prefix() -> String {
    format!("{}:", unique("sglimits"))
}

/// Requests for `subject`, spread over `replicas` in turn, until the first 429 (at most
/// `cap`): how many were answered 302 before it, and how long that took.
async fn until_limited(replicas: &[&TestApp], subject: &str, cap: usize) -> (usize, Duration) {
    let t = token(subject, json!({}));
    let started = Instant::now();
    for i in 0..cap {
        let app = replicas[i % replicas.len()];
        let r = app.get("/files/public/a.txt", Some(&t)).await;
        match r.status().as_u16() {
            302 => {}
            429 => {
                assert_nothing_signed(r).await;
                return (i, started.elapsed());
            }
            other => panic!("request {i} for {subject}: {other}"),
        }
    }
    panic!("{subject} was never limited in {cap} requests");
}

/// `allowed` is what a limit of `burst` at `per_second` lets through in `elapsed`: the burst, and
/// what the rate gave back meanwhile (nothing within the first second at 1/s).
fn assert_burst_then_limited(allowed: usize, burst: usize, per_second: f64, elapsed: Duration) {
    let refilled = (elapsed.as_secs_f64() * per_second).floor() as usize;
    assert!(
        allowed >= burst && allowed <= burst + refilled,
        "{allowed} answered in {elapsed:?}; the shared burst is {burst}"
    );
}

async fn redis_conn(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// The keys this test wrote (the limits expire on their own; this keeps the database tidy).
async fn forget(url: &str, prefix: &str) {
    let mut conn = redis_conn(url).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    for key in keys {
        let _: () = redis::cmd("DEL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn two_replicas_sharing_redis_hold_one_per_subject_limit() {
    let (url, prefix) = (redis_url(), prefix());
    let a = spawn_app(&shared(&url, &prefix, 1, 6)).await;
    let b = spawn_app(&shared(&url, &prefix, 1, 6)).await;
    // Six requests, three on each: the seventh overall is refused, on either replica (each
    // alone would still have three of its own six).
    let (allowed, elapsed) = until_limited(&[&a, &b], "alice", 30).await;
    assert_burst_then_limited(allowed, 6, 1.0, elapsed);
    let (allowed, elapsed) = until_limited(&[&b, &a], "bob", 30).await;
    assert_burst_then_limited(allowed, 6, 1.0, elapsed);
    // The subject's key is in Redis, under the prefix.
    let mut conn = redis_conn(&url).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}s:*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys.len(), 2, "{keys:?}");
    forget(&url, &prefix).await;
}

#[tokio::test]
async fn a_batch_charged_on_one_replica_is_spent_on_the_other() {
    let (url, prefix) = (redis_url(), prefix());
    let a = spawn_app(&shared(&url, &prefix, 1, 10)).await;
    let b = spawn_app(&shared(&url, &prefix, 1, 10)).await;
    let sign = |app: &TestApp, keys: &[String]| {
        app.client
            .post(app.url("/sign"))
            .bearer_auth(token("carol", json!({})))
            .json(&json!({ "keys": keys }))
            .send()
    };
    let eight: Vec<String> = (0..8).map(|i| format!("public/{i}.ts")).collect();
    assert_eq!(sign(&a, &eight).await.unwrap().status(), 200);
    // 8 of 10 units are spent in Redis: b refuses another 8 whole, before any signature.
    let (status, _) = assert_nothing_signed(sign(&b, &eight).await.unwrap()).await;
    assert_eq!(status, 429);
    // What is left still buys a request of one on b.
    let t = token("carol", json!({}));
    assert_eq!(b.get("/files/public/a", Some(&t)).await.status(), 302);
    forget(&url, &prefix).await;
}

#[tokio::test]
async fn the_configured_rate_holds_across_replicas_within_ten_percent() {
    let (url, prefix) = (redis_url(), prefix());
    let (per_second, burst) = (20u32, 20u32);
    let a = spawn_app(&shared(&url, &prefix, per_second, burst)).await;
    let b = spawn_app(&shared(&url, &prefix, per_second, burst)).await;
    let t = token("dave", json!({}));
    let run = Duration::from_secs(2);
    let started = Instant::now();
    // Four clients, two on each replica, asking as fast as they can.
    let clients = [&a, &b, &a, &b].map(|app| {
        let (client, url, t) = (
            app.client.clone(),
            app.url("/files/public/a.txt"),
            t.clone(),
        );
        tokio::spawn(async move {
            let (mut allowed, mut sent) = (0u32, 0u32);
            while started.elapsed() < run {
                let status = client
                    .get(&url)
                    .bearer_auth(&t)
                    .send()
                    .await
                    .unwrap()
                    .status();
                sent += 1;
                match status.as_u16() {
                    302 => allowed += 1,
                    429 => {}
                    other => panic!("{other}"),
                }
            }
            (allowed, sent)
        })
    });
    let (mut allowed, mut sent) = (0, 0);
    for c in clients {
        let (a, s) = c.await.unwrap();
        allowed += a;
        sent += s;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let expected = f64::from(burst) + f64::from(per_second) * elapsed;
    assert!(
        f64::from(sent) > 2.0 * expected,
        "the clients asked for more than the limit allows ({sent} requests)"
    );
    let ratio = f64::from(allowed) / expected;
    eprintln!(
        "{allowed} of {sent} answered in {elapsed:.2} s over two replicas: {ratio:.3} of the limit"
    );
    assert!(
        (0.9..=1.1).contains(&ratio),
        "{allowed} answered in {elapsed:.2} s over two replicas; the limit allows {expected:.0} \
         (one replica's own limit would allow that much on each)"
    );
    forget(&url, &prefix).await;
}

#[tokio::test]
async fn redis_down_limits_each_replica_locally_logged_once_and_shared_again_when_back() {
    let logs = LogCapture::start();
    let (url, prefix) = (redis_url(), prefix());
    let proxy = FaultProxy::start(url_addr(&url)).await;
    let a = spawn_app(&shared(&url_via(&url, proxy.addr), &prefix, 1, 3)).await;
    let b = spawn_app(&shared(&url, &prefix, 1, 3)).await;
    let up = "signgate_backend_up{backend=\"limits\"}";
    let t = token("erin", json!({}));
    assert_eq!(a.get("/files/public/a", Some(&t)).await.status(), 302);
    assert!(a.metrics_text().await.contains(&format!("{up} 1")));

    proxy.down();
    // Still answered and still limited, by a's own memory: three for a new subject, then 429.
    let (allowed, elapsed) = until_limited(&[&a], "frank", 20).await;
    assert_burst_then_limited(allowed, 3, 1.0, elapsed);
    assert!(a.metrics_text().await.contains(&format!("{up} 0")));
    // Requests keep coming over more than a second: Redis is tried again now and then, and
    // every failure is counted, but the outage is one log line.
    let grace = token("grace", json!({}));
    for _ in 0..12 {
        let status = a.get("/files/public/a", Some(&grace)).await.status();
        assert!(status == 302 || status == 429, "{status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let outage = "rate limits are counted by each replica alone until it answers again";
    assert_eq!(logs.text().matches(outage).count(), 1, "{}", logs.text());
    assert_eq!(
        a.get("/readyz", None).await.status(),
        200,
        "an outage of the limits store is not unreadiness"
    );

    proxy.up();
    let mut back = false;
    for i in 0..50 {
        let t = token(&format!("probe{i}"), json!({}));
        assert_eq!(a.get("/files/public/a", Some(&t)).await.status(), 302);
        if a.metrics_text().await.contains(&format!("{up} 1")) {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "the limits store is used again once Redis answers");
    assert_eq!(
        logs.text().matches("backend answering again").count(),
        1,
        "{}",
        logs.text()
    );
    // Shared again: a new subject's three are spent over both replicas together.
    let (allowed, elapsed) = until_limited(&[&a, &b], "heidi", 20).await;
    assert_burst_then_limited(allowed, 3, 1.0, elapsed);
    forget(&url, &prefix).await;
}
