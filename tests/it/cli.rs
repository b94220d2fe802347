//! The offline commands, run as users run them: the real binary, its stdout, stderr and exit code.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::SIGNGATE as BIN;

const VECTORS: &str = include_str!("../../crates/cloudfront/tests/data/cloudfront-vectors.json");

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("SIGNGATE_KEY_PASSPHRASE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("signgate-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes every key form of the vector file to `dir`, named `{key}-{form}.pem`.
fn vector_keys(dir: &Path) -> Value {
    let v: Value = serde_json::from_str(VECTORS).unwrap();
    for (name, k) in v["keys"].as_object().unwrap() {
        for (field, value) in k.as_object().unwrap() {
            if field.ends_with("_pem") {
                std::fs::write(
                    dir.join(format!("{name}-{field}.pem")),
                    value.as_str().unwrap(),
                )
                .unwrap();
            }
        }
    }
    v
}

fn sign_args(dir: &Path, case: &Value, v: &Value) -> Vec<String> {
    let key = case["key"].as_str().unwrap();
    let mut args = vec![
        "sign".to_string(),
        "--key".into(),
        dir.join(format!("{key}-private_pkcs8_pem.pem"))
            .display()
            .to_string(),
        "--key-pair-id".into(),
        v["keys"][key]["key_pair_id"].as_str().unwrap().into(),
        "--url".into(),
        case["url"].as_str().unwrap().into(),
        "--expires".into(),
        case["expires"].to_string(),
        "--hash".into(),
        case["hash"].as_str().unwrap().to_lowercase(),
    ];
    for (field, flag) in [
        ("resource", "--resource"),
        ("starts", "--starts"),
        ("ip", "--ip"),
    ] {
        match &case[field] {
            Value::String(s) => args.extend([flag.to_string(), s.clone()]),
            Value::Number(n) => args.extend([flag.to_string(), n.to_string()]),
            _ => {}
        }
    }
    args
}

#[test]
fn sign_prints_exactly_the_botocore_url() {
    let dir = tempdir("sign");
    let v = vector_keys(&dir);
    for case in v["signed_urls"].as_array().unwrap() {
        let args = sign_args(&dir, case, &v);
        let o = run(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
        assert!(o.status.success(), "{}: {}", case["name"], stderr(&o));
        let url = stdout(&o);
        assert_eq!(url.lines().count(), 1, "the signed URL alone on stdout");
        if v["keys"][case["key"].as_str().unwrap()]["type"] == "rsa-2048" {
            assert_eq!(
                url.trim_end(),
                case["signed_url"].as_str().unwrap(),
                "{}",
                case["name"]
            );
        } else {
            assert!(
                url.contains("&Signature=") && url.contains("&Key-Pair-Id=K3ECDSAEXAMPL1"),
                "{url}"
            );
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let past = case["expires"].as_u64().unwrap() <= now;
        assert_eq!(
            stderr(&o).contains("already past"),
            past,
            "a past expiry is signed, with a warning"
        );
    }
}

#[test]
fn sign_cookies_prints_name_value_lines() {
    let dir = tempdir("cookies");
    let v = vector_keys(&dir);
    let case = &v["signed_urls"][4]; // canned-sha256
    let mut args = sign_args(&dir, case, &v);
    args.push("--cookies".into());
    let o = run(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let expected = v["signed_cookies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "canned-sha256")
        .unwrap();
    let lines: Vec<String> = stdout(&o).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 4);
    for line in &lines {
        let (name, value) = line.split_once('=').unwrap();
        assert_eq!(expected["cookies"][name].as_str().unwrap(), value, "{name}");
    }
    assert!(
        lines[0].starts_with("CloudFront-Expires=")
            && lines[3].starts_with("CloudFront-Hash-Algorithm=SHA256")
    );
}

#[test]
fn encrypted_keys_take_the_passphrase_from_the_environment() {
    let dir = tempdir("enc");
    let v = vector_keys(&dir);
    let case = &v["signed_urls"][3]; // canned-custom-domain, rsa2
    let mut args = sign_args(&dir, case, &v);
    let enc = dir
        .join("rsa2-private_pkcs8_encrypted_pem.pem")
        .display()
        .to_string();
    args[2] = enc.clone();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = run(
        &args,
        &[("SIGNGATE_KEY_PASSPHRASE", "correct horse battery")],
    );
    assert_eq!(
        stdout(&o).trim_end(),
        case["signed_url"].as_str().unwrap(),
        "{}",
        stderr(&o)
    );
    let o = run(&args, &[("SIGNGATE_KEY_PASSPHRASE", "wrong")]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains(&enc) && stderr(&o).contains("wrong passphrase"),
        "{}",
        stderr(&o)
    );
    let o = run(&args, &[]);
    assert!(
        stderr(&o).contains("SIGNGATE_KEY_PASSPHRASE"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn each_input_rule_is_a_clear_error_and_no_url() {
    let dir = tempdir("rules");
    vector_keys(&dir);
    let key = dir.join("rsa1-private_pkcs8_pem.pem").display().to_string();
    let base = |url: &str, extra: &[&str]| {
        let mut a = vec![
            "sign",
            "--key",
            &key,
            "--key-pair-id",
            "K2JCJMDEHXQW5F",
            "--url",
        ];
        a.push(url);
        a.extend_from_slice(extra);
        run(
            &a.into_iter()
                .map(|s| s.to_owned())
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            &[],
        )
    };
    let url = "https://d111111abcdef8.cloudfront.net/a.txt";
    let cases: Vec<(Output, &str)> = vec![
        (
            base("/relative/a.txt", &["--expires", "1767225600"]),
            "must be absolute",
        ),
        (
            base("ftp://h.example/a", &["--expires", "1767225600"]),
            "scheme",
        ),
        (
            base("https://h.example/a#top", &["--expires", "1767225600"]),
            "fragment",
        ),
        (
            base(
                "https://h.example/a?Signature=x",
                &["--expires", "1767225600"],
            ),
            "Signature",
        ),
        (
            base(
                "https://h.example/a?Expires=1",
                &["--expires", "1767225600"],
            ),
            "Expires",
        ),
        (
            base("https://h.example/a?Policy=1", &["--expires", "1767225600"]),
            "Policy",
        ),
        (
            base(
                "https://h.example/a?Key-Pair-Id=1",
                &["--expires", "1767225600"],
            ),
            "Key-Pair-Id",
        ),
        (
            base(
                "https://h.example/a?Hash-Algorithm=SHA1",
                &["--expires", "1767225600"],
            ),
            "Hash-Algorithm",
        ),
        (
            base("https://h.example/100%", &["--expires", "1767225600"]),
            "%25",
        ),
        (base(url, &["--expires", "2147483648"]), "2147483647"),
        (base(url, &["--expires", "1767225600.5"]), "whole seconds"),
        (base(url, &["--expires=-5"]), "whole seconds"),
        (
            base(url, &["--expires", "100", "--starts", "100"]),
            "must be after the start",
        ),
        (
            base(url, &["--expires", "100", "--starts", "200"]),
            "must be after the start",
        ),
        (
            base(url, &["--expires", "1767225600", "--ip", "2001:db8::1"]),
            "IPv4 only",
        ),
        (
            base(url, &["--expires", "1767225600", "--ip", "10.0.0.0/33"]),
            "IPv4 address or CIDR",
        ),
        (
            base(url, &["--expires", "1767225600", "--hash", "md5"]),
            "sha1 or sha256",
        ),
        (
            base(
                url,
                &[
                    "--expires",
                    "1767225600",
                    "--resource",
                    "https://other.example/*",
                ],
            ),
            "does not cover",
        ),
    ];
    for (o, needle) in cases {
        assert!(
            !o.status.success(),
            "expected failure mentioning {needle:?}"
        );
        assert!(stdout(&o).is_empty(), "no URL on stdout: {}", stdout(&o));
        assert!(
            stderr(&o).contains(needle),
            "expected {needle:?} in: {}",
            stderr(&o)
        );
    }
    // Spaces and non-ASCII are encoded once; an encoded URL is left as it is.
    let raw = base(
        "https://h.example/My file é.txt",
        &["--expires", "1767225600"],
    );
    let enc = base(
        "https://h.example/My%20file%20%C3%A9.txt",
        &["--expires", "1767225600"],
    );
    assert!(stdout(&raw)
        .starts_with("https://h.example/My%20file%20%C3%A9.txt?Expires=1767225600&Signature="));
    assert_eq!(stdout(&raw), stdout(&enc));
}

#[test]
fn bad_key_files_name_the_file() {
    let dir = tempdir("badkeys");
    let v = vector_keys(&dir);
    std::fs::write(dir.join("garbage.pem"), "hello").unwrap();
    for (file, needle) in [
        ("garbage.pem", "not a PEM-encoded key"),
        ("missing.pem", "cannot read"),
        ("rsa1-public_pem.pem", "public key"),
    ] {
        let path = dir.join(file).display().to_string();
        let o = run(
            &[
                "sign",
                "--key",
                &path,
                "--key-pair-id",
                "K1",
                "--url",
                "https://h.example/a",
                "--expires",
                "1767225600",
            ],
            &[],
        );
        assert!(!o.status.success());
        assert!(
            stderr(&o).contains(&path) && stderr(&o).contains(needle),
            "{}",
            stderr(&o)
        );
    }
    let _ = v;
}

#[test]
fn verify_reports_valid_or_the_reason() {
    let dir = tempdir("verify");
    let v = vector_keys(&dir);
    let pk = |k: &str| {
        format!(
            "{}={}",
            v["keys"][k]["key_pair_id"].as_str().unwrap(),
            dir.join(format!("{k}-public_pem.pem")).display()
        )
    };
    let (rsa1, rsa2, ec1) = (pk("rsa1"), pk("rsa2"), pk("ec1"));
    for case in v["signed_urls"].as_array().unwrap() {
        let url = case["signed_url"].as_str().unwrap();
        let now = case["starts"].as_u64().unwrap_or(1_700_000_000).to_string();
        let mut args = vec![
            "verify",
            "--public-key",
            &rsa1,
            "--public-key",
            &rsa2,
            "--public-key",
            &ec1,
            "--url",
            url,
            "--now",
            &now,
        ];
        let ip = case["ip"]
            .as_str()
            .map(|ip| ip.split('/').next().unwrap().to_owned());
        if let Some(ip) = &ip {
            args.extend(["--client-ip", ip.as_str()]);
        }
        let o = run(&args, &[]);
        assert_eq!(stdout(&o), "valid\n", "{}: {}", case["name"], stderr(&o));
        assert!(o.status.success());
    }
    let url = v["signed_urls"][0]["signed_url"].as_str().unwrap();
    let check = |args: &[&str], reason: &str| {
        let o = run(args, &[]);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(stdout(&o).contains(reason), "{args:?}: {}", stdout(&o));
    };
    check(
        &[
            "verify",
            "--public-key",
            &rsa1,
            "--url",
            url,
            "--now",
            "1767225600",
        ],
        "expired",
    );
    check(
        &["verify", "--public-key", &rsa2, "--url", url, "--now", "1"],
        "Unknown Key",
    );
    check(
        &[
            "verify",
            "--public-key",
            &rsa1,
            "--url",
            &url.replace("intro", "outro"),
            "--now",
            "1",
        ],
        "Invalid Signature",
    );
    let ip_url = v["signed_urls"][6]["signed_url"].as_str().unwrap();
    check(
        &[
            "verify",
            "--public-key",
            &rsa1,
            "--url",
            ip_url,
            "--now",
            "1",
        ],
        "IP address",
    );
    check(
        &[
            "verify",
            "--public-key",
            &rsa1,
            "--url",
            ip_url,
            "--now",
            "1",
            "--client-ip",
            "192.0.2.11",
        ],
        "IP address",
    );
}

#[test]
fn keygen_writes_a_private_key_for_its_owner_only() {
    let dir = tempdir("keygen");
    for t in ["rsa", "ecdsa"] {
        let out = dir.join(t);
        let o = run(
            &["keygen", "--type", t, "--out", out.to_str().unwrap()],
            &[],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let private = out.join("private_key.pem");
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&private).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let public = std::fs::read_to_string(out.join("public_key.pem")).unwrap();
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
        // The pair works: sign with one half, verify with the other.
        let signed = run(
            &[
                "sign",
                "--key",
                private.to_str().unwrap(),
                "--key-pair-id",
                "KNEW",
                "--url",
                "https://h.example/x",
                "--expires",
                "2000000000",
            ],
            &[],
        );
        let pk = format!("KNEW={}", out.join("public_key.pem").display());
        let o = run(
            &[
                "verify",
                "--public-key",
                &pk,
                "--url",
                stdout(&signed).trim_end(),
                "--now",
                "1900000000",
            ],
            &[],
        );
        assert_eq!(stdout(&o), "valid\n");
        // Never overwrites.
        let again = run(
            &["keygen", "--type", t, "--out", out.to_str().unwrap()],
            &[],
        );
        assert!(!again.status.success());
    }
}

#[test]
fn token_and_check_config_use_the_default_configuration() {
    let o = run(&["check-config"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(
        &[
            "token", "--sub", "alice", "--claim", "roles=a", "--claim", "roles=b", "--ttl", "60",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let token = stdout(&o).trim_end().to_owned();
    let payload = token.split('.').nth(1).unwrap();
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["roles"], serde_json::json!(["a", "b"]));
    assert_eq!(claims["iss"], "signgate-dev");
}

#[test]
fn environment_overrides_apply_and_bad_ones_name_the_key() {
    let o = run(
        &["check-config"],
        &[("SIGNGATE_SERVER__LISTEN", "nonsense")],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("server.listen"), "{}", stderr(&o));
    let o = run(
        &["check-config"],
        &[("SIGNGATE_SERVER__LISTEN", "0.0.0.0:9999")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["check-config"], &[("SIGNGATE_DEV", "false")]);
    assert!(
        !o.status.success() && stderr(&o).contains("demo key"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn cookies_for_a_folder_take_the_wildcard_url_as_the_resource() {
    let dir = tempdir("folder-cookies");
    let v = vector_keys(&dir);
    let expected = v["signed_cookies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "custom-wildcard-dir")
        .unwrap();
    let key = dir.join("rsa1-private_pkcs8_pem.pem").display().to_string();
    let o = run(
        &[
            "sign",
            "--key",
            &key,
            "--key-pair-id",
            "K2JCJMDEHXQW5F",
            "--url",
            expected["resource"].as_str().unwrap(),
            "--expires",
            "1767225600",
            "--starts",
            "1767222000",
            "--cookies",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for (name, value) in expected["cookies"].as_object().unwrap() {
        assert!(
            out.lines()
                .any(|l| l == format!("{name}={}", value.as_str().unwrap())),
            "{name} in {out}"
        );
    }
}

#[test]
fn variables_that_are_not_settings_are_left_alone() {
    let config = format!("{}/config/signgate.toml", env!("CARGO_MANIFEST_DIR"));
    let o = run(
        &["check-config"],
        &[
            ("SIGNGATE_CONFIG", config.as_str()),
            ("SIGNGATE_KEY_PASSPHRASE", "x"),
            (
                "SIGNGATE_TEST_POSTGRES_URL",
                "postgres://postgres@127.0.0.1:5432/test",
            ),
            ("SIGNGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/"),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // A variable without `__` is a value some setting may name (`secret_env`), not an override.
    let o = run(&["check-config"], &[("SIGNGATE_NOT_A_SETTING", "1")]);
    assert!(o.status.success(), "{}", stderr(&o));
    // An override naming a section that does not exist is a typo, and refused.
    let o = run(
        &["check-config"],
        &[("SIGNGATE_SERVR__LISTEN", "0.0.0.0:1")],
    );
    assert!(
        !o.status.success() && stderr(&o).contains("SIGNGATE_SERVR__LISTEN"),
        "a misspelled override is refused: {}",
        stderr(&o)
    );
    // A misspelled key inside a real section is refused by the section's own check.
    let o = run(
        &["check-config"],
        &[("SIGNGATE_SERVER__LISTN", "0.0.0.0:1")],
    );
    assert!(!o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_files_prefix_that_collides_with_a_route_stops_check_config_and_serve_naming_the_key() {
    let env = [
        ("SIGNGATE_SERVER__FILES_PREFIX", "/cookies"),
        ("SIGNGATE_SERVER__LISTEN", "127.0.0.1:0"),
        ("SIGNGATE_SERVER__METRICS_LISTEN", ""),
    ];
    for command in ["check-config", "serve"] {
        let o = run(&[command], &env);
        assert_eq!(o.status.code(), Some(2), "{command}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("server.files_prefix") && err.contains("/cookies"),
            "{command}: {err}"
        );
        assert!(!err.contains("panicked"), "{command}: {err}");
    }
}

#[test]
fn a_token_lifetime_that_overflows_is_refused() {
    let o = run(
        &["token", "--sub", "alice", "--ttl", &u64::MAX.to_string()],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--ttl"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "no token: {}", stdout(&o));
}

/// `--provider NAME --provider-key ... --option ...` for the test distribution of `provider`.
fn provider_args(provider: &str) -> Vec<String> {
    let (keys, options) = signgate_testkit::providers::edge_arguments(provider);
    let mut args = vec!["--provider".to_owned(), provider.to_owned()];
    for (name, file) in keys {
        args.extend(["--provider-key".to_owned(), format!("{name}={file}")]);
    }
    for (option, value) in options {
        args.extend(["--option".to_owned(), format!("{option}={value}")]);
    }
    args
}

fn run_owned(args: &[String]) -> Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&args, &[])
}

#[test]
fn sign_and_verify_with_every_provider_name_the_reason_in_its_own_terms() {
    let expires = (signgate_testkit::tokens::now() + 600).to_string();
    for provider in signgate_testkit::providers::ALL {
        let p = provider_args(provider);
        let url = "https://cdn.example.com/videos/caf%C3%A9.mp4";
        let mut sign = vec!["sign".to_owned(), "--url".into(), url.into()];
        sign.extend(["--expires".to_owned(), expires.clone()]);
        sign.extend(p.clone());
        let out = run_owned(&sign);
        assert!(out.status.success(), "{provider}: {}", stderr(&out));
        let signed = stdout(&out).trim().to_owned();
        assert!(signed.starts_with(url), "{provider}: {signed}");
        // The CDN's own verifier, outside signgate, accepts it.
        signgate_testkit::providers::check(provider, &signed, &[], None)
            .unwrap_or_else(|e| panic!("{provider}: {e}"));
        let verify = |url: &str, extra: &[&str]| {
            let mut args = vec!["verify".to_owned(), "--url".into(), url.into()];
            args.extend(extra.iter().map(|s| s.to_string()));
            args.extend(p.clone());
            run_owned(&args)
        };
        let ok = verify(&signed, &[]);
        assert!(ok.status.success(), "{provider}: {}", stdout(&ok));
        assert!(stdout(&ok).starts_with("valid: key "), "{}", stdout(&ok));
        let tampered = verify(&signed.replace("caf%C3%A9", "cafe"), &[]);
        assert_eq!(tampered.status.code(), Some(1), "{provider}");
        assert!(
            stdout(&tampered).starts_with(&format!("{provider}: ")),
            "{}",
            stdout(&tampered)
        );
        let later = (signgate_testkit::tokens::now() + 700).to_string();
        let expired = verify(&signed, &["--now", &later]);
        assert_eq!(expired.status.code(), Some(1), "{provider}");
        assert!(
            stdout(&expired).contains("expired"),
            "{provider}: {}",
            stdout(&expired)
        );
    }
}

#[test]
fn sign_folder_credentials_as_cookie_and_path_and_verify_them() {
    let expires = (signgate_testkit::tokens::now() + 600).to_string();
    let prefix = "https://cdn.example.com/hls/42/";
    // A cookie line for Cloud CDN, checked with --cookie.
    let mut args = vec![
        "sign".to_owned(),
        "--prefix".into(),
        prefix.into(),
        "--expires".into(),
        expires.clone(),
    ];
    args.extend(provider_args("google-cloud-cdn"));
    let out = run_owned(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out).trim().to_owned();
    assert!(line.starts_with("Cloud-CDN-Cookie=URLPrefix="), "{line}");
    let mut verify = vec![
        "verify".to_owned(),
        "--url".into(),
        format!("{prefix}seg-1.ts"),
        "--cookie".into(),
        line.clone(),
    ];
    verify.extend(provider_args("google-cloud-cdn"));
    let ok = run_owned(&verify);
    assert!(ok.status.success(), "{}", stdout(&ok));
    let mut outside = vec![
        "verify".to_owned(),
        "--url".into(),
        "https://cdn.example.com/hls/43/seg-1.ts".into(),
        "--cookie".into(),
        line,
    ];
    outside.extend(provider_args("google-cloud-cdn"));
    let refused = run_owned(&outside);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stdout(&refused).contains("URLPrefix"),
        "{}",
        stdout(&refused)
    );
    // A path token for Bunny: the entry URL carries it, a segment beside it inherits it.
    let mut args = vec![
        "sign".to_owned(),
        "--prefix".into(),
        prefix.into(),
        "--delivery".into(),
        "path".into(),
        "--url".into(),
        format!("{prefix}index.m3u8"),
        "--expires".into(),
        expires,
    ];
    args.extend(provider_args("bunny"));
    let out = run_owned(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let entry = stdout(&out).trim().to_owned();
    assert!(
        entry.starts_with("https://cdn.example.com/bcdn_token="),
        "{entry}"
    );
    let segment = entry.replace("index.m3u8", "seg-1.ts");
    signgate_testkit::providers::check("bunny", &segment, &[], None).unwrap();
}

#[test]
fn a_provider_key_of_the_wrong_form_is_an_error_naming_it() {
    let dir = tempdir("provider-key");
    std::fs::write(dir.join("k"), "not+base64url/").unwrap();
    let out = run(
        &[
            "sign",
            "--provider",
            "google-cloud-cdn",
            "--provider-key",
            &format!("edge-key={}", dir.join("k").display()),
            "--url",
            "https://cdn.example.com/a",
            "--expires",
            "4000000000",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("key edge-key"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "nothing signed");
}

#[test]
fn the_environment_variables_the_examples_name_are_values_not_overrides() {
    // Every SIGNGATE_ name the commented configuration and README use for a secret or URL
    // (`database_url_env = "SIGNGATE_DJANGO_DB"`), set as a user following them would.
    let mut names = std::collections::BTreeSet::new();
    for file in ["config/signgate.toml", "README.md"] {
        let text =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
        for (i, _) in text.match_indices("\"SIGNGATE_") {
            let name: String = text[i + 1..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if !name.contains("__") {
                names.insert(name);
            }
        }
    }
    assert!(names.contains("SIGNGATE_DJANGO_DB"), "{names:?}");
    assert!(names.len() >= 5, "{names:?}");
    let env: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "a value")).collect();
    let out = run(&["check-config", "--config", "config/signgate.toml"], &env);
    assert!(out.status.success(), "with {names:?} set: {}", stderr(&out));
    // A real override still applies.
    let out = run(
        &["check-config", "--config", "config/signgate.toml"],
        &[("SIGNGATE_SERVER__MAX_BATCH_KEYS", "0")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("server.max_batch_keys"),
        "{}",
        stderr(&out)
    );
}
