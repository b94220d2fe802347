//! A new user's first five minutes: the README's quick start run as written, the help beside
//! the README (subcommands and flags), and the errors met first (a port in use, a missing key
//! file, a demo key outside `dev = true`, a token for another audience) each naming the cause
//! and the fix in one line.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use signgate_testkit::app::{repo, spawn_app};
use signgate_testkit::edge::verify;
use signgate_testkit::fs::config_copy;
use signgate_testkit::logs::LogCapture;
use signgate_testkit::process::{free_port, ChildGuard, Shutdown, Signgate};
use signgate_testkit::tokens::token;

use crate::SIGNGATE;

fn readme() -> String {
    std::fs::read_to_string(repo().join("README.md")).unwrap()
}

/// The README's text between `<!-- {marker}:start -->` and `<!-- {marker}:end -->`.
fn section(readme: &str, marker: &str) -> String {
    let start = readme
        .find(&format!("<!-- {marker}:start -->"))
        .unwrap_or_else(|| panic!("README has no {marker} section"));
    let end = readme[start..]
        .find(&format!("<!-- {marker}:end -->"))
        .unwrap_or_else(|| panic!("README's {marker} section has no end"))
        + start;
    readme[start..end].to_owned()
}

/// The ```sh blocks of `text`, in order.
fn sh_blocks(text: &str) -> Vec<String> {
    text.split("```sh\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap().to_owned())
        .collect()
}

/// `signgate ARGS` from the repository's root, as a user in a fresh clone runs it.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(SIGNGATE);
    cmd.args(args).current_dir(repo());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The error line of a failed start: the last line of stderr; the whole message on that line.
fn error_line(o: &Output) -> String {
    let text = stderr(o);
    let line = text
        .trim_end()
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned();
    assert!(line.starts_with("error: "), "{text}");
    line
}

#[tokio::test]
async fn the_readme_quick_start_runs_as_written() {
    let readme = readme();
    let quick = section(&readme, "quick-start");
    let blocks = sh_blocks(&quick);
    assert_eq!(
        blocks.len(),
        2,
        "the quick start has two blocks: {blocks:?}"
    );
    // The first block starts the service on the default configuration; the test runs the
    // binary that command builds, from the repository's root, with no arguments.
    assert_eq!(blocks[0].trim(), "cargo run --release");
    // Where the README says it listens is where the default configuration listens. The test
    // moves it to free ports (another test, or a developer's signgate, may hold 8080).
    assert!(
        quick.contains("It listens on `127.0.0.1:8080` (metrics on `127.0.0.1:9090`)"),
        "{quick}"
    );
    let config = std::fs::read_to_string(repo().join("config/signgate.toml")).unwrap();
    assert!(config.contains("\nlisten = \"127.0.0.1:8080\""));
    assert!(config.contains("\nmetrics_listen = \"127.0.0.1:9090\""));
    let port = free_port();
    let mut cmd = Command::new(SIGNGATE);
    cmd.current_dir(repo())
        .env("SIGNGATE_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "SIGNGATE_SERVER__METRICS_LISTEN",
            format!("127.0.0.1:{}", free_port()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _service = Signgate::spawn(cmd, port).await;

    // The second block, in bash, with `cargo run -q --release --` as that same binary and the
    // service's address the free port: nothing else is changed.
    assert!(
        Path::new("/usr/bin/curl").exists(),
        "curl is not installed; install it with: sudo apt-get install -y curl (scripts/test does this when run as root)"
    );
    let script = blocks[1]
        .replace("cargo run -q --release --", "\"$SIGNGATE\"")
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
    assert!(
        !script.contains("cargo"),
        "a command this test does not run: {script}"
    );
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(repo())
        .env("SIGNGATE", SIGNGATE)
        .output()
        .unwrap();
    assert!(out.status.success(), "{script}\n{}", stderr(&out));
    let answer = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    assert!(answer.starts_with("HTTP/1.1 302"), "{answer}");
    let location = answer
        .lines()
        .find_map(|l| l.strip_prefix("location: "))
        .unwrap_or_else(|| panic!("no Location: {answer}"));
    assert!(
        location.starts_with("https://d111111abcdef8.cloudfront.net/users/alice/report.pdf?"),
        "{location}"
    );
    verify(location, None);
}

/// `signgate SUB --help`'s long flags, `--help` aside.
fn help_flags(sub: &str) -> BTreeSet<String> {
    let out = run(&[sub, "--help"], &[]);
    assert!(out.status.success(), "{sub} --help: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix('-').map_or(l, |rest| {
                if rest.starts_with('-') {
                    l
                } else {
                    rest.split_once(", ").map_or(l, |(_, r)| r)
                }
            });
            let flag: String = l
                .strip_prefix("--")?
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            (flag != "help" && flag != "version").then(|| format!("--{flag}"))
        })
        .collect()
}

