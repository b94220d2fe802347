//! A fleet, not a process: three replicas of the real binary, run from the one fleet
//! configuration `deploy/fleet/signgate.toml` (the file the Kubernetes ConfigMap carries),
//! behind a real HAProxy (health checks on `/readyz`, retries on another replica), counting rate
//! limits in a real Redis of the test's own. Load goes through the balancer in bounded phases,
//! and each phase ends with no failed request and every signed URL verifying with the public
//! keys (the CloudFront verifier, not signgate's configuration): steady load, `kill -9` of a
//! replica, a rolling restart, a key rotation across the fleet, Redis restarted under load, and
//! the shared rate limit held within 10 %. Every replica also answers one object with the
//! byte-identical stable URL, for an RSA and an ECDSA key.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use figment::providers::{Format as _, Toml};
use figment::Figment;
use serde_json::json;
use signgate_cloudfront::{verify_url, KeyPairId, PublicKeys, VerifyingKey, Viewer};
use signgate_testkit::app::{repo, wait_for_room_in_step};
use signgate_testkit::backends::RedisServer;
use signgate_testkit::fs::{tempdir, unique};
use signgate_testkit::haproxy::Haproxy;
use signgate_testkit::http::{client, location};
use signgate_testkit::process::{free_port, Signgate, SIGHUP, SIGKILL, SIGTERM};
use signgate_testkit::tokens::{hs256, now};

use crate::SIGNGATE;

const ISSUER: &str = "https://login.example.com";
const RSA_KEY: &str = "K2FLEETRSA0001";
const ECDSA_KEY: &str = "K2FLEETECDSA01";
/// The key the rotation phase lists and makes active.
const NEW_RSA_KEY: &str = "K2FLEETRSA0002";
/// The rules' stable-URL step and lifetimes, as the fleet configuration sets them.
const STEP: u64 = 60;
const RSA_LIFETIME: u64 = 300;
const ECDSA_LIFETIME: u64 = 600;
/// Clients of the load phases, each at most one request per [`PACE`].
const CLIENTS: usize = 6;
const PACE: Duration = Duration::from_millis(15);

/// The fleet configuration, its keys and secret laid out under a temporary `/etc/signgate`.
struct Layout {
    dir: PathBuf,
    secret: Vec<u8>,
    public_keys: PublicKeys,
}

