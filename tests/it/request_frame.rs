//! The request frame every answer passes through: a request id on every answer (kept only from
//! trusted proxies), a time limit that answers 503 and signs nothing, and slow clients cut off
//! without keeping memory.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::json;
use signgate_testkit::app::spawn_app;
use signgate_testkit::backends::{jwks_issuer, slow_jwks_provider};
use signgate_testkit::http::assert_nothing_signed;
use signgate_testkit::tokens::{claims, ec_jwk, sign};

#[tokio::test]
async fn every_answer_carries_a_request_id() {
    let app = spawn_app(&[]).await;
    let id = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let is_uuid = |s: &str| uuid::Uuid::parse_str(s).is_ok();
    // Made here, and different for each request.
    let (a, b) = (
        app.get("/files/public/a", None).await,
        app.get("/files/public/a", None).await,
    );
    assert!(is_uuid(&id(&a)) && is_uuid(&id(&b)) && id(&a) != id(&b));
    // Refusals before any route carry one too.
    let long = format!("/files/{}", "a".repeat(9000));
    let r = app.client.get(app.url(&long)).send().await.unwrap();
    assert_eq!(r.status(), 414);
    assert!(is_uuid(&id(&r)));
    // A trusted proxy's id is kept (the default configuration trusts loopback); one that is too
    // long or not visible ASCII is replaced.
    let get_with = |value: String| {
        app.client
            .get(app.url("/files/public/a"))
            .header("x-request-id", value)
            .send()
    };
    assert_eq!(
        id(&get_with("proxy-7f3a".into()).await.unwrap()),
        "proxy-7f3a"
    );
    for bad in ["x".repeat(129), "two words".into(), "tab\there".into()] {
        let r = get_with(bad.clone()).await.unwrap();
        assert!(is_uuid(&id(&r)), "{bad:?} was replaced");
    }
    // From a client that is not a trusted proxy, even a well-formed id is replaced: nobody
    // picks the id their own requests are audited under.
    let direct = spawn_app(&[("server.trusted_proxies", serde_json::json!([]))]).await;
    let r = direct
        .client
        .get(direct.url("/files/public/a"))
        .header("x-request-id", "proxy-7f3a")
        .send()
        .await
        .unwrap();
    assert!(is_uuid(&id(&r)));
}

#[tokio::test]
async fn a_request_that_takes_too_long_is_503_and_signs_nothing() {
    let (key, jwk) = ec_jwk("late");
    // The provider answers after the request timeout.
    let base = slow_jwks_provider(Duration::from_secs(2), json!({"keys": [jwk]})).await;
    let app = spawn_app(&[
        (
            "auth.jwt.issuers",
            jwks_issuer(&format!("{base}/jwks.json"), 0),
        ),
        ("server.request_timeout_ms", json!(300)),
    ])
    .await;
    let t = sign(Algorithm::ES256, Some("late"), &claims("idp"), &key);
    let started = std::time::Instant::now();
    let (status, _) = assert_nothing_signed(app.get("/files/public/a", Some(&t)).await).await;
    assert_eq!(status, 503);
    assert!(started.elapsed() < Duration::from_millis(1500));
}

