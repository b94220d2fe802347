//! Prometheus metrics, served on their own listener. Labels are bounded: the matched route, an
//! outcome code, a failure reason or a configured backend name, never a raw path or a subject.
//!
//! Every series belongs to one running service (one [`Metrics`], shared by each configuration
//! generation a reload builds), not to the process: two services in one process (as in the test
//! suite) count apart.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: &'static str,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BackendLabels {
    pub backend: String,
}

/// Hits and misses of one cache.
#[derive(Clone, Default)]
pub struct CacheCounters {
    pub hits: Counter,
    pub misses: Counter,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub auth_failures: Family<ReasonLabels, Counter>,
    pub signing_seconds: Histogram,
    pub reloads: Family<RequestLabels, Counter>,
    pub url_cache: CacheCounters,
    pub token_cache: CacheCounters,
    pub backend_up: Family<BackendLabels, Gauge>,
    pub backend_errors: Family<BackendLabels, Counter>,
    pub connections_open: Gauge,
    pub connections_refused: Counter,
    /// Bumped whenever a backend goes down or comes back, so a cached readiness answer is
    /// dropped at once when it no longer holds.
    pub health_changes: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("signgate");
        let requests = Family::<RequestLabels, Counter>::default();
        let auth_failures = Family::<ReasonLabels, Counter>::default();
        let reloads = Family::<RequestLabels, Counter>::default();
        // 10 µs .. ~0.3 s
        let signing_seconds = Histogram::new(exponential_buckets(0.000_01, 2.0, 16));
        let url_cache = CacheCounters::default();
        let token_cache = CacheCounters::default();
        let backend_up = Family::<BackendLabels, Gauge>::default();
        let backend_errors = Family::<BackendLabels, Counter>::default();
        let connections_open = Gauge::default();
        let connections_refused = Counter::default();
        registry.register(
            "connections_open",
            "Client connections open now",
            connections_open.clone(),
        );
        registry.register(
            "connections_refused",
            "Client connections closed on arrival because server.max_connections were open",
            connections_refused.clone(),
        );
        registry.register(
            "requests",
            "Requests by route and outcome",
            requests.clone(),
        );
        registry.register(
            "auth_failures",
            "Rejected credentials by reason",
            auth_failures.clone(),
        );
        registry.register(
            "signing_seconds",
            "Time to sign one URL",
            signing_seconds.clone(),
        );
        registry.register(
            "config_reloads",
            "Configuration reloads by outcome",
            reloads.clone(),
        );
        registry.register(
            "url_cache_hits",
            "Signed URLs reused from the cache",
            url_cache.hits.clone(),
        );
        registry.register(
            "url_cache_misses",
            "Signed URLs made for a cacheable rule",
            url_cache.misses.clone(),
        );
        registry.register(
            "jwt_cache_hits",
            "Requests whose token was found among recently verified tokens",
            token_cache.hits.clone(),
        );
        registry.register(
            "jwt_cache_misses",
            "Requests whose token was verified in full (cache enabled)",
            token_cache.misses.clone(),
        );
        registry.register(
            "backend_up",
            "Whether a backend answered its last request (1) or not (0)",
            backend_up.clone(),
        );
        registry.register(
            "backend_errors",
            "Failed backend requests",
            backend_errors.clone(),
        );
        Metrics {
            registry,
            requests,
            auth_failures,
            signing_seconds,
            reloads,
            url_cache,
            token_cache,
            backend_up,
            backend_errors,
            connections_open,
            connections_refused,
            health_changes: Default::default(),
        }
    }
}

impl Metrics {
    pub fn request(&self, route: &'static str, outcome: &'static str) {
        self.requests
            .get_or_create(&RequestLabels { route, outcome })
            .inc();
    }

    pub fn auth_failure(&self, reason: &'static str) {
        self.auth_failures
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    pub fn reload(&self, outcome: &'static str) {
        self.reloads
            .get_or_create(&RequestLabels {
                route: "sighup",
                outcome,
            })
            .inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String");
        out
    }
}
