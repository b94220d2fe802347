//! The route table. Each handler only translates HTTP in and out of [`crate::flow`]; what every
//! handler needs first (the current configuration, the client's address, its per-IP limit) comes
//! from the [`Caller`](crate::flow::Caller) extractor.

mod batch;
mod caller;
mod cookies;
mod files;
mod forward_auth;
mod health;

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;

use crate::app::App;
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::paths;
use crate::service::Service;

/// The main router (served inside the request frame, `middleware::Framed`), with
/// `files_prefix` (checked by the configuration never to collide with a
/// fixed route) for the object routes.
pub fn router(service: Arc<Service>, files_prefix: &str) -> Router {
    Router::new()
        .route(&format!("{files_prefix}/{{*key}}"), get(files::get_object))
        .route(&format!("{files_prefix}/"), get(files::get_object))
        .route(
            &format!("{}/{{*folder}}", paths::COOKIES),
            get(cookies::get_cookies),
        )
        .route(paths::SIGN, post(batch::sign_many))
        .route(paths::AUTH, any(forward_auth::check))
        .route(paths::HEALTHZ, get(health::healthz))
        .route(paths::READYZ, get(health::readyz))
        .fallback(health::not_found)
        .with_state(service)
}

/// `GET {files_prefix}/...` without the route table (the request frame sends it here,
/// `middleware::Framed`): the same extractor and handler the table's object routes
/// run.
pub async fn object_route(app: Arc<App>, request: Request, peer: IpAddr) -> Response {
    let request = request.into_parts().0;
    let caller = caller::caller(app, peer, &request.headers).await;
    files::object(&caller, &request).await
}

/// The metrics listener's router.
pub fn metrics_router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/metrics", get(health::metrics))
        .with_state(service)
}

/// Counts the answer under `route`, its status and its outcome (`signed`, `answered`, or the
/// refusal's code), and turns a refusal into its response.
fn answer(
    metrics: &Metrics,
    route: &'static str,
    ok_outcome: &'static str,
    result: Result<Response, AppError>,
) -> Response {
    let (response, outcome) = match result {
        Ok(response) => (response, ok_outcome),
        Err(err) => {
            let code = err.code();
            (err.into_response(), code)
        }
    };
    metrics.request(route, response.status().as_u16(), outcome);
    response
}
