//! `signgate explain`, run as operators run it: the real binary, a configuration file, its
//! report (text or JSON) and its exit code (0 allow, 1 deny, 2 setup error).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};
use signgate_testkit::fs::{config_file, tempdir};
use signgate_testkit::tokens::{ec_jwk, now, sign, token};

use crate::SIGNGATE as BIN;

/// The default configuration's rules (public/**, users/{sub}/**) and these after them.
const RULES: &str = r#"
[[rules]]
pattern = "reports/**"
access = "authenticated"
distribution = "demo"
require = [{ claim = "roles", any_of = ["editor", "admin"] }]
deny_as_not_found = true

[[rules]]
pattern = "open/**"
access = "public"
distribution = "demo"
policy = "custom"
bind_client_ip = true
lifetime_seconds = 120

[[rules]]
pattern = "public/reports/**"
access = "authenticated"
distribution = "demo"
require = [{ claim = "roles", any_of = ["admin"] }]

[[rules]]
pattern = "media/**"
access = "authenticated"
distribution = "demo"
cache_step_seconds = 60
"#;

fn config() -> PathBuf {
    config_file(RULES).0
}

fn explain(config: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("explain")
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("SIGNGATE_KEY_PASSPHRASE")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The JSON report, and the exit code.
fn report(config: &Path, args: &[&str]) -> (Value, i32) {
    let mut args = args.to_vec();
    args.push("--json");
    let o = explain(config, &args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    let report: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{stderr}", text(&o)));
    (report, o.status.code().unwrap())
}

fn verdicts(report: &Value) -> Vec<&str> {
    report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["verdict"].as_str().unwrap())
        .collect()
}

#[test]
fn an_allow_shows_the_policy_exactly_as_signing_builds_it() {
    let config = config();
    let (r, code) = report(
        &config,
        &[
            "--anonymous",
            "--key",
            "open/a b.txt",
            "--client-ip",
            "203.0.113.7",
        ],
    );
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["version"], 1);
    assert_eq!(r["credential"]["status"], "anonymous");
    assert_eq!(r["decision"]["outcome"], "allow");
    assert_eq!(r["decision"]["status"], 302);
    assert_eq!(r["decision"]["rule"], 3);
    let s = &r["signing"];
    assert_eq!(s["distribution"], "demo");
    assert_eq!(s["provider"], "cloudfront");
    assert_eq!(s["key"], "KDEMO2RSA0001");
    assert_eq!(s["key_set"], "demo");
    assert_eq!(
        s["url"],
        "https://d111111abcdef8.cloudfront.net/open/a%20b.txt"
    );
    assert_eq!(s["lifetime_seconds"], 120);
    assert_eq!(s["client_ip"], "203.0.113.7");
    assert_eq!(s["stable_url_step_seconds"], Value::Null);
    let expires = s["expires_at"].as_u64().unwrap();
    assert!((now() + 110..=now() + 130).contains(&expires), "{expires}");
    assert_eq!(s["policy"]["kind"], "custom");
    let policy = s["policy"]["json"].as_str().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(policy).unwrap(),
        json!({"Statement": [{"Resource": "https://d111111abcdef8.cloudfront.net/open/a%20b.txt",
            "Condition": {"DateLessThan": {"AWS:EpochTime": expires}, "IpAddress": {"AWS:SourceIp": "203.0.113.7/32"}}}]})
    );
    // The very bytes `signgate sign` signs for the same URL and conditions.
    let key = signgate_testkit::app::repo().join("config/dev/demo-rsa-private.pem");
    let signed = Command::new(BIN)
        .args(["sign", "--key-pair-id", "KDEMO2RSA0001", "--key"])
        .arg(&key)
        .args([
            "--url",
            "https://d111111abcdef8.cloudfront.net/open/a%20b.txt",
        ])
        .args(["--expires", &expires.to_string(), "--ip", "203.0.113.7"])
        .output()
        .unwrap();
    let url = text(&signed);
    let encoded = url
        .split("Policy=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let decoded = signgate_cloudfront::decode_base64(encoded).unwrap();
    assert_eq!(String::from_utf8(decoded).unwrap(), policy);
    // Without --client-ip the rule's address binding is named, and no policy is guessed.
    let (r, code) = report(&config, &["--anonymous", "--key", "open/a.txt"]);
    assert_eq!(code, 0);
    assert_eq!(r["signing"]["policy"], Value::Null);
    assert!(
        r["signing"]["notes"][0]
            .as_str()
            .unwrap()
            .contains("--client-ip"),
        "{r:#}"
    );
}