/// Every `--flag` of README command lines for `sub` (`signgate SUB ...` or `cargo run [-q]
/// --release -- SUB ...`, continuation lines joined).
fn readme_command_flags(readme: &str, sub: &str) -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    for block in sh_blocks(readme) {
        for line in block.replace("\\\n", " ").lines() {
            let forms = [format!("signgate {sub} "), format!("--release -- {sub} ")];
            for form in &forms {
                let line = format!("{line} ");
                for (i, _) in line.match_indices(form.as_str()) {
                    for word in line[i + form.len()..].split(|c: char| {
                        c.is_whitespace() || matches!(c, '[' | ']' | '(' | ')' | '|' | '=')
                    }) {
                        if word.starts_with("--") && word.len() > 2 {
                            flags.insert(word.to_owned());
                        }
                    }
                }
            }
        }
    }
    flags
}

#[test]
fn the_help_names_the_subcommands_and_flags_the_readme_documents() {
    let readme = readme();
    let out = run(&["--help"], &[]);
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    let commands: BTreeSet<String> = help
        .split("Commands:\n")
        .nth(1)
        .expect("a Commands: list")
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|c| c != "help")
        .collect();
    // The layout table's row for src/cli/ lists the subcommands.
    let row = readme
        .lines()
        .find(|l| l.starts_with("| `src/cli/` |"))
        .expect("README's layout names src/cli/");
    let listed: BTreeSet<String> = row
        .split('`')
        .skip(3)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    assert_eq!(commands, listed, "signgate --help beside README's {row:?}");

    for sub in &commands {
        assert!(
            readme.contains(&format!("signgate {sub}")),
            "README never shows `signgate {sub}`"
        );
        let flags = help_flags(sub);
        // A flag the README's commands use exists.
        let used = readme_command_flags(&readme, sub);
        let unknown: Vec<_> = used.difference(&flags).collect();
        assert!(
            unknown.is_empty(),
            "README runs signgate {sub} with {unknown:?}, which its help does not list ({flags:?})"
        );
        // A flag the binary has is named in the README.
        for flag in &flags {
            let named = readme.match_indices(flag.as_str()).any(|(i, _)| {
                !readme[i + flag.len()..]
                    .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-')
            });
            assert!(named, "signgate {sub} {flag} is not in the README");
        }
    }
}

/// Whether `word` stands in `text` on its own (not inside a longer name such as `chromium-driver`).
fn names(text: &str, word: &str) -> bool {
    let part = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    text.match_indices(word)
        .any(|(i, _)| !text[..i].ends_with(part) && !text[i + word.len()..].starts_with(part))
}

#[test]
fn the_readme_names_every_package_scripts_test_installs() {
    // "as root it installs those from Debian's packages if they are missing: ...".
    let readme = readme();
    let start = readme
        .find("Run every test")
        .expect("README says how to run every test");
    let two = &readme[start..start + readme[start..].find("```sh").unwrap()];
    let script = std::fs::read_to_string(repo().join("scripts/test")).unwrap();
    let mut packages = BTreeSet::new();
    let stop = |w: &&str| !w.starts_with('|') && !w.starts_with('&');
    for line in script.lines().map(str::trim) {
        if let Some(rest) = line.split("need_pkgs+=(").nth(1) {
            packages.insert(rest.split(')').next().unwrap().to_owned());
        }
        let rest = line
            .strip_prefix("apt_install ")
            .or_else(|| line.split("|| apt_install ").nth(1))
            .or_else(|| line.split("{ apt_install ").nth(1));
        for word in rest
            .into_iter()
            .flat_map(|r| r.split_whitespace().take_while(stop))
        {
            if !word.starts_with('"') {
                packages.insert(word.to_owned());
            }
        }
    }
    for expected in [
        "nginx",
        "chromium-driver",
        "python3-venv",
        "redis-server",
        "postgresql",
    ] {
        assert!(packages.contains(expected), "{packages:?}");
    }
    for package in &packages {
        assert!(
            names(two, package),
            "scripts/test installs {package}; README's \"Run every test\" does not say so"
        );
    }
}

