//! Every CDN beside CloudFront through the whole service: a distribution names its provider, and
//! `/files` (302 and JSON), `/sign`, `/auth` and `/cookies` hand out what that CDN's own
//! verifier (built from the key files, not from signgate's configuration) accepts, and nothing
//! it would accept for another object, folder, time or address.

use serde_json::{json, Value};
use signgate_testkit::app::{default_config, settings, spawn_app, TestApp};
use signgate_testkit::http::{assert_nothing_signed, location};
use signgate_testkit::logs::LogCapture;
use signgate_testkit::providers::{check, distribution, ALL};
use signgate_testkit::tokens::{now, token};

const BASE: &str = "http://127.0.0.1:8081/library";

/// The service with one distribution `cdn` for `provider` and `rules` (each naming `cdn`).
async fn app_for(provider: &str, rules: Value) -> TestApp {
    spawn_app(&[
        (
            "distributions",
            json!([distribution(provider, "cdn", BASE)]),
        ),
        ("rules", rules),
    ])
    .await
}

fn rule(pattern: &str, extra: Value) -> Value {
    let mut r = json!({"pattern": pattern, "access": "authenticated", "distribution": "cdn"});
    for (k, v) in extra.as_object().unwrap() {
        r[k] = v.clone();
    }
    r
}

fn config_error(provider: &str, dist_extra: Value, rules: Value) -> String {
    let mut d = distribution(provider, "cdn", BASE);
    for (k, v) in dist_extra.as_object().unwrap() {
        d[k] = v.clone();
    }
    let overrides = [("distributions", json!([d])), ("rules", rules)];
    format!(
        "{:#}",
        settings(&default_config(), &overrides).expect_err("the configuration is refused")
    )
}

#[tokio::test]
async fn every_provider_signs_a_redirect_its_own_edge_accepts_for_that_object_only() {
    for provider in ALL {
        let rules = json!([rule("users/{sub}/**", json!({"lifetime_seconds": 120}))]);
        let app = app_for(provider, rules).await;
        let t = token("alice", json!({}));
        let r = app
            .get("/files/users/alice/caf%C3%A9%20menu.pdf", Some(&t))
            .await;
        assert_eq!(r.status(), 302, "{provider}");
        let url = location(&r);
        assert!(
            url.starts_with(&format!("{BASE}/users/alice/caf%C3%A9%20menu.pdf"))
                || url.starts_with("http://127.0.0.1:8081/bcdn_token="),
            "{provider}: {url}"
        );
        let verified =
            check(provider, &url, &[], None).unwrap_or_else(|e| panic!("{provider}: {url}: {e}"));
        let expires = verified.expires;
        assert!(
            expires > now() && expires <= now() + 121,
            "{provider}: {expires}"
        );
        // Another object under the same signature is refused by the edge.
        let other = url.replace("menu.pdf", "secret.pdf");
        assert!(
            check(provider, &other, &[], None).is_err(),
            "{provider}: {other}"
        );
        // And the service refuses bob's files to alice.
        assert_nothing_signed(app.get("/files/users/bob/a.pdf", Some(&t)).await).await;
    }
}

#[tokio::test]
async fn json_batch_and_forward_auth_answers_verify_for_every_provider() {
    for provider in ALL {
        let app = app_for(provider, json!([rule("public/**", json!({}))])).await;
        let t = token("alice", json!({}));
        let r = app
            .client
            .get(app.url("/files/public/a.txt"))
            .bearer_auth(&t)
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{provider}");
        let body: Value = r.json().await.unwrap();
        let url = body["url"].as_str().unwrap();
        let verified = check(provider, url, &[], None).unwrap();
        assert_eq!(body["expires_at"].as_u64().unwrap(), verified.expires);

        let r = app
            .client
            .post(app.url("/sign"))
            .bearer_auth(&t)
            .json(&json!({"keys": ["public/1.ts", "public/2.ts", "secret/3.ts"]}))
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        let results = body["results"].as_array().unwrap();
        for item in &results[..2] {
            check(provider, item["url"].as_str().unwrap(), &[], None)
                .unwrap_or_else(|e| panic!("{provider}: {item}: {e}"));
        }
        assert_eq!(results[2]["status"], 403, "{provider}");
        assert!(results[2].get("url").is_none());

        let r = app
            .client
            .get(app.url("/auth"))
            .bearer_auth(&t)
            .header("x-original-uri", "/files/public/b.txt")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{provider}");
        let url = r.headers()["x-signed-url"].to_str().unwrap().to_owned();
        check(provider, &url, &[], None).unwrap_or_else(|e| panic!("{provider}: {url}: {e}"));
    }
}

