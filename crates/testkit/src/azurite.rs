//! A real Azurite (Microsoft's Azure Storage emulator, npm package `azurite`) on a free loopback
//! port with its documented development account, and the Shared Key requests a test needs to
//! set it up: create a container, upload a blob, set or clear the container's stored access
//! policies. (Shared Key is written out here from Microsoft's "Authorize with Shared Key"; the
//! SAS under test is signgate's.)
//!
//! Azurite is installed into `target/azurite/node_modules` (`scripts/test` does it; a test
//! that finds it missing installs it with npm itself, one process at a time). Without node or
//! npm the test fails with the command that fixes it.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};

use crate::app::repo;
use crate::fs::tempdir;
use crate::process::{free_port, ChildGuard, Shutdown};

/// The emulator's development account and its well-known key (Microsoft documents both).
pub const ACCOUNT: &str = "devstoreaccount1";
pub const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// The Azurite release the tests run.
pub const VERSION: &str = "3.37";

const FIX: &str = "install Node.js and npm (sudo apt-get install -y nodejs npm), then run: npm install --prefix target/azurite azurite@3.37 (scripts/test does both)";
/// How long Azurite may take to listen.
const STARTUP: Duration = Duration::from_secs(60);

/// `azurite-blob`, installed first if it is missing.
pub fn binary() -> PathBuf {
    let prefix = repo().join("target/azurite");
    let bin = prefix.join("node_modules/.bin/azurite-blob");
    if bin.exists() {
        return bin;
    }
    for tool in ["node", "npm"] {
        let found = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            found,
            "{tool} is not installed, and Azurite needs it: {FIX}"
        );
    }
    std::fs::create_dir_all(&prefix).unwrap();
    // One installer at a time (the test runner may start several test processes).
    let lock = std::fs::File::create(repo().join("target/azurite.lock")).unwrap();
    // SAFETY: flock on a file descriptor this function owns.
    unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) };
    if !bin.exists() {
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(format!("azurite@{VERSION}"))
            .stdout(Stdio::null())
            .status()
            .expect("npm runs");
        assert!(
            status.success() && bin.exists(),
            "npm could not install Azurite: {FIX}"
        );
    }
    bin
}

/// Azurite's blob service, stopped when dropped.
pub struct Azurite {
    _child: ChildGuard,
    pub port: u16,
    client: reqwest::Client,
}

impl Azurite {
    /// Starts `azurite-blob` on a free port with a fresh data folder, and waits until it
    /// accepts connections.
    pub async fn start() -> Azurite {
        let port = free_port();
        let dir = tempdir();
        let mut cmd = Command::new(binary());
        cmd.args([
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            &port.to_string(),
            "--location",
        ])
        .arg(&dir)
        .args(["--skipApiVersionCheck", "--silent"])
        .stdout(Stdio::null());
        let child = ChildGuard::spawn("azurite-blob", &mut cmd, Shutdown::Term);
        // Node starts in well under a second on an idle machine, but a loaded one (a build
        // beside the tests, every core busy) has been seen to take more than 15 s.
        let deadline = std::time::Instant::now() + STARTUP;
        while std::time::Instant::now() < deadline {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Azurite {
                    _child: child,
                    port,
                    client: reqwest::Client::new(),
                };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "azurite-blob did not listen on {port} within {} s",
            STARTUP.as_secs()
        );
    }

    /// `http://127.0.0.1:<port>/devstoreaccount1`: the account's blob endpoint.
    pub fn account_url(&self) -> String {
        format!("http://127.0.0.1:{}/{ACCOUNT}", self.port)
    }

    /// Creates the container `name`.
    pub async fn create_container(&self, name: &str) {
        let r = self
            .shared_key(
                "PUT",
                &format!("/{name}"),
                &[("restype", "container")],
                Vec::new(),
                None,
                &[],
            )
            .await;
        assert_eq!(
            r.status(),
            201,
            "create container: {}",
            r.text().await.unwrap()
        );
    }

