//! Rules: each caller reads only what a rule grants (their own folder, a role), denied by
//! default, and a denial answered as 404 when configured.

use serde_json::{json, Value};
use signgate_testkit::app::spawn_app;
use signgate_testkit::http::assert_nothing_signed;
use signgate_testkit::tokens::token;

#[tokio::test]
async fn each_user_reads_only_their_folder() {
    let app = spawn_app(&[]).await;
    let alice = token("alice", json!({}));
    assert_eq!(
        app.get("/files/users/alice/a.pdf", Some(&alice))
            .await
            .status(),
        302
    );
    let (status, body) =
        assert_nothing_signed(app.get("/files/users/bob/a.pdf", Some(&alice)).await).await;
    assert_eq!(status, 403);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        "forbidden"
    );
    let (status, _) = assert_nothing_signed(app.get("/files/secret/x", Some(&alice)).await).await;
    assert_eq!(status, 403, "no rule matches: denied by default");
}

#[tokio::test]
async fn not_found_hides_existence_when_configured() {
    let app = spawn_app(&[("server.deny_as_not_found", json!(true))]).await;
    let (status, _) = assert_nothing_signed(
        app.get("/files/users/bob/a.pdf", Some(&token("alice", json!({}))))
            .await,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn role_requirements() {
    let rules = json!([{"pattern": "staff/**", "access": "authenticated", "distribution": "demo", "require": [{"claim": "roles", "any_of": ["staff", "admin"]}]}]);
    let app = spawn_app(&[("rules", rules)]).await;
    assert_eq!(
        app.get(
            "/files/staff/a",
            Some(&token("alice", json!({"roles": ["staff"]})))
        )
        .await
        .status(),
        302
    );
    assert_eq!(
        app.get(
            "/files/staff/a",
            Some(&token("bob", json!({"roles": ["guest"]})))
        )
        .await
        .status(),
        403
    );
    assert_eq!(
        app.get("/files/staff/a", Some(&token("eve", json!({}))))
            .await
            .status(),
        403
    );
}

#[tokio::test]
async fn a_claim_in_its_own_segment_never_matches_another_subjects_files() {
    let rules =
        json!([{"pattern": "users/{sub}/**", "access": "authenticated", "distribution": "demo"}]);
    let app = signgate_testkit::app::spawn_app(&[("rules", rules)]).await;
    let alice = signgate_testkit::tokens::token("alice", json!({}));
    assert_eq!(
        app.get("/files/users/alice/a.txt", Some(&alice))
            .await
            .status(),
        302
    );
    for other in [
        "users/alice-x/a.txt",
        "users/alicex/a.txt",
        "users/xalice/a.txt",
        "users/Alice/a.txt",
    ] {
        let r = app.get(&format!("/files/{other}"), Some(&alice)).await;
        signgate_testkit::http::assert_nothing_signed(r).await;
    }
}

#[tokio::test]
async fn a_claim_beside_a_wildcard_is_refused_unless_the_rule_says_claim_prefix() {
    let rule = |extra: serde_json::Value| {
        let mut r = json!({"pattern": "users/{sub}-*/**", "access": "authenticated", "distribution": "demo"});
        for (k, v) in extra.as_object().unwrap() {
            r[k] = v.clone();
        }
        json!([r])
    };
    let config = signgate_testkit::app::default_config();
    let err = signgate_testkit::app::settings(&config, &[("rules", rule(json!({})))])
        .expect_err("refused");
    let message = format!("{err:#}");
    assert!(
        message.contains("rules[0].pattern: a claim and a * in one segment"),
        "{message}"
    );
    assert!(message.contains("claim_prefix = true"), "{message}");
    // Opted in, it is the prefix match the rule asked for, and it reaches alice-x's folders too:
    // that is the documented price.
    let app =
        signgate_testkit::app::spawn_app(&[("rules", rule(json!({"claim_prefix": true})))]).await;
    let alice = signgate_testkit::tokens::token("alice", json!({}));
    assert_eq!(
        app.get("/files/users/alice-photos/a.jpg", Some(&alice))
            .await
            .status(),
        302
    );
    assert_eq!(
        app.get("/files/users/alice-x-photos/a.jpg", Some(&alice))
            .await
            .status(),
        302
    );
    let r = app.get("/files/users/bob-photos/a.jpg", Some(&alice)).await;
    signgate_testkit::http::assert_nothing_signed(r).await;
}
