//! `GET /cookies/{folder...}`: signed cookies for a whole folder (an HLS or DASH rendition, say),
//! then a 302 to `?next=` inside that folder, or a JSON body for apps.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::authorize::Decision;
use crate::client_ip::client_ip;
use crate::error::AppError;
use crate::grant::authenticate;
use crate::object_key::ObjectKey;
use crate::respond::private_headers;
use crate::state::AppState;

pub const PREFIX: &str = "/cookies";

#[derive(Serialize)]
struct CookieJson<'a> {
    resource: &'a str,
    expires_at: u64,
    cookies: Vec<NameValue<'a>>,
}

#[derive(Serialize)]
struct NameValue<'a> {
    name: &'a str,
    value: &'a str,
}

pub async fn get_cookies(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (parts, _body) = request.into_parts();
    let result = cookies(&state, peer, &parts).await;
    state.metrics.request(
        "cookies",
        result.as_ref().map_or_else(AppError::code, |_| "signed"),
    );
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn cookies(
    state: &AppState,
    peer: SocketAddr,
    request: &Parts,
) -> Result<Response, AppError> {
    let app = state.app.load_full();
    let server = &app.settings.server;
    let ip = client_ip(peer.ip(), &request.headers, &server.trusted_proxies);
    app.limits.check_ip(ip)?;
    let raw = request
        .uri
        .path()
        .strip_prefix(PREFIX)
        .and_then(|p| p.strip_prefix('/'))
        .unwrap_or_default();
    let folder = ObjectKey::from_raw_path(raw.trim_end_matches('/'), server.max_key_bytes)
        .map_err(AppError::BadKey)?;
    let next = match request
        .uri
        .query()
        .unwrap_or_default()
        .split('&')
        .find_map(|p| p.strip_prefix("next="))
    {
        Some(raw) => {
            Some(ObjectKey::from_raw_path(raw, server.max_key_bytes).map_err(AppError::BadKey)?)
        }
        None => None,
    };
    let principal = authenticate(&app, &state.metrics, &request.headers).await?;
    let subject = principal.subject().unwrap_or("-");
    let rule = match app.settings.rules.decide_folder(&folder, &principal) {
        Decision::Allow(rule) => rule,
        Decision::NeedsLogin => {
            return Err(AppError::Unauthenticated {
                reason: None,
                login: None,
            })
        }
        Decision::Forbidden { not_found } => {
            crate::audit!(subject, folder = %folder, decision = "deny", kind = "cookies");
            return Err(if not_found {
                AppError::NotFound
            } else {
                AppError::Forbidden
            });
        }
    };
    if !crate::grant::grant_allows(rule, &principal, &folder).await? {
        return Err(if rule.deny_as_not_found {
            AppError::NotFound
        } else {
            AppError::Forbidden
        });
    }
    let signed = rule
        .target
        .sign_cookies(&folder, ip, app.settings.clock.now())?;
    crate::audit!(
        subject,
        folder = %folder,
        decision = "allow",
        kind = "cookies",
        rule = rule.pattern.as_str(),
        key_id = %signed.key_pair_id,
        expires = signed.expires_at,
    );
    let dist = &rule.target.distribution;
    let mut response = match next {
        Some(next) => {
            let location = format!(
                "{}/{}/{}",
                dist.base_url,
                folder.to_url_path(),
                next.to_url_path()
            );
            let mut r = StatusCode::FOUND.into_response();
            r.headers_mut().insert(
                header::LOCATION,
                HeaderValue::from_str(&location).map_err(|_| AppError::internal("bad location"))?,
            );
            r
        }
        None => axum::Json(CookieJson {
            resource: &signed.resource,
            expires_at: signed.expires_at,
            cookies: signed
                .cookies
                .0
                .iter()
                .map(|(name, value)| NameValue { name, value })
                .collect(),
        })
        .into_response(),
    };
    for cookie in signed.set_cookie_headers(&dist.cookies) {
        let value = HeaderValue::from_str(&cookie).map_err(|_| AppError::internal("bad cookie"))?;
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    private_headers(response.headers_mut());
    Ok(response)
}
