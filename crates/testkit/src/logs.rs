//! One test's log lines, captured without a global subscriber.
//!
//! [`LogCapture::start`] makes a JSON subscriber at trace level the default *for the current
//! thread*. Under `#[tokio::test]`'s default current-thread runtime every task the test spawns,
//! the service included, runs on that thread, so its lines are captured, while tests running
//! on other threads of the same process (as under `cargo test`) are neither captured nor
//! disturbed. A test relying on the capture should still check that it holds what it expects
//! (an audit line, say): a capture that silently caught nothing proves nothing.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing::subscriber::DefaultGuard;

/// Captures the current thread's tracing events until dropped.
pub struct LogCapture {
    buffer: Buffer,
    _default: DefaultGuard,
}

impl LogCapture {
    pub fn start() -> LogCapture {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(buffer.clone())
            .finish();
        LogCapture {
            _default: tracing::subscriber::set_default(subscriber),
            buffer,
        }
    }

    /// Everything captured so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.buffer.0.lock().unwrap().clone()).expect("log lines are UTF-8")
    }

    /// The fields of every audit line (target `signgate::audit`) captured so far, in order.
    pub fn audit_lines(&self) -> Vec<serde_json::Value> {
        self.text()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|l| l["target"] == "signgate::audit")
            .map(|l| l["fields"].clone())
            .collect()
    }
}

/// A tracing writer into a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Buffer {
        self.clone()
    }
}
