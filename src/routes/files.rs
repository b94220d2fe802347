//! `GET|HEAD {files_prefix}/{key...}`: 302 to the signed URL, or JSON for apps.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};

use crate::client_ip::client_ip;
use crate::error::AppError;
use crate::grant::{grant, ObjectRequest};
use crate::respond::{self, Wants};
use crate::state::AppState;

pub async fn get_object(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let app = state.app.load_full();
    let server = &app.settings.server;
    let wants = Wants::from_headers(request.headers());
    let uri = request.uri();
    let raw_key = uri
        .path()
        .strip_prefix(server.files_prefix.as_str())
        .and_then(|p| p.strip_prefix('/'))
        .unwrap_or_default();
    let req = ObjectRequest {
        raw_key,
        query: uri.query(),
        headers: request.headers(),
        client_ip: client_ip(peer.ip(), request.headers(), &server.trusted_proxies),
    };
    let result = grant(&app, &state.metrics, req)
        .await
        .and_then(|g| respond::signed(&g, wants));
    match result {
        Ok(response) => {
            state.metrics.request("files", "signed");
            response
        }
        Err(err) => {
            state.metrics.request("files", err.code());
            login_redirect(err, wants, &app, uri).into_response()
        }
    }
}

/// A browser that is not signed in goes to the login page, with `next` pointing back here (built
/// from the configured public URL and the validated path, never from request headers).
fn login_redirect(
    err: AppError,
    wants: Wants,
    app: &crate::state::App,
    uri: &axum::http::Uri,
) -> AppError {
    let server = &app.settings.server;
    match (err, wants, &server.login_url) {
        (
            AppError::Unauthenticated {
                reason,
                login: None,
            },
            Wants::Html,
            Some(login),
        ) => {
            let mut next = server.public_url.clone();
            next.push_str(uri.path());
            if let Some(q) = uri.query() {
                next.push('?');
                next.push_str(q);
            }
            let mut location = login.clone();
            location.push(if login.contains('?') { '&' } else { '?' });
            location.push_str("next=");
            location.push_str(&crate::object_key::encode_component(&next));
            AppError::Unauthenticated {
                reason,
                login: Some(location),
            }
        }
        (err, ..) => err,
    }
}
