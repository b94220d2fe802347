//! One error type for every request, and the only place refusal bodies are built. Each variant
//! knows its status; bodies are small JSON with a stable code and a short message, never a stack
//! trace, a token, a key or internal error text. Every refusal carries the private headers
//! (`Cache-Control: private, no-store`).
//!
//! Which to use: [`AppError::BadKey`] / [`AppError::BadRequest`] for input that does not parse;
//! [`AppError::Unauthenticated`] for a missing or refused credential (401, or a login redirect);
//! [`AppError::Forbidden`] / [`AppError::NotFound`] for a refusal by the rules;
//! [`AppError::Unavailable`] when a backend needed to decide is down (fail closed);
//! [`AppError::Internal`] for bugs: its detail rides on the response as an [`ErrorDetail`]
//! extension and the request frame logs it with the request id; converting an error into a
//! response has no side effects.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::authenticate::AuthFailure;
use crate::authorize::sql_grant::{GrantError, GrantUnavailable};
use crate::object_key::KeyRejection;
use crate::rate_limit::Limited;
use crate::sign::SignError;

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
    /// The distribution's provider refuses this object's URL (detail logged, not sent).
    Unsignable(String),
    RateLimited {
        retry_after: u64,
    },
    PayloadTooLarge,
    /// The request target is longer than the frame accepts.
    UriTooLong,
    /// The request's header section is larger than the frame accepts.
    HeadersTooLarge,
    /// No route has this path.
    NoRoute,
    /// A backend needed to decide is down: fail closed.
    Unavailable {
        backend: &'static str,
        retry_after: u64,
    },
    /// A bug or an impossible state; the detail is logged, never sent.
    Internal(String),
}

/// The detail of an internal error, carried on its response for the request frame to log.
#[derive(Clone, Debug)]
pub struct ErrorDetail(pub String);

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
            AppError::BadKey(_) | AppError::BadRequest(..) | AppError::Unsignable(_) => {
                StatusCode::BAD_REQUEST
            }
            AppError::Unauthenticated { login: Some(_), .. } => StatusCode::FOUND,
            AppError::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            AppError::Forbidden | AppError::IpBindingUnavailable => StatusCode::FORBIDDEN,
            AppError::NotFound | AppError::NoRoute => StatusCode::NOT_FOUND,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UriTooLong => StatusCode::URI_TOO_LONG,
            AppError::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
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
            AppError::Unsignable(_) => "unsignable_object",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::PayloadTooLarge => "payload_too_large",
            AppError::UriTooLong => "uri_too_long",
            AppError::HeadersTooLarge => "headers_too_large",
            AppError::NoRoute => "no_route",
            AppError::Unavailable { .. } => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }

    fn message(&self) -> &'static str {
        match self {
            AppError::BadKey(_) => "the object path is not valid",
            AppError::BadRequest(_, message) => message,
            AppError::Unauthenticated {
                reason: Some(AuthFailure::Audience),
                ..
            } => "the token was issued for another audience (its aud claim); ask for a token issued for this service",
            AppError::Unauthenticated {
                reason: Some(_), ..
            } => "the credential was not accepted",
            AppError::Unauthenticated { reason: None, .. } => "sign in to read this object",
            AppError::Forbidden => "you may not read this object",
            AppError::NotFound => "no such object",
            AppError::IpBindingUnavailable => {
                "this object cannot be signed for your address (this CDN binds IPv4 clients only)"
            }
            AppError::Unsignable(_) => "this object's CDN cannot sign a URL for it",
            AppError::RateLimited { .. } => "too many requests; retry later",
            AppError::PayloadTooLarge | AppError::UriTooLong | AppError::HeadersTooLarge => {
                "the request is too large"
            }
            AppError::NoRoute => "no such route",
            AppError::Unavailable { .. } => "a backend is unavailable; retry later",
            AppError::Internal(_) => "internal error",
        }
    }

    /// The answer to a reverse proxy's auth subrequest: only 401 or 403, whatever went wrong,
    /// because nginx turns any other status from `auth_request` into a 500. A refusal other than
    /// a missing credential or the rules' own becomes a 403 that keeps its code.
    pub fn into_forward_auth_response(self) -> Response {
        match self {
            AppError::Unauthenticated { reason, .. } => AppError::Unauthenticated {
                reason,
                login: None,
            }
            .into_response(),
            AppError::Forbidden => AppError::Forbidden.into_response(),
            other => {
                let mut response = refusal(StatusCode::FORBIDDEN, other.code(), "access denied");
                if let AppError::Internal(detail) | AppError::Unsignable(detail) = other {
                    response.extensions_mut().insert(ErrorDetail(detail));
                }
                response
            }
        }
    }
}

/// A JSON refusal body with the private headers.
fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::to_vec(&Body {
        error: code,
        message,
    })
    .unwrap_or_default();
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    crate::headers::private(headers);
    response
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut response = refusal(self.status(), self.code(), self.message());
        let headers = response.headers_mut();
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
        if let AppError::Internal(detail) | AppError::Unsignable(detail) = self {
            response.extensions_mut().insert(ErrorDetail(detail));
        }
        response
    }
}

impl From<SignError> for AppError {
    fn from(e: SignError) -> Self {
        match e {
            SignError::IpBindingUnavailable => AppError::IpBindingUnavailable,
            SignError::DownloadUnsupported => AppError::BadRequest(
                "download_unsupported",
                "this object's CDN cannot carry a download name",
            ),
            SignError::Unsignable(detail) => AppError::Unsignable(detail),
            SignError::Internal(detail) => AppError::Internal(detail),
        }
    }
}

impl From<Limited> for AppError {
    fn from(l: Limited) -> Self {
        AppError::RateLimited {
            retry_after: l.retry_after,
        }
    }
}

impl From<GrantError<Limited>> for AppError {
    fn from(e: GrantError<Limited>) -> Self {
        match e {
            GrantError::Unavailable(u) => u.into(),
            GrantError::Refused(limited) => limited.into(),
        }
    }
}

impl From<GrantUnavailable> for AppError {
    fn from(_: GrantUnavailable) -> Self {
        AppError::Unavailable {
            backend: "grant_db",
            retry_after: 5,
        }
    }
}
