//! One backend's health: the first failure of an incident is logged (not every request), the
//! recovery is logged, and `signgate_backend_up{backend}` follows it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BackendLabels {
    pub backend: String,
}

/// Process-wide, so that every configuration generation (SIGHUP) reports into the same series.
pub static BACKEND_UP: LazyLock<Family<BackendLabels, Gauge>> = LazyLock::new(Family::default);
pub static BACKEND_ERRORS: LazyLock<Family<BackendLabels, Counter>> =
    LazyLock::new(Family::default);

pub struct BackendHealth {
    name: String,
    up: AtomicBool,
}

impl BackendHealth {
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        BACKEND_UP
            .get_or_create(&BackendLabels {
                backend: name.clone(),
            })
            .set(1);
        BackendHealth {
            name,
            up: AtomicBool::new(true),
        }
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Records a failure; logs only the first of an incident. The error text never contains
    /// credentials: connection URLs are not part of it.
    pub fn failed(&self, error: &dyn std::fmt::Display) {
        let labels = BackendLabels {
            backend: self.name.clone(),
        };
        BACKEND_ERRORS.get_or_create(&labels).inc();
        if self.up.swap(false, Ordering::Relaxed) {
            BACKEND_UP.get_or_create(&labels).set(0);
            tracing::error!(backend = %self.name, error = %error, "backend unavailable; failing closed until it answers again");
        }
    }

    pub fn succeeded(&self) {
        if !self.up.swap(true, Ordering::Relaxed) {
            BACKEND_UP
                .get_or_create(&BackendLabels {
                    backend: self.name.clone(),
                })
                .set(1);
            tracing::info!(backend = %self.name, "backend answering again");
        }
    }
}
