//! Starts the real service on a random port, as users run it, with the repository's default
//! configuration plus per-test overrides.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::Serialized;
use figment::Figment;
use serde_json::{json, Value};
use signgate::app::App;
use signgate::config::Config;
use signgate::service::Service;
use signgate::startup::Listeners;
use signgate_cloudfront::{verify_url, KeyPairId, PublicKeys, Verified, VerifyingKey, Viewer};

pub const DEMO_SECRET: &str = "signgate-demo-secret-not-for-production";

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

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
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
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        addr,
        metrics_addr,
        client,
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
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An HS256 demo token with the standard claims, plus `extra`.
pub fn token(sub: &str, extra: Value) -> String {
    let mut claims = json!({"sub": sub, "iss": "signgate-dev", "aud": "signgate", "exp": now() + 600, "iat": now()});
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    hs256(&claims, DEMO_SECRET.as_bytes())
}

pub fn hs256(claims: &Value, secret: &[u8]) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(secret).unwrap();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &key,
    )
    .unwrap()
}

/// The demo public keys, to check that what signgate hands out verifies as CloudFront would.
pub fn demo_public_keys() -> PublicKeys {
    let mut keys = PublicKeys::default();
    for (id, file) in [
        ("KDEMO2RSA0001", "demo-rsa-public.pem"),
        ("KDEMO2ECDSA01", "demo-ecdsa-public.pem"),
    ] {
        let key = VerifyingKey::from_file(&repo().join("config/dev").join(file)).unwrap();
        keys.insert(KeyPairId::parse(id).unwrap(), key);
    }
    keys
}

pub fn verify(url: &str, client_ip: Option<&str>) -> Verified {
    let viewer = Viewer {
        now: now(),
        client_ip: client_ip.map(|ip| ip.parse().unwrap()),
    };
    verify_url(url, &demo_public_keys(), viewer).unwrap_or_else(|d| panic!("{url}: {d}"))
}

pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .expect("Location")
        .to_str()
        .unwrap()
        .to_owned()
}

/// Asserts that nothing signed came back: no Location with a signature, no X-Signed-Url, no
/// CloudFront cookie, no signature in the body.
pub async fn assert_nothing_signed(response: reqwest::Response) -> (reqwest::StatusCode, String) {
    let status = response.status();
    let headers = response.headers().clone();
    assert!(
        headers.get("x-signed-url").is_none(),
        "X-Signed-Url on {status}"
    );
    if let Some(loc) = headers.get("location") {
        assert!(
            !loc.to_str().unwrap_or_default().contains("Signature="),
            "signed Location on {status}"
        );
    }
    for cookie in headers.get_all("set-cookie") {
        assert!(
            !cookie
                .to_str()
                .unwrap_or_default()
                .starts_with("CloudFront-"),
            "CloudFront cookie on {status}"
        );
    }
    let body = response.text().await.unwrap();
    assert!(
        !body.contains("Signature="),
        "signature in body on {status}"
    );
    (status, body)
}

/// A raw HTTP/1.1 request, sent byte for byte (HTTP clients normalize `..` and `\` away, which
/// would hide exactly what these tests need to send). Returns status, headers and body.
pub async fn raw_request(
    addr: std::net::SocketAddr,
    request_line_target: &[u8],
    headers: &[(&str, &[u8])],
) -> (u16, String, String) {
    let mut req = Vec::new();
    req.extend_from_slice(b"GET ");
    req.extend_from_slice(request_line_target);
    req.extend_from_slice(b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.extend_from_slice(k.as_bytes());
        req.extend_from_slice(b": ");
        req.extend_from_slice(v);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"\r\n");
    exchange(addr, &req).await
}

/// Sends `request` as it is on a new connection and reads until the server closes it (at most
/// 5 s). Returns status (0 when there is none), head and body.
pub async fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may refuse and close before reading everything: what it answered still counts.
    let _ = stream.write_all(request).await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut response),
    )
    .await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, head.to_owned(), body.to_owned())
}

/// Asserts a raw response signed nothing.
pub fn assert_raw_nothing_signed(head: &str, body: &str) {
    let lower = head.to_ascii_lowercase();
    assert!(!lower.contains("x-signed-url"), "{head}");
    assert!(!lower.contains("set-cookie: cloudfront-"), "{head}");
    assert!(!head.contains("Signature="), "{head}");
    assert!(!body.contains("Signature="), "{body}");
}

/// A local edge serving `root`, trusting the demo keys.
pub async fn spawn_edge(root: &Path) -> SocketAddr {
    let edge = signgate::edge::Edge {
        keys: demo_public_keys(),
        origin: signgate::edge::Origin::Folder(root.to_path_buf()),
        base_url: None,
    };
    signgate::edge::spawn(edge, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// Overrides that point the demo distribution at a local edge, with host-only cookies that the
/// browser sends to every port of 127.0.0.1.
pub fn edge_distribution(edge: SocketAddr) -> (&'static str, Value) {
    (
        "distributions",
        json!([{"name": "demo", "url": format!("http://{edge}"), "key_set": "demo", "cookie_secure": false}]),
    )
}

/// A folder of test files: public/report.pdf, users/alice/notes.txt, hls/alice/... .
pub fn media_root() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "signgate-media-{}-{}",
        std::process::id(),
        now_nanos()
    ));
    for (path, bytes) in media_files() {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, bytes).unwrap();
    }
    dir
}

