//! The running service: the current [`App`] behind an `ArcSwap`, so SIGHUP swaps in a new one
//! while in-flight requests finish on the old one (no lock on the hot path).

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::app::App;
use crate::config::Config;
use crate::metrics::Metrics;

pub struct Service {
    current: ArcSwap<App>,
    /// The configuration file, re-read on reload.
    config_path: PathBuf,
}

impl Service {
    /// Builds the first [`App`], asks the grant databases to prepare their queries (a database
    /// that is down is logged, not fatal) and starts the JWKS fetches.
    pub async fn start(config: &Config) -> anyhow::Result<Arc<Service>> {
        let app = App::build(config, None)?;
        for problem in app.check_backends().await? {
            tracing::warn!(problem = %problem, "backend not reachable at start-up; failing closed until it answers");
        }
        app.start_background_fetches();
        Ok(Arc::new(Service {
            current: ArcSwap::from_pointee(app),
            config_path: config.source.clone(),
        }))
    }

    /// The current configuration's app, for one request.
    pub fn app(&self) -> Arc<App> {
        self.current.load_full()
    }

    /// A short look at the current app (no reference count taken; do not hold across awaits).
    pub fn current(&self) -> arc_swap::Guard<Arc<App>> {
        self.current.load()
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        self.current.load().metrics.clone()
    }

    /// Re-reads the configuration and keys and swaps in the new app. On any error the running
    /// configuration stays. The routes are fixed at start-up, so a changed `files_prefix` is
    /// refused (restart to apply it); changed listen addresses apply only after a restart.
    pub fn reload(&self) -> anyhow::Result<()> {
        let mut config = Config::load(&self.config_path)?;
        let current = self.current.load();
        config.clock = current.clock.clone();
        let (old, new) = (&current.server, &config.server);
        if new.files_prefix != old.files_prefix {
            anyhow::bail!(
                "server.files_prefix: changed from {:?} to {:?}; the routes are fixed at start-up, so a restart applies it",
                old.files_prefix,
                new.files_prefix
            );
        }
        if new.listen != old.listen || new.metrics_listen != old.metrics_listen {
            tracing::warn!("listen addresses changed; they take effect only after a restart");
        }
        let app = App::build(&config, Some(&current))?;
        app.start_background_fetches();
        self.current.store(Arc::new(app));
        Ok(())
    }
}
