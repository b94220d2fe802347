//! `POST /sign`: many objects in one call, for apps. Each key gets a signed URL or its own
//! error; the same rules and audit lines as single requests apply.

use axum::body::to_bytes;
use axum::extract::Request;
use axum::response::Response;
use serde::Deserialize;

use crate::error::AppError;
use crate::flow::{sign_objects, Caller};
use crate::respond;

/// Largest request body accepted (bytes).
const MAX_BODY: usize = 256 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRequest {
    keys: Vec<String>,
}

pub async fn sign_many(caller: Caller, request: Request) -> Response {
    let result = batch(&caller, request).await;
    super::answer(&caller.app.metrics, "sign", "answered", result)
}

async fn batch(caller: &Caller, request: Request) -> Result<Response, AppError> {
    // A limited client is refused before its body is read.
    caller.ip_limit?;
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| AppError::PayloadTooLarge)?;
    let parsed: BatchRequest = serde_json::from_slice(&bytes).map_err(|_| {
        AppError::BadRequest("bad_json", "expected {\"keys\": [\"object/key\", ...]}")
    })?;
    let results = sign_objects(caller, &parts.headers, &parsed.keys).await?;
    Ok(respond::batch(&parsed.keys, &results))
}
