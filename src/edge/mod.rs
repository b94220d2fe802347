//! A local stand-in for a CDN edge (CloudFront by default, or any provider of the providers
//! crate), for development and end-to-end tests: it serves a file (from a folder, or proxied
//! from an origin) only when the request's signed URL, token or cookies verify with that CDN's
//! verifier, exactly as its edge decides. Otherwise it answers 403 (CloudFront's wording, the
//! provider's reason). Signing parameters (and a token carried in the path) are stripped before
//! the file is looked up, HEAD and Range work, and `response-content-disposition` is honoured as
//! S3 does.
//!
//! Every end-to-end test trusts it to prove that nothing unauthorized is served, so it verifies
//! exactly what it serves: the URL verified is the configured base URL + the raw request path
//! (never built from `Host`, see `authority`), a request for another host is refused, and a
//! path an origin could read as another path is refused before verifying (`path`); the folder
//! or origin then gets that same path (`origin`).

mod authority;
mod origin;
mod path;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use signgate_cloudfront::{
    verify_cookies, verify_url, Denial, PublicKeys, Verified, Viewer, SIGNING_PARAMS,
};

use crate::authenticate::credentials::{find_cookie, CookieLookup};
use crate::sign::CdnSigner;

pub use authority::{check_request_authority, BaseUrl, HostRefusal};
pub use origin::{HttpOrigin, Origin};
pub use path::{check_path, PathRefusal};

/// What checks requests: CloudFront's public keys, or another CDN's verifier.
pub enum Verifier {
    CloudFront(PublicKeys),
    Cdn(CdnSigner),
}

pub struct Edge {
    pub verifier: Verifier,
    pub origin: Origin,
    /// The URL viewers use for this edge (`https://d111111abcdef8.cloudfront.net`): what is
    /// verified is this + the request path, and requests naming another host are refused.
    /// `None`: `http://` + the address the edge is bound to (refused when that is 0.0.0.0 or
    /// `::`, which no viewer can send as a Host).
    pub base_url: Option<BaseUrl>,
}

/// An edge bound to its address, its base URL known.
struct Serving {
    verifier: Verifier,
    origin: Origin,
    base: BaseUrl,
}

fn router(serving: Serving) -> Router {
    Router::new().fallback(serve).with_state(Arc::new(serving))
}

async fn serve(
    State(edge): State<Arc<Serving>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    if let Err(refusal) =
        authority::check_request_authority(&edge.base, request.uri(), request.headers())
    {
        return bad_request(refusal.reason());
    }
    // What the folder or origin will be asked for: the path without a token the CDN carries in
    // it (Media CDN, Bunny), the query without the signing parameters. That is the path checked
    // here; the URL verified is the whole request.
    let (path, query) = match &edge.verifier {
        Verifier::CloudFront(_) => strip_signing(request.uri()),
        Verifier::Cdn(signer) => signer
            .inner()
            .origin_request(request.uri().path(), request.uri().query()),
    };
    if let Err(refusal) = path::check_path(&path) {
        return bad_request(refusal.reason());
    }
    let url = format!(
        "{}{}",
        edge.base,
        request.uri().path_and_query().map_or("/", |p| p.as_str())
    );
    let client_ip = crate::client_ip::canonical(peer.ip());
    let now = crate::clock::Clock::System.now();
    let key = match &edge.verifier {
        Verifier::CloudFront(keys) => {
            let viewer = Viewer {
                now,
                client_ip: Some(client_ip),
            };
            match verify(keys, &url, request.headers(), viewer) {
                Ok(v) => v.key_pair_id.to_string(),
                Err(denial) => return denied(&denial.to_string()),
            }
        }
        Verifier::Cdn(signer) => {
            let jar = cookie_jar(request.headers());
            let edge_request = signgate_providers::EdgeRequest {
                method: request.method().as_str(),
                url: &url,
                cookies: &jar,
                client_ip: Some(client_ip),
                now,
            };
            match signer.inner().verify(&edge_request) {
                Ok(v) => v.key,
                Err(refusal) => return denied(&refusal.to_string()),
            }
        }
    };
    let disposition = query_param(&query, "response-content-disposition");
    let mut response = edge.origin.fetch(request, &path, &query).await;
    if let Some(value) = disposition.and_then(|v| HeaderValue::from_str(&v).ok()) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    tracing::debug!(key = %key, path = %path, "edge served");
    response
}

