//! Binding and running: listeners (port 0 in tests), serve, reload on SIGHUP, drain on SIGTERM.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

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
            .map_err(|e| bind_error("listen", server.listen, &e, ""))?;
        let metrics = match server.metrics_listen {
            Some(addr) => Some(TcpListener::bind(addr).await.map_err(|e| {
                bind_error("metrics_listen", addr, &e, " (\"\" turns the metrics off)")
            })?),
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

/// Why `server.{key}` (`addr`) could not be bound, and what to do, in one line: a port in use is
/// the error a new user meets first (a second `cargo run`, another service on 8080).
fn bind_error(key: &str, addr: SocketAddr, e: &std::io::Error, off: &str) -> anyhow::Error {
    let variable = format!("SIGNGATE_SERVER__{}", key.to_ascii_uppercase());
    let mut other = addr;
    other.set_port(addr.port().wrapping_add(1).max(1));
    match e.kind() {
        std::io::ErrorKind::AddrInUse => anyhow::anyhow!(
            "server.{key}: {addr} is already in use (another signgate, or another program, listens there): stop it, or listen elsewhere with {variable}={other}{off}"
        ),
        std::io::ErrorKind::PermissionDenied => anyhow::anyhow!(
            "server.{key}: not allowed to listen on {addr} (ports below 1024 need privileges): listen on a higher port with {variable}={}{off}",
            SocketAddr::new(addr.ip(), 8080)
        ),
        _ => anyhow::anyhow!("server.{key}: cannot listen on {addr}: {e}"),
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
    let metrics = service.metrics();
    let limits = {
        let app = service.app();
        (app.server.max_connections, app.server.header_read_timeout)
    };
    let router = crate::middleware::Framed::new(
        service.clone(),
        crate::routes::router(service, &prefix),
        &prefix,
    );
    tracing::info!(addr = %listeners.main.local_addr()?, "signgate listening");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = accept_loop(listeners.main, router, metrics, limits, async move {
        shutdown.await;
        tracing::info!("shutting down: draining in-flight requests");
        let _ = stop_tx.send(true);
    });
    let mut stop_rx = stop_rx;
    tokio::select! {
        () = server => Ok(()),
        _ = async move {
            let _ = stop_rx.wait_for(|stopped| *stopped).await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(grace_seconds = grace.as_secs(), "grace period over; closing remaining connections");
            Ok(())
        }
    }
}

/// Accepts connections until `shutdown` completes, then lets open connections finish their
/// requests (each is told to close after its current one) and returns when all are closed.
///
/// Unlike `axum::serve`, every connection is watched ([`crate::connection`]: a client that sends
/// its headers slowly, or leaves a keep-alive connection idle, is cut off) and at most
/// `max_connections` are open at once: one more is closed as it arrives and counted, so a few
/// hundred unfinished requests can neither lock other clients out nor keep memory after they go
/// (the end of such a burst trims the allocator's heaps: [`crate::memory`]).
async fn accept_loop(
    listener: TcpListener,
    router: crate::middleware::Framed,
    metrics: Arc<crate::metrics::Metrics>,
    (max_connections, header_read_timeout): (usize, Duration),
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    let slots = Arc::new(tokio::sync::Semaphore::new(max_connections));
    let (signal_tx, signal_rx) = tokio::sync::watch::channel(());
    tokio::spawn(async move {
        shutdown.await;
        drop(signal_rx);
    });
    let (close_tx, close_rx) = tokio::sync::watch::channel(());
    let mut builder = Builder::new(TokioExecutor::new());
    // The connection's watch enforces the header-read timeout; hyper's own (on by default once
    // it has a timer) would arm a timer per request.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None::<Duration>);
    let builder = Arc::new(builder);
    let connections = Arc::new(crate::memory::Connections::default());
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                // Out of file descriptors, say: wait a moment rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = signal_tx.closed() => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            metrics.connections_refused.inc();
            drop(tcp);
            continue;
        };
        // Answers are small and latency matters more than packet count: no Nagle delay.
        let _ = tcp.set_nodelay(true);
        let router = router.clone();
        let watch = crate::connection::Watch::new(header_read_timeout);
        let activity = watch.activity();
        let service =
            hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
                router.answer(request.map(axum::body::Body::new), peer, activity.begin())
            });
        let (builder, metrics, signal_tx, close_rx, connections) = (
            builder.clone(),
            metrics.clone(),
            signal_tx.clone(),
            close_rx.clone(),
            connections.clone(),
        );
        metrics.connections_open.inc();
        connections.opened();
        tokio::spawn(async move {
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
            let mut conn = std::pin::pin!(conn);
            let mut stopping = std::pin::pin!(signal_tx.closed());
            let mut expired = std::pin::pin!(watch.expired());
            let mut grace = std::pin::pin!(watch.grace());
            let (mut told, mut cut) = (false, false);
            loop {
                tokio::select! {
                    biased;
                    _ = conn.as_mut() => break,
                    // Headers late, or idle too long: told to close (an idle HTTP/1 connection
                    // closes at once, HTTP/2 sends GOAWAY so a client that just started a
                    // stream knows to retry it), then dropped a quarter of the timeout later if
                    // still open (a slow client would hold it through a graceful close).
                    () = &mut expired, if !cut => {
                        cut = true;
                        if !told {
                            conn.as_mut().graceful_shutdown();
                        }
                    }
                    () = &mut grace, if cut => break,
                    () = &mut stopping, if !told => {
                        told = true;
                        if !cut {
                            conn.as_mut().graceful_shutdown();
                        }
                    }
                }
            }
            metrics.connections_open.dec();
            if connections.closed() {
                tokio::task::spawn_blocking(crate::memory::trim);
            }
            drop((slot, close_rx));
        });
    }
    drop(close_rx);
    drop(listener);
    close_tx.closed().await;
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