#[tokio::test]
async fn the_audit_line_names_the_provider_and_the_key() {
    let logs = LogCapture::start();
    let app = app_for("google-cloud-cdn", json!([rule("public/**", json!({}))])).await;
    let r = app
        .get("/files/public/a.txt", Some(&token("alice", json!({}))))
        .await;
    assert_eq!(r.status(), 302);
    let url = location(&r);
    assert!(url.contains("&KeyName=key-2026&Signature="), "{url}");
    let line = logs
        .audit_lines()
        .into_iter()
        .find(|l| l["decision"] == "allow")
        .expect("an allow line");
    assert_eq!(line["provider"], "google-cloud-cdn");
    assert_eq!(line["key_id"], "key-2026");
    assert!(
        !logs.text().contains("Signature="),
        "no signature in the logs"
    );
}

#[tokio::test]
async fn stable_urls_are_byte_identical_within_a_step_for_every_provider() {
    for provider in ALL {
        let rules = json!([rule(
            "public/**",
            json!({"cache_step_seconds": 600, "lifetime_seconds": 60})
        )]);
        let app = app_for(provider, rules).await;
        let t = token("alice", json!({}));
        let first = location(&app.get("/files/public/v.mp4", Some(&t)).await);
        let second = location(&app.get("/files/public/v.mp4", Some(&t)).await);
        assert_eq!(first, second, "{provider}");
        let expires = check(provider, &first, &[], None).unwrap().expires;
        assert_eq!(expires % 600, 0, "{provider}: the expiry is on the step");
    }
}

#[tokio::test]
async fn download_names_ride_in_the_signature_where_the_provider_covers_the_query() {
    for provider in ["google-cloud-cdn", "bunny"] {
        let app = app_for(provider, json!([rule("public/**", json!({}))])).await;
        let r = app
            .get(
                "/files/public/r.pdf?download=Report%202026.pdf",
                Some(&token("alice", json!({}))),
            )
            .await;
        let url = location(&r);
        assert!(
            url.contains("response-content-disposition="),
            "{provider}: {url}"
        );
        check(provider, &url, &[], None).unwrap();
        let renamed = url.replace("Report%202026", "Invoice");
        assert!(check(provider, &renamed, &[], None).is_err(), "{provider}");
    }
    // nginx's secure_link signs only what its expression names ($uri here), and Akamai URL
    // tokens ignore the query by default: a download name would travel unsigned, so it is refused.
    for provider in ["nginx-secure-link", "akamai", "google-media-cdn"] {
        let app = app_for(provider, json!([rule("public/**", json!({}))])).await;
        let r = app
            .get(
                "/files/public/r.pdf?download=r.pdf",
                Some(&token("alice", json!({}))),
            )
            .await;
        let (status, body) = assert_nothing_signed(r).await;
        assert_eq!(status, 400, "{provider}");
        assert!(body.contains("download_unsupported"), "{provider}: {body}");
    }
}

#[tokio::test]
async fn urls_bound_to_the_client_address_verify_only_from_it() {
    for provider in ["google-media-cdn", "akamai", "bunny"] {
        let app = app_for(
            provider,
            json!([rule("ip/**", json!({"bind_client_ip": true}))]),
        )
        .await;
        let url = location(
            &app.get("/files/ip/a.bin", Some(&token("alice", json!({}))))
                .await,
        );
        let me = Some("127.0.0.1".parse().unwrap());
        let other = Some("192.0.2.7".parse().unwrap());
        check(provider, &url, &[], me).unwrap_or_else(|e| panic!("{provider}: {url}: {e}"));
        assert!(check(provider, &url, &[], other).is_err(), "{provider}");
    }
}

#[tokio::test]
async fn an_ipv6_client_is_refused_where_the_provider_binds_ipv4_only() {
    let app = spawn_app(&[
        ("distributions", json!([distribution("bunny", "cdn", BASE)])),
        (
            "rules",
            json!([rule("ip/**", json!({"bind_client_ip": true}))]),
        ),
        ("server.trusted_proxies", json!(["127.0.0.1/32"])),
    ])
    .await;
    let r = app
        .client
        .get(app.url("/files/ip/a.bin"))
        .bearer_auth(token("alice", json!({})))
        .header("x-forwarded-for", "2001:db8::7")
        .send()
        .await
        .unwrap();
    let (status, body) = assert_nothing_signed(r).await;
    assert_eq!(status, 403);
    assert!(body.contains("ip_binding_unavailable"), "{body}");
}

