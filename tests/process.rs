//! The real binary as a process: SIGHUP key rotation without a failed request, and SIGTERM
//! draining in-flight requests while refusing new connections.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use signgate_testkit::{
    app::*, backends::slow_jwks_provider, edge::*, http::*, process::free_port, tokens::*,
};

const BIN: &str = env!("CARGO_BIN_EXE_signgate");

struct Proc {
    child: Child,
    port: u16,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A copy of the default configuration and demo keys in a fresh folder.
fn config_copy(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("signgate-proc-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("dev")).unwrap();
    std::fs::copy(
        repo().join("config/signgate.toml"),
        dir.join("signgate.toml"),
    )
    .unwrap();
    for f in ["demo-rsa-private.pem", "demo-ecdsa-private.pem"] {
        std::fs::copy(repo().join("config/dev").join(f), dir.join("dev").join(f)).unwrap();
    }
    dir
}

async fn start(config: &Path, env: &[(&str, String)]) -> Proc {
    let port = free_port();
    let mut cmd = Command::new(BIN);
    cmd.args([
        "serve",
        "--config",
        config.join("signgate.toml").to_str().unwrap(),
    ])
    .env("SIGNGATE_SERVER__LISTEN", format!("127.0.0.1:{port}"))
    .env("SIGNGATE_SERVER__METRICS_LISTEN", "")
    .env("SIGNGATE_LOG__LEVEL", "warn")
    .stdout(Stdio::null())
    .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let proc = Proc {
        child: cmd.spawn().unwrap(),
        port,
    };
    for _ in 0..100 {
        if reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
            .await
            .is_ok()
        {
            return proc;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("signgate did not start");
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Waits for the process to exit on its own and returns how it did.
async fn wait_exit(mut p: Proc) -> std::process::ExitStatus {
    tokio::task::spawn_blocking(move || {
        let status = p.child.wait().unwrap();
        // Already exited: nothing for Drop to kill.
        std::mem::forget(p);
        status
    })
    .await
    .unwrap()
}

fn signal(p: &Proc, sig: &str) {
    assert!(Command::new("kill")
        .args(["-s", sig, &p.child.id().to_string()])
        .status()
        .unwrap()
        .success());
}

#[tokio::test]
async fn sighup_rotates_keys_without_a_failed_request() {
    let dir = config_copy("hup");
    let p = start(&dir, &[]).await;
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
    signal(&p, "HUP");
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
    signal(&p, "HUP");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let still = client().get(&url).bearer_auth(&t).send().await.unwrap();
    assert_eq!(still.status(), 302);
    assert!(location(&still).ends_with("Key-Pair-Id=KDEMO2ECDSA01"));
}

#[tokio::test]
async fn sigterm_drains_in_flight_requests_and_refuses_new_ones() {
    use jsonwebtoken::{Algorithm, Header};
    let (key, jwk) = ec_jwk("slow");
    // The provider answers slowly, to keep the request in flight.
    let base = slow_jwks_provider(Duration::from_millis(1500), json!({"keys": [jwk]})).await;
    let issuers = format!("[{{issuer=\"idp\", audience=[\"signgate\"], algorithms=[\"ES256\"], jwks_url=\"{base}/jwks.json\", jwks_min_refresh_seconds=0}}]");
    let dir = config_copy("term");
    let p = start(&dir, &[("SIGNGATE_AUTH__JWT__ISSUERS", issuers)]).await;
    let port = p.port;

    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("slow".into());
    let claims = json!({"sub": "alice", "iss": "idp", "aud": "signgate", "exp": now() + 600});
    let t = jsonwebtoken::encode(&header, &claims, &key).unwrap();
    let in_flight = tokio::spawn(async move {
        client()
            .get(format!("http://127.0.0.1:{port}/files/public/a.txt"))
            .bearer_auth(t)
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    signal(&p, "TERM");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused = tokio::net::TcpStream::connect(("127.0.0.1", port)).await;
    assert!(
        refused.is_err(),
        "new connections are refused while draining"
    );
    assert_eq!(
        in_flight.await.unwrap().unwrap(),
        302,
        "the in-flight request completed"
    );
    let status = wait_exit(p).await;
    assert!(status.success(), "clean exit after draining: {status:?}");
}

#[tokio::test]
async fn sigterm_under_load_answers_every_accepted_request_in_full() {
    let dir = config_copy("term-load");
    let unlimited = [
        ("SIGNGATE_LIMITS__PER_SUBJECT_PER_SECOND", "0".to_owned()),
        ("SIGNGATE_LIMITS__PER_IP_PER_SECOND", "0".to_owned()),
    ];
    let p = start(&dir, &unlimited).await;
    let port = p.port;
    let t = token("alice", json!({}));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..8 {
        let (t, stop) = (t.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let client = client();
            let (mut answered, mut other) = (0u32, Vec::new());
            while !stop.load(Ordering::SeqCst) {
                match client
                    .get(format!("http://127.0.0.1:{port}/files/public/a.txt"))
                    .bearer_auth(&t)
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 302 && r.headers().contains_key("location") => {
                        answered += 1
                    }
                    Ok(r) => other.push(r.status().as_u16()),
                    // Refused or closed once the drain has begun: expected, and nothing half-sent.
                    Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            }
            (answered, other)
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    signal(&p, "TERM");
    let status = wait_exit(p).await;
    stop.store(true, Ordering::SeqCst);
    let mut total = 0;
    for w in workers {
        let (answered, other) = w.await.unwrap();
        assert!(
            other.is_empty(),
            "answers other than a signed 302: {other:?}"
        );
        total += answered;
    }
    assert!(
        total > 100,
        "the load ran before the signal ({total} answers)"
    );
    assert!(status.success(), "clean exit after draining: {status:?}");
}

#[tokio::test]
async fn every_decision_writes_one_audit_line_with_the_request_id() {
    let dir = config_copy("audit");
    let log = dir.join("stderr.log");
    let port = free_port();
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--config",
            dir.join("signgate.toml").to_str().unwrap(),
        ])
        .env("SIGNGATE_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("SIGNGATE_SERVER__METRICS_LISTEN", "")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    for _ in 0..100 {
        if reqwest::get(url("/healthz")).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let t = token("alice", json!({}));
    let mut expected = Vec::new();
    // The last id comes from a trusted proxy (loopback, in the default configuration) and tries
    // to forge a field of the audit line: it must stay a string inside request_id.
    let forged = r#"x","decision":"allow","subject":"mallory"#;
    for (path, token, decision, proxy_id) in [
        ("/files/public/a.mp4", Some(&t), "allow", None),
        ("/files/users/bob/b.mp4", Some(&t), "deny", None),
        (
            "/files/users/alice/c.mp4",
            None,
            "unauthenticated",
            Some(forged),
        ),
    ] {
        let mut req = client().get(url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(id) = proxy_id {
            req = req.header("x-request-id", id);
        }
        let r = req.send().await.unwrap();
        let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert!(
            proxy_id.is_none_or(|p| p == id),
            "a trusted proxy's id is kept"
        );
        expected.push((id, path.trim_start_matches("/files/"), decision));
    }
    // SIGTERM: the log thread flushes what it holds before the process exits.
    assert!(Command::new("kill")
        .args(["-s", "TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    assert!(child.wait().unwrap().success());
    let text = std::fs::read_to_string(&log).unwrap();
    let audit: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["target"] == "signgate::audit")
        .collect();
    assert_eq!(
        audit.len(),
        expected.len(),
        "one line per decision:\n{text}"
    );
    for (line, (id, object, decision)) in audit.iter().zip(&expected) {
        assert_eq!(line["request_id"], *id, "{line}");
        assert_eq!(line["object"], *object, "{line}");
        assert_eq!(line["decision"], *decision, "{line}");
    }
    assert_eq!(audit[0]["subject"], "alice");
    assert_eq!(audit[2]["decision"], "unauthenticated");
    assert!(audit[2].get("subject").is_none_or(|s| s != "mallory"));
    assert!(!text.contains(&t), "the token never reaches the log");
}

#[tokio::test]
async fn secrets_never_reach_the_log_even_at_debug_level() {
    let dir = config_copy("logs");
    let port = free_port();
    let log = dir.join("stderr.log");
    let mut cmd = Command::new(BIN);
    cmd.args([
        "serve",
        "--config",
        dir.join("signgate.toml").to_str().unwrap(),
    ])
    .env("SIGNGATE_SERVER__LISTEN", format!("127.0.0.1:{port}"))
    .env("SIGNGATE_SERVER__METRICS_LISTEN", "")
    .env("SIGNGATE_LOG__LEVEL", "trace")
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(&log).unwrap());
    let mut p = Proc {
        child: cmd.spawn().unwrap(),
        port,
    };
    for _ in 0..100 {
        if reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let good = token("alice", json!({}));
    let forged = hs256(
        &json!({"sub": "alice", "iss": "signgate-dev", "aud": "signgate", "exp": now() + 60}),
        b"another-secret-of-at-least-32-bytes!!",
    );
    let c = client();
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let signed = location(
        &c.get(url("/files/public/a.txt"))
            .bearer_auth(&good)
            .send()
            .await
            .unwrap(),
    );
    let cookie = format!("signgate_token={good}");
    c.get(url("/files/users/bob/x"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    c.get(url("/files/public/a.txt"))
        .bearer_auth(&forged)
        .send()
        .await
        .unwrap();
    c.get(url("/auth"))
        .header("x-original-uri", "/files/public/b.txt")
        .bearer_auth(&good)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = p.child.kill();
    let _ = p.child.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("signgate::audit"),
        "the log was written: {text}"
    );
    let signature = signed
        .split("Signature=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let demo_key = std::fs::read_to_string(repo().join("config/dev/demo-rsa-private.pem")).unwrap();
    let key_line = demo_key
        .lines()
        .find(|l| l.len() > 60 && !l.contains(' '))
        .unwrap();
    for (what, secret) in [
        ("token", good.as_str()),
        ("token signature part", good.rsplit('.').next().unwrap()),
        ("forged token", forged.as_str()),
        ("CloudFront signature", signature),
        ("demo secret", DEMO_SECRET),
        ("private key", key_line),
    ] {
        assert!(!text.contains(secret), "{what} appears in the log");
    }
}
