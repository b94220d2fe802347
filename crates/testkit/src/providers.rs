//! Every CDN beside CloudFront as a test configures it: a `[[distributions]]` entry with the demo
//! keys in `config/dev/providers/`, and the CDN's verifier built here straight from the same key
//! files with the providers crate (not through signgate's configuration), to check what the
//! service hands out the way that CDN's edge would.

use std::net::IpAddr;

use serde_json::{json, Value};
use signgate_providers::{
    akamai, azure_blob, bunny, gcs, google_cloud_cdn, google_media_cdn, nginx_secure_link, s3,
    EdgeRequest, Provider, Refusal, Verified,
};

use crate::app::repo;
use crate::tokens::now;

/// The providers beside CloudFront, by configuration name.
pub const ALL: [&str; 5] = [
    "google-cloud-cdn",
    "google-media-cdn",
    "akamai",
    "bunny",
    "nginx-secure-link",
];

/// The object stores, by configuration name (one object per URL, no folder credential).
pub const STORES: [&str; 2] = ["gcs", "azure-blob"];

/// The storage account of the test azure-blob distribution: the emulator's development account.
pub const AZURE_ACCOUNT: &str = "devstoreaccount1";

/// The expression of the test nginx-secure-link distribution (no client address).
pub const NGINX_EXPRESSION: &str = "$secure_link_expires$uri $secret";

fn demo_key(file: &str) -> String {
    std::fs::read_to_string(repo().join("config/dev/providers").join(file))
        .unwrap()
        .trim_end()
        .to_owned()
}

/// A distribution named `name` for `provider` at `url`, with its demo keys (the first listed
/// signs).
pub fn distribution(provider: &str, name: &str, url: &str) -> Value {
    let key = |n: &str, f: &str| json!({"name": n, "key_file": format!("dev/providers/{f}")});
    let mut d = json!({"name": name, "provider": provider, "url": url, "cookie_secure": false});
    let extra = match provider {
        "google-cloud-cdn" => json!({
            "keys": [key("key-2026", "google-cloud-cdn.key"), key("key-2025", "google-cloud-cdn-old.key")],
            "active_key": "key-2026",
        }),
        "google-media-cdn" => json!({
            "mode": "tokens",
            "keys": [key("media-key-1", "google-media-cdn-ed25519.pem")],
        }),
        "akamai" => json!({
            "keys": [key("primary", "akamai.hex"), key("transition", "akamai-transition.hex")],
            "active_key": "primary",
        }),
        "bunny" => json!({"keys": [key("zone-key", "bunny.key")]}),
        "nginx-secure-link" => json!({
            "keys": [key("current", "nginx-secure-link.secret")],
            "expression": NGINX_EXPRESSION,
        }),
        "gcs" => json!({"keys": [key("sa", "gcs-service-account.json")]}),
        // The container is the URL's first path segment (a custom domain's form); http, as the
        // emulator speaks.
        "azure-blob" => json!({
            "keys": [key("key1", "azure-devstoreaccount1.key")],
            "account": AZURE_ACCOUNT,
            "protocol": "https,http",
        }),
        "s3" => json!({
            "region": "us-east-1",
            "keys": [key(crate::s3s::ACCESS_KEY_ID, "s3.secret")],
        }),
        other => panic!("no test distribution for provider {other}"),
    };
    for (k, v) in extra.as_object().unwrap() {
        d[k] = v.clone();
    }
    d
}

/// The CDN's own verifier for [`distribution`]'s keys (Media CDN in `mode`).
pub fn verifier_in(provider: &str, media_mode: google_media_cdn::Mode) -> Box<dyn Provider> {
    match provider {
        "google-cloud-cdn" => {
            let keys = vec![
                google_cloud_cdn::Key::from_base64url(
                    "key-2026",
                    &demo_key("google-cloud-cdn.key"),
                )
                .unwrap(),
                google_cloud_cdn::Key::from_base64url(
                    "key-2025",
                    &demo_key("google-cloud-cdn-old.key"),
                )
                .unwrap(),
            ];
            Box::new(google_cloud_cdn::CloudCdn::new(
                google_cloud_cdn::KeySet::new(keys, "key-2026").unwrap(),
            ))
        }
        "google-media-cdn" => {
            let key = google_media_cdn::SigningKey::ed25519_pkcs8(
                "media-key-1",
                demo_key("google-media-cdn-ed25519.pem").as_bytes(),
            )
            .unwrap();
            Box::new(
                google_media_cdn::MediaCdn::new(google_media_cdn::Keyset::single(key), media_mode)
                    .unwrap(),
            )
        }
        "akamai" => Box::new(
            akamai::Akamai::new(
                akamai::HexKey::parse(&demo_key("akamai.hex")).unwrap(),
                Some(akamai::HexKey::parse_transition(&demo_key("akamai-transition.hex")).unwrap()),
                akamai::Config::default(),
            )
            .unwrap(),
        ),
        "bunny" => Box::new(bunny::Bunny::new(
            bunny::SecurityKey::new(&demo_key("bunny.key")).unwrap(),
            bunny::IpBinding::V4Only,
        )),
        "nginx-secure-link" => Box::new(
            nginx_secure_link::SecureLink::new(
                nginx_secure_link::Expression::parse(NGINX_EXPRESSION).unwrap(),
                nginx_secure_link::Secret::new(&demo_key("nginx-secure-link.secret")).unwrap(),
                None,
                nginx_secure_link::Params::default(),
            )
            .unwrap(),
        ),
        "s3" => Box::new(s3::S3::new(
            s3::Credentials::new(crate::s3s::ACCESS_KEY_ID, &demo_key("s3.secret")).unwrap(),
            s3::Region::parse("us-east-1").unwrap(),
        )),
        other => panic!("no verifier for provider {other}"),
    }
}

