//! `deploy/`: the Grafana dashboard and the Prometheus alert rules. Every metric name a panel or
//! an alert queries is one a running signgate exports (compared with a real scrape, after
//! requests that make every labelled series exist), and the alert rules pass `promtool check
//! rules` and their own unit tests (`promtool test rules`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use signgate_testkit::app::{repo, spawn_app};
use signgate_testkit::backends::{jwks_issuer, JwksProvider};
use signgate_testkit::fs::tempdir;
use signgate_testkit::tokens::{ec_jwk, token, DEMO_SECRET};

/// PromQL's keywords and the label lists that follow some of them are not metric names.
const KEYWORDS: [&str; 9] = [
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
    "group_left",
    "group_right",
];
const LABEL_LIST_BEFORE: [&str; 6] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The metric names `expr` selects: every identifier that is not a function or aggregation
/// (followed by `(`), a keyword, a label list (`by (route)`), or inside a string, a label
/// matcher (`{status=~"5.."}`) or a range (`[5m]`, `[$__rate_interval]`).
fn metric_names(expr: &str) -> BTreeSet<String> {
    let text = without_strings(expr);
    let text = without_groups(&text, '{', '}');
    let text = without_groups(&text, '[', ']');
    let chars: Vec<char> = text.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() || c == '.' || c == '$' {
            // A number (0.99, 1e-5, 86400) or a dashboard variable: skip the whole token.
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "._".contains(chars[i])) {
                i += 1;
            }
            continue;
        }
        if !(c.is_ascii_alphabetic() || c == '_' || c == ':') {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_:".contains(chars[i])) {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        let mut next = i;
        while next < chars.len() && chars[next].is_whitespace() {
            next += 1;
        }
        let opens = chars.get(next) == Some(&'(');
        // An aggregation with its modifier first: `sum by (le) (...)`.
        let rest: String = chars[next..].iter().take(8).collect();
        let modifier_follows = ["by", "without"].iter().any(|m| {
            rest.strip_prefix(m)
                .is_some_and(|after| after.starts_with([' ', '(']))
        });
        if LABEL_LIST_BEFORE.contains(&word.as_str()) {
            if opens {
                i = closing_paren(&chars, next) + 1;
            }
            continue;
        }
        if opens || modifier_follows || KEYWORDS.contains(&word.as_str()) {
            continue;
        }
        names.insert(word);
    }
    names
}

/// `text` with its string literals ("...", '...', `...`) removed.
fn without_strings(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if !matches!(c, '"' | '\'' | '`') {
            out.push(c);
            continue;
        }
        while let Some(inner) = chars.next() {
            if inner == '\\' && c != '`' {
                chars.next();
            } else if inner == c {
                break;
            }
        }
        out.push(' ');
    }
    out
}

/// `text` with every `open`...`close` group removed (strings already removed).
fn without_groups(text: &str, open: char, close: char) -> String {
    let mut depth = 0usize;
    let mut out = String::new();
    for c in text.chars() {
        if c == open {
            depth += 1;
        } else if c == close {
            depth = depth.saturating_sub(1);
            out.push(' ');
        } else if depth == 0 {
            out.push(c);
        }
    }
    out
}

