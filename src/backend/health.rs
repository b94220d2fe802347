//! One backend's health: the first failure of an incident is logged (not every request), the
//! recovery is logged, and `signgate_backend_up{backend}` follows it. The log line says what
//! signgate does meanwhile: fail closed (the backends decisions depend on), or fall back (the
//! shared rate-limit store).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

use crate::metrics::{BackendLabels, Metrics};

pub struct BackendHealth {
    name: String,
    up: AtomicBool,
    up_gauge: Gauge,
    errors: Counter,
    changes: Arc<AtomicU64>,
    /// What signgate does while the backend is down, for the outage's log line.
    meanwhile: &'static str,
}

impl BackendHealth {
    /// Health reported into `metrics` (the series are shared by every configuration generation
    /// of one service, so a reload keeps reporting into the same ones).
    pub fn new(name: impl Into<String>, metrics: &Metrics) -> Self {
        Self::with_fallback(name, metrics, "failing closed until it answers again")
    }

    /// As [`BackendHealth::new`], for a backend nothing is refused without: `meanwhile` says
    /// what is done instead while it is down.
    pub fn with_fallback(
        name: impl Into<String>,
        metrics: &Metrics,
        meanwhile: &'static str,
    ) -> Self {
        let name = name.into();
        let labels = BackendLabels {
            backend: name.clone(),
        };
        let up_gauge = metrics.backend_up.get_or_create(&labels).clone();
        up_gauge.set(1);
        BackendHealth {
            errors: metrics.backend_errors.get_or_create(&labels).clone(),
            name,
            up: AtomicBool::new(true),
            up_gauge,
            changes: metrics.health_changes.clone(),
            meanwhile,
        }
    }

    /// Records the outcome of a probe (a readiness check) and says whether the backend is up.
    pub fn record<E: std::fmt::Display>(&self, outcome: Result<(), E>) -> bool {
        match outcome {
            Ok(()) => {
                self.succeeded();
                true
            }
            Err(e) => {
                self.failed(&e);
                false
            }
        }
    }

    /// Records a failure; logs only the first of an incident. The error text never contains
    /// credentials: connection URLs are not part of it.
    pub fn failed(&self, error: &dyn std::fmt::Display) {
        self.errors.inc();
        if self.up.swap(false, Ordering::Relaxed) {
            self.up_gauge.set(0);
            self.changes.fetch_add(1, Ordering::Relaxed);
            tracing::error!(backend = %self.name, error = %error, "backend unavailable; {}", self.meanwhile);
        }
    }

    pub fn succeeded(&self) {
        if !self.up.swap(true, Ordering::Relaxed) {
            self.up_gauge.set(1);
            self.changes.fetch_add(1, Ordering::Relaxed);
            tracing::info!(backend = %self.name, "backend answering again");
        }
    }
}
