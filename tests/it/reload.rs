//! Reloading the configuration (what SIGHUP does): remembered tokens are forgotten, the fetched
//! JWKS is kept, settings such as the request timeout are re-read, and the real binary rotates
//! its signing key on SIGHUP without a failed request (and keeps running on a broken file).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::json;
use signgate_testkit::app::{settings, spawn_with};
use signgate_testkit::backends::{slow_jwks_provider, JwksProvider};
use signgate_testkit::edge::verify;
use signgate_testkit::fs::{config_copy, config_file};
use signgate_testkit::http::{assert_nothing_signed, client, location};
use signgate_testkit::process::{free_port, Signgate, SIGHUP, SIGTERM};
use signgate_testkit::tokens::{claims, ec_jwk, sign, token, DEMO_SECRET};

use crate::SIGNGATE;

#[tokio::test]
async fn a_reload_forgets_remembered_tokens() {
    let (config, original) = config_file("");
    let app = spawn_with(settings(&config, &[]).unwrap()).await;
    let t = token("alice", json!({}));
    assert_eq!(app.get("/files/public/a", Some(&t)).await.status(), 302);
    assert_eq!(app.get("/files/public/a", Some(&t)).await.status(), 302);
    assert_eq!(app.metric("signgate_jwt_cache_hits_total").await, 1.0);
    // The secret is rotated: tokens made with the old one must stop working at once.
    std::fs::write(
        &config,
        original.replace(DEMO_SECRET, "a-rotated-secret-the-old-tokens-do-not-know"),
    )
    .unwrap();
    app.service.reload().unwrap();
    let (status, _) = assert_nothing_signed(app.get("/files/public/a", Some(&t)).await).await;
    assert_eq!(status, 401);
}

/// The issuer `idp` with its JWKS at `{base}/jwks.json`, as TOML to append to a configuration.
fn jwks_issuer_toml(base: &str) -> String {
    format!(
        "\n[[auth.jwt.issuers]]\nissuer = \"idp\"\naudience = [\"signgate\"]\nalgorithms = [\"ES256\"]\njwks_url = \"{base}/jwks.json\"\njwks_min_refresh_seconds = 0\n"
    )
}

#[tokio::test]
async fn a_reload_keeps_the_fetched_jwks_while_the_provider_is_down() {
    let (key, jwk) = ec_jwk("k1");
    let p = JwksProvider::start(json!({"keys": [jwk]}), true).await;
    let (config, _) = config_file(&jwks_issuer_toml(&p.base));
    let app = spawn_with(settings(&config, &[]).unwrap()).await;
    app.wait_ready().await;
    let first = sign(Algorithm::ES256, Some("k1"), &claims("idp"), &key);
    assert_eq!(app.get("/files/public/a", Some(&first)).await.status(), 302);
    p.up.store(false, Ordering::SeqCst);
    app.service.reload().unwrap();
    // A token the new configuration has never seen (so no remembered verification helps): it
    // verifies with the key set carried over from before the reload.
    let mut other = claims("idp");
    other["sub"] = json!("bob");
    let second = sign(Algorithm::ES256, Some("k1"), &other, &key);
    assert_eq!(
        app.get("/files/public/a", Some(&second)).await.status(),
        302
    );
    assert_eq!(app.get("/readyz", None).await.status(), 200);
    // Without the carried-over keys the same reload would leave nothing to verify with: a
    // fresh start against the provider that is down is not ready and fails closed.
    let fresh = spawn_with(settings(&config, &[]).unwrap()).await;
    let (status, _) =
        assert_nothing_signed(fresh.get("/files/public/a", Some(&second)).await).await;
    assert_eq!(status, 503);
}

#[tokio::test]
async fn a_reload_applies_a_new_request_timeout() {
    // A JWKS provider that answers after two seconds.
    let (key, jwk) = ec_jwk("late");
    let base = slow_jwks_provider(Duration::from_secs(2), json!({"keys": [jwk]})).await;
    let (config, text) = config_file(&jwks_issuer_toml(&base));
    let app = spawn_with(settings(&config, &[]).unwrap()).await;
    std::fs::write(
        &config,
        text.replace("request_timeout_ms = 10000", "request_timeout_ms = 300"),
    )
    .unwrap();
    app.service.reload().unwrap();
    let t = sign(Algorithm::ES256, Some("late"), &claims("idp"), &key);
    let started = std::time::Instant::now();
    let (status, _) = assert_nothing_signed(app.get("/files/public/a", Some(&t)).await).await;
    assert_eq!(status, 503);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "the reloaded 300 ms applied, not the 10 s the process started with"
    );
}

