//! The container image: the real Dockerfile built with podman (`scripts/container`, layers
//! cached), run as it is meant to run (non-root, read-only root file system, no capabilities),
//! with a configuration and the demo keys mounted read-only. Inside it `check-config` and
//! `healthcheck` succeed, and from outside it answers a signed 302 that verifies.
//!
//! `SIGNGATE_TEST_SKIP_CONTAINER=1` skips these tests, and they say so; otherwise a missing
//! podman is a failure that says how to install it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::json;
use signgate_testkit::app::repo;
use signgate_testkit::edge::verify;
use signgate_testkit::fs::{config_copy, unique};
use signgate_testkit::process::free_port;
use signgate_testkit::tokens::token;

const IMAGE: &str = "localhost/signgate:dev";
/// The numeric user of the Dockerfile's `USER`.
const UID: &str = "10001";

fn skipped() -> bool {
    if std::env::var_os("SIGNGATE_TEST_SKIP_CONTAINER").is_some_and(|v| v != "0" && !v.is_empty()) {
        eprintln!(
            "\n*** SKIPPED: SIGNGATE_TEST_SKIP_CONTAINER is set: the container image was NOT built or tested ***\n"
        );
        return true;
    }
    false
}

/// podman as `scripts/container` runs it: the program, its leading arguments (`--runtime
/// runc`) and its containers.conf.
#[derive(Clone)]
struct Podman {
    args: Vec<String>,
    conf: String,
}

fn podman() -> Podman {
    for tool in ["podman", "runc"] {
        let found = ["/usr/bin", "/usr/sbin", "/bin", "/sbin"]
            .iter()
            .any(|d| Path::new(d).join(tool).exists());
        assert!(
            found,
            "{tool} is not installed; install with: sudo apt-get install -y podman runc debootstrap \
             (scripts/test does this when run as root), or set SIGNGATE_TEST_SKIP_CONTAINER=1"
        );
    }
    let out = run(Command::new(repo().join("scripts/container")).arg("--print-podman"));
    let line = String::from_utf8(out.stdout).unwrap();
    let mut words = line.split_whitespace().map(str::to_owned);
    let conf = words.next().unwrap();
    Podman {
        conf: conf.strip_prefix("CONTAINERS_CONF=").unwrap().to_owned(),
        args: words.collect(),
    }
}

fn podman_cmd(podman: &Podman) -> Command {
    let mut cmd = Command::new(&podman.args[0]);
    cmd.args(&podman.args[1..])
        .env("CONTAINERS_CONF", &podman.conf);
    cmd
}

/// Runs `cmd`; panics with its output unless it succeeded.
fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Builds the image from the Dockerfile (a few seconds when scripts/test built it already).
fn build_image() {
    let out = Command::new(repo().join("scripts/container"))
        .output()
        .expect("cannot run scripts/container");
    let tail: String = String::from_utf8_lossy(&out.stdout)
        .lines()
        .rev()
        .take(40)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        out.status.success(),
        "scripts/container failed:\n{tail}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{}", tail.lines().last().unwrap_or_default());
}

/// The default configuration and demo keys in a folder the container's user can read, to be
/// mounted read-only at /etc/signgate.
fn mounted_config() -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = config_copy(&unique("container"));
    for path in [
        dir.clone(),
        dir.join("dev"),
        dir.join("signgate.toml"),
        dir.join("dev/demo-rsa-private.pem"),
        dir.join("dev/demo-ecdsa-private.pem"),
    ] {
        let mode = if path.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    dir
}