#[tokio::test]
async fn slow_clients_are_cut_off_and_open_connections_are_capped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    let app = signgate_testkit::app::spawn_app(&[
        ("server.max_connections", serde_json::json!(20)),
        ("server.header_read_timeout_ms", serde_json::json!(400)),
    ])
    .await;
    // Twenty clients start a request and never finish its headers.
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut s = TcpStream::connect(app.addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        slow.push(s);
    }
    for _ in 0..100 {
        if app.metric("signgate_connections_open").await == 20.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(app.metric("signgate_connections_open").await, 20.0);
    // One more is closed as it arrives, and counted.
    let mut extra = TcpStream::connect(app.addr).await.unwrap();
    let _ = extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let mut buf = [0u8; 256];
    let read = tokio::time::timeout(std::time::Duration::from_secs(3), extra.read(&mut buf))
        .await
        .expect("closed, not left hanging");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(app.metric("signgate_connections_refused_total").await >= 1.0);
    // The slow ones are cut off once their headers are late, and free their slots.
    for mut s in slow {
        let read = tokio::time::timeout(std::time::Duration::from_secs(3), s.read(&mut buf))
            .await
            .expect("the server closes a client whose headers never end");
        assert!(
            !matches!(&read, Ok(n) if buf[..*n].starts_with(b"HTTP/1.1 200")),
            "no answer to an unfinished request"
        );
    }
    for _ in 0..100 {
        if app.metric("signgate_connections_open").await == 0.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(app.metric("signgate_connections_open").await, 0.0);
    assert_eq!(app.get("/healthz", None).await.status(), 200);
}

/// A keep-alive connection lives while it is used, and through a request that takes longer than
/// the header timeout; once idle for that timeout it is closed (within a quarter more, and a
/// quarter of grace; asserted here only as "not before the timeout, within 3 s").
#[tokio::test]
async fn a_keep_alive_connection_lives_while_used_and_is_closed_once_idle() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (key, jwk) = ec_jwk("slow");
    // The issuer's keys come 2 s after each fetch starts: the first request waits for them.
    let base = slow_jwks_provider(Duration::from_secs(2), json!({"keys": [jwk]})).await;
    let app = spawn_app(&[
        (
            "auth.jwt.issuers",
            jwks_issuer(&format!("{base}/jwks.json"), 0),
        ),
        ("server.header_read_timeout_ms", json!(400)),
        ("server.request_timeout_ms", json!(5000)),
    ])
    .await;
    let mut conn = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let mut exchange = async |conn: &mut tokio::net::TcpStream, request: String| {
        conn.write_all(request.as_bytes()).await.unwrap();
        let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let t = sign(Algorithm::ES256, Some("slow"), &claims("idp"), &key);
    let slow =
        format!("GET /files/public/a HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\n\r\n");
    let started = std::time::Instant::now();
    let answer = exchange(&mut conn, slow).await;
    assert!(answer.starts_with("HTTP/1.1 302"), "{answer}");
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "the request waited only {:?}: it should outlast twice the header timeout",
        started.elapsed()
    );
    // Six requests 250 ms apart: more than the timeout in all, less between any two.
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let healthz = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".to_owned();
        let answer = exchange(&mut conn, healthz).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    // Then idle: closed, not before the timeout.
    let idle = std::time::Instant::now();
    let read = tokio::time::timeout(Duration::from_secs(3), conn.read(&mut buf))
        .await
        .expect("an idle connection is closed");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(
        idle.elapsed() >= Duration::from_millis(390),
        "{:?}",
        idle.elapsed()
    );
}

/// Slow clients that fill header buffers and go leave no memory behind: the real binary, three
/// rounds of 300 connections each holding 16 KB of unfinished headers until the header timeout
/// cuts them off; after each round the resident size is back within 5 MiB of idle. (glibc's
/// default thresholds kept 9–10 MiB per round resident: `src/memory.rs`.)
#[tokio::test]
async fn memory_returns_after_slow_clients_go() {
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpStream;
    let dir = signgate_testkit::fs::config_copy("slow-memory");
    let p = signgate_testkit::process::Signgate::start(
        crate::SIGNGATE,
        &dir,
        &[
            ("SIGNGATE_SERVER__HEADER_READ_TIMEOUT_MS", "1000".into()),
            ("SIGNGATE_SERVER__WORKER_THREADS", "1".into()),
        ],
    )
    .await;
    let healthz = format!("http://127.0.0.1:{}/healthz", p.port);
    let client = signgate_testkit::http::client();
    for _ in 0..200 {
        client.get(&healthz).send().await.unwrap();
    }
    let idle = p.child.memory().rss;
    let pad = vec![b'a'; 16_000];
    for round in 0..3 {
        let mut slow = Vec::new();
        for _ in 0..300 {
            let mut s = TcpStream::connect(("127.0.0.1", p.port)).await.unwrap();
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ")
                .await
                .unwrap();
            s.write_all(&pad).await.unwrap();
            slow.push(s);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let held = p.child.memory().rss;
        tokio::time::sleep(Duration::from_millis(1300)).await;
        drop(slow);
        tokio::time::sleep(Duration::from_millis(300)).await;
        for _ in 0..50 {
            assert_eq!(client.get(&healthz).send().await.unwrap().status(), 200);
        }
        let after = p.child.memory().rss;
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        eprintln!(
            "round {round}: idle {:.1} MiB, 300 slow clients {:.1} MiB, after {:.1} MiB",
            mib(idle),
            mib(held),
            mib(after)
        );
        assert!(
            after <= idle + 5 * 1024 * 1024,
            "round {round}: {:.1} MiB resident after the slow clients went, {:.1} MiB idle",
            mib(after),
            mib(idle)
        );
    }
}
