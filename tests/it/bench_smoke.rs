//! Keeps the benchmark harness from rotting: `bench/run --smoke` runs every row for about a
//! second with this build's binaries. Targets are judged from full runs, never here.

use std::process::Command;

#[test]
fn bench_run_smoke_prints_every_row() {
    for tool in ["wrk", "nginx", "openssl", "taskset"] {
        let found = Command::new("sh")
            .args([
                "-c",
                &format!("command -v {tool} || test -x /usr/sbin/{tool}"),
            ])
            .status()
            .unwrap()
            .success();
        assert!(found, "{tool} is needed by bench/run; install it with: sudo apt-get install -y wrk nginx openssl util-linux");
    }
    let bin_dir = std::path::Path::new(crate::SIGNGATE)
        .parent()
        .unwrap()
        .to_owned();
    let out = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/bench/run"))
        .arg("--smoke")
        .env("BENCH_BIN_DIR", &bin_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for row in [
        "rsa2048-sha1 signed URLs/s",
        "ecdsa-p256-sha256 signed URLs/s",
        "openssl speed -bytes",
        "google-cloud-cdn signed URLs/s (HMAC-SHA1",
        "akamai signed URLs/s (HMAC-SHA256",
        "bunny signed URLs/s (HMAC-SHA256",
        "nginx-secure-link signed URLs/s (MD5",
        "openssl speed ed25519 (reference)",
        "google-media-cdn-signatures signed URLs/s (Ed25519)",
        "google-media-cdn-tokens signed URLs/s (Ed25519)",
        "nginx return 302 (reference)",
        "signgate RSA signed 302",
        "signgate ECDSA signed 302",
        "ECDSA cache-hit 302",
        "ECDSA URL cache hit rate",
        "cache-hit 302, audit log on",
        "cache-hit 302, same rounds (reference)",
        "google-cloud-cdn signed 302 (no URL cache)",
        "s3 signed 302 (no URL cache)",
        "azure-blob signed 302 (no URL cache)",
        "gcs signed 302 (no URL cache)",
        "sign_per=folder, 1,000 objects of one folder (RSA)",
        "sign_per=object, every object new (RSA, before)",
        "folder policy cache, per policy (RSA)",
        "nginx return 302, same rounds (reference)",
        "floor: axum, one route, constant 302, no middleware",
        "RSA cache-hit 302 vs the floor",
        "ECDSA cache-hit 302 vs nginx, same rounds",
        "URL cache, per entry",
        "2 workers",
        "RSA p99",
        "ECDSA p99",
        "RSS idle",
        "1,000 open connections",
        "start to /readyz",
        "SQL grant, cache warm",
        "SQL grant, cache cold",
    ] {
        assert!(stdout.contains(row), "missing row {row:?} in:\n{stdout}");
    }
}
