//! The services signgate talks to: Redis and PostgreSQL from the environment, JWKS providers
//! the test controls, and a TCP proxy that cuts a backend off on demand.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{json, Value};

/// The Redis server for the tests, from `SIGNGATE_TEST_REDIS_URL`.
pub fn redis_url() -> String {
    required(
        "SIGNGATE_TEST_REDIS_URL",
        "Redis",
        "redis://127.0.0.1:6379/",
    )
}

/// The PostgreSQL database for the tests, from `SIGNGATE_TEST_POSTGRES_URL`.
pub fn postgres_url() -> String {
    required(
        "SIGNGATE_TEST_POSTGRES_URL",
        "PostgreSQL",
        "postgres://postgres@127.0.0.1:5432/test",
    )
}

/// The value of `var`; when it is unset the test fails (a test that returned early would be
/// reported as passed without testing anything) and says how to get the service.
fn required(var: &str, service: &str, example: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{var} is unset: run scripts/test, which starts a throwaway {service}, \
             or set it to a running server (such as {example})"
        ),
    }
}

/// A TCP proxy the test controls, in front of a real server: `down()` cuts every connection and
/// refuses new ones; `up()` lets them through again.
pub struct FaultProxy {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl FaultProxy {
    pub async fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let (up2, conns2) = (up.clone(), conns.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                conns2.lock().unwrap().push(task);
            }
        });
        FaultProxy { addr, up, conns }
    }

    pub fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        for task in self.conns.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    pub fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// The address in a `scheme://[user@]host:port/...` URL.
pub fn url_addr(url: &str) -> SocketAddr {
    let rest = url.split_once("://").unwrap().1;
    let authority = rest.split('/').next().unwrap();
    let hostport = authority.rsplit('@').next().unwrap();
    use std::net::ToSocketAddrs;
    hostport.to_socket_addrs().unwrap().next().unwrap()
}

/// `url` with its host:port replaced by `addr`.
pub fn url_via(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let user = authority
        .rsplit_once('@')
        .map(|(u, _)| format!("{u}@"))
        .unwrap_or_default();
    format!("{scheme}://{user}{addr}/{path}")
}

/// A JWKS provider the test controls: it serves `jwks` at `{base}/jwks.json` (503 while `up`
/// is false), OIDC discovery at `{base}/.well-known/openid-configuration`, and counts fetches.
#[derive(Clone)]
pub struct JwksProvider {
    pub jwks: Arc<Mutex<Value>>,
    pub up: Arc<AtomicBool>,
    pub hits: Arc<AtomicUsize>,
    pub base: String,
}

impl JwksProvider {
    pub async fn start(keys: Value, up: bool) -> JwksProvider {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let p = JwksProvider {
            jwks: Arc::new(Mutex::new(keys)),
            up: Arc::new(AtomicBool::new(up)),
            hits: Arc::new(AtomicUsize::new(0)),
            base,
        };
        let router = axum::Router::new()
            .route("/jwks.json", get(jwks))
            .route("/.well-known/openid-configuration", get(discovery))
            .with_state(p.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        p
    }
}

async fn jwks(State(p): State<JwksProvider>) -> axum::response::Response {
    p.hits.fetch_add(1, Ordering::SeqCst);
    if !p.up.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    axum::Json(p.jwks.lock().unwrap().clone()).into_response()
}

async fn discovery(State(p): State<JwksProvider>) -> axum::response::Response {
    axum::Json(json!({"issuer": p.base, "jwks_uri": format!("{}/jwks.json", p.base)}))
        .into_response()
}

/// `auth.jwt.issuers` with the one issuer `idp` (audience `signgate`, ES256) whose JWKS is at
/// `url`, refetched at most every `refresh` seconds.
pub fn jwks_issuer(url: &str, refresh: u64) -> Value {
    json!([{"issuer": "idp", "audience": ["signgate"], "algorithms": ["ES256"], "jwks_url": url, "jwks_min_refresh_seconds": refresh}])
}

/// A JWKS provider that serves `jwks` at `{base}/jwks.json` only after `delay`; returns `base`.
pub async fn slow_jwks_provider(delay: Duration, jwks: Value) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new().route(
        "/jwks.json",
        get(move || {
            let jwks = jwks.clone();
            async move {
                tokio::time::sleep(delay).await;
                axum::Json(jwks)
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}

/// A `redis-server` of the test's own on a free loopback port (no persistence), for the tests
/// that stop and restart Redis under load; dropping it stops it.
pub struct RedisServer {
    child: Option<crate::process::ChildGuard>,
    pub port: u16,
}

impl RedisServer {
    pub async fn start() -> RedisServer {
        let port = crate::process::free_port();
        let mut server = RedisServer { child: None, port };
        server.restart().await;
        server
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Stops it (SIGTERM, as a restart by its service manager would).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.stop();
        }
    }

    /// Starts it again on the same port (stopping it first if it runs), empty, and waits until
    /// it answers PING.
    pub async fn restart(&mut self) {
        self.stop();
        let binary = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or_else(|| panic!("redis-server is not installed; install it with: sudo apt-get install -y redis-server (scripts/test does this when run as root)"));
        let port = self.port.to_string();
        let child = crate::process::ChildGuard::spawn(
            "redis-server",
            std::process::Command::new(binary)
                .args(["--port", &port, "--bind", "127.0.0.1", "--save", ""])
                .args([
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                    "--loglevel",
                    "warning",
                ])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::inherit()),
            crate::process::Shutdown::Term,
        );
        self.child = Some(child);
        for _ in 0..100 {
            if let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await {
                use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
                let mut buf = [0u8; 16];
                if stream.write_all(b"PING\r\n").await.is_ok()
                    && matches!(stream.read(&mut buf).await, Ok(n) if buf[..n].starts_with(b"+PONG"))
                {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start on port {}", self.port);
    }
}
