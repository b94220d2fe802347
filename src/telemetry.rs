//! Logs: JSON lines through `tracing`, one span per request with its id, method, route and
//! path; the audit line of each decision names the subject and the object. Nothing secret is
//! ever recorded: no Authorization or Cookie header, no query string, no signed URL, no key.

use axum::extract::MatchedPath;
use axum::http::Request;
use tracing::Span;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

use crate::config::LogSettings;

/// Installs the global subscriber (once; later calls are ignored, as in tests). Lines are
/// written to stderr by a dedicated thread, so a worker never waits on a slow log pipe; nothing
/// is dropped (a full buffer of 128,000 lines makes the logging request wait instead). Keep the
/// returned guard alive until exit: dropping it flushes what is buffered.
pub fn init(log: &LogSettings) -> WorkerGuard {
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("signgate-log")
        .finish(std::io::stderr());
    let filter = EnvFilter::try_new(&log.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let _ = if log.json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.try_init()
    };
    guard
}

/// The request span: the path only (never the query), the matched route and the request id.
pub fn make_span<B>(request: &Request<B>) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("-", MatchedPath::as_str);
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %request.method(),
        route,
        path = request.uri().path(),
        request_id,
    )
}
