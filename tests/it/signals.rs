//! The real binary as a process, stopped by SIGTERM: in-flight requests are drained while new
//! connections are refused, and under load every accepted request is answered in full.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use signgate_testkit::backends::slow_jwks_provider;
use signgate_testkit::fs::config_copy;
use signgate_testkit::http::client;
use signgate_testkit::process::{Signgate, SIGTERM};
use signgate_testkit::tokens::{ec_jwk, now, token};

use crate::SIGNGATE;

/// Longer than the default configuration's 30 s shutdown grace.
const EXIT_WAIT: Duration = Duration::from_secs(40);

#[tokio::test]
async fn sigterm_drains_in_flight_requests_and_refuses_new_ones() {
    use jsonwebtoken::{Algorithm, Header};
    let (key, jwk) = ec_jwk("slow");
    // The provider answers slowly, to keep the request in flight.
    let base = slow_jwks_provider(Duration::from_millis(1500), json!({"keys": [jwk]})).await;
    let issuers = format!("[{{issuer=\"idp\", audience=[\"signgate\"], algorithms=[\"ES256\"], jwks_url=\"{base}/jwks.json\", jwks_min_refresh_seconds=0}}]");
    let dir = config_copy("term");
    let mut p = Signgate::start(SIGNGATE, &dir, &[("SIGNGATE_AUTH__JWT__ISSUERS", issuers)]).await;
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
    p.child.signal(SIGTERM);
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
    let status = p.child.wait(EXIT_WAIT).await;
    assert!(status.success(), "clean exit after draining: {status:?}");
}

#[tokio::test]
async fn sigterm_under_load_answers_every_accepted_request_in_full() {
    let dir = config_copy("term-load");
    let unlimited = [
        ("SIGNGATE_LIMITS__PER_SUBJECT_PER_SECOND", "0".to_owned()),
        ("SIGNGATE_LIMITS__PER_IP_PER_SECOND", "0".to_owned()),
    ];
    let mut p = Signgate::start(SIGNGATE, &dir, &unlimited).await;
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
    p.child.signal(SIGTERM);
    let status = p.child.wait(EXIT_WAIT).await;
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
