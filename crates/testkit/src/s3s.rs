//! A real S3-compatible server that checks SigV4 presigned URLs: `s3s-fs` (the s3s project's
//! file-system server), on a free loopback port, serving a bucket from a temporary folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::fs::tempdir;
use crate::process::{free_port, ChildGuard, Shutdown};

/// The version the tests run (later releases need a newer Rust than the project's).
pub const INSTALL: &str = "cargo install s3s-fs@0.14.1 --features binary --locked";

/// The credentials s3s-fs checks: the demo access key ID and the demo secret of
/// `config/dev/providers/s3.secret`, as [`crate::providers::distribution`] configures `s3`.
pub const ACCESS_KEY_ID: &str = "AKIASIGNGATEDEMO0001";

/// `s3s-fs` from `PATH` or `~/.cargo/bin`, or a failure that says how to install it.
pub fn s3s_fs_binary() -> PathBuf {
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("s3s-fs"))
                .collect()
        })
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(Path::new(&home).join(".cargo/bin/s3s-fs"));
    }
    candidates
        .into_iter()
        .find(|c| c.is_file())
        .unwrap_or_else(|| panic!("s3s-fs is not installed; install it with: {INSTALL} (scripts/test does this when it is missing)"))
}

/// s3s-fs serving `root` (a folder per bucket); dropping it stops the server.
pub struct S3sFs {
    _child: ChildGuard,
    pub port: u16,
    /// The folder whose subfolders are the buckets.
    pub root: PathBuf,
}

impl S3sFs {
    /// Starts s3s-fs with the demo credentials and one empty bucket, `bucket`, and waits until
    /// it accepts connections.
    pub async fn start(bucket: &str, secret: &str) -> S3sFs {
        let root = tempdir();
        std::fs::create_dir_all(root.join(bucket)).unwrap();
        let port = free_port();
        let child = ChildGuard::spawn(
            "s3s-fs",
            Command::new(s3s_fs_binary())
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--access-key", ACCESS_KEY_ID, "--secret-key", secret])
                .arg(&root)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit()),
            Shutdown::Term,
        );
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return S3sFs {
                    _child: child,
                    port,
                    root,
                };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("s3s-fs did not start on port {port}");
    }

    /// The path-style base URL of `bucket`: `http://127.0.0.1:<port>/<bucket>`.
    pub fn bucket_url(&self, bucket: &str) -> String {
        format!("http://127.0.0.1:{}/{bucket}", self.port)
    }

    /// Stores `bytes` as object `key` of `bucket`, as s3s-fs keeps objects: a file under the
    /// bucket's folder.
    pub fn put_file(&self, bucket: &str, key: &str, bytes: &[u8]) {
        let path = self.root.join(bucket).join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}
