//! What the real binary writes to its log: one audit line per decision with the request id
//! (flushed on SIGTERM), and never a secret, even at debug level.

use std::time::Duration;

use serde_json::json;
use signgate_testkit::app::repo;
use signgate_testkit::fs::config_copy;
use signgate_testkit::http::{client, location};
use signgate_testkit::process::{free_port, Signgate, SIGTERM};
use signgate_testkit::tokens::{hs256, now, token, DEMO_SECRET};

use crate::SIGNGATE;

#[tokio::test]
async fn every_decision_writes_one_audit_line_with_the_request_id() {
    let dir = config_copy("audit");
    let log = dir.join("stderr.log");
    let port = free_port();
    let mut cmd = Signgate::command(SIGNGATE, &dir, port);
    cmd.stderr(std::fs::File::create(&log).unwrap());
    let mut p = Signgate::spawn(cmd, port).await;
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
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
    p.child.signal(SIGTERM);
    assert!(p.child.wait(Duration::from_secs(40)).await.success());
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
    let mut cmd = Signgate::command(SIGNGATE, &dir, port);
    cmd.env("SIGNGATE_LOG__LEVEL", "trace")
        .stderr(std::fs::File::create(&log).unwrap());
    let mut p = Signgate::spawn(cmd, port).await;
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
    // SIGTERM: what the log thread still holds is flushed, and checked too.
    p.child.stop();
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