/// The index of the `)` closing the `(` at `open`.
fn closing_paren(chars: &[char], open: usize) -> usize {
    let mut depth = 0;
    for (i, c) in chars.iter().enumerate().skip(open) {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    chars.len()
}

#[test]
fn metric_names_are_read_out_of_promql_and_nothing_else() {
    let names = |e: &str| metric_names(e).into_iter().collect::<Vec<_>>();
    assert_eq!(
        names(
            r#"histogram_quantile(0.99, sum by (job, le) (rate(signgate_signing_seconds_bucket{job=~"$job"}[$__rate_interval])))"#
        ),
        ["signgate_signing_seconds_bucket"]
    );
    assert_eq!(
        names(r#"(a_rotate_by - time()) < 14 * 86400 and on(key_set) b_keys == 1"#),
        ["a_rotate_by", "b_keys"]
    );
    assert_eq!(
        names(
            r#"sum(rate(x_total{status=~"5..", route!="a{b}"}[5m])) by (route) / ignoring(status) group_left sum(y) offset 1h > bool 1e-3"#
        ),
        ["x_total", "y"]
    );
    assert_eq!(
        names("count without (instance) (up) + sum(by_route) by (x) + max(without_x)"),
        ["by_route", "up", "without_x"],
        "by and without are modifiers, and names may start with them"
    );
    assert_eq!(
        names("time() - max by (issuer) (signgate_jwks_fetched_timestamp_seconds)"),
        ["signgate_jwks_fetched_timestamp_seconds"]
    );
}

/// Every sample name in a scrape (`signgate_requests_total`, `..._bucket`, a gauge's name),
/// and the family each histogram or counter sample belongs to (for messages).
fn exported_names(scrape: &str) -> BTreeSet<String> {
    scrape
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_owned())
        .collect()
}

/// `name` with the suffix a histogram or counter sample adds, stripped (for messages).
fn family(name: &str) -> &str {
    ["_bucket", "_sum", "_count", "_total"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .unwrap_or(name)
}

/// Each `expr:` of a rules file (one line, or a `|` / `>` block).
fn rule_exprs(yaml: &str) -> Vec<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut exprs = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(value) = line.trim_start().strip_prefix("expr:") else {
            continue;
        };
        let value = value.trim();
        if !value.starts_with(['|', '>']) {
            exprs.push(value.trim_matches(['"', '\'']).to_owned());
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let block: Vec<&str> = lines[i + 1..]
            .iter()
            .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
            .map(|l| l.trim())
            .collect();
        exprs.push(block.join(" "));
    }
    exprs
}

/// Every query of a dashboard's panels (rows included) and template variables.
fn dashboard_queries(dashboard: &Value) -> Vec<String> {
    fn walk(panels: &Value, out: &mut Vec<String>) {
        for panel in panels.as_array().into_iter().flatten() {
            walk(&panel["panels"], out);
            if panel["type"] == "row" {
                continue;
            }
            let targets = panel["targets"].as_array().cloned().unwrap_or_default();
            assert!(!targets.is_empty(), "panel {} has no query", panel["title"]);
            for target in targets {
                let expr = target["expr"].as_str().unwrap_or_default();
                assert!(
                    !expr.is_empty(),
                    "panel {}: a query without expr",
                    panel["title"]
                );
                out.push(expr.to_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    for var in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        // Grafana's label_values(METRIC, LABEL): the metric is PromQL, the label is not.
        if let Some(q) = var["query"]["query"].as_str() {
            let inner = q
                .strip_prefix("label_values(")
                .expect("a label_values query");
            out.push(inner.rsplit_once(',').unwrap().0.to_owned());
        }
    }
    out
}

fn deploy(path: &str) -> PathBuf {
    repo().join("deploy").join(path)
}

/// A signgate with every kind of series: a JWKS issuer, a SQL grant (a backend), a key set with
/// rotate_after_days, stable URLs; and requests that are signed, refused and rate limited.
async fn scrape_of_a_busy_signgate() -> String {
    let (_, jwk) = ec_jwk("k1");
    let idp = JwksProvider::start(json!({"keys": [jwk]}), true).await;
    let mut issuers = jwks_issuer(&format!("{}/jwks.json", idp.base), 60);
    issuers.as_array_mut().unwrap().push(json!({"issuer": "signgate-dev", "audience": ["signgate"], "algorithms": ["HS256"], "secret": DEMO_SECRET}));
    let db = tempdir().join("shop.sqlite3");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::raw_sql("CREATE TABLE purchases (user_id TEXT, object_key TEXT); INSERT INTO purchases VALUES ('alice', 'shop/a.pdf');")
        .execute(&pool)
        .await
        .unwrap();
    let app = spawn_app(&[
        ("auth.jwt.issuers", issuers),
        ("key_sets", json!([{"name": "demo", "active": "KDEMO2RSA0001", "rotate_after_days": 365,
            "keys": [{"key_pair_id": "KDEMO2RSA0001", "private_key_file": "dev/demo-rsa-private.pem", "created": "2025-01-01"}]}])),
        ("grants", json!([{"name": "shop", "database_url": format!("sqlite://{}", db.display()),
            "query": "SELECT 1 FROM purchases WHERE user_id = ?1 AND object_key = ?2", "params": ["subject", "key"]}])),
        ("rules", json!([
            {"pattern": "public/**", "access": "authenticated", "distribution": "demo", "cache_step_seconds": 60},
            {"pattern": "shop/**", "access": "authenticated", "distribution": "demo", "grant": "shop"},
        ])),
        ("limits.per_ip_per_second", json!(1)),
        ("limits.per_ip_burst", json!(100)),
    ])
    .await;
    app.wait_ready().await;
    let alice = token("alice", json!({}));
    for (path, credential, status) in [
        ("/files/public/a", Some(alice.as_str()), 302),
        ("/files/public/a", Some(&alice), 302),
        ("/files/shop/a.pdf", Some(&alice), 302),
        ("/files/shop/b.pdf", Some(&alice), 403),
        ("/files/private/x", Some(&alice), 403),
        ("/files/public/a", None, 401),
        ("/files/public/a", Some("not-a-token"), 401),
    ] {
        assert_eq!(app.get(path, credential).await.status(), status, "{path}");
    }
    let mut limited = false;
    for _ in 0..200 {
        if app.get("/files/public/a", Some(&alice)).await.status() == 429 {
            limited = true;
            break;
        }
    }
    assert!(limited, "the per-IP limit refuses at last");
    app.metrics_text().await
}

#[tokio::test]
async fn every_metric_the_dashboard_and_the_alerts_query_is_exported() {
    let scrape = scrape_of_a_busy_signgate().await;
    let exported = exported_names(&scrape);
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(deploy("grafana/signgate.json")).unwrap())
            .expect("the dashboard is JSON");
    let alerts = std::fs::read_to_string(deploy("prometheus/alerts.yml")).unwrap();
    let sources = [
        (
            "deploy/grafana/signgate.json",
            dashboard_queries(&dashboard),
        ),
        ("deploy/prometheus/alerts.yml", rule_exprs(&alerts)),
    ];
    let mut used = BTreeSet::new();
    let mut missing = Vec::new();
    for (file, queries) in &sources {
        assert!(queries.len() >= 8, "{file}: {} queries", queries.len());
        for query in queries {
            let names = metric_names(query);
            assert!(!names.is_empty(), "{file}: no metric in {query}");
            for name in names {
                if !exported.contains(&name) {
                    missing.push(format!(
                        "{file}: {name} (family {}) in {query}",
                        family(&name)
                    ));
                }
                used.insert(name);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not in the scrape:\n{}\n\nthe scrape:\n{scrape}",
        missing.join("\n")
    );
    for wanted in [
        "signgate_requests_total",
        "signgate_decisions_total",
        "signgate_signing_seconds_bucket",
        "signgate_url_cache_hits_total",
        "signgate_jwt_cache_hits_total",
        "signgate_backend_up",
        "signgate_jwks_fetched_timestamp_seconds",
        "signgate_signatures_total",
        "signgate_key_set_rotate_by_timestamp_seconds",
    ] {
        assert!(used.contains(wanted), "nothing queries {wanted}");
    }
    for series in [
        r#"signgate_requests_total{route="files",status="429",outcome="rate_limited"}"#,
        r#"signgate_decisions_total{kind="object",decision="deny"}"#,
        r#"signgate_signatures_total{provider="cloudfront",key="KDEMO2RSA0001"}"#,
        r#"signgate_backend_up{backend="grant:shop"} 1"#,
        r#"signgate_jwks_fetched_timestamp_seconds{issuer="idp"}"#,
        r#"signgate_key_set_keys{key_set="demo"} 1"#,
    ] {
        assert!(scrape.contains(series), "{series} in\n{scrape}");
    }
    let rotate_by = r#"signgate_key_set_rotate_by_timestamp_seconds{key_set="demo"} "#;
    let due = 1_735_689_600 + 365 * 86_400; // 2025-01-01 + 365 days
    assert!(scrape.contains(&format!("{rotate_by}{due}")), "{scrape}");
}

/// Debian's promtool, or a failure that says how to install it.
fn promtool() -> PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("promtool"))
        .find(|p| p.exists());
    found.unwrap_or_else(|| {
        panic!("promtool is not installed; install it with: sudo apt-get install -y prometheus (scripts/test does this when run as root)")
    })
}

fn run_promtool(args: &[&str], dir: &Path) {
    let out = Command::new(promtool())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool {}:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_alert_rules_pass_promtool_and_their_unit_tests() {
    let dir = deploy("prometheus");
    run_promtool(&["check", "rules", "alerts.yml"], &dir);
    run_promtool(&["test", "rules", "alerts_test.yml"], &dir);
    let alerts = std::fs::read_to_string(dir.join("alerts.yml")).unwrap();
    let tests = std::fs::read_to_string(dir.join("alerts_test.yml")).unwrap();
    let names: Vec<&str> = alerts
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .collect();
    assert!(names.len() >= 7, "{names:?}");
    for name in names {
        let fires = tests
            .split(&format!("alertname: {name}\n"))
            .skip(1)
            .any(|after| after.trim_start().starts_with("exp_alerts:\n"));
        assert!(fires, "alerts_test.yml never expects {name} to fire");
    }
}