#[tokio::test]
async fn folder_credentials_cover_the_folder_and_nothing_beside_it() {
    // (provider, folder_token, how the credential comes back)
    let cases = [
        ("google-cloud-cdn", "cookie"),
        ("google-cloud-cdn", "query"),
        ("google-media-cdn", "cookie"),
        ("google-media-cdn", "path"),
        ("akamai", "cookie"),
        ("akamai", "query"),
        ("bunny", "path"),
        ("bunny", "query"),
    ];
    for (provider, form) in cases {
        let rules = json!([rule(
            "hls/{sub}/**",
            json!({"cookies": true, "folder_token": form})
        )]);
        let app = app_for(provider, rules).await;
        let t = token("alice", json!({}));
        let r = app
            .get("/cookies/hls/alice?next=master.m3u8", Some(&t))
            .await;
        assert_eq!(r.status(), 302, "{provider} {form}");
        let set: Vec<(String, String)> = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| {
                let pair = v.to_str().unwrap().split(';').next().unwrap().to_owned();
                let (n, v) = pair.split_once('=').unwrap();
                (n.to_owned(), v.to_owned())
            })
            .collect();
        let jar: Vec<(&str, &str)> = set.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let entry = location(&r);
        let segment = format!("{}segment-1.ts", &entry[..entry.rfind('/').unwrap() + 1]);
        match form {
            "cookie" => {
                assert_eq!(jar.len(), 1, "{provider}: one cookie");
                assert_eq!(entry, format!("{BASE}/hls/alice/master.m3u8"));
                for inside in [&entry, &format!("{BASE}/hls/alice/720p/seg-9.ts")] {
                    check(provider, inside, &jar, None)
                        .unwrap_or_else(|e| panic!("{provider} {form}: {inside}: {e}"));
                }
                let beside = format!("{BASE}/hls/alicex/master.m3u8");
                assert!(check(provider, &beside, &jar, None).is_err(), "{provider}");
                assert!(check(provider, &format!("{BASE}/hls/bob/a.ts"), &jar, None).is_err());
            }
            "path" => {
                assert!(jar.is_empty(), "{provider}: no cookie in the path form");
                check(provider, &entry, &[], None)
                    .unwrap_or_else(|e| panic!("{provider} {form}: {entry}: {e}"));
                // A player fetching a relative segment URL inherits the token.
                check(provider, &segment, &[], None)
                    .unwrap_or_else(|e| panic!("{provider} {form}: {segment}: {e}"));
                let bob = entry.replace("/hls/alice/", "/hls/bob/");
                assert!(
                    check(provider, &bob, &[], None).is_err(),
                    "{provider}: {bob}"
                );
            }
            _ => {
                assert!(jar.is_empty());
                check(provider, &entry, &[], None)
                    .unwrap_or_else(|e| panic!("{provider} {form}: {entry}: {e}"));
                let bob = entry.replace("/hls/alice/", "/hls/bob/");
                assert!(
                    check(provider, &bob, &[], None).is_err(),
                    "{provider}: {bob}"
                );
            }
        }
        // Another user's folder is never signed.
        assert_nothing_signed(app.get("/cookies/hls/bob?next=a.m3u8", Some(&t)).await).await;
        if form != "cookie" {
            // The path and query forms need the entry URL to carry the credential.
            let (status, body) =
                assert_nothing_signed(app.get("/cookies/hls/alice", Some(&t)).await).await;
            assert_eq!(status, 400, "{provider} {form}");
            assert!(body.contains("next_required"), "{body}");
        }
    }
}