/// The store's own verifier for [`distribution`]'s keys at `base_url` (Azure: which container,
/// and the stored access policy if the distribution names one).
pub fn store_verifier(
    provider: &str,
    base_url: &str,
    stored_policy: Option<&str>,
) -> Box<dyn Provider> {
    match provider {
        "gcs" => Box::new(gcs::Gcs::new(
            gcs::SigningKey::service_account_json("sa", &demo_key("gcs-service-account.json"))
                .unwrap(),
        )),
        "azure-blob" => {
            let key = azure_blob::AccountKey::from_base64(
                "key1",
                &demo_key("azure-devstoreaccount1.key"),
            )
            .unwrap();
            let config = azure_blob::Config {
                location: azure_blob::Location::from_url(base_url, Some(AZURE_ACCOUNT), None)
                    .unwrap(),
                protocol: azure_blob::Protocol::HttpsAndHttp,
                stored_policy: stored_policy.map(str::to_owned),
            };
            Box::new(azure_blob::AzureBlob::new(vec![key], "key1", config).unwrap())
        }
        other => panic!("no store verifier for provider {other}"),
    }
}

/// [`verifier_in`] with Media CDN in token mode, as [`distribution`] configures it.
pub fn verifier(provider: &str) -> Box<dyn Provider> {
    verifier_in(provider, google_media_cdn::Mode::Tokens)
}

/// Checks `url` (with `cookies`, from `client_ip`) now, as `provider`'s edge would.
pub fn check(
    provider: &str,
    url: &str,
    cookies: &[(&str, &str)],
    client_ip: Option<IpAddr>,
) -> Result<Verified, Refusal> {
    verifier(provider).verify(&EdgeRequest {
        method: "GET",
        url,
        cookies,
        client_ip,
        now: now(),
    })
}

/// Name and value pairs: keys as (name, file), options as (option, value).
pub type Pairs = Vec<(String, String)>;

/// The keys and options `signgate edge --provider` takes for [`distribution`]'s provider, as
/// `(keys, options)` for `signgate::config::signer_for_cli`.
pub fn edge_arguments(provider: &str) -> (Pairs, Pairs) {
    let dir = repo().join("config/dev/providers");
    let key = |n: &str, f: &str| (n.to_owned(), dir.join(f).display().to_string());
    let option = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    match provider {
        "google-cloud-cdn" => (
            vec![
                key("key-2026", "google-cloud-cdn.key"),
                key("key-2025", "google-cloud-cdn-old.key"),
            ],
            vec![],
        ),
        "google-media-cdn" => (
            vec![key("media-key-1", "google-media-cdn-ed25519.pem")],
            vec![option("mode", "tokens")],
        ),
        "akamai" => (
            vec![
                key("primary", "akamai.hex"),
                key("transition", "akamai-transition.hex"),
            ],
            vec![],
        ),
        "bunny" => (vec![key("zone-key", "bunny.key")], vec![]),
        "nginx-secure-link" => (
            vec![key("current", "nginx-secure-link.secret")],
            vec![option("expression", NGINX_EXPRESSION)],
        ),
        "s3" => (
            vec![key(crate::s3s::ACCESS_KEY_ID, "s3.secret")],
            vec![option("region", "us-east-1")],
        ),
        other => panic!("no edge for provider {other}"),
    }
}

/// A local edge checking requests as `provider`'s edge would, serving `root`.
pub async fn spawn_provider_edge(provider: &str, root: &std::path::Path) -> std::net::SocketAddr {
    let (keys, options) = edge_arguments(provider);
    let signer =
        signgate::config::signer_for_cli(provider, "http://127.0.0.1", &keys, &options).unwrap();
    let edge = signgate::edge::Edge {
        verifier: signgate::edge::Verifier::Cdn(signer),
        origin: signgate::edge::Origin::Folder(root.to_path_buf()),
        base_url: None,
    };
    signgate::edge::spawn(edge, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}
