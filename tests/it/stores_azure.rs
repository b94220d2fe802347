//! Azure Blob service SAS (`provider = "azure-blob"`) against a real Azurite, Microsoft's
//! storage emulator, with its documented development account: signgate's links download the
//! blob, and Azurite itself refuses tampered and expired ones, and a live link once its stored
//! access policy is removed.
//!
//! Azurite does not enforce `sip` (its IP check is a stub that always passes), so IP binding is
//! checked where it can be: with `signgate verify` as the real binary here, and with the
//! generated vectors and property tests in crates/providers/tests/azure_blob.rs.

use std::process::{Command, Output};

use serde_json::{json, Value};
use signgate_providers::EdgeRequest;
use signgate_testkit::app::{default_config, repo, settings, spawn_app, TestApp};
use signgate_testkit::azurite::Azurite;
use signgate_testkit::http::location;
use signgate_testkit::providers::{distribution, store_verifier};
use signgate_testkit::tokens::{now, token};

const BODY: &[u8] = b"%PDF-1.7 the menu, exactly these bytes\n";

/// Azurite with container `media` holding `users/alice/café menu.pdf`, `users/alice/other.pdf`
/// and `short/x.bin`.
async fn azurite() -> Azurite {
    let azurite = Azurite::start().await;
    azurite.create_container("media").await;
    for path in [
        "/media/users/alice/caf%C3%A9%20menu.pdf",
        "/media/users/alice/other.pdf",
        "/media/short/x.bin",
    ] {
        azurite.put_blob(path, BODY).await;
    }
    azurite
}

fn rule(pattern: &str, dist: &str, extra: Value) -> Value {
    let mut r = json!({"pattern": pattern, "access": "authenticated", "distribution": dist});
    for (k, v) in extra.as_object().unwrap() {
        r[k] = v.clone();
    }
    r
}

/// The service with distribution `azure` on Azurite's container `media` (and `policy`, the same
/// with a stored access policy), and `rules`.
async fn app_on(azurite: &Azurite, rules: Value) -> TestApp {
    let base = format!("{}/media", azurite.account_url());
    let mut with_policy = distribution("azure-blob", "policy", &base);
    with_policy["stored_policy"] = json!("signgate-read");
    spawn_app(&[
        (
            "distributions",
            json!([distribution("azure-blob", "azure", &base), with_policy]),
        ),
        ("rules", rules),
    ])
    .await
}

