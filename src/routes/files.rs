//! `GET|HEAD {files_prefix}/{key...}`: 302 to the signed URL, or JSON for apps.

use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::Uri;
use axum::response::Response;

use crate::config::ServerConfig;
use crate::error::AppError;
use crate::flow::{sign_object, Caller, ObjectRequest};
use crate::respond::{self, Wants};

pub async fn get_object(caller: Caller, request: Request) -> Response {
    object(&caller, &request.into_parts().0).await
}

/// [`get_object`] with the request's head borrowed (a GET's body is refused by the request frame
/// and never read), for the frame's direct object route, whose future then holds it once.
pub async fn object(caller: &Caller, request: &Parts) -> Response {
    let server = &caller.app.server;
    let wants = Wants::from_headers(&request.headers);
    let uri = &request.uri;
    let req = ObjectRequest {
        raw_key: uri
            .path()
            .strip_prefix(server.files_prefix.as_str())
            .and_then(|p| p.strip_prefix('/'))
            .unwrap_or_default(),
        query: uri.query(),
        headers: &request.headers,
    };
    let result = sign_object(caller, req)
        .await
        .and_then(|allowed| respond::signed(&allowed, wants))
        .map_err(|err| login_redirect(err, wants, server, uri));
    super::answer(&caller.app.metrics, "files", "signed", result)
}

/// A browser that is not signed in goes to the login page, with `next` pointing back here (built
/// from the configured public URL and the validated path, never from request headers).
fn login_redirect(err: AppError, wants: Wants, server: &ServerConfig, uri: &Uri) -> AppError {
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