#[tokio::test]
async fn a_rule_asking_for_what_its_provider_lacks_is_refused_naming_the_rule() {
    let cases = [
        (
            "bunny",
            rule("hls/{sub}/**", json!({"cookies": true})),
            "rules[0].folder_token: bunny (distribution \"cdn\") cannot hand a folder out as a cookie; it can: path, query",
        ),
        (
            "google-cloud-cdn",
            rule("ip/**", json!({"bind_client_ip": true})),
            "rules[0].bind_client_ip: google-cloud-cdn (distribution \"cdn\") cannot bind",
        ),
        (
            "google-cloud-cdn",
            rule("hls/{sub}/**", json!({"cookies": true, "folder_token": "path"})),
            "cannot hand a folder out as a path; it can: cookie, query",
        ),
        (
            "akamai",
            rule("public/**", json!({"policy": "custom"})),
            "rules[0].policy: CloudFront's policy shape",
        ),
        (
            "akamai",
            rule("public/**", json!({"key_set": "demo"})),
            "rules[0].key_set: only for cloudfront distributions",
        ),
    ];
    for (provider, r, expected) in cases {
        let message = config_error(provider, json!({}), json!([r]));
        assert!(message.contains(expected), "{provider}: {message}");
    }
}

#[tokio::test]
async fn wrong_key_material_stops_the_start_naming_the_key() {
    let dir = signgate_testkit::fs::tempdir();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let cases = [
        (
            "google-cloud-cdn",
            json!({"keys": [{"name": "k1", "key_file": write("std", "ab+/ab+/ab+/ab+/ab+/ab==")}], "active_key": null}),
            "distributions[0].keys[0]: google-cloud-cdn: key k1: the key is not base64url",
        ),
        (
            "google-cloud-cdn",
            json!({"keys": [{"name": "k1", "key_file": write("short", "AAAA")}], "active_key": null}),
            "must decode to 16 bytes",
        ),
        (
            "akamai",
            json!({"keys": [{"name": "primary", "key_file": write("odd", "abc")}], "active_key": null}),
            "distributions[0].keys[0]: akamai:",
        ),
        (
            "google-media-cdn",
            json!({"keys": [{"name": "media-key-1", "key_file": write("junk", "not a key")}]}),
            "distributions[0].keys[0]: google-media-cdn:",
        ),
        (
            "google-media-cdn",
            json!({"keys": [{"name": "media-key-1", "key_file": write("seed", "AAAA"), "algorithm": "rsa"}]}),
            "distributions[0].keys[0].algorithm: \"rsa\" is not ed25519",
        ),
        (
            "google-cloud-cdn",
            json!({"active_key": "key-2030"}),
            "distributions[0].active_key: no key named \"key-2030\"",
        ),
        (
            "bunny",
            json!({"keys": [{"name": "a", "key_env": "SIGNGATE_TEST_UNSET_BUNNY_KEY"}]}),
            "environment variable SIGNGATE_TEST_UNSET_BUNNY_KEY is not set",
        ),
        (
            "akamai",
            json!({"expression": "$uri $secret"}),
            "distributions[0].expression: not an option of provider \"akamai\"",
        ),
        (
            "nginx-secure-link",
            json!({"expression": null}),
            "distributions[0].expression: give the secure_link_md5 expression",
        ),
        (
            "google-media-cdn",
            json!({"mode": "both"}),
            "distributions[0].mode: \"both\" is not",
        ),
    ];
    for (provider, extra, expected) in cases {
        let message = config_error(provider, extra, json!([rule("public/**", json!({}))]));
        assert!(message.contains(expected), "{provider}: {message}");
    }
}

#[tokio::test]
async fn the_published_demo_keys_are_refused_outside_dev() {
    for provider in ALL {
        let overrides = [
            ("dev", json!(false)),
            (
                "distributions",
                json!([distribution(provider, "cdn", BASE)]),
            ),
            ("rules", json!([rule("public/**", json!({}))])),
        ];
        let message = format!(
            "{:#}",
            settings(&default_config(), &overrides).expect_err("refused")
        );
        assert!(
            message.contains("is a published demo key") || message.contains("demo key"),
            "{provider}: {message}"
        );
    }
}

