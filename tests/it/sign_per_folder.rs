//! `sign_per = "folder"`: one CloudFront custom policy per folder, caller and step, signed once
//! and carried by every object URL of the folder; refused at load wherever the folder's
//! wildcard could cover something the rule would not allow the caller.

use serde_json::{json, Value};
use signgate_cloudfront::PolicyKind;
use signgate_testkit::app::{default_config, settings, spawn_app};
use signgate_testkit::edge::{edge_distribution, media_root, spawn_edge, verify};
use signgate_testkit::http::location;
use signgate_testkit::tokens::token;

fn folder_rules() -> (&'static str, Value) {
    (
        "rules",
        json!([
            {"pattern": "public/**", "access": "authenticated", "distribution": "demo"},
            {"pattern": "users/{sub}/**", "access": "authenticated", "distribution": "demo",
             "lifetime_seconds": 300, "cache_step_seconds": 60, "sign_per": "folder"}
        ]),
    )
}

/// The signing parameters of a signed URL (`Policy=...&Signature=...&Key-Pair-Id=...`).
fn signing_params(url: &str) -> String {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .filter(|p| {
            ["Policy=", "Signature=", "Key-Pair-Id=", "Expires="]
                .iter()
                .any(|n| p.starts_with(n))
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[tokio::test]
async fn two_objects_of_one_folder_carry_one_policy_and_signature_and_both_download() {
    let root = media_root();
    std::fs::create_dir_all(root.join("users/alice/pics")).unwrap();
    std::fs::write(root.join("users/alice/pics/a b.jpg"), b"alice's picture").unwrap();
    let edge = spawn_edge(&root).await;
    let app = spawn_app(&[edge_distribution(edge), folder_rules()]).await;
    let alice = token("alice", json!({}));
    let notes = location(&app.get("/files/users/alice/notes.txt", Some(&alice)).await);
    let picture = location(
        &app.get("/files/users/alice/pics/a%20b.jpg", Some(&alice))
            .await,
    );
    assert!(
        notes.starts_with(&format!("http://{edge}/users/alice/notes.txt?Policy=")),
        "{notes}"
    );
    assert!(
        picture.starts_with(&format!("http://{edge}/users/alice/pics/a%20b.jpg?Policy=")),
        "{picture}"
    );
    assert_eq!(
        signing_params(&notes),
        signing_params(&picture),
        "one policy, one signature"
    );
    for url in [&notes, &picture] {
        let v = verify(url, None);
        assert_eq!(v.policy.kind(), PolicyKind::Custom);
        assert_eq!(
            v.policy.resource().as_str(),
            format!("http://{edge}/users/alice/*")
        );
        assert_eq!(v.policy.expires() % 60, 0, "the step's expiry");
    }
    for (url, body) in [
        (&notes, &b"alice's notes"[..]),
        (&picture, &b"alice's picture"[..]),
    ] {
        let r = app.client.get(url.as_str()).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        assert_eq!(r.bytes().await.unwrap().as_ref(), body);
    }
    // The folder's signature carried by hand to an object outside it: the edge refuses it.
    for outside in ["users/bob/notes.txt", "public/report.pdf", "users/alicex/a"] {
        let moved = format!("http://{edge}/{outside}?{}", signing_params(&notes));
        let r = app.client.get(&moved).send().await.unwrap();
        assert_eq!(r.status(), 403, "{moved}");
    }
    // Bob's folder has its own policy; alice's is reused within the step.
    let bob = location(
        &app.get("/files/users/bob/notes.txt", Some(&token("bob", json!({}))))
            .await,
    );
    assert_ne!(signing_params(&bob), signing_params(&notes));
    assert_eq!(
        verify(&bob, None).policy.resource().as_str(),
        format!("http://{edge}/users/bob/*")
    );
    let again = location(&app.get("/files/users/alice/notes.txt", Some(&alice)).await);
    assert_eq!(again, notes);
    // Signatures made: alice's folder and bob's; the second and fourth alice answer reused hers.
    assert_eq!(
        app.metric("signgate_folder_policy_cache_misses_total")
            .await,
        2.0
    );
    assert_eq!(
        app.metric("signgate_folder_policy_cache_hits_total").await,
        2.0
    );
    assert_eq!(
        app.metric("signgate_url_cache_misses_total").await,
        0.0,
        "no URL signed one by one"
    );
    // A rule without sign_per still signs each object on its own (canned).
    let report = location(&app.get("/files/public/report.pdf", Some(&alice)).await);
    assert_eq!(verify(&report, None).policy.kind(), PolicyKind::Canned);
    // Authorization still runs on every request: bob never gets alice's folder.
    let r = app
        .get(
            "/files/users/alice/notes.txt",
            Some(&token("bob", json!({}))),
        )
        .await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn a_download_name_is_signed_on_its_own_since_the_folders_wildcard_covers_any_query() {
    let root = media_root();
    let edge = spawn_edge(&root).await;
    let app = spawn_app(&[edge_distribution(edge), folder_rules()]).await;
    let alice = token("alice", json!({}));
    let shared = location(&app.get("/files/users/alice/notes.txt", Some(&alice)).await);
    // The fact behind the choice: a wildcard resource covers every query string, so a name
    // added to a folder URL verifies: under the folder's policy it would not be signed.
    let (path, params) = shared.split_once('?').unwrap();
    let renamed =
        format!("{path}?response-content-disposition=attachment%3B%20filename%3Devil.exe&{params}");
    verify(&renamed, None);
    // So a download name gets its own canned policy, naming it exactly.
    let named = location(
        &app.get("/files/users/alice/notes.txt?download=n.txt", Some(&alice))
            .await,
    );
    assert!(
        named.contains("response-content-disposition=") && named.contains("&Expires="),
        "{named}"
    );
    let v = verify(&named, None);
    assert_eq!(v.policy.kind(), PolicyKind::Canned);
    let r = app.client.get(&named).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("n.txt"));
    let changed = named.replace("n.txt", "evil.exe");
    let r = app.client.get(&changed).send().await.unwrap();
    assert_eq!(r.status(), 403, "the name is signed: {changed}");
}

fn refusal(rules: Value, extra: &[(&str, Value)]) -> String {
    let mut overrides = vec![("rules", rules)];
    overrides.extend(extra.iter().cloned());
    match settings(&default_config(), &overrides) {
        Ok(_) => panic!("should be refused: {overrides:?}"),
        Err(e) => format!("{e:#}"),
    }
}

fn folder(pattern: &str) -> Value {
    json!({"pattern": pattern, "access": "authenticated", "distribution": "demo",
           "cache_step_seconds": 60, "sign_per": "folder"})
}

/// Rules, further overrides, and the refusal expected.
type Case = (Value, Vec<(&'static str, Value)>, &'static str);

#[test]
fn configurations_whose_folder_policy_could_widen_access_are_refused_naming_the_rule() {
    let earlier = json!({"pattern": "users/{sub}/private/**", "access": "authenticated",
                         "distribution": "demo", "require": [{"claim": "roles", "any_of": ["editor"]}]});
    let cases: Vec<Case> = vec![
        (json!([earlier, folder("users/{sub}/**")]), vec![],
         "rules[1].sign_per: rules[0] (\"users/{sub}/private/**\") can match keys inside this rule's folder \"users/{sub}/\""),
        (json!([{"pattern": "users/admin/**", "access": "authenticated", "distribution": "demo"}, folder("users/{sub}/**")]), vec![],
         "rules[1].sign_per: rules[0] (\"users/admin/**\") can match keys inside"),
        (json!([{"pattern": "**/secret.txt", "access": "authenticated", "distribution": "demo"}, folder("users/{sub}/**")]), vec![],
         "rules[1].sign_per: rules[0] (\"**/secret.txt\")"),
        (json!([folder("users/*/**")]), vec![], "rules[0].sign_per: the pattern \"users/*/**\" has a * in its folder"),
        (json!([{"pattern": "users/{sub}-*/**", "access": "authenticated", "distribution": "demo",
                 "claim_prefix": true, "cache_step_seconds": 60, "sign_per": "folder"}]), vec![],
         "rules[0].sign_per: the pattern \"users/{sub}-*/**\" has a * in its folder"),
        (json!([folder("reports/*.pdf")]), vec![], "rules[0].sign_per: the pattern \"reports/*.pdf\" must end in /**"),
        (json!([folder("a/**/b/**")]), vec![], "rules[0].sign_per: the pattern \"a/**/b/**\" has ** before its end"),
        (json!([folder("**")]), vec![], "rules[0].sign_per: the pattern ** names no folder"),
        (json!([{"pattern": "users/{sub}/**", "access": "authenticated", "distribution": "demo", "sign_per": "folder"}]), vec![],
         "rules[0].sign_per: needs cache_step_seconds"),
        (json!([{"pattern": "users/{sub}/**", "access": "authenticated", "distribution": "demo", "policy": "custom",
                 "bind_client_ip": true, "sign_per": "folder"}]), vec![],
         "rules[0].sign_per: a folder's policy serves every request for the folder within a step, and bind_client_ip"),
        (json!([{"pattern": "users/{sub}/**", "access": "authenticated", "distribution": "demo",
                 "cache_step_seconds": 60, "sign_per": "folder", "grant": "purchases"}]),
         vec![("grants", json!([{"name": "purchases", "database_url": "sqlite::memory:", "query": "SELECT 1 WHERE ?1 = ?2", "params": ["subject", "key"]}]))],
         "rules[0].sign_per: the rule asks the SQL grant \"purchases\" about each object"),
        (json!([{"pattern": "users/{sub}/**", "access": "authenticated", "distribution": "gcdn",
                 "cache_step_seconds": 60, "sign_per": "folder"}]),
         vec![("distributions", json!([
             {"name": "demo", "url": "https://d111111abcdef8.cloudfront.net", "key_set": "demo"},
             {"name": "gcdn", "provider": "google-cloud-cdn", "url": "https://cdn.example.com", "active_key": "key-2026",
              "keys": [{"name": "key-2026", "key_file": "dev/providers/google-cloud-cdn.key"}]}]))],
         "rules[0].sign_per: one signature per folder is built for cloudfront distributions; \"gcdn\" is google-cloud-cdn"),
    ];
    for (rules, extra, expected) in cases {
        let text = refusal(rules.clone(), &extra);
        assert!(
            text.contains(expected),
            "{rules}: expected {expected:?} in {text}"
        );
    }
    // Accepted: an earlier rule beside the folder, a later one inside it (never reached for a
    // key the folder rule matches), a literal folder for a public rule.
    for rules in [
        json!([{"pattern": "public/**", "access": "public", "distribution": "demo"}, folder("users/{sub}/**"),
               {"pattern": "users/**", "access": "authenticated", "distribution": "demo"}]),
        json!([{"pattern": "*/readme.txt", "access": "public", "distribution": "demo"}, folder("users/{sub}/**")]),
        json!([{"pattern": "open/**", "access": "public", "distribution": "demo", "cache_step_seconds": 60, "sign_per": "folder"}]),
    ] {
        settings(&default_config(), &[("rules", rules.clone())])
            .unwrap_or_else(|e| panic!("{rules}: {e:#}"));
    }
}

#[test]
fn explain_shows_the_folders_policy_for_an_object_inside_it() {
    let out = std::process::Command::new(crate::SIGNGATE)
        .args(["explain", "--config"])
        .arg(default_config())
        .args(["--sub", "alice", "--key", "users/alice/x.jpg", "--json"])
        .env(
            "SIGNGATE_RULES",
            r#"[{pattern="users/{sub}/**", access="authenticated", distribution="demo", cache_step_seconds=60, sign_per="folder"}]"#,
        )
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let policy: Value =
        serde_json::from_str(r["signing"]["policy"]["json"].as_str().unwrap()).unwrap();
    assert_eq!(
        policy["Statement"][0]["Resource"],
        "https://d111111abcdef8.cloudfront.net/users/alice/*"
    );
    assert_eq!(r["signing"]["policy"]["kind"], "custom");
    assert!(
        r["signing"]["notes"][0]
            .as_str()
            .unwrap()
            .contains("sign_per = \"folder\""),
        "{r:#}"
    );
}
