//! Logs: JSON lines through `tracing`. Each decision writes one audit line (target
//! `signgate::audit`, through [`audit!`]) naming the request id, the subject and the object;
//! internal errors and timeouts name the request id too. Lines about a backend incident (one per
//! incident, not per request) and JWKS fetches do not. The per-request span (method,
//! path, id) is at debug level: at info it would cost a quarter of a cached answer's time
//! (`bench/README.md`), and the audit line already says what it would. Nothing secret is
//! ever recorded: no Authorization or Cookie header, no query string, no signed URL, no key.

use axum::http::{HeaderValue, Request};
use tracing::Span;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// How the service logs: an `EnvFilter` directive (`info`, `signgate=debug,warn`...) and the
/// line format. Owned here; the configuration checks the directive and fills this in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSettings {
    pub level: String,
    pub format: LogFormat,
}

/// `log.format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line (the default).
    Json,
    /// Human-readable lines, for a terminal.
    Text,
}

/// Lines queued for the log thread at most. A full queue makes the logging request wait
/// (nothing is dropped while the process runs); a crash (SIGKILL, out of memory) loses what is
/// queued, so the queue is kept short: at tens of thousands of lines a second it holds well
/// under a second of logs.
pub const LOG_QUEUE_LINES: usize = 8192;

/// Installs the global subscriber (once; later calls are ignored, as in tests). Lines are
/// written to stderr by a dedicated thread, so a worker never waits on a slow log pipe unless
/// [`LOG_QUEUE_LINES`] are already waiting. Keep the returned guard alive until exit: dropping
/// it flushes the queue (SIGTERM does).
pub fn init(log: &LogSettings) -> WorkerGuard {
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .thread_name("signgate-log")
        .finish(std::io::stderr());
    let filter = EnvFilter::try_new(&log.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let _ = if log.format == LogFormat::Json {
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

tokio::task_local! {
    /// The `x-request-id` of the request being answered.
    static REQUEST_ID: HeaderValue;
}

/// Runs `future` (the rest of a request) with `id` as the current request id.
pub async fn with_request<F: std::future::Future>(id: HeaderValue, future: F) -> F::Output {
    REQUEST_ID.scope(id, future).await
}

/// Calls `f` with the current request's id, or `"-"` outside a request.
pub fn with_request_id<R>(f: impl FnOnce(&str) -> R) -> R {
    // A HeaderValue clone is a reference-count increment.
    let id = REQUEST_ID.try_with(HeaderValue::clone).ok();
    f(id.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("-"))
}

/// One audit line: `audit!(subject, object = %key, decision = "allow")` logs at info with target
/// `signgate::audit` and the current request id.
#[macro_export]
macro_rules! audit {
    ($($field:tt)*) => {
        $crate::telemetry::with_request_id(|request_id| {
            ::tracing::info!(target: "signgate::audit", request_id, $($field)*)
        })
    };
}

/// The request span (debug level): the method, the path only (never the query) and the id.
pub fn make_span<B>(request: &Request<B>, request_id: &HeaderValue) -> Span {
    tracing::debug_span!(
        "request",
        method = %request.method(),
        path = request.uri().path(),
        request_id = request_id.to_str().unwrap_or("-"),
    )
}
