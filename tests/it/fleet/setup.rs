//! The fleet the test runs: the fleet configuration laid out with fresh keys and a secret, a
//! Redis of its own, three replicas of the real binary, HAProxy in front of them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use signgate_cloudfront::{verify_url, KeyPairId, PublicKeys, VerifyingKey, Viewer};
use signgate_testkit::app::repo;
use signgate_testkit::backends::RedisServer;
use signgate_testkit::fs::{tempdir, unique};
use signgate_testkit::haproxy::Haproxy;
use signgate_testkit::http::client;
use signgate_testkit::process::{free_port, Signgate};
use signgate_testkit::tokens::{hs256, now};

use super::{ECDSA_KEY, ISSUER, NEW_RSA_KEY, RSA_KEY};
use crate::SIGNGATE;

/// The fleet configuration, its keys and secret laid out under a temporary `/etc/signgate`.
pub(super) struct Layout {
    pub(super) dir: PathBuf,
    pub(super) secret: Vec<u8>,
    pub(super) public_keys: PublicKeys,
}

pub(super) fn keygen(kind: &str) -> PathBuf {
    let out = tempdir();
    let status = Command::new(SIGNGATE)
        .args(["keygen", "--type", kind, "--out", out.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "signgate keygen --type {kind}");
    out
}

/// The fleet configuration as committed, with `/etc/signgate/` under `dir`.
pub(super) fn fleet_config(dir: &Path) -> String {
    std::fs::read_to_string(repo().join("deploy/fleet/signgate.toml"))
        .unwrap()
        .replace(
            "/etc/signgate/",
            &format!("{}/etc/signgate/", dir.display()),
        )
}

impl Layout {
    pub(super) fn new() -> Layout {
        let dir = tempdir();
        let etc = dir.join("etc/signgate");
        std::fs::create_dir_all(etc.join("keys")).unwrap();
        std::fs::create_dir_all(etc.join("secrets")).unwrap();
        let mut public_keys = PublicKeys::default();
        for (id, kind, file) in [
            (RSA_KEY, "rsa", "cloudfront-rsa-0001.pem"),
            (ECDSA_KEY, "ecdsa", "cloudfront-ecdsa-01.pem"),
            (NEW_RSA_KEY, "rsa", "cloudfront-rsa-0002.pem"),
        ] {
            let made = keygen(kind);
            std::fs::copy(made.join("private_key.pem"), etc.join("keys").join(file)).unwrap();
            let public = VerifyingKey::from_file(&made.join("public_key.pem")).unwrap();
            public_keys.insert(KeyPairId::parse(id).unwrap(), public);
        }
        // HS256 wants at least 32 bytes; this one is 48, unique to the run.
        let secret = format!("{:-<48}", unique("fleet-jwt-secret")).into_bytes();
        std::fs::write(
            etc.join("secrets/jwt-hs256"),
            format!("{}\n", String::from_utf8_lossy(&secret)),
        )
        .unwrap();
        let config = fleet_config(&dir);
        assert!(
            !config.contains("\ndev = true"),
            "the fleet configuration is a production one"
        );
        std::fs::write(dir.join("signgate.toml"), config).unwrap();
        Layout {
            dir,
            secret,
            public_keys,
        }
    }

    pub(super) fn token(&self, sub: &str) -> String {
        let claims =
            json!({"sub": sub, "iss": ISSUER, "aud": "signgate", "exp": now() + 900, "iat": now()});
        hs256(&claims, &self.secret)
    }

    /// Lists [`NEW_RSA_KEY`] beside the old key and makes it active, in the file every replica
    /// reads.
    pub(super) fn rotate(&self) {
        let path = self.dir.join("signgate.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let old_key = "private_key_file = \"";
        let old_line = text
            .lines()
            .find(|l| l.starts_with(old_key) && l.contains("cloudfront-rsa-0001.pem"))
            .expect("the fleet configuration lists the RSA key by its file")
            .to_owned();
        let new_key = format!(
            "{old_line}\n\n[[key_sets.keys]]\nkey_pair_id = \"{NEW_RSA_KEY}\"\n{}",
            old_line.replace("cloudfront-rsa-0001.pem", "cloudfront-rsa-0002.pem")
        );
        let active = format!("active = \"{RSA_KEY}\"");
        assert!(text.contains(&active), "the RSA key set's active key");
        let text = text.replacen(&old_line, &new_key, 1).replacen(
            &active,
            &format!("active = \"{NEW_RSA_KEY}\""),
            1,
        );
        std::fs::write(path, text).unwrap();
    }

    /// Why `url` does not verify now with the public keys, if it does not.
    pub(super) fn refusal(&self, url: &str) -> Option<String> {
        let viewer = Viewer {
            now: now(),
            client_ip: None,
        };
        verify_url(url, &self.public_keys, viewer)
            .err()
            .map(|d| format!("{d}"))
    }
}

/// One replica: its ports stay the same across restarts (the balancer knows it by them).
pub(super) struct Replica {
    pub(super) name: String,
    pub(super) port: u16,
    pub(super) metrics_port: u16,
    pub(super) process: Option<Signgate>,
}

pub(super) struct Fleet {
    pub(super) layout: Arc<Layout>,
    pub(super) redis: RedisServer,
    pub(super) prefix: String,
    pub(super) replicas: Vec<Replica>,
    pub(super) lb: Haproxy,
}

impl Fleet {
    pub(super) async fn start() -> Fleet {
        let layout = Arc::new(Layout::new());
        let redis = RedisServer::start().await;
        let mut replicas: Vec<Replica> = (1..=3)
            .map(|i| Replica {
                name: format!("replica{i}"),
                port: free_port(),
                metrics_port: free_port(),
                process: None,
            })
            .collect();
        let prefix = format!("{}:", unique("sgfleet"));
        for r in &mut replicas {
            r.process = Some(start_replica(&layout, &redis, &prefix, r).await);
        }
        let servers: Vec<(String, u16)> =
            replicas.iter().map(|r| (r.name.clone(), r.port)).collect();
        let lb = Haproxy::start(&servers).await;
        for r in &replicas {
            lb.wait_for_status(&r.name, "UP", Duration::from_secs(10))
                .await;
        }
        Fleet {
            layout,
            redis,
            prefix,
            replicas,
            lb,
        }
    }

    pub(super) async fn start_replica(&mut self, i: usize) {
        let process =
            start_replica(&self.layout, &self.redis, &self.prefix, &self.replicas[i]).await;
        self.replicas[i].process = Some(process);
    }

    pub(super) fn process(&mut self, i: usize) -> &mut Signgate {
        self.replicas[i].process.as_mut().expect("the replica runs")
    }

    /// `signgate_backend_up{backend="limits"}` on replica `i`.
    pub(super) async fn limits_up(&self, i: usize) -> String {
        let text = reqwest::get(format!(
            "http://127.0.0.1:{}/metrics",
            self.replicas[i].metrics_port
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("signgate_backend_up{backend=\"limits\"} "))
            .unwrap_or("absent")
            .trim()
            .to_owned()
    }

    /// Waits (up to `timeout`) until every replica reports the limits store as `up` ("0"/"1").
    pub(super) async fn wait_limits(&self, up: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        for i in 0..self.replicas.len() {
            loop {
                let now = self.limits_up(i).await;
                if now == up {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{}: backend_up{{limits}} is {now}, not {up}",
                    self.replicas[i].name
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// The answer of replica `i` itself (not through the balancer) for `path`.
    pub(super) async fn direct(&self, i: usize, path: &str, token: &str) -> reqwest::Response {
        client()
            .get(format!("http://127.0.0.1:{}{path}", self.replicas[i].port))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Requests answered by each server according to the balancer.
    pub(super) async fn served(&self) -> BTreeMap<String, u64> {
        self.lb
            .stats()
            .await
            .into_iter()
            .filter(|row| row["pxname"] == "replicas" && row["svname"].starts_with("replica"))
            .map(|row| (row["svname"].clone(), row["stot"].parse().unwrap_or(0)))
            .collect()
    }
}

/// Starts replica `r` from the fleet configuration, with what the deployment gives it by
/// environment: the Redis URL, and for this test a key prefix of its own, a check timeout for a
/// busy test machine (a check that timed out would be counted locally), and no per-IP limit
/// (every client here is 127.0.0.1).
pub(super) async fn start_replica(
    layout: &Layout,
    redis: &RedisServer,
    prefix: &str,
    r: &Replica,
) -> Signgate {
    let mut cmd = Signgate::command(SIGNGATE, &layout.dir, r.port);
    cmd.env(
        "SIGNGATE_SERVER__METRICS_LISTEN",
        format!("127.0.0.1:{}", r.metrics_port),
    )
    .env("SIGNGATE_LIMITS_REDIS_URL", redis.url())
    .env("SIGNGATE_LIMITS__KEY_PREFIX", prefix)
    .env("SIGNGATE_LIMITS__TIMEOUT_MS", "500")
    .env("SIGNGATE_LIMITS__PER_IP_PER_SECOND", "0")
    .env("SIGNGATE_LOG__LEVEL", "warn")
    .stderr(Stdio::inherit());
    Signgate::spawn(cmd, r.port).await
}

/// The `Key-Pair-Id` a signed URL names.
pub(super) fn key_pair_id(url: &str) -> &str {
    url.split_once('?')
        .map_or("", |(_, q)| q)
        .split('&')
        .find_map(|pair| pair.strip_prefix("Key-Pair-Id="))
        .unwrap_or_else(|| panic!("no Key-Pair-Id in {url}"))
}