/// The one verification step (another CDN's verifier would be chosen here): the signed URL when
/// the query carries signing parameters, signed cookies otherwise — the URL takes precedence, as
/// at CloudFront.
fn verify(
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

/// Every cookie of the request as (name, value); a name sent twice is dropped altogether (one
/// may have been planted for another path: never guess which one was meant), as are values that
/// are not visible ASCII.
fn cookie_jar(headers: &HeaderMap) -> Vec<(&str, &str)> {
    let mut jar: Vec<(&str, &str)> = Vec::new();
    let mut twice: Vec<&str> = Vec::new();
    for header in headers.get_all(header::COOKIE) {
        let Ok(text) = header.to_str() else { continue };
        for pair in text.split(';') {
            let Some((name, value)) = pair.trim_start().split_once('=') else {
                continue;
            };
            if !value.bytes().all(|b| b.is_ascii_graphic()) {
                continue;
            }
            if jar.iter().any(|(n, _)| *n == name) {
                twice.push(name);
            }
            jar.push((name, value.trim_matches('"')));
        }
    }
    jar.retain(|(n, _)| !twice.contains(n));
    jar
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

fn escape_markup(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// CloudFront's 403: an XML error document.
fn denied(message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code><Message>{}</Message></Error>",
        escape_markup(message)
    );
    let mut r = (StatusCode::FORBIDDEN, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    r
}

/// CloudFront's 400 for a request it will not route: its HTML error page, with one line saying
/// why (a fixed text: nothing the client sent is echoed).
fn bad_request(reason: &str) -> Response {
    let body = format!(
        "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\" \"http://www.w3.org/TR/html4/loose.dtd\">\n\
         <HTML><HEAD><META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=iso-8859-1\">\n\
         <TITLE>ERROR: The request could not be satisfied</TITLE>\n\
         </HEAD><BODY>\n<H1>400 ERROR</H1>\n<H2>The request could not be satisfied.</H2>\n\
         <HR noshade size=\"1px\">\nBad request.\n<BR clear=\"all\">\n{}\n\
         <BR clear=\"all\">\n<HR noshade size=\"1px\">\n<PRE>\nGenerated by signgate edge\n</PRE>\n\
         </BODY></HTML>\n",
        escape_markup(reason)
    );
    let mut r = (StatusCode::BAD_REQUEST, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    r
}

/// Binds `listen` and settles the base URL (the bound address when none was given).
async fn bind(
    edge: Edge,
    listen: SocketAddr,
) -> anyhow::Result<(tokio::net::TcpListener, Serving)> {
    if edge.base_url.is_none() {
        // Before binding: a listen address no viewer can name stops the start at once.
        BaseUrl::from_listen(listen)?;
    }
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let base = match edge.base_url {
        Some(base) => base,
        None => BaseUrl::from_listen(listener.local_addr()?)?,
    };
    let serving = Serving {
        verifier: edge.verifier,
        origin: edge.origin,
        base,
    };
    Ok((listener, serving))
}

/// Runs the edge until Ctrl-C or SIGTERM.
pub async fn run(edge: Edge, listen: SocketAddr) -> anyhow::Result<()> {
    let (listener, serving) = bind(edge, listen).await?;
    eprintln!(
        "signgate edge listening on http://{}, serving {}",
        listener.local_addr()?,
        serving.base
    );
    axum::serve(
        listener,
        router(serving).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

/// Binds on `listen` and serves in the background; returns the bound address (for tests).
pub async fn spawn(edge: Edge, listen: SocketAddr) -> anyhow::Result<SocketAddr> {
    let (listener, serving) = bind(edge, listen).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router(serving).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    Ok(addr)
}
