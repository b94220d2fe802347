//! The `s3` provider end to end, checked by a real S3-compatible server: s3s-fs verifies the
//! SigV4 presigned URLs the service hands out (302, JSON, `/sign`), downloads the object, and
//! refuses a tampered signature, an expired link, another object, another method and a changed
//! download name with 403. The configuration refuses what S3 cannot carry, naming the rule.

use std::process::Command;

use serde_json::{json, Value};
use signgate::clock::Clock;
use signgate_testkit::app::{
    default_config, repo, settings, spawn_app, spawn_with, wait_for_room_in_step, TestApp,
};
use signgate_testkit::http::{assert_nothing_signed, client, location};
use signgate_testkit::providers::{check, distribution};
use signgate_testkit::s3s::{S3sFs, ACCESS_KEY_ID};
use signgate_testkit::tokens::{now, token};

const BUCKET: &str = "media";
const MENU: &[u8] = b"%PDF-1.7 the menu, from the bucket";
const OTHER: &[u8] = b"another user's object";

fn demo_secret() -> String {
    std::fs::read_to_string(repo().join("config/dev/providers/s3.secret"))
        .unwrap()
        .trim_end()
        .to_owned()
}

/// s3s-fs with a bucket holding alice's menu and bob's file.
async fn store() -> S3sFs {
    let s3 = S3sFs::start(BUCKET, &demo_secret()).await;
    s3.put_file(BUCKET, "users/alice/café menu.pdf", MENU);
    s3.put_file(BUCKET, "users/bob/other.pdf", OTHER);
    s3
}

fn overrides(s3: &S3sFs, rule_extra: Value) -> Vec<(&'static str, Value)> {
    let mut rule =
        json!({"pattern": "users/{sub}/**", "access": "authenticated", "distribution": "bucket"});
    for (k, v) in rule_extra.as_object().unwrap() {
        rule[k] = v.clone();
    }
    vec![
        (
            "distributions",
            json!([distribution("s3", "bucket", &s3.bucket_url(BUCKET))]),
        ),
        ("rules", json!([rule])),
    ]
}

async fn app(s3: &S3sFs) -> TestApp {
    spawn_app(&overrides(s3, json!({}))).await
}

