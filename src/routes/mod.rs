//! The routes. Each handler only translates HTTP in and out of [`crate::grant`].

mod batch;
mod cookies;
mod files;
mod forward_auth;
mod health;

use axum::response::IntoResponse;
use axum::routing::{any, get, post};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use crate::state::AppState;

pub fn router(state: AppState, files_prefix: &str) -> Router {
    Router::new()
        .route(&format!("{files_prefix}/{{*key}}"), get(files::get_object))
        .route(&format!("{files_prefix}/"), get(files::get_object))
        .route(
            &format!("{}/{{*folder}}", cookies::PREFIX),
            get(cookies::get_cookies),
        )
        .route("/sign", post(batch::sign_many))
        .route("/auth", any(forward_auth::check))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .fallback(health::not_found)
        .with_state(state.clone())
        .layer(CatchPanicLayer::custom(|_| {
            crate::error::AppError::internal("handler panicked").into_response()
        }))
        .layer(axum::middleware::from_fn_with_state(
            state,
            crate::middleware::request_frame,
        ))
}

/// The metrics listener's router.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(health::metrics))
        .with_state(state)
}
