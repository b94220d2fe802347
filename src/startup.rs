//! Binding and running: listeners (port 0 in tests), serve, reload on SIGHUP, drain on SIGTERM.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use crate::config::ServerConfig;
use crate::service::Service;

/// The service's sockets: the main listener and, if configured, the metrics listener.
pub struct Listeners {
    main: TcpListener,
    metrics: Option<TcpListener>,
}

impl Listeners {
    /// Binds both addresses. Must run inside a Tokio runtime.
    pub async fn bind(server: &ServerConfig) -> anyhow::Result<Self> {
        let main = TcpListener::bind(server.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", server.listen))?;
        let metrics = match server.metrics_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (metrics): {e}"))?,
            ),
            None => None,
        };
        Ok(Listeners { main, metrics })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.main
            .local_addr()
            .expect("bound listener has an address")
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }
}

/// Serves until SIGTERM or Ctrl-C, reloading on SIGHUP.
pub async fn run_until_stopped(service: Arc<Service>, listeners: Listeners) -> anyhow::Result<()> {
    run_until(service, listeners, shutdown_signal()).await
}

/// Serves until `shutdown` completes, then lets in-flight requests finish (up to the grace
/// period) while refusing new connections.
pub async fn run_until(
    service: Arc<Service>,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (prefix, grace) = {
        let app = service.app();
        (app.server.files_prefix.clone(), app.server.shutdown_grace)
    };
    spawn_reload_on_sighup(service.clone());
    spawn_rate_limit_sweeper(service.clone());
    if let Some(listener) = listeners.metrics {
        let router = crate::routes::metrics_router(service.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
    }
    let router = crate::routes::router(service, &prefix);
    tracing::info!(addr = %listeners.main.local_addr()?, "signgate listening");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // Answers are small and latency matters more than packet count: no Nagle delay.
    let listener = listeners.main.tap_io(|tcp| {
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

fn spawn_reload_on_sighup(service: Arc<Service>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            match service.reload() {
                Ok(()) => {
                    service.metrics().reload("ok");
                    tracing::info!("configuration and keys reloaded");
                }
                Err(err) => {
                    service.metrics().reload("error");
                    tracing::error!(error = %format!("{err:#}"), "reload failed; keeping the running configuration");
                }
            }
        }
    });
    #[cfg(not(unix))]
    let _ = service;
}

fn spawn_rate_limit_sweeper(service: Arc<Service>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            service.app().limits.sweep();
        }
    });
}