#[tokio::test]
async fn a_port_in_use_names_the_setting_and_another_address() {
    for (key, variable) in [
        ("listen", "SIGNGATE_SERVER__LISTEN"),
        ("metrics_listen", "SIGNGATE_SERVER__METRICS_LISTEN"),
    ] {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let log = signgate_testkit::fs::tempdir().join("stderr");
        let (listen, metrics) = match key {
            "listen" => (format!("127.0.0.1:{port}"), String::new()),
            _ => (
                format!("127.0.0.1:{}", free_port()),
                format!("127.0.0.1:{port}"),
            ),
        };
        let mut child = ChildGuard::spawn(
            "signgate serve",
            Command::new(SIGNGATE)
                .arg("serve")
                .current_dir(repo())
                .env("SIGNGATE_SERVER__LISTEN", listen)
                .env("SIGNGATE_SERVER__METRICS_LISTEN", metrics)
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap()),
            Shutdown::Term,
        );
        let status = child.wait(Duration::from_secs(30)).await;
        assert_eq!(status.code(), Some(2), "{key}");
        let text = std::fs::read_to_string(&log).unwrap();
        let line = text.trim_end().lines().last().unwrap_or_default();
        let next = port.wrapping_add(1).max(1);
        assert!(
            line.starts_with(&format!(
                "error: server.{key}: 127.0.0.1:{port} is already in use"
            )) && line.contains(&format!("{variable}=127.0.0.1:{next}")),
            "{text}"
        );
        drop(taken);
    }
}

#[test]
fn a_missing_key_file_names_the_setting_and_signgate_keygen() {
    let dir = config_copy("first-run-missing-key");
    let config = dir.join("signgate.toml");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("\"dev/demo-rsa-private.pem\"", "\"keys/private_key.pem\"");
    std::fs::write(&config, text).unwrap();
    let out = run(&["check-config", "--config", config.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    let line = error_line(&out);
    let missing = dir.join("keys/private_key.pem");
    assert!(
        line.contains(&format!(
            "key_sets[0].keys[0].private_key_file: {} does not exist",
            missing.display()
        )) && line.contains("signgate keygen --type rsa --out DIR"),
        "{line}"
    );
}

#[test]
fn a_demo_key_outside_dev_names_signgate_keygen_and_dev_true() {
    let dir = config_copy("first-run-demo-key");
    let config = dir.join("signgate.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("\ndev = true\n"));
    // A production file: dev = false, the token secret from the environment, the demo key left.
    let text = text.replace("\ndev = true\n", "\ndev = false\n").replace(
        "secret = \"signgate-demo-secret-not-for-production\"",
        "secret_env = \"SIGNGATE_FIRST_RUN_SECRET\"",
    );
    std::fs::write(&config, text).unwrap();
    let out = run(
        &["check-config", "--config", config.to_str().unwrap()],
        &[(
            "SIGNGATE_FIRST_RUN_SECRET",
            "a-secret-of-at-least-32-bytes-long!!",
        )],
    );
    assert_eq!(out.status.code(), Some(2));
    let line = error_line(&out);
    assert!(
        line.contains("key_sets[0].keys[0].private_key_file:")
            && line.contains("is a published demo key")
            && line.contains("signgate keygen --type rsa --out DIR")
            && line.contains("dev = true"),
        "{line}"
    );
}

#[tokio::test]
async fn a_token_for_another_audience_names_the_cause_and_fix_in_the_body_log_and_explain() {
    let logs = LogCapture::start();
    let app = spawn_app(&[]).await;
    let t = token("alice", json!({"aud": "app"}));
    let r = app.get("/files/users/alice/report.pdf", Some(&t)).await;
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "audience");
    assert_eq!(
        body["message"],
        "the token was issued for another audience (its aud claim); ask for a token issued for this service"
    );

    let why = "the token's aud is \"app\"; issuer signgate-dev accepts [\"signgate\"]: issue the token with one of those audiences, or add \"app\" to that issuer's audience in [[auth.jwt.issuers]]";
    let text = logs.text();
    let logged = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .any(|l| l["fields"]["message"].as_str() == Some(&format!("a token was refused: {why}")));
    assert!(logged, "{text}");
    assert!(!text.contains(&t), "the token itself is never logged");

    let out = run(
        &["explain", "--token", &t, "--key", "users/alice/report.pdf"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("refused: audience: "), "{report}");
    assert!(report.contains(why), "{report}");
}
