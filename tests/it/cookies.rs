//! Signed cookies for a folder (GET /cookies/{folder}): a redirect into the folder or JSON for
//! apps, cookies the edge accepts for that folder only, and never for a folder an earlier,
//! stricter rule covers.

use serde_json::{json, Value};
use signgate_testkit::app::spawn_app;
use signgate_testkit::edge::{edge_distribution, media_files, spawn_media_app};
use signgate_testkit::http::{assert_nothing_signed, location};
use signgate_testkit::tokens::token;

#[tokio::test]
async fn folder_cookies_open_a_rendition_and_nothing_else() {
    let (app, edge) = spawn_media_app().await;
    let t = token("alice", json!({}));
    let r = app
        .get("/cookies/hls/alice?next=master.m3u8", Some(&t))
        .await;
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r), format!("http://{edge}/hls/alice/master.m3u8"));
    let set: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(set.len(), 3, "{set:?}");
    for c in &set {
        assert!(
            c.contains("; Path=/hls/alice/; Max-Age=600") && c.contains("; HttpOnly; SameSite=Lax"),
            "{c}"
        );
        assert!(!c.contains("Domain="), "host-only: {c}");
    }
    let names: Vec<&str> = set.iter().map(|c| c.split('=').next().unwrap()).collect();
    assert_eq!(
        names,
        [
            "CloudFront-Policy",
            "CloudFront-Signature",
            "CloudFront-Key-Pair-Id"
        ]
    );
    let jar = set
        .iter()
        .map(|c| c.split(';').next().unwrap())
        .collect::<Vec<_>>()
        .join("; ");

    for file in ["master.m3u8", "seg0.ts", "seg1.ts"] {
        let r = app
            .client
            .get(format!("http://{edge}/hls/alice/{file}"))
            .header("cookie", &jar)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{file}");
        let expected = media_files()
            .into_iter()
            .find(|(p, _)| p == &format!("hls/alice/{file}"))
            .unwrap()
            .1;
        assert_eq!(r.bytes().await.unwrap().to_vec(), expected);
    }
    let other = app
        .client
        .get(format!("http://{edge}/hls/bob/master.m3u8"))
        .header("cookie", &jar)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 403);
    assert!(other
        .text()
        .await
        .unwrap()
        .contains("Resource does not match"));

    // Another user's folder is never granted; parent folders neither.
    assert_eq!(
        assert_nothing_signed(app.get("/cookies/hls/bob", Some(&t)).await)
            .await
            .0,
        403
    );
    assert_eq!(
        assert_nothing_signed(app.get("/cookies/hls", Some(&t)).await)
            .await
            .0,
        403
    );
    assert_eq!(
        assert_nothing_signed(app.get("/cookies/public", Some(&t)).await)
            .await
            .0,
        403,
        "not a cookie rule"
    );
    assert_eq!(
        assert_nothing_signed(app.get("/cookies/hls/alice", None).await)
            .await
            .0,
        401
    );
    assert_eq!(
        assert_nothing_signed(app.get("/cookies/hls/alice?next=../bob/x", Some(&t)).await)
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn folder_cookies_as_json_for_apps() {
    let (app, _edge) = spawn_media_app().await;
    let r = app
        .get("/cookies/hls/alice", Some(&token("alice", json!({}))))
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(body["resource"].as_str().unwrap().ends_with("/hls/alice/*"));
    assert_eq!(body["cookies"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn folder_cookies_never_bypass_a_stricter_earlier_rule() {
    let rules = json!([
        {"pattern": "videos/*/drm/**", "access": "authenticated", "distribution": "demo", "require": [{"claim": "roles", "any_of": ["premium"]}]},
        {"pattern": "videos/*/**", "access": "authenticated", "distribution": "demo", "cookies": true},
        {"pattern": "clips/*/**", "access": "authenticated", "distribution": "demo", "cookies": true}
    ]);
    let app = spawn_app(&[
        edge_distribution("127.0.0.1:9".parse().unwrap()),
        ("rules", rules),
    ])
    .await;
    let t = token("alice", json!({}));
    assert_eq!(
        assert_nothing_signed(app.get("/files/videos/42/drm/seg.ts", Some(&t)).await)
            .await
            .0,
        403
    );
    assert_eq!(
        assert_nothing_signed(app.get("/cookies/videos/42", Some(&t)).await)
            .await
            .0,
        403,
        "cookies for videos/42 would cover drm/"
    );
    assert_eq!(
        app.get("/cookies/clips/7", Some(&t)).await.status(),
        200,
        "no earlier rule touches clips/7"
    );
}

#[tokio::test]
async fn every_folder_cookie_decision_writes_its_audit_line() {
    let logs = signgate_testkit::logs::LogCapture::start();
    let dir = signgate_testkit::fs::tempdir();
    let db = dir.join("grants.sqlite3");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", db.display()))
        .await
        .unwrap();
    sqlx::raw_sql("CREATE TABLE viewers (folder TEXT, subject TEXT); INSERT INTO viewers VALUES ('hls/alice', 'alice');")
        .execute(&pool)
        .await
        .unwrap();
    let app = spawn_app(&[
        edge_distribution("127.0.0.1:9".parse().unwrap()),
        (
            "rules",
            json!([{"pattern": "hls/*/**", "access": "authenticated", "distribution": "demo", "cookies": true, "grant": "viewers"}]),
        ),
        (
            "grants",
            json!([{"name": "viewers", "database_url": format!("sqlite://{}", db.display()),
                    "query": "SELECT 1 FROM viewers WHERE folder = ?1 AND subject = ?2", "params": ["key", "subject"]}]),
        ),
    ])
    .await;
    let alice = token("alice", json!({}));
    let bob = token("bob", json!({}));
    let allowed = app.get("/cookies/hls/alice", Some(&alice)).await;
    assert_eq!(allowed.status(), 200);
    let by_grant = app.get("/cookies/hls/alice", Some(&bob)).await;
    assert_eq!(assert_nothing_signed(by_grant).await.0, 403);
    let anonymous = app.get("/cookies/hls/alice", None).await;
    assert_eq!(assert_nothing_signed(anonymous).await.0, 401);
    let by_rule = app.get("/cookies/audio/alice", Some(&alice)).await;
    assert_eq!(assert_nothing_signed(by_rule).await.0, 403);

    let lines = logs.audit_lines();
    let find = |subject: &str, folder: &str, decision: &str| {
        lines
            .iter()
            .find(|l| {
                l["subject"] == subject
                    && l["folder"] == folder
                    && l["decision"] == decision
                    && l["kind"] == "cookies"
            })
            .unwrap_or_else(|| panic!("no {decision} line for {subject} {folder} in {lines:#?}"))
    };
    let allow = find("alice", "hls/alice", "allow");
    assert_eq!(allow["key_id"], "KDEMO2RSA0001");
    assert_eq!(find("bob", "hls/alice", "deny")["grant"], "viewers");
    find("-", "hls/alice", "unauthenticated");
    find("alice", "audio/alice", "deny");
    assert_eq!(lines.len(), 4, "one line per decision: {lines:#?}");
}
