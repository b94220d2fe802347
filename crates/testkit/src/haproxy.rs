//! A real HAProxy (Debian's), in the foreground on a free loopback port, balancing over
//! replicas the test starts, configured as a deployment would configure it: `/readyz` health
//! checks, retries on another replica, and a stats socket the test reads the servers' state from.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::fs::tempdir;
use crate::process::{free_port, ChildGuard, Shutdown};

/// Debian's haproxy, or a failure that says how to install it.
pub fn haproxy_binary() -> PathBuf {
    for candidate in [
        "/usr/sbin/haproxy",
        "/usr/bin/haproxy",
        "/usr/local/sbin/haproxy",
    ] {
        if Path::new(candidate).exists() {
            return candidate.into();
        }
    }
    panic!("haproxy is not installed; install it with: sudo apt-get install -y haproxy (scripts/test does this when run as root)");
}

/// HAProxy in front of the replicas; dropping it stops it.
pub struct Haproxy {
    _child: ChildGuard,
    /// The loopback port clients connect to.
    pub port: u16,
    /// Its folder: the configuration and the stats socket.
    pub dir: PathBuf,
}

/// The configuration for `servers` (name, loopback port) behind `port`: round robin, health
/// checks on `/readyz` every 200 ms (two failures take a server out, two successes bring it
/// back), and a request that could not be sent or got no answer retried up to three times, on
/// another server (`option redispatch`): GETs are idempotent, so a retry is safe.
pub fn config(port: u16, servers: &[(String, u16)], stats: &Path) -> String {
    let mut text = format!(
        "global\n  nbthread 1\n  maxconn 2000\n  stats socket {stats} mode 600 level admin\n\n\
         defaults\n  mode http\n  timeout connect 1s\n  timeout client 30s\n  timeout server 15s\n  \
         timeout check 1s\n  retries 3\n  option redispatch 1\n  \
         retry-on conn-failure empty-response junk-response\n  option forwardfor\n\n\
         frontend signgate\n  bind 127.0.0.1:{port}\n  default_backend replicas\n\n\
         backend replicas\n  balance roundrobin\n  option httpchk\n  \
         http-check send meth GET uri /readyz\n  http-check expect status 200\n  \
         default-server inter 200ms fall 2 rise 2\n",
        stats = stats.display()
    );
    for (name, server_port) in servers {
        text.push_str(&format!("  server {name} 127.0.0.1:{server_port} check\n"));
    }
    text
}

impl Haproxy {
    /// Starts HAProxy over `servers` (name, loopback port) and waits until it accepts
    /// connections.
    pub async fn start(servers: &[(String, u16)]) -> Haproxy {
        let dir = tempdir();
        let port = free_port();
        let file = dir.join("haproxy.cfg");
        std::fs::write(&file, config(port, servers, &dir.join("stats.sock"))).unwrap();
        let child = ChildGuard::spawn(
            "haproxy",
            Command::new(haproxy_binary())
                .args(["-db", "-f", file.to_str().unwrap()])
                .stdout(Stdio::null())
                .stderr(Stdio::inherit()),
            Shutdown::Term,
        );
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Haproxy {
                    _child: child,
                    port,
                    dir,
                };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("haproxy did not start; see {}", file.display());
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The answer to one stats-socket command.
    pub async fn command(&self, command: &str) -> String {
        let mut socket = tokio::net::UnixStream::connect(self.dir.join("stats.sock"))
            .await
            .expect("haproxy's stats socket");
        socket
            .write_all(format!("{command}\n").as_bytes())
            .await
            .unwrap();
        let mut answer = String::new();
        socket.read_to_string(&mut answer).await.unwrap();
        answer
    }

    /// `show stat`: one map of column to value per proxy and server (keys `pxname`, `svname`,
    /// `status`, `wretr`, `wredis`, `hrsp_5xx`, ...).
    pub async fn stats(&self) -> Vec<HashMap<String, String>> {
        let text = self.command("show stat").await;
        let mut lines = text.lines();
        let header: Vec<String> = lines
            .next()
            .and_then(|h| h.strip_prefix("# "))
            .expect("show stat starts with its header")
            .split(',')
            .map(str::to_owned)
            .collect();
        lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                header
                    .iter()
                    .cloned()
                    .zip(l.split(',').map(str::to_owned))
                    .collect()
            })
            .collect()
    }

    /// The health status HAProxy holds for `server` (`UP`, `DOWN`, `UP 1/2`, ...).
    pub async fn server_status(&self, server: &str) -> String {
        self.stats()
            .await
            .into_iter()
            .find(|row| row["pxname"] == "replicas" && row["svname"] == server)
            .unwrap_or_else(|| panic!("haproxy has no server {server}"))["status"]
            .clone()
    }

    /// Waits (up to `timeout`) until HAProxy reports `server` as exactly `status`.
    pub async fn wait_for_status(&self, server: &str, status: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let now = self.server_status(server).await;
            if now == status {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "haproxy still reports {server} as {now:?}, not {status:?}, after {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The sum of column `column` over the servers of the backend (retries: `wretr`,
    /// redispatches: `wredis`).
    pub async fn backend_total(&self, column: &str) -> u64 {
        self.stats()
            .await
            .into_iter()
            .filter(|row| row["pxname"] == "replicas" && row["svname"] == "BACKEND")
            .map(|row| row[column].parse::<u64>().unwrap_or(0))
            .sum()
    }
}
