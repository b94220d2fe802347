//! A real browser (headless Chromium from Debian's packages, driven through chromedriver's
//! WebDriver API): a download link through signgate's 302 to the edge, and an HLS-shaped
//! playlist and its segments loaded with CloudFront's signed cookies, and with Media CDN's and
//! Bunny's tokens in the path (which the player's relative segment URLs inherit), each through
//! the local edge checking requests as that CDN does.

use std::time::Duration;

use serde_json::json;
use signgate_testkit::app::spawn_app;
use signgate_testkit::browser::Driver;
use signgate_testkit::edge::{edge_distribution, media_files, media_root, media_rules, spawn_edge};
use signgate_testkit::tokens::token;

/// The site signgate protects: a login that sets the session cookie, and a page with a link.
async fn spawn_site(app: std::net::SocketAddr, token: String) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let page = format!("<!doctype html><title>downloads</title><a id=\"dl\" href=\"http://{app}/files/public/report.pdf?download=report.pdf\">Q3 report</a>");
    let router = axum::Router::new()
        .route(
            "/login",
            axum::routing::get(move || {
                let cookie = format!("signgate_token={token}; Path=/; HttpOnly; SameSite=Lax");
                async move {
                    (
                        [("set-cookie", cookie)],
                        axum::response::Html("<title>signed in</title>"),
                    )
                }
            }),
        )
        .route(
            "/downloads",
            axum::routing::get(move || {
                let page = page.clone();
                async move { axum::response::Html(page) }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

#[tokio::test]
async fn a_browser_downloads_through_signgate_and_plays_with_signed_cookies() {
    let root = media_root();
    let edge = spawn_edge(&root).await;
    let app = spawn_app(&[edge_distribution(edge), media_rules()]).await;
    let site = spawn_site(app.addr, token("alice", json!({}))).await;
    let downloads = std::env::temp_dir().join(format!("signgate-downloads-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&downloads);
    std::fs::create_dir_all(&downloads).unwrap();
    let driver = Driver::start(&downloads).await;

    // Sign in on the site (the browser now carries the session cookie), then click the link.
    driver.goto(&format!("http://{site}/login")).await;
    assert_eq!(driver.title().await, "signed in");
    driver.goto(&format!("http://{site}/downloads")).await;
    driver.click("#dl").await;
    let file = downloads.join("report.pdf");
    let mut bytes = None;
    for _ in 0..100 {
        if let Ok(b) = std::fs::read(&file) {
            if !b.is_empty() {
                bytes = Some(b);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let expected = media_files()
        .into_iter()
        .find(|(p, _)| p == "public/report.pdf")
        .unwrap()
        .1;
    assert_eq!(bytes.expect("the browser saved the download"), expected);

    // Streaming: signgate sets signed cookies for the rendition and redirects to the player,
    // which loads the playlist and every segment from the edge with those cookies.
    driver
        .goto(&format!(
            "http://{}/cookies/hls/alice?next=player.html",
            app.addr
        ))
        .await;
    let mut title = String::new();
    for _ in 0..100 {
        title = driver.title().await;
        if title.starts_with("played:") || title.starts_with("failed:") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let files = media_files();
    let size = |p: &str| files.iter().find(|(f, _)| f == p).unwrap().1.len();
    assert_eq!(
        title,
        format!(
            "played:{}:{}",
            size("hls/alice/master.m3u8"),
            size("hls/alice/seg0.ts") + size("hls/alice/seg1.ts")
        )
    );

    // Without the cookies (another folder), the edge refuses.
    driver
        .goto(&format!("http://{edge}/hls/bob/master.m3u8"))
        .await;
    let source = driver
        .call(reqwest::Method::GET, "/source", json!({}))
        .await;
    assert!(
        source.as_str().unwrap_or_default().contains("AccessDenied"),
        "{source}"
    );
    driver.call(reqwest::Method::DELETE, "", json!({})).await;
}

/// Waits for the player page's verdict in its title.
async fn player_title(driver: &Driver) -> String {
    let mut title = String::new();
    for _ in 0..100 {
        title = driver.title().await;
        if title.starts_with("played:") || title.starts_with("failed:") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    title
}

#[tokio::test]
async fn a_browser_plays_hls_with_path_tokens_through_media_cdn_and_bunny_edges() {
    use signgate_testkit::providers::{distribution, spawn_provider_edge};
    let root = media_root();
    let files = media_files();
    let size = |p: &str| files.iter().find(|(f, _)| f == p).unwrap().1.len();
    let played = format!(
        "played:{}:{}",
        size("hls/alice/master.m3u8"),
        size("hls/alice/seg0.ts") + size("hls/alice/seg1.ts")
    );
    let downloads = std::env::temp_dir().join(format!("signgate-hls-{}", std::process::id()));
    std::fs::create_dir_all(&downloads).unwrap();
    let driver = Driver::start(&downloads).await;
    for provider in ["google-media-cdn", "bunny"] {
        let edge = spawn_provider_edge(provider, &root).await;
        let rules = json!([{"pattern": "hls/{sub}/**", "access": "authenticated", "distribution": "cdn", "cookies": true, "folder_token": "path", "lifetime_seconds": 600}]);
        let app = spawn_app(&[
            (
                "distributions",
                json!([distribution(provider, "cdn", &format!("http://{edge}"))]),
            ),
            ("rules", rules),
        ])
        .await;
        let site = spawn_site(app.addr, token("alice", json!({}))).await;
        driver.goto(&format!("http://{site}/login")).await;
        driver
            .goto(&format!(
                "http://{}/cookies/hls/alice?next=player.html",
                app.addr
            ))
            .await;
        assert_eq!(player_title(&driver).await, played, "{provider}");
        let url = driver.call(reqwest::Method::GET, "/url", json!({})).await;
        let url = url.as_str().unwrap().to_owned();
        assert!(
            url.contains(if provider == "bunny" {
                "/bcdn_token="
            } else {
                "/edge-cache-token="
            }),
            "{url}"
        );
        // The same token does not open another user's folder.
        driver
            .goto(
                &url.replace("/hls/alice/", "/hls/bob/")
                    .replace("player.html", "master.m3u8"),
            )
            .await;
        let source = driver
            .call(reqwest::Method::GET, "/source", json!({}))
            .await;
        assert!(
            source.as_str().unwrap_or_default().contains("AccessDenied"),
            "{provider}: {source}"
        );
    }
    driver.call(reqwest::Method::DELETE, "", json!({})).await;
}
