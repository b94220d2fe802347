//! A local stand-in for a CloudFront edge, for development and end-to-end tests: it serves a file
//! (from a folder, or proxied from an origin) only when the request's signed URL or signed
//! cookies verify with the signing core's verifier, exactly as CloudFront decides. Otherwise it
//! answers 403 with CloudFront's wording. Signing parameters are stripped before the file is
//! looked up, HEAD and Range work, and `response-content-disposition` is honoured as S3 does.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use signgate_cloudfront::{
    verify_cookies, verify_url, Denial, PublicKeys, Verified, Viewer, SIGNING_PARAMS,
};
use tower::ServiceExt;
use tower_http::services::ServeDir;

use crate::authenticate::credentials::{find_cookie, CookieLookup};

/// Where the edge gets the bytes it serves.
#[derive(Clone)]
pub enum Origin {
    Folder(PathBuf),
    Http {
        base: String,
        client: reqwest::Client,
    },
}

pub struct Edge {
    pub keys: PublicKeys,
    pub origin: Origin,
    /// The URL viewers use for this edge (`https://d111111abcdef8.cloudfront.net`); by default
    /// `http://` + the request's Host.
    pub base_url: Option<String>,
}

pub fn router(edge: Arc<Edge>) -> Router {
    Router::new().fallback(serve).with_state(edge)
}

async fn serve(
    State(edge): State<Arc<Edge>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    // What is verified must be exactly what is fetched: an origin client would resolve `..`.
    let dot_segment = request.uri().path().split('/').any(|seg| {
        let decoded = seg.replace("%2e", ".").replace("%2E", ".");
        decoded == "." || decoded == ".."
    });
    let Some(url) = request_url(&edge, request.uri(), request.headers()).filter(|_| !dot_segment)
    else {
        return denied("Malformed request");
    };
    let viewer = Viewer {
        now: crate::clock::Clock::System.now(),
        client_ip: Some(crate::client_ip::canonical(peer.ip())),
    };
    let verified = match check(&edge.keys, &url, request.headers(), viewer) {
        Ok(v) => v,
        Err(denial) => return denied(&denial.to_string()),
    };
    let (path, query) = strip_signing(request.uri());
    let disposition = query_param(&query, "response-content-disposition");
    let mut response = match &edge.origin {
        Origin::Folder(root) => from_folder(root, request, &path).await,
        Origin::Http { base, client } => from_origin(client, base, request, &path, &query).await,
    };
    if let Some(value) = disposition.and_then(|v| HeaderValue::from_str(&v).ok()) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    tracing::debug!(key_pair_id = %verified.key_pair_id, path = %path, "edge served");
    response
}

/// Signed URL when the query carries signing parameters, signed cookies otherwise — the URL
/// takes precedence, as at CloudFront.
fn check(
    keys: &PublicKeys,
    url: &str,
    headers: &HeaderMap,
    viewer: Viewer,
) -> Result<Verified, Denial> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let has_url_signature = query
        .split('&')
        .any(|p| SIGNING_PARAMS.contains(&p.split('=').next().unwrap_or_default()));
    if has_url_signature {
        verify_url(url, keys, viewer)
    } else {
        let lookup = |name: &str| match find_cookie(headers, name) {
            CookieLookup::Value(v) => Some(v),
            _ => None,
        };
        verify_cookies(url, lookup, keys, viewer)
    }
}

fn request_url(edge: &Edge, uri: &Uri, headers: &HeaderMap) -> Option<String> {
    let base = match &edge.base_url {
        Some(b) => b.clone(),
        None => format!("http://{}", headers.get(header::HOST)?.to_str().ok()?),
    };
    Some(format!(
        "{base}{}",
        uri.path_and_query().map_or("/", |p| p.as_str())
    ))
}

/// The path, and the query without CloudFront's signing parameters.
fn strip_signing(uri: &Uri) -> (String, String) {
    let kept: Vec<&str> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| {
            !p.is_empty() && !SIGNING_PARAMS.contains(&p.split('=').next().unwrap_or_default())
        })
        .collect();
    (uri.path().to_owned(), kept.join("&"))
}

fn query_param(query: &str, name: &str) -> Option<String> {
    let raw = query
        .split('&')
        .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))?;
    let mut out = Vec::new();
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(v) = raw
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8(out).ok()
}

async fn from_folder(root: &PathBuf, request: Request, path: &str) -> Response {
    let (mut parts, body) = request.into_parts();
    parts.uri = path.parse().unwrap_or_else(|_| Uri::from_static("/"));
    let request = Request::from_parts(parts, body);
    match ServeDir::new(root)
        .append_index_html_on_directories(false)
        .oneshot(request)
        .await
    {
        Ok(r) => r.map(Body::new),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn from_origin(
    client: &reqwest::Client,
    base: &str,
    request: Request,
    path: &str,
    query: &str,
) -> Response {
    let mut url = format!("{}{path}", base.trim_end_matches('/'));
    if !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    let method = if request.method() == Method::HEAD {
        reqwest::Method::HEAD
    } else {
        reqwest::Method::GET
    };
    let mut upstream = client.request(method, url);
    for name in [
        header::RANGE,
        header::IF_NONE_MATCH,
        header::IF_MODIFIED_SINCE,
        header::IF_RANGE,
    ] {
        if let Some(v) = request.headers().get(&name) {
            upstream = upstream.header(name.as_str(), v.as_bytes());
        }
    }
    let Ok(answer) = upstream.send().await else {
        return (StatusCode::BAD_GATEWAY, "origin unreachable").into_response();
    };
    let mut response = Response::builder().status(answer.status().as_u16());
    for name in [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::CONTENT_RANGE,
        header::ACCEPT_RANGES,
        header::ETAG,
        header::LAST_MODIFIED,
        header::CACHE_CONTROL,
    ] {
        if let Some(v) = answer.headers().get(name.as_str()) {
            response = response.header(name, v.as_bytes());
        }
    }
    response
        .body(Body::from_stream(answer.bytes_stream()))
        .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}

/// CloudFront's 403: an XML error document.
fn denied(message: &str) -> Response {
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let body = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code><Message>{escaped}</Message></Error>");
    let mut r = (StatusCode::FORBIDDEN, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    r
}

/// Runs the edge until Ctrl-C or SIGTERM.
pub async fn run(edge: Edge, listen: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    eprintln!(
        "signgate edge listening on http://{}",
        listener.local_addr()?
    );
    axum::serve(
        listener,
        router(Arc::new(edge)).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

/// Binds on `listen` and serves in the background; returns the bound address (for tests).
pub async fn spawn(edge: Edge, listen: SocketAddr) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router(Arc::new(edge)).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    Ok(addr)
}
