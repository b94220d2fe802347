//! Logs: JSON lines through `tracing`. Each decision writes one audit line (target
//! `signgate::audit`, through [`audit!`]) naming the request id, the subject and the object;
//! internal errors and timeouts name the request id too. Lines about a backend incident (one per
//! incident, not per request) and JWKS fetches do not. The per-request span (method,
//! path, id) is at debug level: at info it would cost a quarter of a cached answer's time
//! (`bench/README.md`), and the audit line already says what it would. Nothing secret is
//! ever recorded: no Authorization or Cookie header, no query string, no signed URL, no key.

use std::cell::RefCell;

use axum::http::{HeaderValue, Request};
use tracing::field::{Field, Visit};
use tracing::Span;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::FormatFields;
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
    // Colours only on a terminal: a log file (or a journal) gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(writer);
    let _ = if log.format == LogFormat::Json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.fmt_fields(QuotedFields).try_init()
    };
    guard
}

/// Text-format fields as `name="value"`, every value quoted and escaped (numbers and booleans
/// aside), so that a value cannot add a field: an object key `a subject=mallory` stays one
/// `object` value. The message is written first, as the code wrote it.
pub struct QuotedFields;

impl<'w> FormatFields<'w> for QuotedFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> std::fmt::Result {
        let mut visitor = QuotingVisitor {
            writer,
            result: Ok(()),
            first: true,
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct QuotingVisitor<'w> {
    writer: Writer<'w>,
    result: std::fmt::Result,
    first: bool,
}

impl QuotingVisitor<'_> {
    fn write(&mut self, field: &Field, value: std::fmt::Arguments<'_>) {
        if self.result.is_err() {
            return;
        }
        let separator = if self.first { "" } else { " " };
        self.first = false;
        self.result = if field.name() == "message" {
            write!(self.writer, "{separator}{value}")
        } else {
            write!(self.writer, "{separator}{}={value}", field.name())
        };
    }
}

impl Visit for QuotingVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.write(field, format_args!("{value}"));
        } else {
            self.write(field, format_args!("{value:?}"));
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.write(field, format_args!("{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.write(field, format_args!("{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.write(field, format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.write(field, format_args!("{value:?}"));
        } else {
            let text = format!("{value:?}");
            self.write(field, format_args!("{text:?}"));
        }
    }
}

thread_local! {
    /// The `x-request-id` of the request whose future this thread is polling, if any: set by
    /// [`in_request`] for one poll at a time, so it follows the request from worker to worker.
    static REQUEST_ID: RefCell<Option<HeaderValue>> = const { RefCell::new(None) };
}

/// Runs `f` (one poll of a request's future) with `id` as the current request id. The id is
/// moved into the thread's slot and back, never cloned; a poll that panics puts it back too.
/// Nested calls see the innermost id and restore the outer one.
pub fn in_request<R>(id: &mut Option<HeaderValue>, f: impl FnOnce() -> R) -> R {
    struct Restore<'a>(&'a mut Option<HeaderValue>);
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            REQUEST_ID.with_borrow_mut(|current| std::mem::swap(current, self.0));
        }
    }
    REQUEST_ID.with_borrow_mut(|current| std::mem::swap(current, id));
    let _restore = Restore(id);
    f()
}

/// Calls `f` with the current request's id, or `"-"` outside a request.
pub fn with_request_id<R>(f: impl FnOnce(&str) -> R) -> R {
    // `try_with`: a line written while the thread's locals are torn down says "-" too.
    let mut f = Some(f);
    let mut call = |id: &str| (f.take().expect("called once"))(id);
    REQUEST_ID
        .try_with(|slot| {
            let slot = slot.borrow();
            call(slot.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("-"))
        })
        .unwrap_or_else(|_| call("-"))
}

/// One audit line: `audit!(subject, object = %key, decision = "allow")` logs at info with target
/// `signgate::audit` and the current request id. When the filter drops audit lines (`log.level`
/// `warn`, or `signgate::audit=off`), the request id is not even looked up.
#[macro_export]
macro_rules! audit {
    ($($field:tt)*) => {
        if ::tracing::enabled!(target: "signgate::audit", ::tracing::Level::INFO) {
            $crate::telemetry::with_request_id(|request_id| {
                ::tracing::info!(target: "signgate::audit", request_id, $($field)*)
            })
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn a_poll_that_panics_puts_the_outer_id_back() {
        let id = |text| Some(HeaderValue::from_static(text));
        let mut outer = id("outer");
        let seen = in_request(&mut outer, || {
            let mut inner = id("inner");
            let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                in_request(&mut inner, || -> () { panic!("a route's bug") })
            }));
            assert!(unwound.is_err());
            assert_eq!(inner, id("inner"), "the inner id is back in its owner");
            with_request_id(str::to_owned)
        });
        assert_eq!(seen, "outer");
        assert_eq!(outer, id("outer"));
        assert_eq!(with_request_id(str::to_owned), "-");
    }

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn text_lines_quote_every_value_so_none_can_add_a_field() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .fmt_fields(QuotedFields)
            .with_writer(move || writer.clone())
            .finish();
        let key = "a b.pdf subject=mallory decision=\"allow\"";
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(
                target: "signgate::audit",
                subject = "alice",
                object = %key,
                decision = "deny",
                expires = 5u64,
            );
        });
        let line = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert!(
            line.contains(r#"subject="alice" object="a b.pdf subject=mallory decision=\"allow\"" decision="deny" expires=5"#),
            "{line}"
        );
        // Read back as key=value pairs (quoted values may hold spaces and escaped quotes): one
        // subject, one decision, whatever the key held.
        let fields = &line[line.find("subject=").unwrap()..];
        let (mut keys, mut rest) = (Vec::new(), fields.trim_end());
        while let Some((key, after)) = rest.split_once('=') {
            keys.push(key.trim().to_owned());
            rest = match after.strip_prefix('"') {
                Some(quoted) => {
                    let mut end = 0;
                    let bytes = quoted.as_bytes();
                    while bytes[end] != b'"' {
                        end += if bytes[end] == b'\\' { 2 } else { 1 };
                    }
                    &quoted[end + 1..]
                }
                None => after.split_once(' ').map_or("", |(_, r)| r),
            };
        }
        assert_eq!(keys, ["subject", "object", "decision", "expires"], "{line}");
    }
}
