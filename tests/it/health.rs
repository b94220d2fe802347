//! Liveness, readiness, the metrics listener's counters, and routes that do not exist.

use serde_json::json;
use signgate_testkit::app::spawn_app;
use signgate_testkit::tokens::token;

#[tokio::test]
async fn health_readiness_metrics_and_unknown_routes() {
    let app = spawn_app(&[]).await;
    assert_eq!(app.get("/healthz", None).await.status(), 200);
    assert_eq!(app.get("/readyz", None).await.status(), 200);
    assert_eq!(app.get("/nope", None).await.status(), 404);
    app.get("/files/public/a", Some(&token("alice", json!({}))))
        .await;
    app.get("/files/public/a", Some("not-a-token")).await;
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains(
            "signgate_requests_total{route=\"files\",status=\"302\",outcome=\"signed\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("signgate_auth_failures_total{reason=\"malformed\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("signgate_signing_seconds_count 1"),
        "{metrics}"
    );
}

/// `signgate_signing_seconds` times the signatures made: a stable URL handed out again from the
/// cache is counted as handed out (`signgate_signatures_total`) but was not signed again.
#[tokio::test]
async fn the_signing_histogram_counts_signatures_made_not_urls_from_the_cache() {
    let app = spawn_app(&[(
        "rules",
        json!([{"pattern": "public/**", "access": "authenticated", "distribution": "demo", "cache_step_seconds": 60}]),
    )])
    .await;
    let t = token("alice", json!({}));
    for path in [
        "/files/public/a",
        "/files/public/a",
        "/files/public/a",
        "/files/public/b",
    ] {
        assert_eq!(app.get(path, Some(&t)).await.status(), 302);
    }
    // Two objects: two signatures, and the rest from the cache (one more signature if the
    // requests happen to straddle a 60 s step).
    let misses = app.metric("signgate_url_cache_misses_total").await;
    let hits = app.metric("signgate_url_cache_hits_total").await;
    assert!(
        (2.0..=3.0).contains(&misses) && hits + misses == 4.0,
        "{hits} {misses}"
    );
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains(&format!("signgate_signing_seconds_count {misses}")),
        "{metrics}"
    );
    assert!(
        metrics
            .contains(r#"signgate_signatures_total{provider="cloudfront",key="KDEMO2RSA0001"} 4"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn two_services_in_one_process_count_apart() {
    let cached = (
        "rules",
        json!([{"pattern": "public/**", "access": "authenticated", "distribution": "demo", "cache_step_seconds": 60}]),
    );
    let first = spawn_app(std::slice::from_ref(&cached)).await;
    let second = spawn_app(&[cached]).await;
    let t = token("alice", json!({}));
    for _ in 0..3 {
        assert_eq!(first.get("/files/public/a", Some(&t)).await.status(), 302);
    }
    assert_eq!(first.metric("signgate_url_cache_hits_total").await, 2.0);
    assert_eq!(first.metric("signgate_url_cache_misses_total").await, 1.0);
    assert_eq!(first.metric("signgate_jwt_cache_hits_total").await, 2.0);
    assert_eq!(second.metric("signgate_url_cache_hits_total").await, 0.0);
    assert_eq!(second.metric("signgate_url_cache_misses_total").await, 0.0);
    assert_eq!(second.metric("signgate_jwt_cache_hits_total").await, 0.0);
}

#[tokio::test]
async fn readiness_probes_each_backend_at_most_once_a_second() {
    // A database nobody listens for: every probe fails at once (connection refused).
    let port = signgate_testkit::process::free_port();
    let app = spawn_app(&[
        (
            "grants",
            json!([{"name": "shop", "database_url": format!("postgres://postgres@127.0.0.1:{port}/x"),
                    "query": "SELECT 1 FROM p WHERE u = $1 AND k = $2", "params": ["subject", "key"],
                    "connect_timeout_ms": 300}]),
        ),
        (
            "rules",
            json!([{"pattern": "shop/**", "access": "authenticated", "distribution": "demo", "grant": "shop"}]),
        ),
    ])
    .await;
    let errors = || async {
        let text = app.metrics_text().await;
        text.lines()
            .find(|l| l.starts_with("signgate_backend_errors_total{backend=\"grant:shop\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .map_or(0.0, |v| v.parse::<f64>().unwrap())
    };
    let before = errors().await;
    let started = std::time::Instant::now();
    for _ in 0..30 {
        assert_eq!(app.get("/readyz", None).await.status(), 503);
    }
    let probes = errors().await - before;
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        probes >= 1.0 && probes <= seconds.ceil() + 1.0,
        "{probes} probes in {seconds:.2} s"
    );
}
