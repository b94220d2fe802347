//! Shared state. The configuration-derived part ([`App`]) sits behind an `ArcSwap`, so SIGHUP
//! swaps in a new one while in-flight requests finish on the old one: no lock on the hot path.

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::authenticate::jwt::IssuerKeys;
use crate::authenticate::Authenticator;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::rate_limit::RateLimits;

/// Everything built from one configuration.
pub struct App {
    pub settings: Settings,
    pub limits: RateLimits,
}

impl App {
    pub fn new(settings: Settings) -> Self {
        let limits = RateLimits::new(&settings.limits);
        App { settings, limits }
    }

    /// Starts fetching every JWKS in the background (readiness waits for them).
    pub fn start_background_fetches(&self) {
        for authenticator in &self.settings.authenticators.0 {
            let Authenticator::Jwt(jwt) = authenticator else {
                continue;
            };
            for issuer in &jwt.issuers {
                // A cache carried over from before a reload already has its refresh loop.
                if let IssuerKeys::Jwks(cache) = &issuer.keys {
                    if !cache.is_ready() {
                        tokio::spawn(cache.clone().fetch_until_ready());
                    }
                }
            }
        }
    }

    /// Ready to decide: JWKS fetched, and every session store and grant database answering.
    pub async fn readiness(&self) -> Vec<String> {
        let mut waiting = Vec::new();
        if !self.settings.authenticators.is_ready().await {
            waiting.push("authentication backend".to_owned());
        }
        for grant in &self.settings.grants {
            match grant.pool.ping(std::time::Duration::from_secs(1)).await {
                Ok(()) => grant.health.succeeded(),
                Err(e) => {
                    grant.health.failed(&e);
                    waiting.push(format!("grant {}", grant.name));
                }
            }
        }
        waiting
    }
}

pub struct Shared {
    pub app: ArcSwap<App>,
    pub metrics: Metrics,
    pub config_path: PathBuf,
}

pub type AppState = Arc<Shared>;

impl Shared {
    /// Reloads configuration and keys. On any error the running configuration stays.
    pub fn reload(&self) -> anyhow::Result<()> {
        let settings = Settings::load(&self.config_path)?;
        let current = self.app.load();
        if settings.server.listen != current.settings.server.listen
            || settings.server.metrics_listen != current.settings.server.metrics_listen
        {
            tracing::warn!("listen addresses changed; they take effect only after a restart");
        }
        let mut settings = settings;
        reuse_jwks_caches(&mut settings, &current.settings);
        let app = App::new(settings);
        app.start_background_fetches();
        self.app.store(Arc::new(app));
        Ok(())
    }
}

/// Keeps the already-fetched JWKS of issuers whose key source did not change, so a reload never
/// leaves a window without keys.
fn reuse_jwks_caches(new: &mut Settings, old: &Settings) {
    let old_issuers = || {
        old.authenticators.0.iter().flat_map(|a| match a {
            Authenticator::Jwt(j) => j.issuers.as_slice(),
            _ => &[],
        })
    };
    for authenticator in &mut new.authenticators.0 {
        let Authenticator::Jwt(jwt) = authenticator else {
            continue;
        };
        for issuer in &mut jwt.issuers {
            let IssuerKeys::Jwks(cache) = &mut issuer.keys else {
                continue;
            };
            let previous = old_issuers().find_map(|i| match &i.keys {
                IssuerKeys::Jwks(c)
                    if i.issuer == issuer.issuer && c.source() == cache.source() =>
                {
                    Some(c.clone())
                }
                _ => None,
            });
            if let Some(previous) = previous {
                *cache = previous;
            }
        }
    }
}