#[test]
fn a_token_reading_names_issuer_subject_and_claims_and_the_shadowed_rule() {
    let config = config();
    let t = token("alice", json!({"roles": ["viewer"]}));
    let o = explain(&config, &["--token", &t, "--key", "public/reports/q3.pdf"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    for expected in [
        "credential: authenticated (token)",
        "issuer: signgate-dev",
        "signature: verified",
        "subject: alice",
        "\"roles\":[\"viewer\"]",
        "=> rules[0] public/**, authenticated: matches; any signed-in caller: allowed",
        "rules[4] public/reports/**, authenticated: matches too, but rules[0] decided first: shadowed",
        "decision: allow by rules[0] (answer 302 signed)",
        "would sign (nothing was signed):",
        "key: KDEMO2RSA0001 (key set demo)",
        "policy: canned",
        "stable URLs: off",
    ] {
        assert!(out.contains(expected), "{expected:?} in\n{out}");
    }
    let (r, _) = report(&config, &["--token", &t, "--key", "public/reports/q3.pdf"]);
    assert_eq!(r["rules"][4]["shadowed_by"], 0);
    assert_eq!(r["rules"][4]["reached"], false);
    assert_eq!(r["rules"][4]["matches"], true);
    assert_eq!(r["rules"][1]["pattern_filled_in"], "users/alice/**");
    let policy: Value =
        serde_json::from_str(r["signing"]["policy"]["json"].as_str().unwrap()).unwrap();
    assert_eq!(
        policy["Statement"][0]["Resource"],
        "https://d111111abcdef8.cloudfront.net/public/reports/q3.pdf"
    );
    // Stable URLs: the expiry is rounded up to the step.
    let (r, _) = report(&config, &["--token", &t, "--key", "media/v.mp4"]);
    assert_eq!(r["signing"]["stable_url_step_seconds"], 60);
    assert_eq!(r["signing"]["expires_at"].as_u64().unwrap() % 60, 0);
}

#[test]
fn a_deny_by_rule_names_the_requirement_and_the_callers_values() {
    let config = config();
    let o = explain(
        &config,
        &[
            "--sub",
            "bob",
            "--claim",
            "roles=viewer",
            "--key",
            "reports/q3.pdf",
        ],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("=> rules[2] reports/**, authenticated: matches; a requirement is not met: roles any of [\"editor\", \"admin\"] (the caller has [\"viewer\"]): refused (404)"), "{out}");
    assert!(
        out.contains("decision: deny by rules[2] (answer 404 not_found)"),
        "{out}"
    );
    assert!(!out.contains("would sign"), "{out}");
    // The same from a token's claims, as JSON.
    let t = token("bob", json!({"roles": ["viewer", "auditor"]}));
    let (r, code) = report(&config, &["--token", &t, "--key", "reports/q3.pdf"]);
    assert_eq!(code, 1);
    assert_eq!(r["decision"]["outcome"], "deny");
    assert_eq!(r["decision"]["code"], "not_found");
    let req = &r["rules"][2]["requirements"][0];
    assert_eq!(req["claim"], "roles");
    assert_eq!(req["satisfied"], false);
    assert_eq!(req["caller_values"], json!(["viewer", "auditor"]));
    assert_eq!(r["signing"], Value::Null);
    let t = token("erin", json!({"roles": ["editor"]}));
    let (r, code) = report(&config, &["--token", &t, "--key", "reports/q3.pdf"]);
    assert_eq!((code, &r["decision"]["outcome"]), (0, &json!("allow")));
    assert_eq!(r["rules"][2]["requirements"][0]["satisfied"], true);
}

#[test]
fn no_rule_matching_is_a_deny_by_default_and_a_claim_that_cannot_match_is_named() {
    let config = config();
    let (r, code) = report(&config, &["--sub", "alice", "--key", "users/bob/x.txt"]);
    assert_eq!(code, 1);
    assert_eq!(verdicts(&r), ["no_match"; 6]);
    assert_eq!(r["decision"]["outcome"], "deny");
    assert_eq!(r["decision"]["status"], 403);
    assert_eq!(r["decision"]["rule"], Value::Null);
    assert!(r["decision"]["reason"]
        .as_str()
        .unwrap()
        .contains("no rule matches"));
    assert_eq!(r["rules"][1]["pattern_filled_in"], "users/alice/**");
    let o = explain(&config, &["--sub", "alice", "--key", "/files/nowhere/x"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("object key: nowhere/x"), "{}", text(&o));
}

#[test]
fn an_anonymous_caller_on_an_authenticated_rule_is_asked_to_sign_in() {
    let config = config();
    let (r, code) = report(&config, &["--anonymous", "--key", "users/alice/x.txt"]);
    assert_eq!(code, 1);
    assert_eq!(r["decision"]["outcome"], "needs_login");
    assert_eq!(r["decision"]["status"], 401);
    assert_eq!(r["rules"][1]["unusable_claims"], json!(["sub"]));
    assert!(r["rules"][1]["explanation"]
        .as_str()
        .unwrap()
        .contains("anonymous"));
    let (r, code) = report(&config, &["--anonymous", "--key", "public/a"]);
    assert_eq!((code, &r["decision"]["rule"]), (1, &json!(0)));
    assert_eq!(r["rules"][0]["verdict"], "needs_login");
    assert_eq!(r["decision"]["outcome"], "needs_login");
}

#[test]
fn a_refused_token_names_its_reason_and_no_rule_is_tried() {
    let config = config();
    let expired = token("alice", json!({"exp": now() - 3600}));
    let (r, code) = report(&config, &["--token", &expired, "--key", "public/a"]);
    assert_eq!(code, 1);
    assert_eq!(r["credential"]["status"], "refused");
    assert_eq!(r["credential"]["reason"], "expired");
    assert!(
        r["credential"]["message"]
            .as_str()
            .unwrap()
            .contains("s ago"),
        "{r:#}"
    );
    assert_eq!(r["decision"]["outcome"], "credential_refused");
    assert_eq!(
        (&r["decision"]["status"], &r["decision"]["code"]),
        (&json!(401), &json!("expired"))
    );
    assert_eq!(r["rules"], json!([]));
    let wrong = token("alice", json!({"aud": "another-app"}));
    let o = explain(&config, &["--token", &wrong, "--key", "public/a"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("refused: audience: the token's audience is not accepted: the token's aud is \"another-app\"; issuer signgate-dev accepts [\"signgate\"]"), "{out}");
    let forged = signgate_testkit::tokens::hs256(
        &json!({"sub": "alice", "iss": "signgate-dev", "aud": "signgate", "exp": now() + 60}),
        b"not-the-demo-secret-not-the-demo-secret",
    );
    let (r, _) = report(&config, &["--token", &forged, "--key", "public/a"]);
    assert_eq!(r["credential"]["reason"], "signature");
}

#[test]
fn a_jwks_issuers_token_is_read_without_fetching_the_keys() {
    // Port 1 of loopback: nothing answers there, so any fetch would fail the reading.
    let issuers = r#"
[[auth.jwt.issuers]]
issuer = "idp"
audience = ["signgate"]
algorithms = ["ES256"]
jwks_url = "http://127.0.0.1:1/jwks.json"
"#;
    let (config, _) = config_file(issuers);
    let (key, _) = ec_jwk("k1");
    let claims = json!({"sub": "carol", "iss": "idp", "aud": "signgate", "exp": now() + 600});
    let t = sign(jsonwebtoken::Algorithm::ES256, Some("k1"), &claims, &key);
    let (r, code) = report(&config, &["--token", &t, "--key", "users/carol/a"]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["credential"]["issuer"], "idp");
    assert_eq!(r["credential"]["signature"], "not_checked");
    assert!(r["credential"]["notes"][0]
        .as_str()
        .unwrap()
        .contains("JWKS"));
    let late = json!({"sub": "carol", "iss": "idp", "aud": "signgate", "exp": now() - 600});
    let t = sign(jsonwebtoken::Algorithm::ES256, Some("k1"), &late, &key);
    let (r, code) = report(&config, &["--token", &t, "--key", "users/carol/a"]);
    assert_eq!((code, &r["credential"]["reason"]), (1, &json!("expired")));
}

#[test]
fn cookies_are_read_as_the_token_cookie_or_named_as_unread() {
    let config = config();
    let t = token("alice", json!({}));
    let cookie = format!("signgate_token={t}");
    let (r, code) = report(&config, &["--cookie", &cookie, "--key", "users/alice/a"]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["credential"]["subject"], "alice");
    assert!(r["credential"]["notes"][0]
        .as_str()
        .unwrap()
        .contains("auth.token_cookie"));
    let (r, code) = report(
        &config,
        &["--cookie", "sessionid=abc", "--key", "users/alice/a"],
    );
    assert_eq!(code, 1);
    assert_eq!(r["credential"]["status"], "anonymous");
    assert!(
        r["credential"]["notes"][0]
            .as_str()
            .unwrap()
            .contains("signgate_token (jwt)"),
        "{r:#}"
    );
}

#[test]
fn a_sql_grant_is_named_and_only_queried_when_asked() {
    let dir = tempdir();
    let db = dir.join("shop.sqlite3");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let url = format!("sqlite://{}?mode=rwc", db.display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::raw_sql("CREATE TABLE purchases (user_id TEXT, object_key TEXT); INSERT INTO purchases VALUES ('alice', 'shop/a.pdf');")
            .execute(&pool)
            .await
            .unwrap();
    });
    let (config, _) = config_file(&format!(
        "{RULES}\n[[rules]]\npattern = \"shop/**\"\naccess = \"authenticated\"\ndistribution = \"demo\"\ngrant = \"purchases\"\n\n[[grants]]\nname = \"purchases\"\ndatabase_url = \"sqlite://{}\"\nquery = \"SELECT 1 FROM purchases WHERE user_id = ?1 AND object_key = ?2\"\nparams = [\"subject\", \"key\"]\n",
        db.display()
    ));
    let (r, code) = report(&config, &["--sub", "bob", "--key", "shop/a.pdf"]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["decision"]["unqueried_grant"], "purchases");
    assert!(r["decision"]["reason"]
        .as_str()
        .unwrap()
        .contains("--query-grants"));
    assert_eq!(
        r["rules"][6]["sql_grant"],
        json!({"name": "purchases", "queried": false, "allowed": null})
    );
    let (r, code) = report(
        &config,
        &["--sub", "bob", "--key", "shop/a.pdf", "--query-grants"],
    );
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["rules"][6]["sql_grant"]["allowed"], false);
    assert_eq!(r["decision"]["outcome"], "deny");
    let (r, code) = report(
        &config,
        &["--sub", "alice", "--key", "shop/a.pdf", "--query-grants"],
    );
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["rules"][6]["sql_grant"]["allowed"], true);
    assert_eq!(r["decision"]["unqueried_grant"], Value::Null);
}

#[test]
fn setup_errors_exit_2_with_the_cause() {
    let config = config();
    let missing = tempdir().join("nope.toml");
    let o = explain(&missing, &["--anonymous", "--key", "a"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read the configuration file"));
    let o = explain(&config, &["--anonymous", "--key", "/elsewhere/a"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("files prefix /files/"));
    let o = explain(&config, &["--key", "a"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a credential (or --anonymous) is required"
    );
    let (r, code) = report(&config, &["--anonymous", "--key", "a/../b"]);
    assert_eq!((code, &r["decision"]["outcome"]), (1, &json!("bad_key")));
    assert_eq!(r["decision"]["status"], 400);
}

/// `text` with every Unix time (9 digits or more) written as `T`.
fn without_times(text: &str) -> String {
    let mut out = String::new();
    let mut digits = String::new();
    for c in text.chars().chain(std::iter::once('\n')) {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        out.push_str(if digits.len() >= 9 { "T" } else { &digits });
        digits.clear();
        out.push(c);
    }
    out.pop();
    out
}

#[test]
fn the_readmes_example_is_what_explain_prints() {
    let readme = std::fs::read_to_string(signgate_testkit::app::repo().join("README.md")).unwrap();
    let section = &readme[readme.find("### `signgate explain`").unwrap()..];
    let start = section.find("```text\n").unwrap() + "```text\n".len();
    let example = &section[start..start + section[start..].find("```").unwrap()];
    let t = token("alice", json!({"roles": "viewer"}));
    let default = signgate_testkit::app::default_config();
    let o = explain(
        &default,
        &["--token", &t, "--key", "users/alice/report.pdf"],
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(without_times(&text(&o)), without_times(example));
}
