//! Signing throughput on one thread, printed as JSON lines for `bench/run` and `bench/signing`
//! to compare with `openssl speed` measured in the same run.
//!
//!   signgate-signrate [SECONDS]             CloudFront (RSA, ECDSA)
//!   signgate-signrate [SECONDS] providers [CASE ...]
//!                                           the other CDNs, through `Provider::sign_url`
//!                                           (all of them, or the cases named: for profiling)
//!
//! Rates are per second of CPU time the thread got, as `openssl speed` reports its own.
//!
//! A provider case reports `mac_bytes`, the length of the message its HMAC or MD5 really digests
//! for the benchmark URL, so that `bench/run` can ask `openssl speed -bytes` for that same size.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use signgate_cloudfront::{
    Conditions, HashAlgorithm, KeyPairId, KeyType, Policy, SignableUrl, SigningKey,
};
use signgate_providers::{
    akamai, bunny, google_cloud_cdn, google_media_cdn, nginx_secure_link, Grant, Provider,
};

fn main() {
    let seconds: f64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3.0);
    if std::env::args().any(|a| a == "providers") {
        providers(seconds);
    } else {
        cloudfront(seconds);
    }
}

fn cloudfront(seconds: f64) {
    let url =
        SignableUrl::parse("https://d111111abcdef8.cloudfront.net/videos/2026/intro.mp4").unwrap();
    let policy = Policy::for_url(
        &url,
        &Conditions {
            expires: 1_900_000_000,
            ..Default::default()
        },
    )
    .unwrap();
    for (name, key_type, hash) in [
        ("rsa2048-sha1", KeyType::Rsa2048, HashAlgorithm::Sha1),
        ("rsa2048-sha256", KeyType::Rsa2048, HashAlgorithm::Sha256),
        ("ecdsa-p256-sha1", KeyType::EcdsaP256, HashAlgorithm::Sha1),
        (
            "ecdsa-p256-sha256",
            KeyType::EcdsaP256,
            HashAlgorithm::Sha256,
        ),
    ] {
        let key = SigningKey::generate(KeyPairId::parse("KBENCH").unwrap(), key_type).unwrap();
        let bytes = rate(seconds, || {
            key.sign_bytes(policy.json().as_bytes(), hash).unwrap();
        });
        let full = rate(seconds, || {
            key.sign_url(&url, &policy, hash).unwrap();
        });
        println!(
            "{{\"case\":\"{name}\",\"sign_per_s\":{bytes:.1},\"signed_url_per_s\":{full:.1}}}"
        );
    }
}

/// An HLS segment: the URL a player asks signgate for most often.
const HOST: &str = "https://cdn.example.com";
const PATH: &str = "/videos/2026/intro/1080p/segment-00042.ts";
const EXPIRES: u64 = 1_900_000_000;
/// nginx's documented expression binds the client address; the grant carries one.
const NGINX_EXPRESSION: &str = "$secure_link_expires$uri$remote_addr $secret";
const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));

macro_rules! demo_key {
    ($file:literal) => {
        include_str!(concat!("../config/dev/providers/", $file)).trim_end()
    };
}

/// One provider case: the signer, the grant, the digest under it, and the length of the message
/// that digest covers (from the scheme's format, documented at the top of each module).
struct Case {
    name: &'static str,
    digest: &'static str,
    signer: Box<dyn Provider>,
    grant: Grant,
    mac_bytes: usize,
}