/// `podman run` with the hardening a deployment uses, the configuration mounted read-only.
fn run_args(name: &str, config: &Path, port: u16) -> Vec<String> {
    [
        "run",
        "--name",
        name,
        "--network",
        "host",
        // The image's HEALTHCHECK needs systemd timers in podman; the test runs it by hand.
        "--no-healthcheck",
        "--read-only",
        // No tmpfs over /tmp and /run either: read-only as Kubernetes' readOnlyRootFilesystem.
        "--read-only-tmpfs=false",
        "--user",
        &format!("{UID}:{UID}"),
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--volume",
        &format!("{}:/etc/signgate:ro", config.display()),
        "--env",
        "SIGNGATE_CONFIG=/etc/signgate/signgate.toml",
        "--env",
        &format!("SIGNGATE_SERVER__LISTEN=127.0.0.1:{port}"),
        "--env",
        "SIGNGATE_SERVER__METRICS_LISTEN=",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Removes the container when the test ends, however it ends.
struct Container {
    podman: Podman,
    name: String,
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman_cmd(&self.podman)
            .args(["rm", "--force", "--time", "2", &self.name])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_image_runs_read_only_as_non_root_checks_its_config_and_answers_a_signed_302() {
    if skipped() {
        return;
    }
    let podman = podman();
    build_image();
    let config = mounted_config();
    let port = free_port();

    // check-config in a throwaway container with the same mounts and hardening.
    let name = unique("signgate-check");
    let _check = Container {
        podman: podman.clone(),
        name: name.clone(),
    };
    let out = run(podman_cmd(&podman)
        .args(run_args(&name, &config, port))
        .args(["--rm", IMAGE, "check-config"]));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("/etc/signgate/signgate.toml is valid"),
        "check-config said: {said}"
    );

    // The service.
    let name = unique("signgate-serve");
    let container = Container {
        podman: podman.clone(),
        name: name.clone(),
    };
    run(podman_cmd(&podman)
        .args(run_args(&name, &config, port))
        .args(["--detach", IMAGE, "serve"]));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut up = false;
    for _ in 0..200 {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
        {
            up = r.status().is_success();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !up {
        let logs = podman_cmd(&podman).args(["logs", &name]).output().unwrap();
        panic!(
            "the container did not answer /healthz within 20 s:\n{}",
            String::from_utf8_lossy(&logs.stderr)
        );
    }

    // It runs as the numeric user, not root: the process's own real and effective uid.
    let pid = run(podman_cmd(&podman).args(["inspect", "--format", "{{.State.Pid}}", &name]));
    let pid = String::from_utf8(pid.stdout).unwrap();
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).unwrap();
    let uids = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    let uids: Vec<&str> = uids.split_whitespace().skip(1).collect();
    assert_eq!(uids, [UID; 4], "the container's signgate: {uids:?}");

    // healthcheck inside it, as the image's HEALTHCHECK runs it.
    let url = format!("--url=http://127.0.0.1:{port}/healthz");
    run(podman_cmd(&podman).args(["exec", &name, "signgate", "healthcheck", &url]));
    // And it reports a failure too: nothing listens on the next port.
    let wrong = format!("--url=http://127.0.0.1:{}/healthz", free_port());
    let out = podman_cmd(&podman)
        .args(["exec", &name, "signgate", "healthcheck", &wrong])
        .output()
        .unwrap();
    assert!(!out.status.success(), "healthcheck of a closed port passed");

    // The root file system is read-only, even where the user could otherwise write.
    let out = podman_cmd(&podman)
        .args([
            "exec", &name, "signgate", "keygen", "--type", "ecdsa", "--out", "/tmp/k",
        ])
        .output()
        .unwrap();
    assert!(
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("Read-only file system"),
        "keygen wrote into the container: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A signed 302 that verifies with the demo public key.
    let answer = client
        .get(format!(
            "http://127.0.0.1:{port}/files/users/alice/report.pdf"
        ))
        .bearer_auth(token("alice", json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 302);
    let location = answer.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("https://d111111abcdef8.cloudfront.net/users/alice/report.pdf?"),
        "{location}"
    );
    verify(&location, None);
    // And authorization holds inside the container: bob may not read alice's files.
    let denied = client
        .get(format!(
            "http://127.0.0.1:{port}/files/users/alice/report.pdf"
        ))
        .bearer_auth(token("bob", json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    drop(container);
}

#[test]
fn the_runtime_image_holds_no_shell_and_no_package_manager() {
    if skipped() {
        return;
    }
    let podman = podman();
    build_image();
    // Export the image's file system and list it: the binary, its libraries, the CA bundle.
    let name = unique("signgate-files");
    let _container = Container {
        podman: podman.clone(),
        name: name.clone(),
    };
    run(podman_cmd(&podman).args(["create", "--name", &name, IMAGE]));
    let tar = run(podman_cmd(&podman).args(["export", &name]));
    let list = Command::new("tar")
        .args(["-t"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(&tar.stdout)?;
            child.wait_with_output()
        })
        .unwrap();
    let files = String::from_utf8(list.stdout).unwrap();
    let files: Vec<&str> = files.lines().map(|l| l.trim_end_matches('/')).collect();
    assert!(files.contains(&"usr/local/bin/signgate"), "{files:?}");
    assert!(
        files.contains(&"etc/ssl/certs/ca-certificates.crt"),
        "{files:?}"
    );
    for absent in [
        "bin/sh",
        "usr/bin/sh",
        "bin/bash",
        "usr/bin/apt-get",
        "usr/bin/dpkg",
    ] {
        assert!(!files.contains(&absent), "the image holds {absent}");
    }
    let size = run(podman_cmd(&podman).args(["image", "inspect", "--format", "{{.Size}}", IMAGE]));
    let size: u64 = String::from_utf8(size.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    eprintln!(
        "{IMAGE}: {} files, {:.1} MB",
        files.len(),
        size as f64 / 1e6
    );
    assert!(size < 60_000_000, "the runtime image is {size} bytes");
}
