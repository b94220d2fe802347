//! Request hygiene before any route runs.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// Longest request target accepted, in bytes (CloudFront's own URL limit is 8 KiB).
pub const MAX_URI_BYTES: usize = 8192;
/// Largest request head (all header names and values), in bytes.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Checks every request before any route runs: oversized request targets (414) and header
/// sections (431) are refused, and so is a body on GET or HEAD (400). Then bounds the time the
/// route may take (503 once `timeout` has passed). One middleware rather than one per concern:
/// each layer costs a boxed future on every request.
///
/// The timeout polls the route first and arms its timer only if the route has to wait (for a
/// JWKS, a session store or a grant database); a request that completes in its first poll, as
/// a signed 302 from a bearer token does, never touches the timer wheel.
pub async fn request_hygiene(
    State(timeout): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(refusal) = oversized(&request).or_else(|| body_on_read(&request)) {
        return refusal;
    }
    let id = request
        .headers()
        .get("x-request-id")
        .cloned()
        .unwrap_or(HeaderValue::from_static("-"));
    let answer = tokio::time::timeout(timeout, next.run(request));
    match crate::telemetry::with_request(id.clone(), answer).await {
        Ok(response) => response,
        Err(_) => {
            let request_id = id.to_str().unwrap_or("-");
            tracing::warn!(
                request_id,
                "request timed out after {} ms",
                timeout.as_millis()
            );
            AppError::Unavailable {
                backend: "request_timeout",
                retry_after: 1,
            }
            .into_response()
        }
    }
}

fn oversized(request: &Request) -> Option<Response> {
    let uri_len = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return Some(status_with_code(StatusCode::URI_TOO_LONG, "uri_too_long"));
    }
    let head: usize = request
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    (head > MAX_HEADER_BYTES).then(|| {
        status_with_code(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
        )
    })
}

fn status_with_code(status: StatusCode, code: &str) -> Response {
    let body = format!("{{\"error\":\"{code}\",\"message\":\"the request is too large\"}}");
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    r
}

/// GET and HEAD never carry a body here. One that does (`Transfer-Encoding`, or a non-zero
/// `Content-Length`) is refused: a body on a GET is how request-smuggling attempts start, and no
/// real client of signgate sends one.
fn body_on_read(request: &Request) -> Option<Response> {
    let method = request.method();
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let headers = request.headers();
    let has_length = headers
        .get_all(header::CONTENT_LENGTH)
        .iter()
        .any(|v| v.as_bytes() != b"0");
    (headers.contains_key(header::TRANSFER_ENCODING) || has_length).then(|| {
        AppError::BadRequest(
            "body_not_allowed",
            "GET and HEAD requests must not carry a body",
        )
        .into_response()
    })
}
