//! Building and running the service: bind (port 0 in tests), serve, reload on SIGHUP, drain on
//! SIGTERM.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::state::{App, AppState, Shared};

pub struct Application {
    state: AppState,
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
}

impl Application {
    /// Binds the listeners. Must run inside a Tokio runtime.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.server.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.server.listen))?;
        let metrics_listener = match settings.server.metrics_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (metrics): {e}"))?,
            ),
            None => None,
        };
        for problem in settings.check_backends().await? {
            tracing::warn!(problem = %problem, "backend not reachable at start-up; failing closed until it answers");
        }
        let config_path = settings.source.clone();
        let app = App::new(settings);
        app.start_background_fetches();
        let state = Arc::new(Shared {
            app: ArcSwap::from_pointee(app),
            metrics: Metrics::default(),
            config_path,
        });
        Ok(Application {
            state,
            listener,
            metrics_listener,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Serves until SIGTERM or Ctrl-C, reloading on SIGHUP.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish (up to the grace
    /// period) while refusing new connections.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let state = self.state.clone();
        let (prefix, grace) = {
            let app = state.app.load();
            let s = &app.settings.server;
            (s.files_prefix.clone(), s.shutdown_grace)
        };
        spawn_reload_on_sighup(state.clone());
        spawn_rate_limit_sweeper(state.clone());
        if let Some(listener) = self.metrics_listener {
            let router = crate::routes::metrics_router(state.clone());
            tokio::spawn(async move {
                let _ = axum::serve(listener, router).await;
            });
        }
        let router = crate::routes::router(state, &prefix);
        tracing::info!(addr = %self.listener.local_addr()?, "signgate listening");
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        // Answers are small and latency matters more than packet count: no Nagle delay.
        let listener = self.listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let server = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: draining in-flight requests");
            let _ = stop_tx.send(true);
        });
        let mut stop_rx = stop_rx;
        tokio::select! {
            result = server => result.map_err(Into::into),
            _ = async move {
                let _ = stop_rx.wait_for(|stopped| *stopped).await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!(grace_seconds = grace.as_secs(), "grace period over; closing remaining connections");
                Ok(())
            }
        }
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

fn spawn_reload_on_sighup(state: AppState) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            match state.reload() {
                Ok(()) => {
                    state
                        .metrics
                        .reloads
                        .get_or_create(&crate::metrics::RequestLabels {
                            route: "sighup",
                            outcome: "ok",
                        })
                        .inc();
                    tracing::info!("configuration and keys reloaded");
                }
                Err(err) => {
                    state
                        .metrics
                        .reloads
                        .get_or_create(&crate::metrics::RequestLabels {
                            route: "sighup",
                            outcome: "error",
                        })
                        .inc();
                    tracing::error!(error = %format!("{err:#}"), "reload failed; keeping the running configuration");
                }
            }
        }
    });
    #[cfg(not(unix))]
    let _ = state;
}

fn spawn_rate_limit_sweeper(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            state.app.load().limits.sweep();
        }
    });
}
