//! What happens to every request before and after its route: its id, hygiene checks, the time
//! limit, and its span.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;

use axum::body::HttpBody;
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::ServiceExt;
use tracing::Instrument;

use crate::client_ip::{canonical, is_trusted};
use crate::connection::InFlight;
use crate::error::{AppError, ErrorDetail};
use crate::headers::REQUEST_ID;
use crate::service::Service;

/// Longest request target accepted, in bytes (CloudFront's own URL limit is 8 KiB).
pub const MAX_URI_BYTES: usize = 8192;
/// Largest request head (all header names and values), in bytes.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The route table inside the request frame: what the accept loop calls for every request.
///
/// The frame wraps the router from outside, as a plain function, rather than as axum layers:
/// `Router::layer` puts a layer on each route, and each one clones its boxed inner service and
/// boxes its future on every request (`bench/README.md` has the figures). For every request:
///
/// 1. the request id ([`request_id`]) goes back on the answer and into the audit line and the
///    other lines written about this request;
/// 2. oversized request targets (414) and header sections (431) are refused, and so is a body
///    on GET or HEAD (400);
/// 3. the route gets `server.request_timeout_ms` (then 503), counted from when it first has to
///    wait (for a JWKS, a session store or a grant database; [`within`]): a request that
///    completes in its first poll, as a signed 302 from a bearer token does, makes no timer;
/// 4. an internal error's detail, carried on the answer by [`ErrorDetail`], is logged here with
///    the request id (and never sent).
#[derive(Clone)]
pub struct Framed {
    service: Arc<Service>,
    router: Router,
    /// `server.files_prefix` as the route table was built with it.
    files_prefix: Arc<str>,
}

impl Framed {
    pub fn new(service: Arc<Service>, router: Router, files_prefix: &str) -> Self {
        Framed {
            service,
            router,
            files_prefix: files_prefix.into(),
        }
    }

    /// The answer to `request` from the TCP peer `peer`, as a future that owns what it needs
    /// (`in_flight`, the request's mark on its connection, included: released with the answer),
    /// in the form hyper serves (`Ok` always).
    ///
    /// Everything decided without waiting (the request id, the hygiene checks, which route
    /// answers) is done here, before any future exists; the route's own future is then boxed
    /// once, so that the layers around it (time limit, panic guard, the id's scope, the span)
    /// each wrap a pointer instead of copying the route's state into theirs.
    pub fn answer(
        &self,
        mut request: Request,
        peer: SocketAddr,
        in_flight: InFlight,
    ) -> impl Future<Output = Result<Response, Infallible>> + Send + 'static {
        let (timeout, from_proxy) = {
            let app = self.service.current();
            let server = &app.server;
            let from_proxy = is_trusted(canonical(peer.ip()), &server.trusted_proxies);
            (server.request_timeout, from_proxy)
        };
        let id = request_id(&mut request, from_proxy);
        // A reverse proxy's auth subrequest gets only 200, 401 or 403, the frame's own refusals
        // included (nginx turns any other status into a 500).
        let forward_auth = request.uri().path() == crate::paths::AUTH;
        let refusal = oversized(&request).or_else(|| body_on_read(&request));
        let route = match refusal {
            Some(refusal) => Err(refusal),
            None => Ok((
                crate::telemetry::make_span(&request, &id),
                self.route(request, peer),
            )),
        };
        async move {
            let refuse = |err: AppError| {
                if forward_auth {
                    err.into_forward_auth_response()
                } else {
                    err.into_response()
                }
            };
            let mut response = match route {
                Err(refusal) => refuse(refusal),
                Ok((span, route)) => {
                    let answer = within(timeout, catch_panic(route));
                    match crate::telemetry::with_request(id.clone(), answer)
                        .instrument(span)
                        .await
                    {
                        Some(response) => response,
                        None => {
                            let request_id = id.to_str().unwrap_or("-");
                            tracing::warn!(
                                request_id,
                                "request timed out after {} ms",
                                timeout.as_millis()
                            );
                            refuse(AppError::Unavailable {
                                backend: "request_timeout",
                                retry_after: 1,
                            })
                        }
                    }
                }
            };
            if let Some(ErrorDetail(detail)) = response.extensions().get::<ErrorDetail>() {
                let request_id = id.to_str().unwrap_or("-");
                tracing::error!(request_id, detail = %detail, "internal error");
            }
            response.headers_mut().insert(REQUEST_ID.clone(), id);
            Ok(marked(response, in_flight))
        }
    }

    /// The route's future for `request`, boxed.
    ///
    /// `GET {files_prefix}/...`, the route nearly every request takes, goes straight to its
    /// handler ([`crate::routes::object_route`]): the route table would send it to the same
    /// handler, after matching the path, percent-decoding the key into a parameter the handler
    /// does not read (it parses the raw path itself) and wrapping the handler's future three
    /// more times. HEAD, other methods and every other path go through the route table.
    fn route(&self, mut request: Request, peer: SocketAddr) -> RouteFuture {
        if is_object_get(&request, &self.files_prefix) {
            Box::pin(crate::routes::object_route(
                self.service.clone(),
                request,
                peer.ip(),
            ))
        } else {
            // The route table's handlers read the peer as axum's connect info (only they: the
            // object route is handed it, so its requests carry no extension, which costs a map
            // allocated and dropped per request).
            request.extensions_mut().insert(ConnectInfo(peer));
            let router = self.router.clone();
            Box::pin(async move {
                router
                    .oneshot(request)
                    .await
                    .unwrap_or_else(|never| match never {})
            })
        }
    }
}