pub fn media_files() -> Vec<(String, Vec<u8>)> {
    let mut files = vec![
        ("public/report.pdf".to_string(), b"%PDF-1.4 signgate test report \x00\x01\x02\xff".to_vec()),
        ("users/alice/notes.txt".to_string(), b"alice's notes".to_vec()),
        ("users/bob/notes.txt".to_string(), b"bob's notes".to_vec()),
        ("hls/alice/master.m3u8".to_string(), b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg0.ts\n#EXTINF:2.0,\nseg1.ts\n#EXT-X-ENDLIST\n".to_vec()),
        ("hls/alice/seg0.ts".to_string(), vec![0x47; 188 * 4]),
        ("hls/alice/seg1.ts".to_string(), vec![0x47; 188 * 2]),
        ("hls/bob/master.m3u8".to_string(), b"#EXTM3U\n".to_vec()),
        ("hls/alice/player.html".to_string(), PLAYER_HTML.as_bytes().to_vec()),
    ];
    for i in 0..40 {
        files.push((
            format!("public/batch/{i}.bin"),
            format!("object number {i}").into_bytes(),
        ));
    }
    files
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Rules for the media tests: public/**, users/{sub}/**, and signed cookies for hls/{sub}/**.
pub fn media_rules() -> (&'static str, Value) {
    (
        "rules",
        json!([
            {"pattern": "hls/{sub}/**", "access": "authenticated", "distribution": "demo", "cookies": true, "lifetime_seconds": 600},
            {"pattern": "public/**", "access": "authenticated", "distribution": "demo"},
            {"pattern": "users/{sub}/**", "access": "authenticated", "distribution": "demo"}
        ]),
    )
}

/// A page inside the signed folder that loads the playlist and every segment it lists, with the
/// browser's cookies, and reports the byte counts in its title.
pub const PLAYER_HTML: &str = r##"<!doctype html><html><head><title>loading</title></head><body><script>
(async () => {
  try {
    const playlist = await fetch("master.m3u8");
    if (!playlist.ok) throw new Error("playlist " + playlist.status);
    const text = await playlist.text();
    let total = 0;
    for (const line of text.split("\n")) {
      if (!line || line.startsWith("#")) continue;
      const seg = await fetch(line);
      if (!seg.ok) throw new Error(line + " " + seg.status);
      total += (await seg.arrayBuffer()).byteLength;
    }
    document.title = "played:" + text.length + ":" + total;
  } catch (e) {
    document.title = "failed:" + e.message;
  }
})();
</script></body></html>"##;

/// A TCP proxy the test controls, in front of a real server: `down()` cuts every connection and
/// refuses new ones; `up()` lets them through again.
pub struct FaultProxy {
    pub addr: SocketAddr,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl FaultProxy {
    pub async fn start(upstream: SocketAddr) -> FaultProxy {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let conns = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (up2, conns2) = (up.clone(), conns.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                conns2.lock().unwrap().push(task);
            }
        });
        FaultProxy { addr, up, conns }
    }

    pub fn down(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for task in self.conns.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    pub fn up(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The address in a `scheme://[user@]host:port/...` URL.
pub fn url_addr(url: &str) -> SocketAddr {
    let rest = url.split_once("://").unwrap().1;
    let authority = rest.split('/').next().unwrap();
    let hostport = authority.rsplit('@').next().unwrap();
    use std::net::ToSocketAddrs;
    hostport.to_socket_addrs().unwrap().next().unwrap()
}

/// `url` with its host:port replaced by `addr`.
pub fn url_via(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let user = authority
        .rsplit_once('@')
        .map(|(u, _)| format!("{u}@"))
        .unwrap_or_default();
    format!("{scheme}://{user}{addr}/{path}")
}

/// The test service URL from the environment, or `None` (and a note that the test is skipped).
pub fn service_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            eprintln!("skipped: {var} is unset (scripts/test and .ci/run set it)");
            None
        }
    }
}

/// A name no other test (or test run) uses.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        now_nanos() % 1_000_000_000
    )
}

/// A loopback port nothing listens on right now (used by the process-level test crates).
#[allow(dead_code)]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh ES256 key for signing test tokens, and its public JWK with `kid`.
pub fn ec_jwk(kid: &str) -> (jsonwebtoken::EncodingKey, Value) {
    use jsonwebtoken::{jwk::Jwk, Algorithm, EncodingKey};
    let k = signgate_cloudfront::SigningKey::generate(
        KeyPairId::parse("X").unwrap(),
        signgate_cloudfront::KeyType::EcdsaP256,
    )
    .unwrap();
    let key = EncodingKey::from_ec_pem(k.private_pkcs8_pem().as_bytes()).unwrap();
    let mut jwk =
        serde_json::to_value(Jwk::from_encoding_key(&key, Algorithm::ES256).unwrap()).unwrap();
    jwk["kid"] = json!(kid);
    (key, jwk)
}

/// A JWKS provider that serves `jwks` at `{base}/jwks.json` only after `delay`; returns `base`.
pub async fn slow_jwks_provider(delay: std::time::Duration, jwks: Value) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let jwks = jwks.clone();
            async move {
                tokio::time::sleep(delay).await;
                axum::Json(jwks)
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}
