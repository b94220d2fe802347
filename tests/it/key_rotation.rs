//! Signing keys' retirement: `check-config` warns about a key set whose only key is older than
//! its `rotate_after_days`, and the metrics count each key's signatures and show when each set
//! is due.

use std::process::{Command, Output};

use serde_json::json;
use signgate_testkit::app::spawn_app;
use signgate_testkit::tokens::token;

use crate::SIGNGATE as BIN;

fn check_config(key_sets: &str) -> Output {
    Command::new(BIN)
        .arg("check-config")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("SIGNGATE_KEY_SETS", key_sets)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const RSA: &str = r#"key_pair_id="KDEMO2RSA0001", private_key_file="dev/demo-rsa-private.pem""#;
const ECDSA: &str = r#"key_pair_id="KDEMO2ECDSA01", private_key_file="dev/demo-ecdsa-private.pem""#;

#[test]
fn check_config_warns_about_a_lone_key_past_its_age_and_still_succeeds() {
    let old = format!(
        r#"[{{name="demo", active="KDEMO2RSA0001", rotate_after_days=90, keys=[{{{RSA}, created="2024-01-01"}}]}}]"#
    );
    let o = check_config(&old);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("warning: key set \"demo\" has one key, KDEMO2RSA0001, created 2024-01-01 (")
            && err.contains("older than its rotate_after_days = 90: add a new key"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("is valid"));

    // Two keys: a rotation is under way, nothing to warn about.
    let rotating = format!(
        r#"[{{name="demo", active="KDEMO2RSA0001", rotate_after_days=90, keys=[{{{RSA}, created="2024-01-01"}}, {{{ECDSA}, created="2024-02-01"}}]}}]"#
    );
    let o = check_config(&rotating);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));

    // A young key, and a set without rotate_after_days: no warning.
    let today = signgate_testkit::tokens::now() / 86_400 * 86_400;
    let young = format!(
        r#"[{{name="demo", active="KDEMO2RSA0001", rotate_after_days=90, keys=[{{{RSA}, created="{}"}}]}}]"#,
        utc_day(today)
    );
    let o = check_config(&young);
    assert!(
        o.status.success() && !stderr(&o).contains("warning"),
        "{}",
        stderr(&o)
    );
    let unset = format!(r#"[{{name="demo", active="KDEMO2RSA0001", keys=[{{{RSA}}}]}}]"#);
    let o = check_config(&unset);
    assert!(
        o.status.success() && !stderr(&o).contains("warning"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn rotate_after_days_needs_every_keys_creation_day() {
    for (key_sets, named) in [
        (
            format!(
                r#"[{{name="demo", active="KDEMO2RSA0001", rotate_after_days=90, keys=[{{{RSA}}}]}}]"#
            ),
            "key_sets[0].keys[0].created: needed with rotate_after_days",
        ),
        (
            format!(
                r#"[{{name="demo", active="KDEMO2RSA0001", keys=[{{{RSA}, created="2024-13-01"}}]}}]"#
            ),
            "key_sets[0].keys[0].created: \"2024-13-01\" is not a date",
        ),
        (
            format!(
                r#"[{{name="demo", active="KDEMO2RSA0001", keys=[{{{RSA}, created="2999-01-01"}}]}}]"#
            ),
            "key_sets[0].keys[0].created: 2999-01-01 is in the future",
        ),
        (
            format!(
                r#"[{{name="demo", active="KDEMO2RSA0001", rotate_after_days=0, keys=[{{{RSA}, created="2024-01-01"}}]}}]"#
            ),
            "key_sets[0].rotate_after_days: must be between 1 and 3650",
        ),
    ] {
        let o = check_config(&key_sets);
        assert_eq!(o.status.code(), Some(2), "{key_sets}");
        assert!(stderr(&o).contains(named), "{named} in {}", stderr(&o));
    }
}

/// `YYYY-MM-DD` of a Unix time (UTC), by walking the calendar (independent of the service's).
fn utc_day(unix: u64) -> String {
    let mut days = unix / 86_400;
    let mut year = 1970u64;
    let leap = |y: u64| y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400));
    while days >= if leap(year) { 366 } else { 365 } {
        days -= if leap(year) { 366 } else { 365 };
        year += 1;
    }
    let lengths = [
        31,
        if leap(year) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let mut month = 0;
    while days >= lengths[month] {
        days -= lengths[month];
        month += 1;
    }
    format!("{year:04}-{:02}-{:02}", month + 1, days + 1)
}

#[tokio::test]
async fn the_metrics_count_each_keys_signatures_and_show_when_a_set_is_due() {
    let app = spawn_app(&[
        (
            "key_sets",
            json!([
                {"name": "demo", "active": "KDEMO2RSA0001", "rotate_after_days": 30,
                 "keys": [{"key_pair_id": "KDEMO2RSA0001", "private_key_file": "dev/demo-rsa-private.pem", "created": "2025-03-01"}]},
                {"name": "ec", "active": "KDEMO2ECDSA01",
                 "keys": [{"key_pair_id": "KDEMO2ECDSA01", "private_key_file": "dev/demo-ecdsa-private.pem"},
                          {"key_pair_id": "KDEMO2RSA0001", "private_key_file": "dev/demo-rsa-private.pem"}]},
            ]),
        ),
        (
            "rules",
            json!([
                {"pattern": "public/**", "access": "authenticated", "distribution": "demo"},
                {"pattern": "ec/**", "access": "authenticated", "distribution": "demo", "key_set": "ec"},
            ]),
        ),
    ])
    .await;
    let t = token("alice", json!({}));
    for path in ["/files/public/a", "/files/public/b", "/files/ec/c"] {
        assert_eq!(app.get(path, Some(&t)).await.status(), 302);
    }
    let metrics = app.metrics_text().await;
    for line in [
        r#"signgate_signatures_total{provider="cloudfront",key="KDEMO2RSA0001"} 2"#,
        r#"signgate_signatures_total{provider="cloudfront",key="KDEMO2ECDSA01"} 1"#,
        r#"signgate_key_set_keys{key_set="demo"} 1"#,
        r#"signgate_key_set_keys{key_set="ec"} 2"#,
        // 2025-03-01 + 30 days.
        r#"signgate_key_set_rotate_by_timestamp_seconds{key_set="demo"} 1743379200"#,
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    assert!(
        !metrics.contains(r#"signgate_key_set_rotate_by_timestamp_seconds{key_set="ec"}"#),
        "no rotate_after_days, no due date"
    );
}