    /// Uploads `body` as the block blob at `path` (encoded, `/container/name`).
    pub async fn put_blob(&self, path: &str, body: &[u8]) {
        let r = self
            .shared_key(
                "PUT",
                path,
                &[],
                body.to_vec(),
                Some("application/octet-stream"),
                &[("x-ms-blob-type", "BlockBlob")],
            )
            .await;
        assert_eq!(r.status(), 201, "put blob: {}", r.text().await.unwrap());
    }

    /// Sets the container's stored access policies to `ids`, each granting read (no start, no
    /// expiry: the SAS carries those); an empty list removes them all.
    pub async fn set_policies(&self, container: &str, ids: &[&str]) {
        let mut body =
            String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><SignedIdentifiers>");
        for id in ids {
            body.push_str(&format!(
                "<SignedIdentifier><Id>{id}</Id><AccessPolicy><Permission>r</Permission></AccessPolicy></SignedIdentifier>"
            ));
        }
        body.push_str("</SignedIdentifiers>");
        let r = self
            .shared_key(
                "PUT",
                &format!("/{container}"),
                &[("comp", "acl"), ("restype", "container")],
                body.into_bytes(),
                Some("application/xml"),
                &[],
            )
            .await;
        assert_eq!(
            r.status(),
            200,
            "set container ACL: {}",
            r.text().await.unwrap()
        );
    }

    /// A request authorized with Shared Key: `path` (encoded) under the account, `query` in
    /// plain text (simple values only), `headers` beside x-ms-date and x-ms-version.
    async fn shared_key(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Vec<u8>,
        content_type: Option<&str>,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut ms: Vec<(String, String)> = vec![
            ("x-ms-date".into(), http_date(now())),
            ("x-ms-version".into(), "2025-11-05".into()),
        ];
        ms.extend(
            headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned())),
        );
        ms.sort();
        let length = if body.is_empty() {
            String::new()
        } else {
            body.len().to_string()
        };
        let mut to_sign = [
            method,
            "",
            "",
            &length,
            "",
            content_type.unwrap_or(""),
            "",
            "",
            "",
            "",
            "",
            "",
        ]
        .join("\n");
        to_sign.push('\n');
        for (k, v) in &ms {
            to_sign.push_str(&format!("{k}:{v}\n"));
        }
        to_sign.push_str(&format!("/{ACCOUNT}/{ACCOUNT}{path}"));
        let mut sorted: Vec<(String, &str)> = query
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), *v))
            .collect();
        sorted.sort();
        for (k, v) in &sorted {
            to_sign.push_str(&format!("\n{k}:{v}"));
        }
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&STANDARD.decode(KEY).unwrap()).unwrap();
        mac.update(to_sign.as_bytes());
        let signature = STANDARD.encode(mac.finalize().into_bytes());
        let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut url = format!("{}{path}", self.account_url());
        if !query.is_empty() {
            url = format!("{url}?{}", query.join("&"));
        }
        let mut request = self
            .client
            .request(method.parse().unwrap(), url)
            .header("Authorization", format!("SharedKey {ACCOUNT}:{signature}"))
            .body(body);
        if let Some(ct) = content_type {
            request = request.header("Content-Type", ct);
        }
        for (k, v) in &ms {
            request = request.header(k.as_str(), v.as_str());
        }
        request.send().await.unwrap()
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// RFC 1123 date (`Tue, 01 Dec 2026 23:33:28 GMT`) of Unix seconds `t`.
pub fn http_date(t: u64) -> String {
    let days = t / 86_400;
    let (h, m, s) = (t / 3600 % 24, t / 60 % 60, t % 60);
    // Civil date from days since the epoch (era arithmetic, as in the providers crate).
    let z = days + 719_468;
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {day:02} {} {year} {h:02}:{m:02}:{s:02} GMT",
        WEEKDAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize]
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn http_dates_are_rfc_1123() {
        assert_eq!(super::http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            super::http_date(1_796_168_008),
            "Tue, 01 Dec 2026 23:33:28 GMT"
        );
    }
}
