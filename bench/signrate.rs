//! Signing throughput on one thread, printed as JSON lines for `bench/run` and `bench/signing`
//! to compare with `openssl speed` measured in the same run. Usage: signgate-signrate [SECONDS]

use std::time::{Duration, Instant};

use signgate_cloudfront::{
    Conditions, HashAlgorithm, KeyPairId, KeyType, Policy, SignableUrl, SigningKey,
};

fn main() {
    let seconds: f64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3.0);
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

fn rate(seconds: f64, mut f: impl FnMut()) -> f64 {
    for _ in 0..20 {
        f();
    }
    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..10 {
            f();
        }
        n += 10;
    }
    n as f64 / start.elapsed().as_secs_f64()
}
