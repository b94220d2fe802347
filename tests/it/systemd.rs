//! `deploy/systemd/signgate.service`: `systemd-analyze verify` finds nothing to say about it
//! (run on a copy whose ExecStart points at the binary under test, which verify requires to
//! exist), its stop timeout matches the configured drain, it reloads with SIGHUP, and
//! `systemd-analyze security` rates its sandbox "OK" or better.

use std::path::{Path, PathBuf};
use std::process::Command;

use signgate_testkit::app::repo;
use signgate_testkit::fs::tempdir;

use crate::SIGNGATE;

/// Seconds between the end of the drain and SIGKILL (as in deploy/kubernetes).
const EXIT_MARGIN_SECONDS: u64 = 5;

fn unit_text() -> String {
    std::fs::read_to_string(repo().join("deploy/systemd/signgate.service")).unwrap()
}

fn systemd_analyze() -> PathBuf {
    let path = Path::new("/usr/bin/systemd-analyze");
    assert!(
        path.exists(),
        "systemd-analyze is not installed; install it with: sudo apt-get install -y systemd"
    );
    path.to_path_buf()
}

/// The unit with its paths pointed at this build's binary and a folder of the test's, written
/// as `signgate.service` in a new folder.
fn unit_copy(text: &str) -> PathBuf {
    let dir = tempdir();
    let text = text
        .replace("/usr/local/bin/signgate", SIGNGATE)
        .replace("/etc/signgate/", &format!("{}/", dir.join("etc").display()));
    let unit = dir.join("signgate.service");
    std::fs::write(&unit, text).unwrap();
    unit
}

/// `systemd-analyze verify` on `unit`: (exit status success, everything it printed).
fn verify(unit: &Path) -> (bool, String) {
    let out = Command::new(systemd_analyze())
        .args(["verify", "--man=no"])
        .arg(unit)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

/// The value of every `Key=` line of the unit.
fn values<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    text.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .collect()
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify_without_a_warning() {
    let text = unit_text();
    let (ok, said) = verify(&unit_copy(&text));
    assert!(
        ok && said.trim().is_empty(),
        "systemd-analyze verify:\n{said}"
    );
    // verify does speak up: a misspelled directive and a missing program.
    let misspelled = text.replace("ProtectSystem=strict", "ProtectSytem=strict");
    let (_, said) = verify(&unit_copy(&misspelled));
    assert!(
        said.contains("ProtectSytem"),
        "a misspelled directive: {said:?}"
    );
    let missing = text.replace(
        "ExecStart=/usr/local/bin/signgate",
        "ExecStart=/nonexistent/signgate",
    );
    let (ok, said) = verify(&unit_copy(&missing));
    assert!(
        !ok && said.contains("/nonexistent/signgate"),
        "a missing program: {said:?}"
    );
}

#[test]
fn the_systemd_unit_drains_for_the_configured_grace_and_reloads_with_sighup() {
    let text = unit_text();
    let config = std::fs::read_to_string(repo().join("config/signgate.toml")).unwrap();
    let grace: u64 = config
        .lines()
        .find_map(|l| l.strip_prefix("shutdown_grace_seconds = "))
        .expect("config/signgate.toml sets shutdown_grace_seconds")
        .trim()
        .parse()
        .unwrap();
    assert_eq!(
        values(&text, "TimeoutStopSec"),
        [(grace + EXIT_MARGIN_SECONDS).to_string()]
    );
    assert_eq!(values(&text, "KillSignal"), ["SIGTERM"]);
    assert_eq!(values(&text, "ExecReload"), ["/bin/kill -HUP $MAINPID"]);
    // The configuration is checked before each start, and served from the same file.
    let check = values(&text, "ExecStartPre");
    let serve = values(&text, "ExecStart");
    assert_eq!(check.len(), 1);
    assert_eq!(serve.len(), 1);
    assert_eq!(
        check[0].split(" --config ").nth(1),
        serve[0].split(" --config ").nth(1)
    );
    // Keys arrive as credentials, never as files the service user reads in place.
    assert!(!values(&text, "LoadCredential").is_empty());
    for (key, value) in [
        ("DynamicUser", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("NoNewPrivileges", "yes"),
        ("CapabilityBoundingSet", ""),
        ("MemoryDenyWriteExecute", "yes"),
        ("SystemCallFilter", "@system-service"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
    ] {
        assert!(
            values(&text, key).contains(&value),
            "{key}={value} is missing"
        );
    }
}

#[test]
fn the_systemd_units_sandbox_is_rated_ok_by_systemd_analyze_security() {
    let unit = unit_copy(&unit_text());
    let out = Command::new(systemd_analyze())
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    let level = said
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for signgate.service: ")
                .nth(1)
        })
        .unwrap_or_else(|| {
            panic!(
                "no exposure level:\n{said}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let score: f64 = level.split_whitespace().next().unwrap().parse().unwrap();
    eprintln!("systemd-analyze security: {level}");
    // 0 is fully sandboxed, 10 not at all; "OK" is below 2.0 (README quotes the figure).
    assert!(score <= 2.0, "exposure {level}");
}
