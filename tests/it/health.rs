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
        metrics.contains("signgate_requests_total{route=\"files\",outcome=\"signed\"} 1"),
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
