//! Step 5 of a request: the answer. A 302 to the signed URL for browsers and download links,
//! JSON for apps.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::AppError;
use crate::grant::Grant;

/// Headers every per-user answer carries.
pub fn private_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// What the client asked to receive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wants {
    Redirect,
    Json,
    /// A browser page load: like Redirect, but a missing login becomes a login redirect.
    Html,
}

impl Wants {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let accept = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",");
        let has = |mime: &str| {
            accept.split(',').any(|part| {
                part.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case(mime))
            })
        };
        if has("application/json") {
            Wants::Json
        } else if has("text/html") {
            Wants::Html
        } else {
            Wants::Redirect
        }
    }
}

#[derive(Serialize)]
struct SignedJson<'a> {
    url: &'a str,
    expires_at: u64,
}

pub fn signed(grant: &Grant, wants: Wants) -> Result<Response, AppError> {
    let mut response = match wants {
        Wants::Json => {
            let body = SignedJson {
                url: &grant.signed.url,
                expires_at: grant.signed.expires_at,
            };
            axum::Json(body).into_response()
        }
        Wants::Redirect | Wants::Html => {
            let location = HeaderValue::from_str(&grant.signed.url)
                .map_err(|_| AppError::internal("signed URL is not a header value"))?;
            let mut r = StatusCode::FOUND.into_response();
            r.headers_mut().insert(header::LOCATION, location);
            r
        }
    };
    private_headers(response.headers_mut());
    Ok(response)
}
