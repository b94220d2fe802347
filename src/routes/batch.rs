//! `POST /sign`: many objects in one call, for apps. Each key gets a signed URL or its own
//! error; the same rules and audit lines as single requests apply.

use std::net::SocketAddr;

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::client_ip::client_ip;
use crate::error::AppError;
use crate::grant::{authenticate, authorize_and_sign};
use crate::object_key::ObjectKey;
use crate::respond::private_headers;
use crate::state::AppState;

/// Largest request body accepted (bytes).
const MAX_BODY: usize = 256 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRequest {
    keys: Vec<String>,
}

#[derive(Serialize)]
struct BatchResponse {
    results: Vec<Item>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Item {
    Signed {
        key: String,
        url: String,
        expires_at: u64,
    },
    Refused {
        key: String,
        error: &'static str,
        status: u16,
    },
}

pub async fn sign_many(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let result = batch(&state, peer, request).await;
    state.metrics.request(
        "sign",
        result.as_ref().map_or_else(AppError::code, |_| "answered"),
    );
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn batch(state: &AppState, peer: SocketAddr, request: Request) -> Result<Response, AppError> {
    let app = state.app.load_full();
    let server = &app.settings.server;
    let ip = client_ip(peer.ip(), request.headers(), &server.trusted_proxies);
    app.limits.check_ip(ip)?;
    let (parts, body): (_, Body) = request.into_parts();
    let bytes = to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| AppError::PayloadTooLarge)?;
    let parsed: BatchRequest = serde_json::from_slice(&bytes).map_err(|_| {
        AppError::BadRequest("bad_json", "expected {\"keys\": [\"object/key\", ...]}")
    })?;
    if parsed.keys.len() > server.max_batch_keys {
        return Err(AppError::PayloadTooLarge);
    }
    let principal = authenticate(&app, &state.metrics, &parts.headers).await?;
    let mut results = Vec::with_capacity(parsed.keys.len());
    for key in parsed.keys {
        let outcome = match ObjectKey::parse(&key, server.max_key_bytes) {
            Ok(object) => {
                authorize_and_sign(&app, &state.metrics, &principal, &object, None, ip).await
            }
            Err(rejection) => Err(AppError::BadKey(rejection)),
        };
        // A backend outage is not a per-key answer: fail the whole call closed.
        if let Err(err @ AppError::Unavailable { .. }) = outcome {
            return Err(err);
        }
        results.push(match outcome {
            Ok(signed) => Item::Signed {
                key,
                url: signed.url,
                expires_at: signed.expires_at,
            },
            Err(err) => Item::Refused {
                key,
                error: err.code(),
                status: err.status().as_u16(),
            },
        });
    }
    let mut response = axum::Json(BatchResponse { results }).into_response();
    private_headers(response.headers_mut());
    Ok(response)
}
