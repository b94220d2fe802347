//! Starts the real service on a random port, as users run it, with the repository's default
//! configuration plus per-test overrides.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::Serialized;
use figment::Figment;
use serde_json::Value;
use signgate::app::App;
use signgate::config::Config;
use signgate::service::Service;
use signgate::startup::Listeners;

use crate::http::client;

/// The service running inside the test's runtime; dropping it stops it.
pub struct TestApp {
    pub addr: SocketAddr,
    pub metrics_addr: Option<SocketAddr>,
    pub client: reqwest::Client,
    /// The running service (to reload it as SIGHUP would).
    pub service: std::sync::Arc<Service>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The repository's root folder.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/testkit is two levels below the repository")
        .to_path_buf()
}

pub fn default_config() -> PathBuf {
    repo().join("config/signgate.toml")
}

/// The configuration `config` with `overrides` (dotted keys) merged on top, listening on port 0,
/// checked as `serve` checks it (the parts built from it included).
pub fn settings(config: &Path, overrides: &[(&str, Value)]) -> anyhow::Result<Config> {
    let mut figment = Figment::new()
        .merge(Serialized::default("server.listen", "127.0.0.1:0"))
        .merge(Serialized::default("server.metrics_listen", "127.0.0.1:0"))
        .merge(Serialized::default("log.level", "warn"));
    for (key, value) in overrides {
        figment = figment.merge(Serialized::default(key, value.clone()));
    }
    let config = Config::load_with(config, figment)?;
    App::build(&config, None)?;
    Ok(config)
}

pub async fn spawn_app(overrides: &[(&str, Value)]) -> TestApp {
    spawn_with(settings(&default_config(), overrides).expect("test configuration is valid")).await
}

pub async fn spawn_with(config: Config) -> TestApp {
    let listeners = Listeners::bind(&config.server).await.expect("binds");
    let service = Service::start(&config).await.expect("starts");
    let addr = listeners.local_addr();
    let metrics_addr = listeners.metrics_addr();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(signgate::startup::run_until(
        service.clone(),
        listeners,
        async {
            let _ = rx.await;
        },
    ));
    TestApp {
        addr,
        metrics_addr,
        client: client(),
        service,
        stop: Some(tx),
    }
}

impl TestApp {
    /// The metrics listener's whole text.
    pub async fn metrics_text(&self) -> String {
        let addr = self.metrics_addr.expect("the metrics listener is on");
        reqwest::get(format!("http://{addr}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The value of one unlabelled metric (a counter's `_total`), 0 when it is not exposed.
    pub async fn metric(&self, name: &str) -> f64 {
        self.metrics_text()
            .await
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .map_or(0.0, |v| v.trim().parse().unwrap())
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    /// Waits (up to 10 s) until `/readyz` answers 200.
    pub async fn wait_ready(&self) {
        for _ in 0..100 {
            if self.get("/readyz", None).await.status() == 200 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("never ready");
    }
}

/// Waits until the stable-URL step of a rule with `lifetime` and `step` (seconds) has at least
/// `room` seconds left, so that requests made within `room` all get the same expiry (the step
/// a request falls in is that of `now + lifetime`, rounded up to `step`).
pub async fn wait_for_room_in_step(lifetime: u64, step: u64, room: u64) {
    assert!(room < step, "a step of {step} s never has {room} s of room");
    loop {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        // Seconds until the expiry moves on to the next step.
        let into = (now.as_secs() + lifetime) % step;
        let left = if into == 0 { 0 } else { step - into };
        if left >= room {
            return;
        }
        tokio::time::sleep(
            Duration::from_secs(left + 1) - Duration::from_nanos(now.subsec_nanos().into()),
        )
        .await;
    }
}
