//! Liveness, readiness, metrics and the fallback.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use crate::state::AppState;

/// Alive: the process answers.
pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// Ready: keys loaded (they are, or the configuration would not have started) and every JWKS
/// fetched at least once.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let app = state.app.load();
    if app.is_ready() {
        (StatusCode::OK, Json(json!({"status": "ready"})))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "starting", "waiting_for": "jwks"})),
        )
    }
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

pub async fn not_found() -> impl IntoResponse {
    let mut response = (
        StatusCode::NOT_FOUND,
        Json(json!({"error": "no_route", "message": "no such route"})),
    )
        .into_response();
    crate::respond::private_headers(response.headers_mut());
    response
}
