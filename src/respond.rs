//! Step 5 of a request: the answer. A 302 to the signed URL for browsers and download links,
//! JSON for apps, a header for reverse proxies, `Set-Cookie` for folders.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::authenticate::Principal;
use crate::error::AppError;
use crate::flow::{Allowed, FolderGrant};
use crate::headers::private;
use crate::object_key::push_escape;
use crate::sign::{SignedObject, SignedUrl};

/// What the client asked to receive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wants {
    Redirect,
    Json,
    /// A browser page load: like Redirect, but a missing login becomes a login redirect.
    Html,
}

impl Wants {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        // Every media range of every Accept header, in one pass and without joining them (this
        // runs per request). JSON wins wherever it is listed.
        let mut html = false;
        let ranges = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|part| part.split(';').next().unwrap_or_default().trim());
        for range in ranges {
            if range.eq_ignore_ascii_case("application/json") {
                return Wants::Json;
            }
            html |= range.eq_ignore_ascii_case("text/html");
        }
        if html {
            Wants::Html
        } else {
            Wants::Redirect
        }
    }
}

#[derive(Serialize)]
struct SignedJson<'a> {
    url: &'a str,
    expires_at: u64,
}

/// `/files`: a 302 to the signed URL, or `{"url", "expires_at"}`.
pub fn signed(allowed: &Allowed<SignedObject>, wants: Wants) -> Result<Response, AppError> {
    let signed = &allowed.signed;
    let mut response = match wants {
        Wants::Json => axum::Json(SignedJson {
            url: &signed.url,
            expires_at: signed.expires_at,
        })
        .into_response(),
        Wants::Redirect | Wants::Html => redirect(url_header(&signed.url)?),
    };
    private(response.headers_mut());
    Ok(response)
}

/// `/auth`: 200 with the signed URL in `X-Signed-Url` and the subject in `X-Auth-User`, for the
/// proxy to redirect to or pass on.
pub fn forward_auth(allowed: &Allowed<SignedObject>) -> Result<Response, AppError> {
    let mut response = StatusCode::OK.into_response();
    let h = response.headers_mut();
    private(h);
    h.insert("x-signed-url", url_header(&allowed.signed.url)?);
    if let Principal::User(user) = &allowed.principal {
        h.insert("x-auth-user", header_safe(&user.subject));
    }
    Ok(response)
}

#[derive(Serialize)]
struct BatchResponse<'a> {
    results: Vec<Item<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Item<'a> {
    Signed {
        key: &'a str,
        url: &'a str,
        expires_at: u64,
    },
    Refused {
        key: &'a str,
        error: &'static str,
        status: u16,
    },
}

/// `/sign`: one result per key, in order: a signed URL or that key's refusal.
pub fn batch(keys: &[String], results: &[Result<SignedObject, AppError>]) -> Response {
    let results = keys
        .iter()
        .zip(results)
        .map(|(key, outcome)| match outcome {
            Ok(signed) => Item::Signed {
                key,
                url: &signed.url,
                expires_at: signed.expires_at,
            },
            Err(err) => Item::Refused {
                key,
                error: err.code(),
                status: err.status().as_u16(),
            },
        })
        .collect();
    let mut response = axum::Json(BatchResponse { results }).into_response();
    private(response.headers_mut());
    response
}

#[derive(Serialize)]
struct CookieJson<'a> {
    resource: &'a str,
    expires_at: u64,
    cookies: Vec<NameValue<'a>>,
    /// The entry URL carrying the credential (path and query forms).
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
}

#[derive(Serialize)]
struct NameValue<'a> {
    name: &'a str,
    value: &'a str,
}

/// `/cookies`: the folder's cookies as `Set-Cookie`, with a 302 to `next` (for the path and
/// query forms, the entry URL carrying the credential) or a JSON body when asked for JSON or
/// when there is nowhere to go.
pub fn cookies(allowed: &Allowed<FolderGrant>, wants: Wants) -> Result<Response, AppError> {
    let grant = &allowed.signed;
    let signed = &grant.credential;
    let mut response = match (&grant.next, wants) {
        (Some(location), Wants::Redirect | Wants::Html) => redirect(
            HeaderValue::from_str(location)
                .map_err(|_| AppError::internal("entry URL is not a header value"))?,
        ),
        _ => axum::Json(CookieJson {
            resource: &signed.resource,
            expires_at: signed.expires_at,
            cookies: signed
                .cookies
                .iter()
                .map(|(name, value)| NameValue { name, value })
                .collect(),
            url: signed.url.as_deref(),
        })
        .into_response(),
    };
    for cookie in signed.set_cookie_headers(&grant.distribution.cookies) {
        let value = HeaderValue::from_str(&cookie).map_err(|_| AppError::internal("bad cookie"))?;
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    private(response.headers_mut());
    Ok(response)
}

fn redirect(location: HeaderValue) -> Response {
    let mut r = StatusCode::FOUND.into_response();
    r.headers_mut().insert(header::LOCATION, location);
    r
}

/// The signed URL as a header value: the one made when it was signed, shared, not copied.
fn url_header(url: &SignedUrl) -> Result<HeaderValue, AppError> {
    url.header()
        .cloned()
        .ok_or_else(|| AppError::internal("signed URL is not a header value"))
}

/// A subject as a header value: visible ASCII kept, anything else percent-encoded.
fn header_safe(subject: &str) -> HeaderValue {
    let mut out = String::with_capacity(subject.len());
    for &b in subject.as_bytes() {
        if b.is_ascii_graphic() && b != b'%' {
            out.push(b as char);
        } else {
            push_escape(&mut out, b);
        }
    }
    HeaderValue::from_str(&out).unwrap_or(HeaderValue::from_static("-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wants(accepts: &[&'static str]) -> Wants {
        let mut headers = HeaderMap::new();
        for accept in accepts {
            headers.append(header::ACCEPT, HeaderValue::from_static(accept));
        }
        Wants::from_headers(&headers)
    }

    #[test]
    fn json_wins_wherever_it_is_listed_then_html_then_a_redirect() {
        assert_eq!(wants(&[]), Wants::Redirect);
        assert_eq!(wants(&["*/*"]), Wants::Redirect);
        assert_eq!(
            wants(&["text/html,application/xhtml+xml;q=0.9"]),
            Wants::Html
        );
        assert_eq!(wants(&["text/html, application/json;q=0.1"]), Wants::Json);
        assert_eq!(
            wants(&["text/html", " Application/JSON ; q=1"]),
            Wants::Json
        );
        assert_eq!(wants(&["image/webp", "TEXT/HTML;level=1"]), Wants::Html);
        // A media range is matched whole, not as a prefix.
        assert_eq!(wants(&["application/jsonx, text/htmlish"]), Wants::Redirect);
    }
}
