//! A fleet, not a process: three replicas of the real binary, run from the one fleet
//! configuration `deploy/fleet/signgate.toml` (the file the Kubernetes ConfigMap carries),
//! behind a real HAProxy (health checks on `/readyz`, retries on another replica), counting rate
//! limits in a real Redis of the test's own. Load goes through the balancer in bounded phases,
//! and each phase ends with no failed request and every signed URL verifying with the public
//! keys (the CloudFront verifier, not signgate's configuration): steady load, `kill -9` of a
//! replica, a rolling restart, a key rotation across the fleet, Redis restarted under load, and
//! the shared rate limit held within 10 %. Every replica also answers one object with the
//! byte-identical stable URL, for an RSA and an ECDSA key.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use figment::providers::{Format as _, Toml};
use figment::Figment;
use signgate_testkit::app::{repo, wait_for_room_in_step};
use signgate_testkit::http::{client, location};
use signgate_testkit::process::{SIGHUP, SIGKILL, SIGTERM};

use load::{Load, Traffic};
use setup::{key_pair_id, Fleet};

mod load;
mod setup;

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
    // Until the burst is spent (however long a busy machine takes), then a window of steady
    // refusals and admissions.
    let settle = Duration::from_millis(500);
    let window = Duration::from_secs(3);
    let deadline = Instant::now() + Duration::from_secs(20);
    while load.first_refusal.get().is_none() {
        assert!(
            Instant::now() < deadline,
            "the subject was never refused: the limit did not hold"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(settle + window + Duration::from_millis(300)).await;
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