#[tokio::test]
async fn keys_shaped_like_a_providers_own_markers_are_signed_escaped_as_plain_objects() {
    // Bunny reads `/bcdn_token=` in a path as its own token, Akamai splits ACLs on `!`, Media CDN
    // reads `edge-cache-token=` as a path component: the key's `=` and `!` are escaped, so the
    // signature covers exactly that object and the marker is never seen.
    let t = token("alice", json!({}));
    for (provider, key, escaped) in [
        (
            "bunny",
            "public/bcdn_token=x/a.ts",
            "public/bcdn_token%3Dx/a.ts",
        ),
        (
            "google-media-cdn",
            "public/edge-cache-token=x/a.ts",
            "public/edge-cache-token%3Dx/a.ts",
        ),
        ("akamai", "public/a!b.ts", "public/a%21b.ts"),
    ] {
        let app = app_for(provider, json!([rule("public/**", json!({}))])).await;
        let url = location(&app.get(&format!("/files/{escaped}"), Some(&t)).await);
        assert!(
            url.starts_with(&format!("{BASE}/{escaped}?")),
            "{provider} {key}: {url}"
        );
        check(provider, &url, &[], None).unwrap_or_else(|e| panic!("{provider}: {url}: {e}"));
        let raw = url.replace(escaped, key);
        assert!(
            check(provider, &raw, &[], None).is_err(),
            "{provider}: {raw}"
        );
    }
    let app = app_for(
        "akamai",
        json!([rule("hls/{sub}/**", json!({"cookies": true}))]),
    )
    .await;
    let r = app
        .client
        .get(app.url("/cookies/hls/a!b"))
        .bearer_auth(token("a!b", json!({})))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["resource"], format!("{BASE}/hls/a%21b/"));
    let cookie = &body["cookies"][0];
    let jar = [(
        cookie["name"].as_str().unwrap(),
        cookie["value"].as_str().unwrap(),
    )];
    check("akamai", &format!("{BASE}/hls/a%21b/x.ts"), &jar, None).unwrap();
    assert!(check("akamai", &format!("{BASE}/hls/a/x.ts"), &jar, None).is_err());
}

#[tokio::test]
async fn a_reload_rotates_the_active_key_and_links_signed_before_still_verify() {
    let keys = signgate_testkit::app::repo().join("config/dev/providers");
    let toml = |active: &str| {
        format!(
            "\n[[distributions]]\nname = \"cdn\"\nprovider = \"google-cloud-cdn\"\nurl = \"{BASE}\"\nactive_key = \"{active}\"\nkeys = [{{ name = \"key-2026\", key_file = \"{k}/google-cloud-cdn.key\" }}, {{ name = \"key-2025\", key_file = \"{k}/google-cloud-cdn-old.key\" }}]\n\n[[rules]]\npattern = \"rot/**\"\naccess = \"authenticated\"\ndistribution = \"cdn\"\n",
            k = keys.display()
        )
    };
    let (config, text) = signgate_testkit::fs::config_file(&toml("key-2025"));
    let app = signgate_testkit::app::spawn_with(settings(&config, &[]).unwrap()).await;
    let t = token("alice", json!({}));
    let before = location(&app.get("/files/rot/a.mp4", Some(&t)).await);
    assert!(before.contains("&KeyName=key-2025&"), "{before}");
    std::fs::write(&config, text.replace(&toml("key-2025"), &toml("key-2026"))).unwrap();
    app.service.reload().unwrap();
    let after = location(&app.get("/files/rot/a.mp4", Some(&t)).await);
    assert!(after.contains("&KeyName=key-2026&"), "{after}");
    // The CDN keeps both keys listed during the rotation: both links verify.
    assert_eq!(
        check("google-cloud-cdn", &before, &[], None).unwrap().key,
        "key-2025"
    );
    assert_eq!(
        check("google-cloud-cdn", &after, &[], None).unwrap().key,
        "key-2026"
    );
}

