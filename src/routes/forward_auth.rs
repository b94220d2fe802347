//! `/auth`: forward authentication for reverse proxies (nginx `auth_request`, Traefik and Caddy
//! forward-auth). The original request comes from `X-Original-URI` / `X-Original-URL` /
//! `X-Original-Method` (nginx) or `X-Forwarded-Uri` / `X-Forwarded-Method` (Traefik, Caddy),
//! believed only from trusted proxies. The answer is 200 (with `X-Signed-Url` and
//! `X-Auth-User`), 401 or 403, and nothing else: nginx turns any other status from an auth
//! subrequest into a 500.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::client_ip::{canonical, client_ip, is_trusted};
use crate::error::AppError;
use crate::grant::{grant, ObjectRequest};
use crate::respond::private_headers;
use crate::state::AppState;

pub async fn check(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let app = state.app.load_full();
    let server = &app.settings.server;
    let result = if !is_trusted(canonical(peer.ip()), &server.trusted_proxies) {
        Err(AppError::BadRequest(
            "untrusted_proxy",
            "forward authentication is only answered to trusted proxies",
        ))
    } else {
        match original_request(&headers) {
            Err(e) => Err(e),
            Ok(target) => match target
                .path
                .strip_prefix(server.files_prefix.as_str())
                .and_then(|p| p.strip_prefix('/'))
            {
                None => Err(AppError::BadRequest(
                    "outside_prefix",
                    "the original URI is not under the files prefix",
                )),
                Some(raw_key) => {
                    let req = ObjectRequest {
                        raw_key,
                        query: target.query,
                        headers: &headers,
                        client_ip: client_ip(peer.ip(), &headers, &server.trusted_proxies),
                    };
                    grant(&app, &state.metrics, req).await
                }
            },
        }
    };
    match result {
        Ok(grant) => {
            state.metrics.request("auth", "signed");
            let mut response = StatusCode::OK.into_response();
            let h = response.headers_mut();
            private_headers(h);
            match HeaderValue::from_str(&grant.signed.url) {
                Ok(v) => h.insert("x-signed-url", v),
                Err(_) => {
                    return only_401_or_403(AppError::internal("signed URL is not a header value"))
                }
            };
            if let Some(subject) = grant.principal.subject() {
                h.insert("x-auth-user", header_safe(subject));
            }
            response
        }
        Err(err) => {
            state.metrics.request("auth", err.code());
            only_401_or_403(err)
        }
    }
}

struct Target<'a> {
    path: &'a str,
    query: Option<&'a str>,
}

/// The original request's path and query, from exactly one consistent source, and its method,
/// which must be GET or HEAD.
fn original_request(headers: &HeaderMap) -> Result<Target<'_>, AppError> {
    let bad = |code| {
        AppError::BadRequest(
            code,
            "the original request headers are missing, repeated or inconsistent",
        )
    };
    let single = |name: &str| -> Result<Option<&str>, AppError> {
        let mut values = headers.get_all(name).iter();
        match (values.next(), values.next()) {
            (None, _) => Ok(None),
            (Some(v), None) => v.to_str().map(Some).map_err(|_| bad("bad_original_header")),
            (Some(_), Some(_)) => Err(bad("repeated_original_header")),
        }
    };
    let mut uris = Vec::new();
    if let Some(uri) = single("x-original-uri")? {
        uris.push(uri);
    }
    if let Some(url) = single("x-original-url")? {
        // A full URL: keep its path and query.
        let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        let path_start = after_scheme.find('/').ok_or(bad("bad_original_uri"))?;
        uris.push(&after_scheme[path_start..]);
    }
    if let Some(uri) = single("x-forwarded-uri")? {
        uris.push(uri);
    }
    let uri = *uris.first().ok_or(bad("missing_original_uri"))?;
    if uris.iter().any(|u| *u != uri) {
        return Err(bad("conflicting_original_uri"));
    }
    if !uri.starts_with('/') || uri.contains('#') {
        return Err(bad("bad_original_uri"));
    }
    for name in ["x-original-method", "x-forwarded-method"] {
        if let Some(method) = single(name)? {
            if method != "GET" && method != "HEAD" {
                return Err(AppError::BadRequest(
                    "method_not_allowed",
                    "only GET and HEAD requests are signed",
                ));
            }
        }
    }
    let (path, query) = match uri.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (uri, None),
    };
    Ok(Target { path, query })
}

/// Keeps the answer to 401 or 403, whatever went wrong.
fn only_401_or_403(err: AppError) -> Response {
    let err = match err {
        AppError::Unauthenticated { reason, .. } => AppError::Unauthenticated {
            reason,
            login: None,
        },
        AppError::Forbidden => AppError::Forbidden,
        other => {
            let code = other.code();
            if let AppError::Internal(detail) = &other {
                crate::telemetry::with_request_id(|request_id| {
                    tracing::error!(request_id, detail = %detail, "internal error in forward auth");
                });
            }
            return forbidden_with_code(code);
        }
    };
    err.into_response()
}

fn forbidden_with_code(code: &'static str) -> Response {
    let body = format!("{{\"error\":\"{code}\",\"message\":\"access denied\"}}");
    let mut response = (StatusCode::FORBIDDEN, body).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    private_headers(response.headers_mut());
    response
}

/// A subject as a header value: visible ASCII kept, anything else percent-encoded.
fn header_safe(subject: &str) -> HeaderValue {
    let mut out = String::with_capacity(subject.len());
    for &b in subject.as_bytes() {
        if b.is_ascii_graphic() && b != b'%' {
            out.push(b as char);
        } else {
            crate::object_key::push_escape(&mut out, b);
        }
    }
    HeaderValue::from_str(&out).unwrap_or(HeaderValue::from_static("-"))
}
