//! Liveness, readiness, metrics and the fallback.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use crate::error::AppError;
use crate::service::Service;

/// Alive: the process answers.
pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// Ready: keys loaded (they are, or the configuration would not have started), every JWKS
/// fetched at least once, and every session store and grant database answering.
pub async fn readyz(State(service): State<Arc<Service>>) -> impl IntoResponse {
    let app = service.app();
    let waiting = app.readiness().await;
    if waiting.is_empty() {
        (StatusCode::OK, Json(json!({"status": "ready"})))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not_ready", "waiting_for": waiting})),
        )
    }
}

pub async fn metrics(State(service): State<Arc<Service>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        service.metrics().render(),
    )
}

pub async fn not_found() -> AppError {
    AppError::NoRoute
}
