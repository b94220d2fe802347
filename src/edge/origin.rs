//! Where the edge gets the bytes it serves: a folder, or an HTTP origin that receives exactly the
//! path that was verified.

use std::path::PathBuf;

use anyhow::{bail, Context};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::ServeDir;

/// Where the edge gets the bytes it serves.
#[derive(Clone)]
pub enum Origin {
    Folder(PathBuf),
    Http(HttpOrigin),
}

/// An origin server, and a client that never follows its redirects (CloudFront hands a 3xx to
/// the viewer; following it here would serve a path that was never verified).
#[derive(Clone)]
pub struct HttpOrigin {
    base: reqwest::Url,
    client: reqwest::Client,
}

impl Origin {
    /// An origin at `base` (`http://host:port`, optionally with a path prefix), without query or
    /// fragment.
    pub fn http(base: &str) -> anyhow::Result<Origin> {
        let url = reqwest::Url::parse(base).with_context(|| format!("--origin {base:?}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            bail!("--origin {base:?}: expected http:// or https://");
        }
        if url.query().is_some() || url.fragment().is_some() {
            bail!("--origin {base:?}: no query or fragment");
        }
        let client = crate::tls::client_builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Origin::Http(HttpOrigin { base: url, client }))
    }

    /// The answer for `request`, whose raw `path` (and signing-free `query`) was verified.
    pub(super) async fn fetch(&self, request: Request, path: &str, query: &str) -> Response {
        match self {
            Origin::Folder(root) => from_folder(root, request, path).await,
            Origin::Http(origin) => origin.fetch(request, path, query).await,
        }
    }
}

/// Serves `root` + the decoded path. [`super::path::check_path`] has made every segment decode to
/// one plain path component, so the file is the one the verified path names.
async fn from_folder(root: &PathBuf, request: Request, path: &str) -> Response {
    let (mut parts, body) = request.into_parts();
    let Ok(uri) = path.parse::<Uri>() else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    parts.uri = uri;
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

impl HttpOrigin {
    /// The origin URL for `path`: the base's path prefix + `path`, byte for byte. `None` when the
    /// URL parser would send anything else (it resolves dot segments and re-encodes some
    /// characters), so the origin never receives a path that was not verified.
    fn url_for(&self, path: &str, query: &str) -> Option<reqwest::Url> {
        let expected = format!("{}{path}", self.base.path().trim_end_matches('/'));
        let mut url = self.base.clone();
        url.set_path(&expected);
        url.set_query(Some(query).filter(|q| !q.is_empty()));
        (url.path() == expected && url.query().unwrap_or_default() == query).then_some(url)
    }

    async fn fetch(&self, request: Request, path: &str, query: &str) -> Response {
        let Some(url) = self.url_for(path, query) else {
            return StatusCode::BAD_REQUEST.into_response();
        };
        let method = if request.method() == Method::HEAD {
            reqwest::Method::HEAD
        } else {
            reqwest::Method::GET
        };
        let mut upstream = self.client.request(method, url);
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
            header::LOCATION,
        ] {
            if let Some(v) = answer.headers().get(name.as_str()) {
                response = response.header(name, v.as_bytes());
            }
        }
        response
            .body(Body::from_stream(answer.bytes_stream()))
            .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(base: &str) -> HttpOrigin {
        match Origin::http(base).unwrap() {
            Origin::Http(o) => o,
            Origin::Folder(_) => unreachable!(),
        }
    }

    #[test]
    fn the_origin_gets_the_verified_path_byte_for_byte() {
        let o = origin("http://127.0.0.1:9000");
        let url = o.url_for("/hls/alice/Q3%20a;b.ts", "v=1").unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9000/hls/alice/Q3%20a;b.ts?v=1"
        );
        let prefixed = origin("http://127.0.0.1:9000/bucket/");
        let url = prefixed.url_for("/hls/alice/a.ts", "").unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:9000/bucket/hls/alice/a.ts");
    }

    #[test]
    fn a_path_the_url_parser_would_rewrite_is_not_forwarded() {
        let o = origin("http://127.0.0.1:9000");
        for rewritten in [
            "/hls/alice/%2e%2e/bob/a.ts",
            "/hls/alice/../bob",
            "/a\\b",
            "/a{b}",
        ] {
            assert!(o.url_for(rewritten, "").is_none(), "{rewritten}");
        }
    }

    #[test]
    fn an_origin_is_an_http_url_without_query() {
        for bad in ["ftp://x", "http://x/?a", "http://x/#a", "not a url"] {
            assert!(Origin::http(bad).is_err(), "{bad}");
        }
    }
}