#[tokio::test]
async fn a_reload_that_would_change_the_routes_is_refused_and_the_old_routes_keep_answering() {
    let (config, text) = config_file("");
    let app = spawn_with(settings(&config, &[]).unwrap()).await;
    let t = token("alice", json!({}));
    assert_eq!(app.get("/files/public/a", Some(&t)).await.status(), 302);
    let moved = text.replace("files_prefix = \"/files\"", "files_prefix = \"/media\"");
    assert_ne!(moved, text);
    std::fs::write(&config, moved).unwrap();
    let err = format!("{:#}", app.service.reload().unwrap_err());
    assert!(
        err.contains("server.files_prefix") && err.contains("/media") && err.contains("restart"),
        "{err}"
    );
    assert_eq!(
        app.get("/files/public/a", Some(&t)).await.status(),
        302,
        "the running routes and configuration stay"
    );
    assert_eq!(app.get("/media/public/a", Some(&t)).await.status(), 404);
}

#[tokio::test]
async fn sighup_with_a_new_files_prefix_is_refused_and_the_reason_is_logged() {
    let dir = config_copy("hup-prefix");
    let log = dir.join("stderr.log");
    let port = free_port();
    let mut cmd = Signgate::command(SIGNGATE, &dir, port);
    cmd.env("SIGNGATE_LOG__LEVEL", "warn")
        .stderr(std::fs::File::create(&log).unwrap());
    let mut p = Signgate::spawn(cmd, port).await;
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let t = token("alice", json!({}));
    let config = std::fs::read_to_string(dir.join("signgate.toml")).unwrap();
    std::fs::write(
        dir.join("signgate.toml"),
        config.replace("files_prefix = \"/files\"", "files_prefix = \"/media\""),
    )
    .unwrap();
    p.child.signal(SIGHUP);
    let mut logged = String::new();
    for _ in 0..100 {
        logged = std::fs::read_to_string(&log).unwrap();
        if logged.contains("reload failed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let line = logged
        .lines()
        .find(|l| l.contains("reload failed"))
        .unwrap_or_else(|| panic!("no reload failure logged: {logged}"));
    assert!(line.contains("server.files_prefix"), "{line}");
    let r = client()
        .get(url("/files/public/a.txt"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302, "the old routes keep answering");
    let r = client()
        .get(url("/media/public/a.txt"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    p.child.signal(SIGTERM);
    assert!(p.child.wait(Duration::from_secs(40)).await.success());
}

#[tokio::test]
async fn sighup_rotates_keys_without_a_failed_request() {
    let dir = config_copy("hup");
    let p = Signgate::start(SIGNGATE, &dir, &[]).await;
    let url = format!("http://127.0.0.1:{}/files/public/a.txt", p.port);
    let t = token("alice", json!({}));
    let old = location(&client().get(&url).bearer_auth(&t).send().await.unwrap());
    assert!(old.ends_with("Key-Pair-Id=KDEMO2RSA0001"));

    // Load during the reload: every answer must be a signed 302.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load = {
        let (stop, ok, failed, url, t) = (
            stop.clone(),
            ok.clone(),
            failed.clone(),
            url.clone(),
            t.clone(),
        );
        tokio::spawn(async move {
            let c = client();
            while !stop.load(Ordering::Relaxed) {
                match c.get(&url).bearer_auth(&t).send().await {
                    Ok(r) if r.status() == 302 => ok.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        })
    };
    let config = std::fs::read_to_string(dir.join("signgate.toml")).unwrap();
    std::fs::write(
        dir.join("signgate.toml"),
        config.replace("active = \"KDEMO2RSA0001\"", "active = \"KDEMO2ECDSA01\""),
    )
    .unwrap();
    p.child.signal(SIGHUP);
    let mut rotated = None;
    for _ in 0..100 {
        let l = location(&client().get(&url).bearer_auth(&t).send().await.unwrap());
        if l.ends_with("Key-Pair-Id=KDEMO2ECDSA01") {
            rotated = Some(l);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    let new = rotated.expect("new URLs use the new active key");
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "no request failed during the reload"
    );
    assert!(ok.load(Ordering::Relaxed) > 0);
    // Both keys are still in the set, so URLs signed before the rotation still verify.
    verify(&old, None);
    verify(&new, None);

    // A broken configuration is refused and the running one stays.
    std::fs::write(dir.join("signgate.toml"), "this is not toml [").unwrap();
    p.child.signal(SIGHUP);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let still = client().get(&url).bearer_auth(&t).send().await.unwrap();
    assert_eq!(still.status(), 302);
    assert!(location(&still).ends_with("Key-Pair-Id=KDEMO2ECDSA01"));
}
