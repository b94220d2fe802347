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
            let Authenticator::Jwt(jwt) = authenticator;
            for issuer in &jwt.issuers {
                if let IssuerKeys::Jwks(cache) = &issuer.keys {
                    tokio::spawn(cache.clone().fetch_until_ready());
                }
            }
        }
    }

    pub fn is_ready(&self) -> bool {
        self.settings.authenticators.is_ready()
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
    for Authenticator::Jwt(jwt) in &mut new.authenticators.0 {
        for issuer in &mut jwt.issuers {
            let IssuerKeys::Jwks(cache) = &mut issuer.keys else {
                continue;
            };
            let previous = old
                .authenticators
                .0
                .iter()
                .flat_map(|Authenticator::Jwt(j)| j.issuers.iter())
                .find_map(|i| match &i.keys {
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
