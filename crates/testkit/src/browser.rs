//! A real browser: headless Chromium from Debian's packages, driven through chromedriver's
//! WebDriver API, with downloads saved into a folder the test reads.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::process::{free_port, ChildGuard, Shutdown};

/// The first of `names` installed, or a failure that says how to install it.
pub fn browser_binary(names: &[&str]) -> PathBuf {
    for name in names {
        for dir in ["/usr/bin", "/usr/local/bin", "/usr/lib/chromium"] {
            let p = Path::new(dir).join(name);
            if p.exists() {
                return p;
            }
        }
    }
    panic!("{} is not installed; install it with: sudo apt-get install -y chromium chromium-driver (scripts/test does this when run as root)", names[0]);
}

/// chromedriver and the Chromium it starts, in one process group: dropping the driver sends
/// SIGTERM to all of them.
pub struct Driver {
    _child: ChildGuard,
    base: String,
    session: String,
    http: reqwest::Client,
    /// Where the browser saves downloads.
    pub downloads: PathBuf,
}

impl Driver {
    /// A new browser with an empty profile (no cookies) that saves downloads into
    /// `download_dir` without asking.
    pub async fn start(download_dir: &Path) -> Driver {
        let port = free_port();
        let child = ChildGuard::spawn(
            "chromedriver",
            Command::new(browser_binary(&["chromedriver"]))
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            Shutdown::Term,
        );
        let mut driver = Driver {
            _child: child,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            http: reqwest::Client::new(),
            downloads: download_dir.to_path_buf(),
        };
        for _ in 0..100 {
            if driver
                .http
                .get(format!("{}/status", driver.base))
                .send()
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = download_dir.with_extension("profile");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": browser_binary(&["chromium"]),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                         "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
                         format!("--user-data-dir={}", profile.display())],
                "prefs": {"download.default_directory": download_dir, "download.prompt_for_download": false,
                          "plugins.always_open_pdf_externally": true}
            }
        }}});
        let r: Value = driver
            .http
            .post(format!("{}/session", driver.base))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        driver.session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {r}"))
            .to_owned();
        driver
    }

    /// One WebDriver command on the session; its `value`.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let r: Value = self
            .http
            .request(method, url)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({"url": url}))
            .await;
    }

    /// The address of the page shown now.
    pub async fn url(&self) -> String {
        let url = self.call(reqwest::Method::GET, "/url", json!({})).await;
        url.as_str().unwrap_or_default().to_owned()
    }

    pub async fn title(&self) -> String {
        self.call(reqwest::Method::GET, "/title", json!({}))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The page's HTML as the browser holds it now.
    pub async fn source(&self) -> String {
        let source = self.call(reqwest::Method::GET, "/source", json!({})).await;
        source.as_str().unwrap_or_default().to_owned()
    }

    /// Waits (up to 10 s) until the title satisfies `done`; returns the last title seen.
    pub async fn wait_title(&self, done: impl Fn(&str) -> bool) -> String {
        let mut title = String::new();
        for _ in 0..100 {
            title = self.title().await;
            if done(&title) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        title
    }

    /// The element `css` selects; fails the test when there is none.
    async fn element(&self, css: &str) -> String {
        let el = self
            .call(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        el.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css:?} on the page: {el}"))
            .to_owned()
    }

    pub async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            json!({}),
        )
        .await;
    }

    /// Types `text` into the field `css` selects.
    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            json!({"text": text}),
        )
        .await;
    }

    /// The value of the browser's cookie `name` for the page shown now, if it has one.
    pub async fn cookie(&self, name: &str) -> Option<String> {
        let c = self
            .call(reqwest::Method::GET, &format!("/cookie/{name}"), json!({}))
            .await;
        c["value"].as_str().map(str::to_owned)
    }

    /// Waits (up to 10 s) for the download `name` to be complete in the download folder, and
    /// returns its bytes (Chromium writes to a `.crdownload` file and renames it when done).
    pub async fn downloaded(&self, name: &str) -> Vec<u8> {
        let file = self.downloads.join(name);
        for _ in 0..100 {
            if let Ok(b) = std::fs::read(&file) {
                if !b.is_empty() {
                    return b;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the browser did not save {}", file.display());
    }

    /// The names of the files in the download folder.
    pub fn download_names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.downloads)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Ends the WebDriver session (the browser closes).
    pub async fn quit(&self) {
        self.call(reqwest::Method::DELETE, "", json!({})).await;
    }
}