async fn status(method: reqwest::Method, url: &str) -> u16 {
    client()
        .request(method, url)
        .body(Vec::new())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_presigned_redirect_downloads_the_object_and_nothing_else() {
    let s3 = store().await;
    let app = app(&s3).await;
    let alice = token("alice", json!({}));
    let r = app
        .get("/files/users/alice/caf%C3%A9%20menu.pdf", Some(&alice))
        .await;
    assert_eq!(r.status(), 302);
    let url = location(&r);
    let base = format!(
        "{}/users/alice/caf%C3%A9%20menu.pdf?",
        s3.bucket_url(BUCKET)
    );
    assert!(url.starts_with(&base), "{url}");
    assert!(url.contains(&format!("X-Amz-Credential={ACCESS_KEY_ID}%2F")));
    assert!(url.contains("&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature="));
    let verified = check("s3", &url, &[], None).unwrap();
    assert!(verified.expires > now() && verified.expires <= now() + 301);

    let got = client().get(&url).send().await.unwrap();
    assert_eq!(got.status(), 200, "{url}");
    assert_eq!(got.bytes().await.unwrap(), MENU);

    // A changed signature, another object under the same signature, no signature at all.
    let sig_at = url.rfind("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let flipped = if &url[sig_at..sig_at + 1] == "0" {
        "1"
    } else {
        "0"
    };
    let tampered = format!("{}{flipped}{}", &url[..sig_at], &url[sig_at + 1..]);
    assert_eq!(status(reqwest::Method::GET, &tampered).await, 403);
    let bobs = url.replace("/users/alice/caf%C3%A9%20menu.pdf", "/users/bob/other.pdf");
    assert_eq!(status(reqwest::Method::GET, &bobs).await, 403);
    let unsigned = format!("{}/users/bob/other.pdf", s3.bucket_url(BUCKET));
    assert_eq!(status(reqwest::Method::GET, &unsigned).await, 403);
    // The method is signed: the GET link neither writes, deletes nor answers HEAD.
    for method in [
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::HEAD,
    ] {
        assert_eq!(status(method.clone(), &url).await, 403, "{method}");
    }
    let on_disk = s3.root.join(BUCKET).join("users/alice/café menu.pdf");
    assert_eq!(std::fs::read(on_disk).unwrap(), MENU, "untouched");
    // And the service signs nothing of bob's for alice.
    assert_nothing_signed(app.get("/files/users/bob/other.pdf", Some(&alice)).await).await;
}

#[tokio::test]
async fn a_link_signed_an_hour_ago_has_expired_at_the_store() {
    let s3 = store().await;
    let mut config = settings(&default_config(), &overrides(&s3, json!({}))).unwrap();
    // The service's clock an hour behind: X-Amz-Date then, valid for 300 s from then.
    config.clock = Clock::Fixed(now() - 3600);
    let app = spawn_with(config).await;
    let url = location(
        &app.get(
            "/files/users/alice/caf%C3%A9%20menu.pdf",
            Some(&token("alice", json!({}))),
        )
        .await,
    );
    assert_eq!(status(reqwest::Method::GET, &url).await, 403, "{url}");
    let refusal = check("s3", &url, &[], None).unwrap_err();
    assert_eq!(refusal.code(), "expired");
}

#[tokio::test]
async fn the_download_name_is_signed_and_the_store_answers_with_it() {
    let s3 = store().await;
    let app = app(&s3).await;
    let r = app
        .get(
            "/files/users/alice/caf%C3%A9%20menu.pdf?download=Men%C3%BC%202026.pdf",
            Some(&token("alice", json!({}))),
        )
        .await;
    let url = location(&r);
    assert!(
        url.contains("?response-content-disposition=attachment%3B%20filename%3D%22Men_%202026.pdf%22%3B%20filename%2A%3DUTF-8%27%27Men%25C3%25BC%25202026.pdf&X-Amz-Algorithm="),
        "{url}"
    );
    let got = client().get(&url).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(
        got.headers()["content-disposition"],
        "attachment; filename=\"Men_ 2026.pdf\"; filename*=UTF-8''Men%C3%BC%202026.pdf"
    );
    assert_eq!(got.bytes().await.unwrap(), MENU);
    let renamed = url.replace("%22Men_%202026.pdf%22", "%22evil.exe%22");
    assert_ne!(renamed, url);
    assert_eq!(status(reqwest::Method::GET, &renamed).await, 403);
}

#[tokio::test]
async fn json_answers_and_sign_batches_download_from_the_store() {
    let s3 = store().await;
    s3.put_file(BUCKET, "users/alice/hls/1.ts", b"segment one");
    let app = app(&s3).await;
    let alice = token("alice", json!({}));
    let r = app
        .client
        .get(app.url("/files/users/alice/caf%C3%A9%20menu.pdf"))
        .bearer_auth(&alice)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let url = body["url"].as_str().unwrap();
    assert_eq!(
        body["expires_at"].as_u64().unwrap(),
        check("s3", url, &[], None).unwrap().expires
    );
    assert_eq!(
        client()
            .get(url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
        MENU
    );

    let r = app
        .client
        .post(app.url("/sign"))
        .bearer_auth(&alice)
        .json(&json!({"keys": ["users/alice/hls/1.ts", "users/alice/caf\u{e9} menu.pdf", "users/bob/other.pdf"]}))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    let results = body["results"].as_array().unwrap();
    for (item, bytes) in results[..2].iter().zip([&b"segment one"[..], MENU]) {
        let url = item["url"].as_str().unwrap_or_else(|| panic!("{item}"));
        let got = client().get(url).send().await.unwrap();
        assert_eq!(got.status(), 200, "{url}");
        assert_eq!(got.bytes().await.unwrap(), bytes);
    }
    assert_eq!(results[2]["status"], 403);
    assert!(results[2].get("url").is_none());
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new(crate::SIGNGATE).args(args).output().unwrap()
}

#[tokio::test]
async fn the_command_line_signs_head_links_and_verifies_the_services_links() {
    let s3 = store().await;
    let secret = repo().join("config/dev/providers/s3.secret");
    let key = format!("{ACCESS_KEY_ID}={}", secret.display());
    let object = format!("{}/users/alice/caf%C3%A9%20menu.pdf", s3.bucket_url(BUCKET));
    let expires = (now() + 120).to_string();
    let sign = |method: &str| {
        let o = run(&[
            "sign",
            "--provider",
            "s3",
            "--provider-key",
            &key,
            "--option",
            "region=us-east-1",
            "--option",
            &format!("method={method}"),
            "--url",
            &object,
            "--expires",
            &expires,
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap().trim().to_owned()
    };
    let head = sign("HEAD");
    let r = client().head(&head).send().await.unwrap();
    assert_eq!(r.status(), 200, "{head}");
    assert_eq!(
        r.headers()["content-length"],
        MENU.len().to_string().as_str()
    );
    assert_eq!(status(reqwest::Method::GET, &head).await, 403);
    let get = sign("GET");
    assert_eq!(status(reqwest::Method::GET, &get).await, 200);
    assert_eq!(status(reqwest::Method::HEAD, &get).await, 403);

    // `signgate verify --provider s3` agrees with the store about the service's links.
    let app = app(&s3).await;
    let url = location(
        &app.get(
            "/files/users/alice/caf%C3%A9%20menu.pdf",
            Some(&token("alice", json!({}))),
        )
        .await,
    );
    let verify = |url: &str, method: &str| {
        run(&[
            "verify",
            "--provider",
            "s3",
            "--provider-key",
            &key,
            "--option",
            "region=us-east-1",
            "--option",
            &format!("method={method}"),
            "--url",
            url,
        ])
    };
    let o = verify(&url, "GET");
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout)
        .starts_with(&format!("valid: key {ACCESS_KEY_ID}, expires ")));
    let o = verify(&url, "HEAD");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "s3: the signature does not match (SignatureDoesNotMatch)"
    );
    let o = run(&[
        "sign",
        "--provider",
        "google-cloud-cdn",
        "--provider-key",
        "k=x",
        "--option",
        "method=HEAD",
        "--url",
        &object,
        "--expires",
        &expires,
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--option method: only provider s3"));
}

#[tokio::test]
async fn the_local_edge_checks_links_as_the_store_does() {
    let root = signgate_testkit::edge::media_root();
    let edge = signgate_testkit::providers::spawn_provider_edge("s3", &root).await;
    let base = format!("http://{edge}");
    let app = spawn_app(&[
        (
            "distributions",
            json!([distribution("s3", "bucket", &base)]),
        ),
        (
            "rules",
            json!([{"pattern": "public/**", "access": "authenticated", "distribution": "bucket"}]),
        ),
    ])
    .await;
    let url = location(
        &app.get(
            "/files/public/report.pdf?download=r.pdf",
            Some(&token("alice", json!({}))),
        )
        .await,
    );
    let got = client().get(&url).send().await.unwrap();
    assert_eq!(got.status(), 200, "{url}");
    assert_eq!(
        got.headers()["content-disposition"],
        "attachment; filename=\"r.pdf\""
    );
    let tampered = url.replace("report.pdf", "report.pdf.bak");
    assert_eq!(status(reqwest::Method::GET, &tampered).await, 403);
    // The method is signed, and the edge checks the request's own, as S3 does: the GET link
    // opens no HEAD, and a HEAD link (the command line's `--option method=HEAD`) no GET.
    assert_eq!(status(reqwest::Method::HEAD, &url).await, 403);
    let secret = repo().join("config/dev/providers/s3.secret");
    let o = run(&[
        "sign",
        "--provider",
        "s3",
        "--provider-key",
        &format!("{ACCESS_KEY_ID}={}", secret.display()),
        "--option",
        "region=us-east-1",
        "--option",
        "method=HEAD",
        "--url",
        &format!("{base}/public/report.pdf"),
        "--expires",
        &(now() + 120).to_string(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let head = String::from_utf8(o.stdout).unwrap().trim().to_owned();
    let got = client().head(&head).send().await.unwrap();
    assert_eq!(got.status(), 200, "{head}");
    assert!(got.headers().contains_key("content-length"));
    assert_eq!(status(reqwest::Method::GET, &head).await, 403);
}

fn config_error(dist_extra: Value, rule_extra: Value) -> String {
    let mut d = distribution("s3", "bucket", "http://127.0.0.1:9000/media");
    for (k, v) in dist_extra.as_object().unwrap() {
        d[k] = v.clone();
    }
    let mut rule =
        json!({"pattern": "users/{sub}/**", "access": "authenticated", "distribution": "bucket"});
    for (k, v) in rule_extra.as_object().unwrap() {
        rule[k] = v.clone();
    }
    let overrides = [("distributions", json!([d])), ("rules", json!([rule]))];
    format!(
        "{:#}",
        settings(&default_config(), &overrides).expect_err("the configuration is refused")
    )
}

#[tokio::test]
async fn what_s3_cannot_carry_stops_the_start_naming_the_rule_or_the_key() {
    let dir = signgate_testkit::fs::tempdir();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let cases = [
        (
            json!({}),
            json!({"cookies": true}),
            "rules[0].cookies: s3 (distribution \"bucket\") signs one object per URL and has no folder credential",
        ),
        (
            json!({}),
            json!({"cookies": true, "folder_token": "query"}),
            "rules[0].cookies: s3 (distribution \"bucket\") signs one object per URL",
        ),
        (
            json!({}),
            json!({"bind_client_ip": true}),
            "rules[0].bind_client_ip: s3 (distribution \"bucket\") cannot bind",
        ),
        (
            json!({}),
            json!({"lifetime_seconds": 604_800, "cache_step_seconds": 600}),
            "rules[0].lifetime_seconds: s3 (distribution \"bucket\") cannot sign a link valid for 605399 s (lifetime_seconds + cache_step_seconds - 1): s3: X-Amz-Expires would be 605399 s; S3 accepts at most 604800 s (7 days)",
        ),
        (
            json!({}),
            json!({"lifetime_seconds": 604_801}),
            "rules[0].lifetime_seconds: must be between 1 and 604800 (7 days)",
        ),
        (
            json!({"region": null}),
            json!({}),
            "distributions[0].region: give the bucket's region",
        ),
        (
            json!({"region": "eu west"}),
            json!({}),
            "distributions[0].region: s3: invalid region \"eu west\"",
        ),
        (
            json!({"keys": [{"name": ACCESS_KEY_ID, "key_file": write("id", "AKIAIOSFODNN7EXAMPLE")}]}),
            json!({}),
            "distributions[0].keys[0]: s3: the secret access key of AKIASIGNGATEDEMO0001 is refused: it is an access key ID",
        ),
        (
            json!({"keys": [{"name": ACCESS_KEY_ID, "key_file": write("ini", "aws_secret_access_key = abcdefghij")}]}),
            json!({}),
            "the secret access key of AKIASIGNGATEDEMO0001 is refused: it is a line of a credentials file",
        ),
        (
            json!({"keys": [{"name": "a/b", "key_file": write("ok", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")}]}),
            json!({}),
            "distributions[0].keys[0]: s3: invalid access key ID \"a/b\"",
        ),
        (
            json!({"keys": [
                {"name": ACCESS_KEY_ID, "key_file": "dev/providers/s3.secret"},
                {"name": "AKIASIGNGATEDEMO0002", "key_file": "dev/providers/s3.secret"},
            ], "active_key": ACCESS_KEY_ID}),
            json!({}),
            "distributions[0].keys: s3 takes one key: keys = [{ name = \"<access key ID>\", key_file or key_env = \"<the secret access key>\" }]",
        ),
        (
            json!({"session_token_env": "SIGNGATE_TEST_UNSET_S3_TOKEN"}),
            json!({}),
            "distributions[0].session_token_env: environment variable SIGNGATE_TEST_UNSET_S3_TOKEN is not set",
        ),
        (
            json!({"session_token_file": write("token", "not a token")}),
            json!({}),
            "distributions[0].session_token: s3: the session token must be 16 to 4096 visible ASCII characters",
        ),
        (
            json!({"url": "http://127.0.0.1:9000/media%7e"}),
            json!({}),
            "distributions[0].url: s3: the URL is not in S3's canonical encoding",
        ),
        (
            json!({"method": "HEAD"}),
            json!({}),
            "distributions[0].method: unknown field",
        ),
        (
            json!({"region": "eu-west-1", "provider": "bunny", "keys": [{"name": "zone-key", "key_file": "dev/providers/bunny.key"}]}),
            json!({}),
            "distributions[0].region: not an option of provider \"bunny\" (it is one of s3)",
        ),
    ];
    for (dist, rule, expected) in cases {
        let message = config_error(dist.clone(), rule.clone());
        assert!(message.contains(expected), "{dist} {rule}: {message}");
    }
}

#[tokio::test]
async fn temporary_credentials_sign_with_their_session_token() {
    let dir = signgate_testkit::fs::tempdir();
    let token_file = dir.join("token");
    std::fs::write(&token_file, "IQoJb3JpZ2luX2VjEHcaCXVz+example/token==\n").unwrap();
    let mut d = distribution("s3", "bucket", "https://media.s3.eu-west-1.amazonaws.com");
    d["region"] = json!("eu-west-1");
    d["session_token_file"] = json!(token_file.display().to_string());
    let app = spawn_app(&[
        ("distributions", json!([d])),
        (
            "rules",
            json!([{"pattern": "users/{sub}/**", "access": "authenticated", "distribution": "bucket"}]),
        ),
    ])
    .await;
    let url = location(
        &app.get("/files/users/alice/a.pdf", Some(&token("alice", json!({}))))
            .await,
    );
    assert!(
        url.contains("&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEHcaCXVz%2Bexample%2Ftoken%3D%3D&X-Amz-Signature="),
        "{url}"
    );
}

#[tokio::test]
async fn the_demo_secret_is_refused_outside_dev() {
    let overrides = [
        ("dev", json!(false)),
        (
            "distributions",
            json!([distribution("s3", "bucket", "http://127.0.0.1:9000/media")]),
        ),
        (
            "rules",
            json!([{"pattern": "users/{sub}/**", "access": "authenticated", "distribution": "bucket"}]),
        ),
    ];
    let message = format!(
        "{:#}",
        settings(&default_config(), &overrides).expect_err("refused")
    );
    assert!(message.contains("is a published demo key"), "{message}");
}

#[tokio::test]
async fn the_readme_configuration_of_s3_and_its_clones_loads_as_written() {
    let toml = signgate_testkit::nginx::readme_snippet("s3-config", "toml");
    let dir = signgate_testkit::fs::tempdir();
    let secret = demo_secret();
    let mut toml = toml.replace("/etc/signgate/", &format!("{}/", dir.display()));
    // Every secret the block names, by file or variable, holds a secret of the right shape.
    for line in toml.clone().lines() {
        for attr in ["key", "session_token"] {
            let content = match attr {
                "key" => secret.as_str(),
                _ => "IQoJb3JpZ2luX2VjEHcaCXVz+example/token==",
            };
            let file = format!("{attr}_file = \"");
            if let Some(at) = line.find(&file) {
                let value = &line[at + file.len()..];
                std::fs::write(&value[..value.find('"').unwrap()], content).unwrap();
            }
            let env = format!(" {attr}_env = \"");
            if let Some(at) = line.find(&env) {
                let value = &line[at + env.len()..];
                let var = &value[..value.find('"').unwrap()];
                let path = dir.join(var);
                std::fs::write(&path, content).unwrap();
                let by_file = format!(" {attr}_file = \"{}\"", path.display());
                toml = toml.replace(&format!("{env}{var}\""), &by_file);
            }
        }
    }
    let (config, _) = signgate_testkit::fs::config_file(&format!("\n{toml}"));
    let loaded = settings(&config, &[]).unwrap_or_else(|e| panic!("{e:#}\n{toml}"));
    let stores: Vec<(&str, &str)> = loaded
        .distributions
        .iter()
        .filter(|d| d.signer.provider() == "s3")
        .map(|d| (d.name.as_str(), d.base_url.as_str()))
        .collect();
    let names: Vec<&str> = stores.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["aws", "r2", "minio", "b2", "wasabi"], "{stores:?}");
}

#[tokio::test]
async fn two_replicas_answer_one_object_with_the_same_presigned_url_within_a_step() {
    let s3 = store().await;
    let (lifetime, step) = (300, 60);
    let stable = json!({"lifetime_seconds": lifetime, "cache_step_seconds": step});
    let a = spawn_app(&overrides(&s3, stable.clone())).await;
    let b = spawn_app(&overrides(&s3, stable)).await;
    let alice = token("alice", json!({}));
    let path = "/files/users/alice/caf%C3%A9%20menu.pdf";
    // Two seconds apart, in one step: without a step-bound X-Amz-Date they would differ.
    wait_for_room_in_step(lifetime, step, 3).await;
    let first = location(&a.get(path, Some(&alice)).await);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let second = location(&b.get(path, Some(&alice)).await);
    assert_eq!(first, second, "one URL from both replicas");
    // Signed at the step's first second, for the lifetime and the rest of the step: the span
    // the configuration checked S3 can carry.
    let signed_for: u64 = query_value(&first, "X-Amz-Expires").parse().unwrap();
    assert_eq!(signed_for, lifetime + step - 1, "{first}");
    let verified = check("s3", &first, &[], None).unwrap();
    assert!(verified.expires >= now() + lifetime - 3, "{first}");
    let got = client().get(&first).send().await.unwrap();
    assert_eq!(got.status(), 200, "{first}");
    assert_eq!(got.bytes().await.unwrap(), MENU);
}

/// The value of `name` in `url`'s query, as written.
fn query_value<'a>(url: &'a str, name: &str) -> &'a str {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}
