//! `/auth`: forward authentication for reverse proxies (nginx `auth_request`, Traefik and Caddy
//! forward-auth). The original request comes from `X-Original-URI` / `X-Original-URL` /
//! `X-Original-Method` (nginx) or `X-Forwarded-Uri` / `X-Forwarded-Method` (Traefik, Caddy),
//! believed only from trusted proxies. The answer is 200 (with `X-Signed-Url` and
//! `X-Auth-User`), 401 or 403, and nothing else: nginx turns any other status from an auth
//! subrequest into a 500.

use axum::http::HeaderMap;
use axum::response::Response;

use crate::error::AppError;
use crate::flow::{sign_object, Caller, ObjectRequest};
use crate::respond;

pub async fn check(caller: Caller, headers: HeaderMap) -> Response {
    let result = forward_auth(&caller, &headers).await;
    let metrics = &caller.app.metrics;
    let (response, outcome) = match result {
        Ok(response) => (response, "signed"),
        Err(err) => {
            let code = err.code();
            (err.into_forward_auth_response(), code)
        }
    };
    metrics.request("auth", response.status().as_u16(), outcome);
    response
}

async fn forward_auth(caller: &Caller, headers: &HeaderMap) -> Result<Response, AppError> {
    if !caller.peer_is_trusted_proxy() {
        return Err(AppError::BadRequest(
            "untrusted_proxy",
            "forward authentication is only answered to trusted proxies",
        ));
    }
    let target = original_request(headers)?;
    let raw_key = target
        .path
        .strip_prefix(caller.app.server.files_prefix.as_str())
        .and_then(|p| p.strip_prefix('/'))
        .ok_or(AppError::BadRequest(
            "outside_prefix",
            "the original URI is not under the files prefix",
        ))?;
    let req = ObjectRequest {
        raw_key,
        query: target.query,
        headers,
    };
    let allowed = sign_object(caller, req).await?;
    respond::forward_auth(&allowed)
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
