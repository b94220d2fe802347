//! One error type for every request; each variant knows its status. Bodies are small JSON with a
//! code and a short message: never a stack trace, a token, a key or internal error text (that
//! goes to the log).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::authenticate::AuthFailure;
use crate::object_key::KeyRejection;

#[derive(Debug)]
pub enum AppError {
    /// The object path is not a valid key.
    BadKey(KeyRejection),
    /// Another malformed request (code, message).
    BadRequest(&'static str, &'static str),
    /// No valid credential. `login` is where a browser should be sent instead of a 401.
    Unauthenticated {
        reason: Option<AuthFailure>,
        login: Option<String>,
    },
    Forbidden,
    NotFound,
    /// A rule binds URLs to the client's IPv4 address and the client has none.
    IpBindingUnavailable,
    RateLimited {
        retry_after: u64,
    },
    PayloadTooLarge,
    /// A backend needed to decide is down: fail closed.
    Unavailable {
        backend: &'static str,
        retry_after: u64,
    },
    /// A bug or an impossible state; the detail is logged, never sent.
    Internal(String),
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: &'a str,
}

impl AppError {
    pub fn internal(detail: impl Into<String>) -> Self {
        AppError::Internal(detail.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadKey(_) | AppError::BadRequest(..) => StatusCode::BAD_REQUEST,
            AppError::Unauthenticated { login: Some(_), .. } => StatusCode::FOUND,
            AppError::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            AppError::Forbidden | AppError::IpBindingUnavailable => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable code for the body, logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadKey(r) => r.code(),
            AppError::BadRequest(code, _) => code,
            AppError::Unauthenticated {
                reason: Some(r), ..
            } => r.code(),
            AppError::Unauthenticated { reason: None, .. } => "unauthenticated",
            AppError::Forbidden => "forbidden",
            AppError::NotFound => "not_found",
            AppError::IpBindingUnavailable => "ip_binding_unavailable",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::PayloadTooLarge => "payload_too_large",
            AppError::Unavailable { .. } => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }

    fn message(&self) -> &'static str {
        match self {
            AppError::BadKey(_) => "the object path is not valid",
            AppError::BadRequest(_, message) => message,
            AppError::Unauthenticated {
                reason: Some(_), ..
            } => "the credential was not accepted",
            AppError::Unauthenticated { reason: None, .. } => "sign in to read this object",
            AppError::Forbidden => "you may not read this object",
            AppError::NotFound => "no such object",
            AppError::IpBindingUnavailable => "this object can only be signed for an IPv4 client",
            AppError::RateLimited { .. } => "too many requests; retry later",
            AppError::PayloadTooLarge => "the request is too large",
            AppError::Unavailable { .. } => "a backend is unavailable; retry later",
            AppError::Internal(_) => "internal error",
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Internal(detail) = &self {
            crate::telemetry::with_request_id(|request_id| {
                tracing::error!(request_id, detail = %detail, "internal error");
            });
        }
        let status = self.status();
        let body = serde_json::to_vec(&Body {
            error: self.code(),
            message: self.message(),
        })
        .unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
        match &self {
            AppError::Unauthenticated {
                login: Some(location),
                ..
            } => {
                if let Ok(v) = HeaderValue::from_str(location) {
                    headers.insert(header::LOCATION, v);
                }
            }
            AppError::Unauthenticated {
                reason,
                login: None,
            } => {
                let challenge = match reason {
                    Some(_) => "Bearer error=\"invalid_token\"",
                    None => "Bearer",
                };
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(challenge),
                );
            }
            AppError::RateLimited { retry_after } | AppError::Unavailable { retry_after, .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            _ => {}
        }
        response
    }
}
