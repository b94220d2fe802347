//! Everything built from one [`Config`]: the authenticators, the rules with what they sign with,
//! the SQL grants and the rate limits. A reload builds a new [`App`] from the previous one (JWKS
//! already fetched and the metrics carry over) and swaps it in (`service.rs`).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::authenticate::Authenticators;
use crate::authorize::sql_grant::SqlGrant;
use crate::authorize::Rules;
use crate::backend::sql::SqlError;
use crate::clock::Clock;
use crate::config::{Config, ServerConfig};
use crate::metrics::Metrics;
use crate::rate_limit::RateLimits;
use crate::sign::SignTarget;

pub struct App {
    pub server: ServerConfig,
    pub authenticators: Authenticators,
    /// The rules in order, each with the target an allowed object is signed for.
    pub rules: Rules<SignTarget>,
    pub grants: Vec<Arc<SqlGrant>>,
    pub limits: RateLimits,
    /// Shared by every generation of one service.
    pub metrics: Arc<Metrics>,
    /// The time source; the system clock except in tests.
    pub clock: Clock,
    /// The last readiness answer: when, at which health-change count, and what it said.
    readiness: tokio::sync::Mutex<Option<(Instant, u64, Vec<String>)>>,
}

/// How long a readiness answer is reused while no backend changes state.
const READINESS_TTL: Duration = Duration::from_secs(1);

impl App {
    /// Builds the live parts each module makes from its section. Nothing here waits on the
    /// network: pools connect on first use, JWKS are fetched by
    /// [`App::start_background_fetches`], and [`App::check_backends`] asks the databases.
    pub fn build(config: &Config, previous: Option<&App>) -> anyhow::Result<App> {
        let metrics = previous.map_or_else(Default::default, |p| p.metrics.clone());
        let authenticators = Authenticators::from_config(
            &config.auth,
            previous.map(|p| &p.authenticators),
            &metrics,
        )?;
        let grants = config
            .grants
            .iter()
            .enumerate()
            .map(|(i, g)| {
                SqlGrant::connect(g, &metrics)
                    .map(Arc::new)
                    .with_context(|| format!("grants[{i}].database_url"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let rules = Rules::from_config(
            config
                .rules
                .iter()
                .map(|(rule, target)| (rule.clone(), SignTarget::from_config(target, &metrics))),
            config.server.deny_as_not_found,
            &grants,
        )?;
        metrics.set_key_sets(
            config
                .key_ages
                .iter()
                .map(|age| (age.name.as_str(), age.keys, age.rotate_by())),
        );
        Ok(App {
            server: config.server.clone(),
            authenticators,
            rules,
            grants,
            limits: RateLimits::new(&config.limits, &metrics)?,
            metrics,
            clock: config.clock.clone(),
            readiness: Default::default(),
        })
    }

    /// Starts fetching every JWKS in the background (readiness waits for them).
    pub fn start_background_fetches(&self) {
        self.authenticators.start_background_fetches();
    }

    /// Asks each grant database to prepare its query. A query the database refuses is a
    /// configuration error; a database that cannot be reached is reported and not fatal:
    /// signgate starts, fails closed and says so in /readyz until it answers.
    pub async fn check_backends(&self) -> anyhow::Result<Vec<String>> {
        let mut unreachable = Vec::new();
        for grant in &self.grants {
            match grant.check_query().await {
                Ok(()) => {}
                Err(SqlError::Db(sqlx::Error::Database(e))) => {
                    anyhow::bail!(
                        "grants: {:?}: the query does not prepare: {}",
                        grant.name,
                        e.message()
                    )
                }
                Err(e) => unreachable.push(format!("grant {:?}: {e}", grant.name)),
            }
        }
        Ok(unreachable)
    }

    /// Ready to decide: JWKS fetched, and every session store and grant database answering.
    /// Probes run at most once a second, one probe at a time, however often `/readyz` is asked
    /// (a load balancer asking often must not become load on the backends); a backend going down
    /// or coming back in between (seen by real requests) drops the cached answer at once.
    pub async fn readiness(&self) -> Vec<String> {
        let mut cached = self.readiness.lock().await;
        let changes = || self.metrics.health_changes.load(Ordering::Relaxed);
        if let Some((at, seen, waiting)) = cached.as_ref() {
            if at.elapsed() < READINESS_TTL && *seen == changes() {
                return waiting.clone();
            }
        }
        let waiting = self.probe().await;
        *cached = Some((Instant::now(), changes(), waiting.clone()));
        waiting
    }

    async fn probe(&self) -> Vec<String> {
        let mut waiting = Vec::new();
        if !self.authenticators.is_ready().await {
            waiting.push("authentication backend".to_owned());
        }
        for grant in &self.grants {
            if !grant.ping().await {
                waiting.push(format!("grant {}", grant.name));
            }
        }
        waiting
    }
}
