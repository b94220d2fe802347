//! `GET /cookies/{folder...}`: signed cookies for a whole folder (an HLS or DASH rendition, say),
//! then a 302 to `?next=` inside that folder, or a JSON body for apps.

use axum::extract::Request;
use axum::response::Response;

use crate::flow::{sign_folder, Caller, FolderRequest};
use crate::paths;
use crate::respond;

pub async fn get_cookies(caller: Caller, request: Request) -> Response {
    let wants = respond::Wants::from_headers(request.headers());
    let uri = request.uri();
    let req = FolderRequest {
        raw_folder: uri
            .path()
            .strip_prefix(paths::COOKIES)
            .and_then(|p| p.strip_prefix('/'))
            .unwrap_or_default(),
        query: uri.query(),
        headers: request.headers(),
    };
    let result = sign_folder(&caller, req)
        .await
        .and_then(|allowed| respond::cookies(&allowed, wants));
    super::answer(&caller.app.metrics, "cookies", "signed", result)
}
