//! Every CDN and store verifier beside CloudFront, on hostile requests: never panics, never
//! accepts a request it did not see signed, and accepts exactly what its own signer signed (a
//! URL signed for a fuzzed object verifies; the same URL with one byte of its path changed does
//! not).
//!
//! Input: the first byte picks the provider, the rest is `URL\nCOOKIES\nOBJECT` (cookies as
//! `name=value; ...`). Keys are the published demo keys, built once.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use signgate_providers::{
    akamai, azure_blob, bunny, gcs, google_cloud_cdn, google_media_cdn, nginx_secure_link, s3,
    EdgeRequest, Grant, Provider,
};

const NOW: u64 = 1_800_000_000;

fn demo(file: &str) -> String {
    let path = format!("{}/../config/dev/providers/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")).trim_end().to_owned()
}

/// Each provider with the base URL its objects live under.
fn providers() -> &'static [(&'static str, Box<dyn Provider>)] {
    static ALL: OnceLock<Vec<(&'static str, Box<dyn Provider>)>> = OnceLock::new();
    ALL.get_or_init(|| {
        let cloud_cdn = google_cloud_cdn::KeySet::new(
            vec![google_cloud_cdn::Key::from_base64url("k1", &demo("google-cloud-cdn.key")).unwrap()],
            "k1",
        )
        .unwrap();
        let media_key = google_media_cdn::SigningKey::ed25519_pkcs8(
            "m1",
            demo("google-media-cdn-ed25519.pem").as_bytes(),
        )
        .unwrap();
        let azure = azure_blob::Config {
            location: azure_blob::Location::from_url(
                "https://acct.blob.core.windows.net/media",
                Some("acct"),
                None,
            )
            .unwrap(),
            protocol: azure_blob::Protocol::HttpsAndHttp,
            stored_policy: None,
        };
        let out: Vec<(&'static str, Box<dyn Provider>)> = vec![
            ("https://cdn.example", Box::new(google_cloud_cdn::CloudCdn::new(cloud_cdn))),
            (
                "https://media.example",
                Box::new(
                    google_media_cdn::MediaCdn::new(
                        google_media_cdn::Keyset::single(media_key),
                        google_media_cdn::Mode::Tokens,
                    )
                    .unwrap(),
                ),
            ),
            (
                "https://akamai.example",
                Box::new(
                    akamai::Akamai::new(
                        akamai::HexKey::parse(&demo("akamai.hex")).unwrap(),
                        None,
                        akamai::Config::default(),
                    )
                    .unwrap(),
                ),
            ),
            (
                "https://bunny.example",
                Box::new(bunny::Bunny::new(
                    bunny::SecurityKey::new(&demo("bunny.key")).unwrap(),
                    bunny::IpBinding::V4Only,
                )),
            ),
            (
                "https://nginx.example",
                Box::new(
                    nginx_secure_link::SecureLink::new(
                        nginx_secure_link::Expression::parse("$secure_link_expires$uri $secret").unwrap(),
                        nginx_secure_link::Secret::new(&demo("nginx-secure-link.secret")).unwrap(),
                        None,
                        nginx_secure_link::Params::default(),
                    )
                    .unwrap(),
                ),
            ),
            (
                "https://bucket.s3.us-east-1.amazonaws.com",
                Box::new(s3::S3::new(
                    s3::Credentials::new("AKIAFUZZEXAMPLE00000", &demo("s3.secret")).unwrap(),
                    s3::Region::parse("us-east-1").unwrap(),
                )),
            ),
            (
                "https://storage.googleapis.com/bucket",
                Box::new(gcs::Gcs::new(
                    gcs::SigningKey::service_account_json("sa", &demo("gcs-service-account.json")).unwrap(),
                )),
            ),
            (
                "https://acct.blob.core.windows.net/media",
                Box::new(
                    azure_blob::AzureBlob::new(
                        vec![azure_blob::AccountKey::from_base64("key1", &demo("azure-devstoreaccount1.key")).unwrap()],
                        "key1",
                        azure,
                    )
                    .unwrap(),
                ),
            ),
        ];
        out
    })
}

/// An object name the signers accept as a path: letters, digits and `/`-separated segments.
fn object_path(raw: &str) -> Option<String> {
    let segments: Vec<&str> = raw.split('/').filter(|s| !s.is_empty()).collect();
    let clean = segments.iter().all(|s| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
    (clean && !segments.is_empty() && segments.len() < 16).then(|| segments.join("/"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let (base, provider) = &providers()[pick as usize % providers().len()];
    let mut parts = text.splitn(3, '\n');
    let url = parts.next().unwrap_or_default();
    let jar = parts.next().unwrap_or_default();
    let object = parts.next().unwrap_or_default();
    let cookies: Vec<(&str, &str)> = jar
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .collect();
    let viewer = |url| EdgeRequest { method: "GET", url, cookies: &cookies, client_ip: Some("192.0.2.1".parse().unwrap()), now: NOW };

    // Hostile requests, as given and under the provider's own host.
    assert!(provider.verify(&viewer(url)).is_err(), "accepted an unsigned request: {url:?}");
    let under = format!("{base}/{url}");
    assert!(provider.verify(&viewer(&under)).is_err(), "accepted an unsigned request: {under:?}");
    let _ = provider.origin_request(url, Some(jar));

    // What the signer signs, the verifier accepts; one changed path byte, it refuses.
    let Some(path) = object_path(object) else { return };
    let target = format!("{base}/{path}");
    let grant = Grant::until(NOW + 600).signed(NOW - 1);
    let Ok(signed) = provider.sign_url(&target, &grant) else { return };
    assert!(signed.starts_with(&target), "the signer rewrote the object's URL: {signed:?}");
    let plain = EdgeRequest { method: "GET", url: &signed, cookies: &[], client_ip: None, now: NOW };
    assert!(provider.verify(&plain).is_ok(), "refused its own signature: {signed:?}");
    let at = base.len() + path.len(); // the last byte of the object's path
    let byte = signed.as_bytes()[at];
    let other = if byte == b'z' { 'y' } else { 'z' };
    let changed = format!("{}{other}{}", &signed[..at], &signed[at + 1..]);
    let changed_request = EdgeRequest { url: &changed, ..plain };
    assert!(provider.verify(&changed_request).is_err(), "accepted a changed path: {changed:?}");
    let expired = EdgeRequest { now: NOW + 601, ..plain };
    assert!(provider.verify(&expired).is_err(), "accepted an expired URL: {signed:?}");
});