fn keygen(kind: &str) -> PathBuf {
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
fn fleet_config(dir: &Path) -> String {
    std::fs::read_to_string(repo().join("deploy/fleet/signgate.toml"))
        .unwrap()
        .replace(
            "/etc/signgate/",
            &format!("{}/etc/signgate/", dir.display()),
        )
}

impl Layout {
    fn new() -> Layout {
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

    fn token(&self, sub: &str) -> String {
        let claims =
            json!({"sub": sub, "iss": ISSUER, "aud": "signgate", "exp": now() + 900, "iat": now()});
        hs256(&claims, &self.secret)
    }

    /// Lists [`NEW_RSA_KEY`] beside the old key and makes it active, in the file every replica
    /// reads.
    fn rotate(&self) {
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
    fn refusal(&self, url: &str) -> Option<String> {
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
struct Replica {
    name: String,
    port: u16,
    metrics_port: u16,
    process: Option<Signgate>,
}

struct Fleet {
    layout: Arc<Layout>,
    redis: RedisServer,
    prefix: String,
    replicas: Vec<Replica>,
    lb: Haproxy,
}

impl Fleet {
    async fn start() -> Fleet {
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

    async fn start_replica(&mut self, i: usize) {
        let process =
            start_replica(&self.layout, &self.redis, &self.prefix, &self.replicas[i]).await;
        self.replicas[i].process = Some(process);
    }

    fn process(&mut self, i: usize) -> &mut Signgate {
        self.replicas[i].process.as_mut().expect("the replica runs")
    }

    /// `signgate_backend_up{backend="limits"}` on replica `i`.
    async fn limits_up(&self, i: usize) -> String {
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
    async fn wait_limits(&self, up: &str, timeout: Duration) {
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
    async fn direct(&self, i: usize, path: &str, token: &str) -> reqwest::Response {
        client()
            .get(format!("http://127.0.0.1:{}{path}", self.replicas[i].port))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Requests answered by each server according to the balancer.
    async fn served(&self) -> BTreeMap<String, u64> {
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
async fn start_replica(
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
fn key_pair_id(url: &str) -> &str {
    url.split_once('?')
        .map_or("", |(_, q)| q)
        .split('&')
        .find_map(|pair| pair.strip_prefix("Key-Pair-Id="))
        .unwrap_or_else(|| panic!("no Key-Pair-Id in {url}"))
}

/// What the clients of one phase saw.
#[derive(Default)]
struct Tally {
    answered: u64,
    failures: Vec<String>,
    /// Every distinct URL handed out.
    urls: HashSet<String>,
    /// (when the answer arrived, its status), for the rate phase.
    events: Vec<(Instant, u16)>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.answered += other.answered;
        self.failures.extend(other.failures);
        self.urls.extend(other.urls);
        self.events.extend(other.events);
    }

    fn by_key(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for url in &self.urls {
            *counts.entry(key_pair_id(url).to_owned()).or_default() += 1;
        }
        counts
    }

    fn assert_clean(&self, phase: &str) {
        eprintln!(
            "fleet {phase}: {} requests answered, {} distinct URLs {:?}, {} failed",
            self.answered,
            self.urls.len(),
            self.by_key(),
            self.failures.len()
        );
        assert!(self.answered > 0, "{phase}: no request was answered");
        assert!(
            self.failures.is_empty(),
            "{phase}: {} of {} requests failed, first: {:?}",
            self.failures.len(),
            self.answered + self.failures.len() as u64,
            &self.failures[..self.failures.len().min(5)]
        );
    }
}

/// Clients sending requests through the balancer until stopped.
struct Load {
    stop: Arc<AtomicBool>,
    clients: Vec<tokio::task::JoinHandle<Tally>>,
}

/// What the clients ask for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Traffic {
    /// Each client its own subjects (never near their limit), half for the RSA rule's objects,
    /// half for the ECDSA rule's; every answer must be a 302 whose URL verifies.
    Spread,
    /// One subject from every client as fast as they can: 302s and 429s.
    OneSubject,
}

impl Load {
    fn start(fleet: &Fleet, traffic: Traffic) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let clients = (0..CLIENTS * if traffic == Traffic::OneSubject { 2 } else { 1 })
            .map(|c| {
                let (stop, layout) = (stop.clone(), fleet.layout.clone());
                let base = fleet.lb.url("/files/");
                let subjects: Vec<(String, String)> = (0..8)
                    .map(|s| match traffic {
                        Traffic::Spread => format!("client{c}-{s}"),
                        Traffic::OneSubject => "hog".to_owned(),
                    })
                    .map(|sub| (layout.token(&sub), sub))
                    .collect();
                tokio::spawn(async move {
                    let http = client();
                    let mut tally = Tally::default();
                    let mut n = 0usize;
                    while !stop.load(Ordering::Relaxed) {
                        let (token, sub) = &subjects[n % subjects.len()];
                        let path = if n % 2 == 0 {
                            format!("users/{sub}/clip{}.mp4", n % 5)
                        } else {
                            format!("video/{c}/part{}.ts", n % 7)
                        };
                        n += 1;
                        let sent = Instant::now();
                        let answer = http
                            .get(format!("{base}{path}"))
                            .bearer_auth(token)
                            .send()
                            .await;
                        let status = match answer {
                            Ok(r) if r.status() == 302 => {
                                let url = location(&r);
                                match layout.refusal(&url) {
                                    None => {
                                        tally.urls.insert(url);
                                    }
                                    Some(why) => {
                                        tally.failures.push(format!("{path}: {why}: {url}"))
                                    }
                                }
                                302
                            }
                            Ok(r) => {
                                let status = r.status().as_u16();
                                if !(traffic == Traffic::OneSubject && status == 429) {
                                    let body = r.text().await.unwrap_or_default();
                                    tally.failures.push(format!("{path}: {status} {body}"));
                                }
                                status
                            }
                            Err(e) => {
                                tally.failures.push(format!("{path}: {e}"));
                                0
                            }
                        };
                        tally.answered += 1;
                        tally.events.push((Instant::now(), status));
                        if traffic == Traffic::Spread {
                            tokio::time::sleep(PACE.saturating_sub(sent.elapsed())).await;
                        }
                    }
                    tally
                })
            })
            .collect();
        Load { stop, clients }
    }

    async fn stop(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        let mut tally = Tally::default();
        for c in self.clients {
            tally.merge(c.await.unwrap());
        }
        tally
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_behind_haproxy_serve_through_kills_restarts_rotation_and_a_redis_restart() {
    let started = Instant::now();
    let mut fleet = Fleet::start().await;
    let mut every_url = HashSet::new();

    stable_urls_are_identical_on_every_replica(&fleet).await;

    // 1. Steady load, spread over the three replicas.
    let before = fleet.served().await;
    let load = Load::start(&fleet, Traffic::Spread);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let tally = load.stop().await;
    tally.assert_clean("steady load");
    let after = fleet.served().await;
    for (server, n) in &after {
        assert!(n > &before[server], "{server} answered nothing: {after:?}");
    }
    every_url.extend(tally.urls);

    // 2. kill -9 of one replica, then started again.
    let load = Load::start(&fleet, Traffic::Spread);
    tokio::time::sleep(Duration::from_millis(700)).await;
    fleet.process(1).child.signal(SIGKILL);
    fleet.process(1).child.wait(Duration::from_secs(5)).await;
    fleet.replicas[1].process = None;
    fleet
        .lb
        .wait_for_status("replica2", "DOWN", Duration::from_secs(5))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    fleet.start_replica(1).await;
    fleet
        .lb
        .wait_for_status("replica2", "UP", Duration::from_secs(10))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let tally = load.stop().await;
    tally.assert_clean("kill -9 of replica2");
    every_url.extend(tally.urls);

    // 3. Rolling restart: SIGTERM (drain), start again, wait until the balancer has it back,
    // then the next one.
    let load = Load::start(&fleet, Traffic::Spread);
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..3 {
        let name = fleet.replicas[i].name.clone();
        fleet.process(i).child.signal(SIGTERM);
        let status = fleet.process(i).child.wait(Duration::from_secs(25)).await;
        assert!(
            status.success(),
            "{name} drained and exited cleanly: {status:?}"
        );
        fleet.replicas[i].process = None;
        fleet.start_replica(i).await;
        fleet
            .lb
            .wait_for_status(&name, "UP", Duration::from_secs(10))
            .await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let tally = load.stop().await;
    tally.assert_clean("rolling restart");
    every_url.extend(tally.urls);

    // 4. Key rotation: the new key listed and active in the file, SIGHUP to each replica in
    // turn, the old key kept listed.
    let probe = fleet.layout.token("rotation-probe");
    let load = Load::start(&fleet, Traffic::Spread);
    tokio::time::sleep(Duration::from_millis(500)).await;
    fleet.layout.rotate();
    for i in 0..3 {
        fleet.process(i).child.signal(SIGHUP);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let r = fleet
                .direct(i, "/files/users/rotation-probe/a.mp4", &probe)
                .await;
            assert_eq!(r.status(), 302);
            if key_pair_id(&location(&r)) == NEW_RSA_KEY {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "replica {} never signed with the new key",
                i + 1
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let tally = load.stop().await;
    tally.assert_clean("key rotation");
    let keys = tally.by_key();
    assert!(
        keys.contains_key(RSA_KEY) && keys.contains_key(NEW_RSA_KEY),
        "URLs signed with the old key and with the new one during the rotation: {keys:?}"
    );
    every_url.extend(tally.urls);
    // Every URL handed out so far, before, during and after the rotation, still verifies.
    let stale: Vec<String> = every_url
        .iter()
        .filter_map(|u| fleet.layout.refusal(u).map(|why| format!("{why}: {u}")))
        .collect();
    assert!(
        stale.is_empty(),
        "{} URLs no longer verify: {:?}",
        stale.len(),
        &stale[..stale.len().min(3)]
    );
    eprintln!(
        "fleet: {} distinct URLs handed out so far all verify after the rotation",
        every_url.len()
    );

    // 5. Redis restarted under load: each replica limits locally meanwhile, no 5xx, and who may
    // read what is decided exactly as before.
    let load = Load::start(&fleet, Traffic::Spread);
    tokio::time::sleep(Duration::from_millis(500)).await;
    fleet.redis.stop();
    fleet.wait_limits("0", Duration::from_secs(5)).await;
    let mallory = fleet.layout.token("mallory");
    for i in 0..3 {
        let r = fleet.direct(i, "/files/users/alice/a.mp4", &mallory).await;
        assert_eq!(
            r.status(),
            404,
            "another subject's object is still refused during the outage"
        );
        assert!(r.headers().get("location").is_none());
    }
    let r = client()
        .get(fleet.lb.url("/files/users/alice/a.mp4"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "no credential, no URL, during the outage");
    tokio::time::sleep(Duration::from_millis(700)).await;
    fleet.redis.restart().await;
    fleet.wait_limits("1", Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let tally = load.stop().await;
    tally.assert_clean("redis restart");

    // 6. The shared rate limit: one subject from every client, spread over the three replicas,
    // is held to the configured rate once its burst is spent.
    shared_rate_holds_within_ten_percent(&fleet).await;

    eprintln!(
        "fleet: haproxy retried {} and redispatched {} requests; {:.1} s in all",
        fleet.lb.backend_total("wretr").await,
        fleet.lb.backend_total("wredis").await,
        started.elapsed().as_secs_f64()
    );
}

/// Within one step, the three replicas (asked directly, each signing for itself) answer an
/// object with the byte-identical URL, for the RSA key and for the ECDSA key.
async fn stable_urls_are_identical_on_every_replica(fleet: &Fleet) {
    let token = fleet.layout.token("alice");
    for (path, key, lifetime) in [
        ("/files/users/alice/film.mp4", RSA_KEY, RSA_LIFETIME),
        ("/files/video/film/part0.ts", ECDSA_KEY, ECDSA_LIFETIME),
    ] {
        wait_for_room_in_step(lifetime, STEP, 3).await;
        let mut urls = Vec::new();
        for i in 0..3 {
            let r = fleet.direct(i, path, &token).await;
            assert_eq!(r.status(), 302, "{path} on replica {}", i + 1);
            urls.push(location(&r));
        }
        assert_eq!(key_pair_id(&urls[0]), key, "{}", urls[0]);
        assert!(fleet.layout.refusal(&urls[0]).is_none(), "{}", urls[0]);
        assert!(
            urls.iter().all(|u| u == &urls[0]),
            "{key}: the replicas answered {path} with different URLs: {urls:#?}"
        );
    }
}

async fn shared_rate_holds_within_ten_percent(fleet: &Fleet) {
    let per_second: f64 = Figment::from(Toml::file(repo().join("deploy/fleet/signgate.toml")))
        .extract_inner("limits.per_subject_per_second")
        .expect("the fleet configuration sets limits.per_subject_per_second");
    let before = fleet.served().await;
    let load = Load::start(fleet, Traffic::OneSubject);
    // Until the burst is spent, then a window of steady refusals and admissions.
    let settle = Duration::from_millis(500);
    let window = Duration::from_secs(3);
    tokio::time::sleep(Duration::from_secs(1) + settle + window + Duration::from_millis(300)).await;
    let tally = load.stop().await;
    tally.assert_clean("shared rate limit");
    let mut events = tally.events;
    events.sort_by_key(|(at, _)| *at);
    let first_refusal = events
        .iter()
        .find(|(_, status)| *status == 429)
        .map(|(at, _)| *at)
        .expect("the clients asked for more than the limit and were refused");
    let from = first_refusal + settle;
    let to = from + window;
    assert!(
        events.last().unwrap().0 >= to,
        "the load ran through the window"
    );
    let in_window: Vec<u16> = events
        .iter()
        .filter(|(at, _)| (from..to).contains(at))
        .map(|(_, s)| *s)
        .collect();
    let allowed = in_window.iter().filter(|s| **s == 302).count() as f64;
    let expected = per_second * window.as_secs_f64();
    let ratio = allowed / expected;
    eprintln!(
        "fleet shared rate limit: {allowed} of {} answered 302 in {window:?} over three replicas \
         at {} per second configured: {ratio:.3} of the limit",
        in_window.len(),
        per_second
    );
    assert!(
        in_window.len() as f64 > 2.0 * expected,
        "the clients asked for more than the limit allows ({} requests)",
        in_window.len()
    );
    assert!(
        (0.9..=1.1).contains(&ratio),
        "{allowed} answered in {window:?}; the fleet's limit allows {expected:.0} (each replica's \
         own would allow three times that)"
    );
    let after = fleet.served().await;
    for (server, n) in &after {
        assert!(n > &before[server], "{server} took no part: {after:?}");
    }
}