#[tokio::test]
async fn links_and_folder_tokens_download_through_the_providers_own_edge() {
    let root = signgate_testkit::edge::media_root();
    let files = signgate_testkit::edge::media_files();
    let bytes = |p: &str| files.iter().find(|(f, _)| f == p).unwrap().1.clone();
    let plain = signgate_testkit::http::client();
    for provider in ALL {
        let edge = signgate_testkit::providers::spawn_provider_edge(provider, &root).await;
        let base = format!("http://{edge}");
        let form = match provider {
            "google-media-cdn" | "bunny" => "path",
            // nginx's folder forms depend on the operator's location (tests/it/nginx_secure_link.rs).
            "nginx-secure-link" => "none",
            _ => "query",
        };
        let mut rules = vec![rule("public/**", json!({}))];
        if form != "none" {
            let folder = json!({"cookies": true, "folder_token": form});
            rules.push(rule("hls/{sub}/**", folder));
        }
        let rules = json!(rules);
        let app = spawn_app(&[
            (
                "distributions",
                json!([distribution(provider, "cdn", &base)]),
            ),
            ("rules", rules),
        ])
        .await;
        let t = token("alice", json!({}));
        let url = location(&app.get("/files/public/report.pdf", Some(&t)).await);
        let r = plain.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200, "{provider}: {url}");
        assert_eq!(
            r.bytes().await.unwrap(),
            bytes("public/report.pdf"),
            "{provider}"
        );
        let tampered = url.replace("report.pdf", "report.pdf.bak");
        assert_eq!(
            plain.get(&tampered).send().await.unwrap().status(),
            403,
            "{provider}"
        );
        let unsigned = format!("{base}/public/report.pdf");
        assert_eq!(
            plain.get(&unsigned).send().await.unwrap().status(),
            403,
            "{provider}"
        );
        if form == "none" {
            continue;
        }
        let entry = location(
            &app.get("/cookies/hls/alice?next=master.m3u8", Some(&t))
                .await,
        );
        let r = plain.get(&entry).send().await.unwrap();
        assert_eq!(r.status(), 200, "{provider} {form}: {entry}");
        assert_eq!(r.bytes().await.unwrap(), bytes("hls/alice/master.m3u8"));
        if form == "path" {
            let segment = format!("{}seg0.ts", &entry[..entry.rfind('/').unwrap() + 1]);
            let r = plain.get(&segment).send().await.unwrap();
            assert_eq!(r.status(), 200, "{provider}: {segment}");
            assert_eq!(r.bytes().await.unwrap(), bytes("hls/alice/seg0.ts"));
        }
        let bob = entry.replace("/hls/alice/", "/hls/bob/");
        assert_eq!(
            plain.get(&bob).send().await.unwrap().status(),
            403,
            "{provider}: {bob}"
        );
    }
}

/// The README's TOML block between `<!-- {marker}:start/end -->`, loaded as written once the
/// files and variables it names hold the demo keys (`(name in the block, demo key file)`): the
/// provider of each distribution, in order.
fn readme_block_providers(marker: &str, keys: &[(&str, &str)]) -> Vec<String> {
    let toml = signgate_testkit::nginx::readme_snippet(marker, "toml");
    let dir = signgate_testkit::fs::tempdir();
    let demo = signgate_testkit::app::repo().join("config/dev/providers");
    for (name, demo_file) in keys {
        std::fs::copy(demo.join(demo_file), dir.join(name)).unwrap();
    }
    let toml = toml
        .replace("/etc/signgate/", &format!("{}/", dir.display()))
        .replace("key_env = \"", &format!("key_file = \"{}/", dir.display()));
    let (config, _) = signgate_testkit::fs::config_file(&format!("\n{toml}"));
    let loaded = settings(&config, &[]).unwrap_or_else(|e| panic!("{marker}: {e:#}"));
    loaded
        .distributions
        .iter()
        .map(|d| d.signer.provider().to_owned())
        .collect()
}

#[tokio::test]
async fn the_readme_configuration_of_every_provider_loads_as_written() {
    let keys = [
        ("cdn-key-2026", "google-cloud-cdn.key"),
        ("SIGNGATE_CDN_KEY_2025", "google-cloud-cdn-old.key"),
        ("media-ed25519.pem", "google-media-cdn-ed25519.pem"),
        ("SIGNGATE_AKAMAI_KEY", "akamai.hex"),
        ("SIGNGATE_AKAMAI_TRANSITION_KEY", "akamai-transition.hex"),
        ("bunny-token-key", "bunny.key"),
        ("nginx-secret", "nginx-secure-link.secret"),
    ];
    assert_eq!(
        readme_block_providers("providers-config", &keys),
        [
            "cloudfront",
            "google-cloud-cdn",
            "google-media-cdn",
            "akamai",
            "bunny",
            "nginx-secure-link"
        ]
    );
}

#[tokio::test]
async fn the_readme_configuration_of_the_object_stores_loads_as_written() {
    let keys = [
        ("gcs-service-account.json", "gcs-service-account.json"),
        ("SIGNGATE_GCS_HMAC_SECRET", "gcs-hmac.secret"),
        ("azure-key1", "azure-devstoreaccount1.key"),
        ("SIGNGATE_AZURE_KEY2", "azure-devstoreaccount1.key"),
        ("azurite-key", "azure-devstoreaccount1.key"),
    ];
    assert_eq!(
        readme_block_providers("stores-config", &keys),
        ["cloudfront", "gcs", "gcs", "azure-blob", "azure-blob"]
    );
}