fn provider_cases() -> Vec<Case> {
    let url = format!("{HOST}{PATH}");
    let plain = Grant::until(EXPIRES);
    let cloud_cdn = google_cloud_cdn::CloudCdn::new(google_cloud_cdn::KeySet::single(
        google_cloud_cdn::Key::from_base64url("key-2026", demo_key!("google-cloud-cdn.key"))
            .unwrap(),
    ));
    // url_to_sign = URL?Expires=E&KeyName=K (the crate's own function: exactly what it MACs).
    let cloud_cdn_bytes = cloud_cdn.url_to_sign(&url, &plain).unwrap().len();
    let media = |mode| {
        let key = google_media_cdn::SigningKey::ed25519_pkcs8(
            "media-key-1",
            demo_key!("google-media-cdn-ed25519.pem").as_bytes(),
        )
        .unwrap();
        Box::new(
            google_media_cdn::MediaCdn::new(google_media_cdn::Keyset::single(key), mode).unwrap(),
        )
    };
    let nginx_grant = Grant {
        client_ip: Some(CLIENT),
        ..plain
    };
    vec![
        Case {
            name: "google-cloud-cdn",
            digest: "sha1",
            signer: Box::new(cloud_cdn),
            grant: plain,
            mac_bytes: cloud_cdn_bytes,
        },
        Case {
            name: "akamai",
            digest: "sha256",
            signer: Box::new(
                akamai::Akamai::new(
                    akamai::HexKey::parse(demo_key!("akamai.hex")).unwrap(),
                    None,
                    akamai::Config::default(),
                )
                .unwrap(),
            ),
            grant: plain,
            // A URL token: "exp=E~url=PATH".
            mac_bytes: format!("exp={EXPIRES}~url={PATH}").len(),
        },
        Case {
            name: "bunny",
            digest: "sha256",
            signer: Box::new(bunny::Bunny::new(
                bunny::SecurityKey::new(demo_key!("bunny.key")).unwrap(),
                bunny::IpBinding::V4Only,
            )),
            grant: plain,
            // signature_path || expires (no query, no IP: no signing data).
            mac_bytes: format!("{PATH}{EXPIRES}").len(),
        },
        Case {
            name: "nginx-secure-link",
            digest: "md5",
            signer: Box::new(
                nginx_secure_link::SecureLink::new(
                    nginx_secure_link::Expression::parse(NGINX_EXPRESSION).unwrap(),
                    nginx_secure_link::Secret::new(demo_key!("nginx-secure-link.secret")).unwrap(),
                    None,
                    nginx_secure_link::Params::default(),
                )
                .unwrap(),
            ),
            grant: nginx_grant,
            mac_bytes: format!(
                "{EXPIRES}{PATH}{CLIENT} {}",
                demo_key!("nginx-secure-link.secret")
            )
            .len(),
        },
        Case {
            name: "google-media-cdn-signatures",
            digest: "ed25519",
            signer: media(google_media_cdn::Mode::Signatures),
            grant: plain,
            mac_bytes: 0,
        },
        Case {
            name: "google-media-cdn-tokens",
            digest: "ed25519",
            signer: media(google_media_cdn::Mode::Tokens),
            grant: plain,
            mac_bytes: 0,
        },
    ]
}

fn providers(seconds: f64) {
    let url = format!("{HOST}{PATH}");
    let only: Vec<String> = std::env::args()
        .skip_while(|a| a != "providers")
        .skip(1)
        .collect();
    for case in provider_cases() {
        if !only.is_empty() && !only.iter().any(|o| o == case.name) {
            continue;
        }
        let signed = case.signer.sign_url(&url, &case.grant).unwrap();
        let full = rate(seconds, || {
            black_box(case.signer.sign_url(black_box(&url), &case.grant).unwrap());
        });
        println!(
            "{{\"case\":\"{}\",\"digest\":\"{}\",\"mac_bytes\":{},\"url_bytes\":{},\"signed_url_per_s\":{full:.1}}}",
            case.name,
            case.digest,
            case.mac_bytes,
            signed.len()
        );
    }
}

/// Calls per second of CPU time this thread got, as `openssl speed` counts (it divides by the
/// user CPU time unless given `-elapsed`): on a core shared with other work, time spent waiting
/// for the core then slows neither side of a ratio. Wall-clock time where the CPU time cannot
/// be read.
fn rate(seconds: f64, mut f: impl FnMut()) -> f64 {
    for _ in 0..20 {
        f();
    }
    let budget = Duration::from_secs_f64(seconds);
    let cpu_start = cpu_seconds();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..10 {
            f();
        }
        n += 10;
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds()
        .zip(cpu_start)
        .map(|(end, start)| end - start)
        .filter(|t| *t > 0.0);
    n as f64 / cpu.unwrap_or(wall)
}

/// Time this thread has run on a CPU, in seconds (Linux's schedstat, in nanoseconds; it lags
/// by at most one scheduler tick, under 0.5 % of a one-second measurement).
fn cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(nanos as f64 / 1e9)
}
