//! What happens to every request before and after its route: its id, hygiene checks, the time
//! limit, and its span.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::HttpBody;
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::ServiceExt;
use tracing::Span;

use crate::app::App;
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
/// 1. the request id ([`HeadFacts::into_request_id`]) goes back on the answer and into the audit
///    line and the other lines written about this request;
/// 2. oversized request targets (414) and header sections (431) are refused, and so is a body
///    on GET or HEAD (400);
/// 3. the route gets `server.request_timeout_ms` (then 503), counted from when it first has to
///    wait (for a JWKS, a session store or a grant database; [`Answer`]): a request that
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
    /// (`in_flight`, the request's mark on its connection, included: released with the answer).
    ///
    /// Everything decided without waiting (the request id, the hygiene checks, which route
    /// answers) is done here, before any future exists; the route's own future is then boxed
    /// once, and [`Answer`] puts the frame's layers (the id's scope, the span, the panic guard,
    /// the time limit) around it in one poll.
    pub fn answer(&self, mut request: Request, peer: SocketAddr, in_flight: InFlight) -> Answer {
        // One snapshot of the configuration for the whole request: the frame's limits and the
        // object route's rules are those of the same configuration, even across a reload.
        let app = self.service.app();
        let limit = app.server.request_timeout;
        let from_proxy = is_trusted(canonical(peer.ip()), &app.server.trusted_proxies);
        let facts = HeadFacts::of(request.headers());
        let refusal = facts
            .oversized(&request)
            .or_else(|| facts.body_on_read(request.method()));
        let id = facts.into_request_id(&mut request, from_proxy);
        // A reverse proxy's auth subrequest gets only 200, 401 or 403, the frame's own refusals
        // included (nginx turns any other status into a 500).
        let forward_auth = request.uri().path() == crate::paths::AUTH;
        let (route, span) = match refusal {
            Some(refusal) => (Route::Refused(refusal), Span::none()),
            None => {
                let span = crate::telemetry::make_span(&request, &id);
                (Route::Running(self.route(app, request, peer)), span)
            }
        };
        Answer {
            route,
            id: Some(id),
            span,
            limit,
            timer: None,
            forward_auth,
            in_flight: Some(in_flight),
        }
    }

    /// The route's future for `request`, boxed.
    ///
    /// `GET {files_prefix}/...`, the route nearly every request takes, goes straight to its
    /// handler ([`crate::routes::object_route`]): the route table would send it to the same
    /// handler, after matching the path, percent-decoding the key into a parameter the handler
    /// does not read (it parses the raw path itself) and wrapping the handler's future three
    /// more times. HEAD, other methods and every other path go through the route table.
    fn route(&self, app: Arc<App>, mut request: Request, peer: SocketAddr) -> RouteFuture {
        if is_object_get(&request, &self.files_prefix) {
            Box::pin(crate::routes::object_route(app, request, peer.ip()))
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
type RouteFuture = Pin<Box<dyn Future<Output = Response> + Send>>;

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
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// What a request's route is at.
enum Route {
    /// Its future, being polled.
    Running(RouteFuture),
    /// Refused by the frame before it ran.
    Refused(AppError),
    /// Answered: the route's future is dropped as soon as it has answered or run out of time.
    Done,
}

/// A request's answer in the making: its route's future with the frame's layers around it,
/// polled in one function (each layer as a future of its own moved the request's state and
/// cost a poll call of its own per request; `bench/README.md`). On each poll of the route:
///
/// - the request id is the current one ([`crate::telemetry::in_request`], read by the audit
///   lines) and the request's span is entered;
/// - a panic is caught and becomes a 500 (its detail logged with the id), and the connection
///   and the worker live on; the route is not polled again;
/// - the time limit starts when the route first has to wait: a route that answers in its first
///   poll (a signed 302 from a bearer token) reads no clock and makes no timer. (The limit
///   counts from that first wait; what ran before it was synchronous work of microseconds.)
///
/// The answer then gets the request id and, if it has a body, holds the connection's in-flight
/// mark until it is sent ([`marked`]). `Ok` always: the form hyper serves.
pub struct Answer {
    route: Route,
    /// `Some` except inside a poll of the route (when it is the thread's current id) and once
    /// answered.
    id: Option<HeaderValue>,
    span: Span,
    limit: Duration,
    /// Made at the route's first wait.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    forward_auth: bool,
    /// `Some` until answered.
    in_flight: Option<InFlight>,
}

impl Future for Answer {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        // Taken out for this poll (`Done` while it runs) and put back only if still running.
        let response = match std::mem::replace(&mut this.route, Route::Done) {
            Route::Done => panic!("an answer is not polled once ready"),
            Route::Refused(refusal) => this.refuse(refusal),
            Route::Running(mut route) => {
                let polled = {
                    let _entered = this.span.enter();
                    crate::telemetry::in_request(&mut this.id, || {
                        std::panic::catch_unwind(AssertUnwindSafe(|| route.as_mut().poll(cx)))
                    })
                };
                match polled {
                    Ok(Poll::Ready(response)) => response,
                    Err(_) => AppError::internal("handler panicked").into_response(),
                    Ok(Poll::Pending) => {
                        let limit = this.limit;
                        let timer = this
                            .timer
                            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                        if timer.as_mut().poll(cx).is_pending() {
                            this.route = Route::Running(route);
                            return Poll::Pending;
                        }
                        tracing::warn!(
                            request_id = this.id_str(),
                            "request timed out after {} ms",
                            limit.as_millis()
                        );
                        this.refuse(AppError::Unavailable {
                            backend: "request_timeout",
                            retry_after: 1,
                        })
                    }
                }
            }
        };
        Poll::Ready(Ok(this.finish(response)))
    }
}

impl Answer {
    fn refuse(&self, err: AppError) -> Response {
        if self.forward_auth {
            err.into_forward_auth_response()
        } else {
            err.into_response()
        }
    }

    fn id_str(&self) -> &str {
        self.id
            .as_ref()
            .and_then(|id| id.to_str().ok())
            .unwrap_or("-")
    }

    /// The route's `response`, finished: an internal error's detail logged with the request
    /// id, the id on the answer, the in-flight mark released with it.
    fn finish(&mut self, mut response: Response) -> Response {
        if let Some(ErrorDetail(detail)) = response.extensions().get::<ErrorDetail>() {
            tracing::error!(request_id = self.id_str(), detail = %detail, "internal error");
        }
        let id = self.id.take().expect("the id is back after every poll");
        response.headers_mut().insert(REQUEST_ID.clone(), id);
        let in_flight = self.in_flight.take().expect("answered once");
        marked(response, in_flight)
    }
}

/// What the frame reads from a request's headers, in one walk over them: a request carries a
/// handful of headers, and walking them costs less than the three hashed lookups it replaces.
struct HeadFacts {
    /// The header section's size, as [`MAX_HEADER_BYTES`] counts it (names, values and 4 bytes
    /// of separators per header), as received.
    bytes: usize,
    /// The first `x-request-id`, if any.
    incoming_id: Option<HeaderValue>,
    /// A `Transfer-Encoding`, or a `Content-Length` other than `0`.
    announces_body: bool,
}

impl HeadFacts {
    fn of(headers: &HeaderMap) -> Self {
        let mut facts = HeadFacts {
            bytes: 0,
            incoming_id: None,
            announces_body: false,
        };
        for (name, value) in headers {
            facts.bytes += name.as_str().len() + value.len() + 4;
            if name == header::CONTENT_LENGTH {
                facts.announces_body |= value.as_bytes() != b"0";
            } else if name == header::TRANSFER_ENCODING {
                facts.announces_body = true;
            } else if name == REQUEST_ID && facts.incoming_id.is_none() {
                facts.incoming_id = Some(value.clone());
            }
        }
        facts
    }

    /// The frame's refusal of a request this large: a request target over [`MAX_URI_BYTES`]
    /// (414) or a header section over [`MAX_HEADER_BYTES`] (431).
    fn oversized(&self, request: &Request) -> Option<AppError> {
        let uri_len = request
            .uri()
            .path_and_query()
            .map_or(0, |p| p.as_str().len());
        if uri_len > MAX_URI_BYTES {
            return Some(AppError::UriTooLong);
        }
        (self.bytes > MAX_HEADER_BYTES).then_some(AppError::HeadersTooLarge)
    }

    /// GET and HEAD never carry a body here. One that does (`Transfer-Encoding`, or a non-zero
    /// `Content-Length`) is refused: a body on a GET is how request-smuggling attempts start,
    /// and no real client of signgate sends one.
    fn body_on_read(&self, method: &Method) -> Option<AppError> {
        let read = method == Method::GET || method == Method::HEAD;
        (read && self.announces_body).then_some(AppError::BadRequest(
            "body_not_allowed",
            "GET and HEAD requests must not carry a body",
        ))
    }

    /// The request's id: an incoming `x-request-id` of 1 to 128 visible ASCII characters is
    /// kept when it comes from a trusted proxy (`server.trusted_proxies`), so the proxy's logs
    /// and ours correlate; from anyone else, or malformed, it is replaced by a new UUID (in the
    /// request too), so a client cannot choose the id its requests are audited under.
    fn into_request_id(self, request: &mut Request, from_proxy: bool) -> HeaderValue {
        match self.incoming_id {
            Some(v) if from_proxy && acceptable_id(&v) => v,
            Some(_) => {
                let id = new_id();
                request.headers_mut().insert(REQUEST_ID.clone(), id.clone());
                id
            }
            None => new_id(),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    /// `route` inside the frame's [`Answer`], as [`Framed::answer`] builds it for a request that
    /// passed the hygiene checks, with the request id `req-1`.
    fn answer_to<F>(route: F, limit: Duration, forward_auth: bool) -> Answer
    where
        F: Future<Output = Response> + Send + 'static,
    {
        let activity = Arc::new(crate::connection::Activity::default());
        Answer {
            route: Route::Running(Box::pin(route)),
            id: Some(HeaderValue::from_static("req-1")),
            span: Span::none(),
            limit,
            timer: None,
            forward_auth,
            in_flight: Some(activity.begin()),
        }
    }

    async fn status_of(answer: Answer) -> (StatusCode, HeaderValue) {
        let response = answer.await.unwrap_or_else(|never| match never {});
        let id = response.headers()[&REQUEST_ID].clone();
        (response.status(), id)
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[tokio::test]
    async fn a_route_that_panics_is_a_500_and_one_that_answers_is_its_answer() {
        let panics = answer_to(
            async {
                if true {
                    panic!("handler bug");
                }
                StatusCode::OK.into_response()
            },
            SECOND,
            false,
        );
        assert_eq!(
            status_of(panics).await,
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                HeaderValue::from_static("req-1")
            )
        );
        let answers = answer_to(
            async {
                tokio::task::yield_now().await;
                StatusCode::FOUND.into_response()
            },
            SECOND,
            false,
        );
        assert_eq!(status_of(answers).await.0, StatusCode::FOUND);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_route_sees_its_request_id_at_every_poll_and_nothing_else_does() {
        let id_now = || crate::telemetry::with_request_id(str::to_owned);
        let route = async move {
            let first = id_now();
            // Another request polled on this thread meanwhile has its own id, and leaves ours.
            let other = Answer {
                id: Some(HeaderValue::from_static("req-2")),
                ..answer_to(async move { id_now().into_response() }, SECOND, false)
            };
            let other = other.await.unwrap().into_body();
            let other_saw = axum::body::to_bytes(other, 1024).await.unwrap();
            let after_other = id_now();
            tokio::task::yield_now().await;
            let after_yield = id_now();
            let other_saw = std::str::from_utf8(&other_saw).unwrap();
            format!("{first} {other_saw} {after_other} {after_yield}").into_response()
        };
        // Spawned on a runtime of two workers: the task may resume on either after its yield.
        let response = tokio::spawn(answer_to(route, SECOND, false))
            .await
            .unwrap()
            .unwrap();
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], b"req-1 req-2 req-1 req-1");
        assert_eq!(id_now(), "-", "outside a request");
        let panics = answer_to(async { panic!("handler bug") }, SECOND, false);
        let _ = status_of(panics).await;
        assert_eq!(id_now(), "-", "a panic in the route puts the id back too");
    }

    #[test]
    #[should_panic(expected = "not polled once ready")]
    fn an_answer_is_not_polled_again_once_ready() {
        let mut answer = answer_to(async { StatusCode::FOUND.into_response() }, SECOND, false);
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(Pin::new(&mut answer).poll(&mut cx).is_ready());
        assert!(
            matches!(answer.route, Route::Done),
            "the route's future dropped"
        );
        let _ = Pin::new(&mut answer).poll(&mut cx);
    }

    #[test]
    fn one_walk_over_the_headers_finds_a_body_the_first_id_and_the_size() {
        let facts = |headers: &[(&str, &str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in headers {
                map.append(
                    header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    HeaderValue::from_str(value).unwrap(),
                );
            }
            HeadFacts::of(&map)
        };
        let get = Method::GET;
        let plain = facts(&[("host", "a"), ("content-length", "0"), ("accept", "*/*")]);
        assert!(plain.body_on_read(&get).is_none());
        assert!(plain.incoming_id.is_none());
        assert_eq!(plain.bytes, (4 + 1 + 4) + (14 + 1 + 4) + (6 + 3 + 4));
        for body in [
            &[("content-length", "0"), ("content-length", "5")][..],
            &[("transfer-encoding", "chunked")],
            &[("Transfer-Encoding", "identity"), ("content-length", "0")],
        ] {
            let facts = facts(body);
            assert!(facts.body_on_read(&get).is_some(), "{body:?}");
            assert!(facts.body_on_read(&Method::HEAD).is_some(), "{body:?}");
            assert!(facts.body_on_read(&Method::POST).is_none(), "{body:?}");
        }
        let ids = facts(&[("x-request-id", "first"), ("X-Request-Id", "second")]);
        assert_eq!(ids.incoming_id, Some(HeaderValue::from_static("first")));
        // The header section is measured as received: a client's own oversized id counts,
        // although it would be replaced.
        let request = |id: &str| {
            let mut request = Request::new(axum::body::Body::empty());
            let value = HeaderValue::from_str(id).unwrap();
            request.headers_mut().insert(REQUEST_ID.clone(), value);
            request
        };
        let limit = MAX_HEADER_BYTES - "x-request-id".len() - 4;
        let fits = request(&"a".repeat(limit));
        assert!(HeadFacts::of(fits.headers()).oversized(&fits).is_none());
        let over = request(&"a".repeat(limit + 1));
        let refusal = HeadFacts::of(over.headers()).oversized(&over);
        assert!(matches!(refusal, Some(AppError::HeadersTooLarge)));
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
        let limit = Duration::from_millis(300);
        let mut at_once = answer_to(async { StatusCode::FOUND.into_response() }, limit, false);
        let polled = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut at_once).poll(cx))).await;
        assert!(matches!(polled, Poll::Ready(Ok(r)) if r.status() == StatusCode::FOUND));
        assert!(
            at_once.timer.is_none(),
            "answered in its first poll: no timer"
        );
        let waits = |ms| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            StatusCode::FOUND.into_response()
        };
        let started = tokio::time::Instant::now();
        let (status, _) = status_of(answer_to(waits(299), limit, false)).await;
        assert_eq!(status, StatusCode::FOUND);
        let (status, id) = status_of(answer_to(waits(301), limit, false)).await;
        assert_eq!(
            (status, id),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                HeaderValue::from_static("req-1")
            )
        );
        let pending = std::future::pending::<Response>();
        let (status, _) = status_of(answer_to(pending, limit, true)).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "forward auth gets 200, 401 or 403 only"
        );
        // 299 ms, then the two limits of 300 ms.
        assert_eq!(started.elapsed(), Duration::from_millis(899));
    }
}
