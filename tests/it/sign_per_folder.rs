//! `sign_per = "folder"`: one CloudFront custom policy (or another CDN's prefix credential) per
//! folder, caller and step, signed once and carried by every object URL of the folder; refused
//! at load wherever the folder's wildcard could cover something the rule would not allow the
//! caller, or the provider cannot share one credential across a folder.

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

/// The other CDNs: their prefix credential in its query form, signed once per folder and step
/// and appended to every object URL of the folder, for the providers whose own verifier showed
/// at load that one such query opens other files of a folder and nothing outside it.
#[tokio::test]
async fn other_cdns_carry_one_prefix_credential_per_folder_where_their_verifier_allows_it() {
    use signgate_testkit::providers::{check, distribution};
    let rules = json!([{"pattern": "users/{sub}/**", "access": "authenticated", "distribution": "cdn",
                        "lifetime_seconds": 300, "cache_step_seconds": 60, "sign_per": "folder"}]);
    let base = "https://cdn.example.com";
    for provider in ["google-cloud-cdn", "google-media-cdn", "akamai", "bunny"] {
        let app = spawn_app(&[
            (
                "distributions",
                json!([distribution(provider, "cdn", base)]),
            ),
            ("rules", rules.clone()),
        ])
        .await;
        let alice = token("alice", json!({}));
        let get = |path: &'static str| {
            let app = &app;
            let alice = alice.clone();
            async move {
                let r = app.get(path, Some(&alice)).await;
                assert_eq!(r.status(), 302, "{provider} {path}");
                location(&r)
            }
        };
        let notes = get("/files/users/alice/notes.txt").await;
        let picture = get("/files/users/alice/pics/a%20b.jpg").await;
        let query = |url: &str, object: &str| {
            url.strip_prefix(&format!("{base}/{object}"))
                .unwrap_or_else(|| panic!("{provider}: {url}"))
                .to_owned()
        };
        let shared = query(&notes, "users/alice/notes.txt");
        assert!(shared.starts_with('?'), "{provider}: {notes}");
        assert_eq!(
            query(&picture, "users/alice/pics/a%20b.jpg"),
            shared,
            "{provider}: one credential for the folder"
        );
        for url in [&notes, &picture] {
            let ok = check(provider, url, &[], Some("127.0.0.1".parse().unwrap()));
            assert!(ok.is_ok(), "{provider}: {url}: {ok:?}");
        }
        // The same query on bob's file, or beside the folder, opens nothing.
        for elsewhere in [
            "users/bob/notes.txt",
            "users/alice-x/notes.txt",
            "notes.txt",
        ] {
            let url = format!("{base}/{elsewhere}{shared}");
            let refused = check(provider, &url, &[], Some("127.0.0.1".parse().unwrap()));
            assert!(refused.is_err(), "{provider}: {url} verified");
        }
        // A download name is signed on its own (the shared query would not cover it), where the
        // provider can carry one at all (where it cannot, 400 as without sign_per).
        let r = app
            .get("/files/users/alice/notes.txt?download=n.txt", Some(&alice))
            .await;
        if r.status() == 400 {
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"], "download_unsupported", "{provider}: {body}");
            continue;
        }
        assert_eq!(r.status(), 302, "{provider}");
        let named = location(&r);
        assert!(!named.ends_with(&shared), "{provider}: {named}");
        assert!(check(provider, &named, &[], Some("127.0.0.1".parse().unwrap())).is_ok());
    }
}

#[test]
fn schemes_without_a_shareable_prefix_query_refuse_one_signature_per_folder() {
    use signgate_testkit::providers::distribution;
    for (provider, base) in [
        ("nginx-secure-link", "https://cdn.example.com"),
        ("s3", "https://media.s3.us-east-1.amazonaws.com"),
        ("gcs", "https://storage.googleapis.com/media"),
        (
            "azure-blob",
            "https://devstoreaccount1.blob.core.windows.net/media",
        ),
    ] {
        let rule = json!([{"pattern": "users/{sub}/**", "access": "authenticated", "distribution": "cdn",
                           "cache_step_seconds": 60, "sign_per": "folder"}]);
        let why = refusal(
            rule,
            &[(
                "distributions",
                json!([distribution(provider, "cdn", base)]),
            )],
        );
        assert!(
            why.contains("rules[0].sign_per: ") && why.contains(provider),
            "{provider}: {why}"
        );
    }
}