async fn download(url: &str) -> (u16, Vec<u8>) {
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn a_sas_from_files_downloads_the_blob_and_azurite_refuses_tampered_and_expired_links() {
    let azurite = azurite().await;
    let app = app_on(
        &azurite,
        json!([
            rule("users/{sub}/**", "azure", json!({"lifetime_seconds": 120})),
            rule("short/**", "azure", json!({"lifetime_seconds": 1})),
        ]),
    )
    .await;
    let t = token("alice", json!({}));
    let r = app
        .get("/files/users/alice/caf%C3%A9%20menu.pdf", Some(&t))
        .await;
    assert_eq!(r.status(), 302);
    let url = location(&r);
    let base = format!("{}/media", azurite.account_url());
    assert!(
        url.starts_with(&format!("{base}/users/alice/caf%C3%A9%20menu.pdf?se=")),
        "{url}"
    );
    assert!(
        url.contains("&sp=r&spr=https%2Chttp&sv=2026-10-06&sr=b&sig="),
        "{url}"
    );
    assert_eq!(download(&url).await, (200, BODY.to_vec()));
    // The crate's verifier, built from the key file, agrees.
    let verified = store_verifier("azure-blob", &base, None)
        .verify(&EdgeRequest::new(&url, now()))
        .unwrap();
    assert!(verified.expires.abs_diff(now() + 120) <= 2);

    // Tampered: another blob under the same signature, a changed signature, a longer expiry.
    let other = url.replace("caf%C3%A9%20menu.pdf", "other.pdf");
    assert_eq!(download(&other).await.0, 403, "{other}");
    let (head, sig) = url.split_once("&sig=").unwrap();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    let changed = format!("{head}&sig={flipped}{}", &sig[1..]);
    assert_eq!(download(&changed).await.0, 403, "{changed}");
    let later = url.replacen("se=2", "se=3", 1);
    assert_eq!(download(&later).await.0, 403, "{later}");

    // A download name is signed into rscd: Azurite serves the link, and refuses it renamed.
    let r = app
        .get(
            "/files/users/alice/other.pdf?download=Menu%202026.pdf",
            Some(&t),
        )
        .await;
    let named = location(&r);
    assert!(
        named.contains("&rscd=attachment%3B%20filename%3D%22Menu%202026.pdf%22&sig="),
        "{named}"
    );
    assert_eq!(download(&named).await, (200, BODY.to_vec()));
    let renamed = named.replace("Menu%202026", "Invoice");
    assert_eq!(download(&renamed).await.0, 403);

    // Expired: a one-second link works, then Azurite refuses it.
    let r = app.get("/files/short/x.bin", Some(&t)).await;
    let short = location(&r);
    let se = store_verifier("azure-blob", &base, None)
        .verify(&EdgeRequest::new(&short, now()))
        .unwrap()
        .expires;
    while now() <= se {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(download(&short).await.0, 403, "{short}");
}

#[tokio::test]
async fn removing_the_stored_access_policy_makes_a_live_link_fail() {
    let azurite = azurite().await;
    azurite.set_policies("media", &["signgate-read"]).await;
    let app = app_on(
        &azurite,
        json!([rule(
            "users/{sub}/**",
            "policy",
            json!({"lifetime_seconds": 600})
        )]),
    )
    .await;
    let t = token("alice", json!({}));
    let url = location(&app.get("/files/users/alice/other.pdf", Some(&t)).await);
    // The policy holds the permissions; the SAS keeps its own short expiry.
    assert!(url.contains("&si=signgate-read&sr=b&sig="), "{url}");
    assert!(url.contains("?se=") && !url.contains("sp="), "{url}");
    assert_eq!(download(&url).await, (200, BODY.to_vec()));
    // Revoked without touching the account key: the same live link now fails.
    azurite.set_policies("media", &[]).await;
    assert_eq!(download(&url).await.0, 403, "{url}");
    // A new policy of the same name brings it back (Azure: within 30 seconds).
    azurite.set_policies("media", &["signgate-read"]).await;
    assert_eq!(download(&url).await.0, 200);
}

fn run(args: &[&str]) -> Output {
    Command::new(crate::SIGNGATE)
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test]
async fn ip_bound_links_carry_sip_and_signgate_verify_checks_it_since_azurite_does_not() {
    let azurite = azurite().await;
    let app = app_on(
        &azurite,
        json!([rule(
            "users/{sub}/**",
            "azure",
            json!({"bind_client_ip": true})
        )]),
    )
    .await;
    let t = token("alice", json!({}));
    let url = location(&app.get("/files/users/alice/other.pdf", Some(&t)).await);
    assert!(url.contains("&sip=127.0.0.1&"), "{url}");
    // Azurite serves it (from 127.0.0.1, as it would from anywhere: it does not check sip).
    assert_eq!(download(&url).await, (200, BODY.to_vec()));
    let p = [
        "--provider",
        "azure-blob",
        "--provider-key",
        "key1=config/dev/providers/azure-devstoreaccount1.key",
        "--option",
        "account=devstoreaccount1",
        "--option",
        "container=media",
        "--option",
        "protocol=https,http",
    ];
    let verify = |url: &str, ip: Option<&str>| {
        let mut args = vec!["verify", "--url", url];
        if let Some(ip) = ip {
            args.extend(["--client-ip", ip]);
        }
        args.extend(p);
        run(&args)
    };
    let ok = verify(&url, Some("127.0.0.1"));
    assert!(ok.status.success(), "{}", stdout(&ok));
    assert!(
        stdout(&ok).starts_with("valid: key key1, expires "),
        "{}",
        stdout(&ok)
    );
    for other in [Some("127.0.0.2"), None] {
        let refused = verify(&url, other);
        assert_eq!(refused.status.code(), Some(1));
        assert_eq!(
            stdout(&refused).trim(),
            "azure-blob: the client's address is not the signed one (sip)"
        );
    }
    let unbound = verify(&url.replace("&sip=127.0.0.1", ""), Some("127.0.0.1"));
    assert_eq!(
        stdout(&unbound).trim(),
        "azure-blob: the signature does not match"
    );

    // `signgate sign --provider azure-blob`, the real binary, against the real Azurite.
    let blob = format!(
        "{}/media/users/alice/caf%C3%A9%20menu.pdf",
        azurite.account_url()
    );
    let expires = (now() + 60).to_string();
    let mut args = vec!["sign", "--url", &blob, "--expires", &expires];
    args.extend(p);
    let out = run(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let signed = stdout(&out).trim().to_owned();
    assert_eq!(download(&signed).await, (200, BODY.to_vec()));
    assert!(verify(&signed, None).status.success());
}

fn config_error(dist: Value, rules: Value) -> String {
    let overrides = [("distributions", json!([dist])), ("rules", rules)];
    format!(
        "{:#}",
        settings(&default_config(), &overrides).expect_err("the configuration is refused")
    )
}

#[test]
fn what_azure_blob_cannot_do_stops_the_start_naming_the_key_or_the_rule() {
    let base = "http://127.0.0.1:10000/devstoreaccount1/media";
    let d = distribution("azure-blob", "azure", base);
    let any = json!([rule("a/**", "azure", json!({}))]);
    let dir = signgate_testkit::fs::tempdir();
    let not_b64 = dir.join("key1");
    std::fs::write(&not_b64, "not-base64!").unwrap();
    let mut bad = d.clone();
    bad["keys"] = json!([{"name": "key1", "key_file": not_b64.display().to_string()}]);
    let e = config_error(bad, any.clone());
    assert!(
        e.contains("distributions[0].keys[0]: azure-blob: key key1: the account key is not base64"),
        "{e}"
    );
    let mut https_only = d.clone();
    https_only.as_object_mut().unwrap().remove("protocol");
    let e = config_error(https_only, any.clone());
    assert!(e.contains("distributions[0].protocol: azure-blob: the URL is http:// and the SAS allows https only"), "{e}");
    let mut no_account = d.clone();
    no_account.as_object_mut().unwrap().remove("account");
    let e = config_error(no_account, any.clone());
    assert!(
        e.contains(
            "distributions[0].account: azure-blob: account: the URL's host is not <account>.blob."
        ),
        "{e}"
    );
    let mut policy = d.clone();
    policy["stored_policy"] = json!("p".repeat(65));
    let e = config_error(policy, any.clone());
    assert!(
        e.contains("distributions[0].stored_policy: azure-blob: stored policy"),
        "{e}"
    );
    let e = config_error(
        d.clone(),
        json!([rule("hls/**", "azure", json!({"cookies": true}))]),
    );
    assert!(
        e.contains("rules[0].cookies: azure-blob (distribution \"azure\") signs one object per URL and has no folder credential"),
        "{e}"
    );
    // The emulator's published key is a demo key: refused outside dev.
    let overrides = [
        ("dev", json!(false)),
        ("key_sets", json!([])),
        ("distributions", json!([d])),
        ("rules", any),
    ];
    let e = format!("{:#}", settings(&default_config(), &overrides).unwrap_err());
    assert!(
        e.contains("distributions[0].keys[0]: key \"key1\" is a published demo key"),
        "{e}"
    );
}
