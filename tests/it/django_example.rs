//! `examples/django-nginx/`, started by its own `run` script and used by a headless Chromium as
//! a person would: a members' link while logged out leads to Django's login form, the form
//! signs in, the files arrive from the edge byte for byte, another user's file is refused, the
//! video plays through signed cookies, and after logging out the same links are refused. Once
//! with nginx sending /files/ to signgate (signgate answers the 302), once with nginx
//! `auth_request` (nginx redirects).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use signgate_testkit::app::repo;
use signgate_testkit::browser::Driver;
use signgate_testkit::fs::tempdir;
use signgate_testkit::process::{ChildGuard, Shutdown};

fn example() -> PathBuf {
    repo().join("examples/django-nginx")
}

/// A file of the example's media, as the CDN's origin holds it.
fn media(key: &str) -> Vec<u8> {
    std::fs::read(example().join("media").join(key)).unwrap()
}

/// `examples/django-nginx/run MODE` with this build's signgate; stopped (the script and all it
/// started, one process group) when dropped.
struct Example {
    _child: ChildGuard,
    /// The site's address through nginx, without the trailing slash.
    url: String,
}

impl Example {
    fn start(mode: &str) -> Example {
        let venv = repo().join("target/venv-django");
        assert!(
            venv.join("bin/python").exists(),
            "Django is not installed for the example; install it with: examples/django-nginx/run --install (scripts/test does this)"
        );
        let mut child = ChildGuard::spawn(
            "examples/django-nginx/run",
            Command::new(example().join("run"))
                .arg(mode)
                .env("SIGNGATE_BIN", crate::SIGNGATE)
                .env("DJANGO_VENV", &venv)
                .env("EXAMPLE_STATE", tempdir())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit()),
            Shutdown::Term,
        );
        let stdout = child.stdout().expect("the script's stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("ready: ") {
                    let url = rest.split_whitespace().next().unwrap_or_default();
                    let _ = tx.send(url.trim_end_matches('/').to_owned());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("examples/django-nginx/run {mode} did not print ready: within 60 s (its errors are above)"));
        Example { _child: child, url }
    }
}

/// A fresh browser whose downloads go to their own folder.
async fn browser() -> Driver {
    let downloads = tempdir().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    Driver::start(&downloads).await
}

async fn log_in(driver: &Driver, user: &str, password: &str) {
    driver.type_into("#id_username", user).await;
    driver.type_into("#id_password", password).await;
    driver.click("#submit").await;
}

/// The whole visit, in `mode`; `refused` says how that mode shows a refused file in the page.
async fn visit(mode: &str, refused: &str) {
    let site = Example::start(mode);
    let driver = browser().await;
    let url = |path: &str| format!("{}{path}", site.url);

    // Logged out, the members' link leads to the login form, which comes back to the file.
    driver.goto(&url("/")).await;
    assert_eq!(driver.title().await, "Welcome", "{mode}");
    driver.click("#newsletter").await;
    assert_eq!(
        driver.wait_title(|t| t == "Log in").await,
        "Log in",
        "{mode}"
    );
    let login = driver.url().await;
    assert!(
        login.starts_with(&url("/accounts/login/?next=")) && login.contains("newsletter.pdf"),
        "{mode}: {login}"
    );
    log_in(&driver, "alice", "alice-password").await;
    assert_eq!(
        driver.downloaded("newsletter.pdf").await,
        media("members/newsletter.pdf"),
        "{mode}"
    );

    // Signed in, the page lists alice's own files (users/1/: her user id); a click downloads one.
    driver.goto(&url("/")).await;
    assert_eq!(driver.title().await, "Files of alice", "{mode}");
    driver
        .click("a.file[href^='/files/users/1/report.pdf']")
        .await;
    assert_eq!(
        driver.downloaded("report.pdf").await,
        media("users/1/report.pdf"),
        "{mode}"
    );

    // Bob's file (user id 2) is refused, and nothing is saved.
    let before = driver.download_names();
    driver
        .goto(&url("/files/users/2/report.pdf?download=bob.pdf"))
        .await;
    let page = driver.source().await;
    assert!(page.contains(refused), "{mode}: {page}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(driver.download_names(), before, "{mode}");

    // The video: signgate sets signed cookies for hls/1/ and sends the browser to the player on
    // the edge, which fetches the playlist and each segment with them.
    driver.goto(&url("/")).await;
    driver.click("#video").await;
    let played = driver
        .wait_title(|t| t.starts_with("played") || t.starts_with("failed"))
        .await;
    let segments = media("hls/1/seg0.ts").len() + media("hls/1/seg1.ts").len();
    assert_eq!(
        played,
        format!("played 2 segments, {segments} bytes"),
        "{mode}"
    );
    let player = driver.url().await;
    // Without those cookies the edge refuses the same segment.
    let segment = player.replace("player.html", "seg0.ts");
    let bare = reqwest::get(&segment).await.unwrap();
    assert_eq!(bare.status(), 403, "{mode}: {segment}");

    // Log out: the session row is gone, so the same link leads to the login form again, and
    // the old session cookie, sent by hand, signs nothing.
    driver.goto(&url("/")).await;
    let session = driver
        .cookie("sessionid")
        .await
        .expect("Django's session cookie");
    driver.click("#logout button").await;
    assert_eq!(
        driver.wait_title(|t| t == "Welcome").await,
        "Welcome",
        "{mode}"
    );
    let names = driver.download_names();
    driver
        .goto(&url("/files/users/1/report.pdf?download=again.pdf"))
        .await;
    assert_eq!(
        driver.wait_title(|t| t == "Log in").await,
        "Log in",
        "{mode}"
    );
    assert_eq!(driver.download_names(), names, "{mode}");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let old = http
        .get(url("/files/users/1/report.pdf"))
        .header("cookie", format!("sessionid={session}"))
        .send()
        .await
        .unwrap();
    let location = old
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    match mode {
        "direct" => assert_eq!(old.status(), 401, "{mode}: {location:?}"),
        _ => assert!(
            old.status() == 302
                && location
                    .as_deref()
                    .is_some_and(|l| l.contains("/accounts/login/")),
            "{mode}: {} {location:?}",
            old.status()
        ),
    }
    driver.quit().await;
}

#[tokio::test]
async fn the_django_example_with_signgate_answering_the_302() {
    // signgate's own refusal body.
    visit("direct", "forbidden").await;
}

#[tokio::test]
async fn the_django_example_with_nginx_auth_request() {
    // nginx's error page for the 403 that /auth answered.
    visit("auth_request", "403 Forbidden").await;
}

#[test]
fn the_example_readme_shows_the_nginx_snippet_the_example_runs() {
    // The auth_request locations of the example are the README's, with signgate's address.
    let readme = signgate_testkit::nginx::readme_snippet("nginx-snippet", "nginx");
    let example = std::fs::read_to_string(example().join("nginx/files-auth-request.conf"))
        .unwrap()
        .replace("127.0.0.1:@SIGNGATE_PORT@", "127.0.0.1:8080");
    for line in readme
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        assert!(
            example.lines().any(|l| l.trim() == line),
            "examples/django-nginx/nginx/files-auth-request.conf lacks the README's {line:?}"
        );
    }
}
