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

/// An answer: the matched route, its HTTP status and its outcome code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AnswerLabels {
    pub route: &'static str,
    pub status: u16,
    pub outcome: &'static str,
}

/// One authorization decision: `object` (a URL) or `folder` (cookies), and what was decided.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    pub kind: &'static str,
    pub decision: &'static str,
}

/// A signing key (configured, so bounded) and its provider.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KeyLabels {
    pub provider: &'static str,
    pub key: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IssuerLabels {
    pub issuer: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KeySetLabels {
    pub key_set: String,
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
    /// The counters of the answers, decisions and keys seen so far, found without hashing.
    hot_requests: HotSeries<AnswerLabels>,
    hot_decisions: HotSeries<DecisionLabels>,
    hot_signatures: HotSeries<KeyLabels>,
    pub requests: Family<AnswerLabels, Counter>,
    pub decisions: Family<DecisionLabels, Counter>,
    /// URLs and folder credentials handed out, by the key that signed them.
    pub signatures: Family<KeyLabels, Counter>,
    /// Unix time of each JWKS issuer's last successful fetch (0 until the first).
    pub jwks_fetched: Family<IssuerLabels, Gauge>,
    pub key_set_keys: Family<KeySetLabels, Gauge>,
    pub key_set_rotate_by: Family<KeySetLabels, Gauge>,
    pub auth_failures: Family<ReasonLabels, Counter>,
    pub signing_seconds: Histogram,
    pub reloads: Family<RequestLabels, Counter>,
    pub url_cache: CacheCounters,
    /// `sign_per = "folder"`: a miss is one signature, for a whole folder and step.
    pub folder_policy_cache: CacheCounters,
    pub token_cache: CacheCounters,
    pub backend_up: Family<BackendLabels, Gauge>,
    pub backend_errors: Family<BackendLabels, Counter>,
    pub connections_open: Gauge,
    pub connections_refused: Counter,
    /// Bumped whenever a backend goes down or comes back, so a cached readiness answer is
    /// dropped at once when it no longer holds.
    pub health_changes: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// The first label sets a counter family sees, each with its counter (which shares the family's
/// own: the exported series is the same). Finding one is a short scan of `&'static str`s under
/// an uncontended read lock, where the family hashes the labels (SipHash) under its own lock and
/// the key label is copied into a `String` first; these counters move on every answer. Bounded:
/// label sets beyond the first [`HotSeries::MAX`] go to the family as before.
struct HotSeries<L> {
    series: std::sync::RwLock<Vec<(L, Counter)>>,
}

impl<L> Default for HotSeries<L> {
    fn default() -> Self {
        HotSeries {
            series: Default::default(),
        }
    }
}

impl<L: Clone + std::hash::Hash + Eq> HotSeries<L> {
    const MAX: usize = 32;

    fn inc(&self, family: &Family<L, Counter>, is: impl Fn(&L) -> bool, labels: impl FnOnce() -> L)
    where
        L: EncodeLabelSet + Send + Sync + std::fmt::Debug + 'static,
    {
        let read = self.series.read().unwrap_or_else(|e| e.into_inner());
        if let Some((_, counter)) = read.iter().find(|(l, _)| is(l)) {
            counter.inc();
            return;
        }
        drop(read);
        let labels = labels();
        let counter = family.get_or_create(&labels).clone();
        counter.inc();
        let mut write = self.series.write().unwrap_or_else(|e| e.into_inner());
        if write.len() < Self::MAX && !write.iter().any(|(l, _)| is(l)) {
            write.push((labels, counter));
        }
    }
}

/// Label texts equal: by address first (the hot path passes literals, so the same text is
/// usually the same bytes), then by content.
fn same(a: &str, b: &str) -> bool {
    std::ptr::eq(a, b) || a == b
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("signgate");
        let requests = Family::<AnswerLabels, Counter>::default();
        let decisions = Family::<DecisionLabels, Counter>::default();
        let signatures = Family::<KeyLabels, Counter>::default();
        let jwks_fetched = Family::<IssuerLabels, Gauge>::default();
        let key_set_keys = Family::<KeySetLabels, Gauge>::default();
        let key_set_rotate_by = Family::<KeySetLabels, Gauge>::default();
        let auth_failures = Family::<ReasonLabels, Counter>::default();
        let reloads = Family::<RequestLabels, Counter>::default();
        // 10 µs .. ~0.3 s
        let signing_seconds = Histogram::new(exponential_buckets(0.000_01, 2.0, 16));
        let url_cache = CacheCounters::default();
        let folder_policy_cache = CacheCounters::default();
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
            "decisions",
            "Authorization decisions by kind (object, folder) and decision (allow, deny, unauthenticated, error)",
            decisions.clone(),
        );
        registry.register(
            "signatures",
            "URLs and folder credentials handed out, by provider and signing key (a stable URL reused from the cache counts each time)",
            signatures.clone(),
        );
        registry.register(
            "jwks_fetched_timestamp_seconds",
            "Unix time of the last successful JWKS fetch, by issuer (0 until the first)",
            jwks_fetched.clone(),
        );
        registry.register(
            "key_set_keys",
            "Keys listed in each CloudFront key set",
            key_set_keys.clone(),
        );
        registry.register(
            "key_set_rotate_by_timestamp_seconds",
            "When the active key of a key set reaches rotate_after_days (Unix time; key sets with rotate_after_days only)",
            key_set_rotate_by.clone(),
        );
        registry.register(
            "auth_failures",
            "Rejected credentials by reason",
            auth_failures.clone(),
        );
        registry.register(
            "signing_seconds",
            "Time to make one signature (a URL, a folder policy or cookies; a URL or policy reused from a cache is none)",
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
            "folder_policy_cache_hits",
            "Object URLs signed with their folder's policy signed earlier in the step (sign_per = \"folder\")",
            folder_policy_cache.hits.clone(),
        );
        registry.register(
            "folder_policy_cache_misses",
            "Folder policies signed (sign_per = \"folder\"): one signature each, for every object of the folder in the step",
            folder_policy_cache.misses.clone(),
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
            hot_requests: Default::default(),
            hot_decisions: Default::default(),
            hot_signatures: Default::default(),
            requests,
            decisions,
            signatures,
            jwks_fetched,
            key_set_keys,
            key_set_rotate_by,
            auth_failures,
            signing_seconds,
            reloads,
            url_cache,
            folder_policy_cache,
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
    pub fn request(&self, route: &'static str, status: u16, outcome: &'static str) {
        let is = |l: &AnswerLabels| {
            l.status == status && same(l.route, route) && same(l.outcome, outcome)
        };
        self.hot_requests.inc(&self.requests, is, || AnswerLabels {
            route,
            status,
            outcome,
        });
    }

    pub fn decision(&self, kind: &'static str, decision: &'static str) {
        let is = |l: &DecisionLabels| same(l.kind, kind) && same(l.decision, decision);
        self.hot_decisions
            .inc(&self.decisions, is, || DecisionLabels { kind, decision });
    }

    /// One URL or folder credential handed out, signed by `key`.
    pub fn signature(&self, provider: &'static str, key: &str) {
        let is = |l: &KeyLabels| same(l.provider, provider) && l.key == key;
        self.hot_signatures.inc(&self.signatures, is, || KeyLabels {
            provider,
            key: key.to_owned(),
        });
    }

    /// The key sets of the configuration in force: each one's name, number of keys and, when
    /// it has `rotate_after_days`, when its active key reaches that age. Replaces the series of
    /// the previous configuration.
    pub fn set_key_sets<'a>(&self, sets: impl IntoIterator<Item = (&'a str, usize, Option<u64>)>) {
        self.key_set_keys.clear();
        self.key_set_rotate_by.clear();
        for (name, keys, rotate_by) in sets {
            let labels = KeySetLabels {
                key_set: name.to_owned(),
            };
            self.key_set_keys
                .get_or_create(&labels)
                .set(i64::try_from(keys).unwrap_or(i64::MAX));
            if let Some(at) = rotate_by {
                self.key_set_rotate_by
                    .get_or_create(&labels)
                    .set(i64::try_from(at).unwrap_or(i64::MAX));
            }
        }
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