/// A route's answer in the making, boxed: see [`Framed::route`].
type RouteFuture = std::pin::Pin<Box<dyn Future<Output = Response> + Send>>;

/// `GET {files_prefix}/...`: what the route table's two object routes (`{prefix}/{*key}` and
/// `{prefix}/`) match for GET.
fn is_object_get(request: &Request, files_prefix: &str) -> bool {
    request.method() == Method::GET
        && request
            .uri()
            .path()
            .strip_prefix(files_prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// `response`, with its connection's in-flight mark released once it is sent: at once for an
/// answer without a body (a 302), and for one with a body (JSON, a `/sign` batch of up to
/// 1,000 URLs) when hyper has written the body or given up on it, so a client reading a long
/// answer slowly is not taken for an idle connection.
fn marked(response: Response, in_flight: InFlight) -> Response {
    if response.body().is_end_stream() {
        return response;
    }
    response.map(|body| {
        axum::body::Body::new(MarkedBody {
            body,
            _in_flight: in_flight,
        })
    })
}

/// An answer's body that holds its connection's in-flight mark until it is dropped.
struct MarkedBody {
    body: axum::body::Body,
    _in_flight: InFlight,
}

impl HttpBody for MarkedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// Polls `route` until it answers or, once it has had to wait, until `limit` has passed
/// (`None`). The timer is made when the route first waits: a route that answers in its first
/// poll (a signed 302 from a bearer token) reads no clock, touches no timer wheel, and its
/// future holds no timer. (The limit counts from that first wait; what ran before it was
/// synchronous work of microseconds.)
async fn within<F: Future>(limit: std::time::Duration, route: F) -> Option<F::Output> {
    let mut route = std::pin::pin!(route);
    let mut timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    std::future::poll_fn(|cx| {
        if let Poll::Ready(answer) = route.as_mut().poll(cx) {
            return Poll::Ready(Some(answer));
        }
        let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// Polls `route` inside `catch_unwind`: a handler that panics gets a 500 (its detail logged by
/// the frame), and the connection and the worker live on.
async fn catch_panic<F>(route: F) -> Response
where
    F: Future<Output = Response>,
{
    let mut route = std::pin::pin!(route);
    std::future::poll_fn(|cx| {
        match std::panic::catch_unwind(AssertUnwindSafe(|| route.as_mut().poll(cx))) {
            Ok(poll) => poll,
            Err(_) => Poll::Ready(AppError::internal("handler panicked").into_response()),
        }
    })
    .await
}

/// The request's id: an incoming `x-request-id` of 1 to 128 visible ASCII characters is kept
/// when it comes from a trusted proxy (`server.trusted_proxies`), so the proxy's logs and ours
/// correlate; from anyone else, or malformed, it is replaced by a new UUID (in the request
/// too), so a client cannot choose the id its requests are audited under.
fn request_id(request: &mut Request, from_proxy: bool) -> HeaderValue {
    match request.headers().get(&REQUEST_ID) {
        Some(v) if from_proxy && acceptable_id(v) => v.clone(),
        Some(_) => {
            let id = new_id();
            request.headers_mut().insert(REQUEST_ID.clone(), id.clone());
            id
        }
        None => new_id(),
    }
}

fn acceptable_id(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    !b.is_empty() && b.len() <= 128 && b.iter().all(|c| c.is_ascii_graphic())
}

fn new_id() -> HeaderValue {
    let mut buf = uuid::Uuid::encode_buffer();
    let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
    HeaderValue::from_str(text).expect("a UUID is a valid header value")
}

fn oversized(request: &Request) -> Option<AppError> {
    let uri_len = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return Some(AppError::UriTooLong);
    }
    let head: usize = request
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    (head > MAX_HEADER_BYTES).then_some(AppError::HeadersTooLarge)
}

/// GET and HEAD never carry a body here. One that does (`Transfer-Encoding`, or a non-zero
/// `Content-Length`) is refused: a body on a GET is how request-smuggling attempts start, and no
/// real client of signgate sends one.
fn body_on_read(request: &Request) -> Option<AppError> {
    let method = request.method();
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let headers = request.headers();
    let has_length = headers
        .get_all(header::CONTENT_LENGTH)
        .iter()
        .any(|v| v.as_bytes() != b"0");
    (headers.contains_key(header::TRANSFER_ENCODING) || has_length).then_some(AppError::BadRequest(
        "body_not_allowed",
        "GET and HEAD requests must not carry a body",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[tokio::test]
    async fn a_route_that_panics_is_a_500_and_one_that_answers_is_its_answer() {
        let panics = catch_panic(async {
            if true {
                panic!("handler bug");
            }
            StatusCode::OK.into_response()
        })
        .await;
        assert_eq!(panics.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let answers = catch_panic(async {
            tokio::task::yield_now().await;
            StatusCode::FOUND.into_response()
        })
        .await;
        assert_eq!(answers.status(), StatusCode::FOUND);
    }

    #[tokio::test]
    async fn an_answer_with_a_body_keeps_its_connection_in_flight_until_the_body_is_gone() {
        let activity = std::sync::Arc::new(crate::connection::Activity::default());
        let redirect = marked(StatusCode::FOUND.into_response(), activity.begin());
        assert_eq!(activity.in_flight(), 0, "nothing left to send");
        let json = marked(axum::Json([1, 2, 3]).into_response(), activity.begin());
        assert_eq!(activity.in_flight(), 1);
        let body = axum::body::to_bytes(json.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], b"[1,2,3]");
        assert_eq!(activity.in_flight(), 0, "sent, and the body dropped");
        drop(redirect);
    }

    #[tokio::test(start_paused = true)]
    async fn a_route_gets_its_time_limit_once_it_waits_and_none_if_it_never_does() {
        let limit = std::time::Duration::from_millis(300);
        let at_once = within(limit, async { 1 }).await;
        assert_eq!(at_once, Some(1));
        let waits = |ms| async move {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            ms
        };
        let started = tokio::time::Instant::now();
        assert_eq!(within(limit, waits(299)).await, Some(299));
        assert_eq!(within(limit, waits(301)).await, None);
        assert_eq!(within(limit, std::future::pending::<()>()).await, None);
        // 299 ms, then the two limits of 300 ms.
        assert_eq!(started.elapsed(), std::time::Duration::from_millis(899));
    }
}
