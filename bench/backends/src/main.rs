//! Signing and MAC rates per backend on one thread, for decision 8 (one crypto library or two).
//! Each row signs the same bytes with the same key under each backend that can; a backend that
//! cannot (no SHA-1 RSA or ECDSA signing in aws-lc-rs's API, no deterministic ECDSA) says so
//! instead of a number. Rates are per second of the thread's CPU time, as `openssl speed`
//! reports its own.
//!
//!   signgate-bench-backends [SECONDS] REPO_ROOT

use std::hint::black_box;
use std::time::{Duration, Instant};

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let root = args.next().unwrap_or_else(|| ".".into());
    let pem = |name: &str| {
        let text = std::fs::read_to_string(format!("{root}/config/dev/{name}")).unwrap();
        // The demo keys carry a one-line DEMO marker before the PEM block.
        let start = text.find("-----BEGIN").unwrap();
        text[start..].to_owned()
    };
    let rsa = PKey::private_key_from_pem(pem("demo-rsa-private.pem").as_bytes()).unwrap();
    let ec = PKey::private_key_from_pem(pem("demo-ecdsa-private.pem").as_bytes()).unwrap();
    // A canned CloudFront policy: what every signed URL signs.
    let policy = br#"{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/videos/2026/intro.mp4","Condition":{"DateLessThan":{"AWS:EpochTime":1900000000}}}]}"#;
    let rsa_pkcs8 = rsa.private_key_to_pkcs8().unwrap();
    let ec_pkcs8 = ec.private_key_to_pkcs8().unwrap();

    let openssl_sign = |key: &PKey<openssl::pkey::Private>, md: MessageDigest| {
        rate(seconds, || {
            let mut s = Signer::new(md, key).unwrap();
            s.update(policy).unwrap();
            black_box(s.sign_to_vec().unwrap());
        })
    };
    let rsa_crate = |sha1: bool| {
        use rsa::pkcs8::DecodePrivateKey;
        use rsa::signature::{SignatureEncoding, Signer as _};
        let key = rsa::RsaPrivateKey::from_pkcs8_der(&rsa_pkcs8).unwrap();
        if sha1 {
            let signer = rsa::pkcs1v15::SigningKey::<sha1::Sha1>::new(key);
            rate(seconds, || black_box(signer.sign(policy).to_vec()).clear())
        } else {
            let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key);
            rate(seconds, || black_box(signer.sign(policy).to_vec()).clear())
        }
    };
    row(
        "RSA-2048 PKCS#1 v1.5 SHA-1",
        Some(openssl_sign(&rsa, MessageDigest::sha1())),
        None,
        Some(rsa_crate(true)),
    );
    let aws_rsa = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&rsa_pkcs8).unwrap();
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let aws_rsa_rate = rate(seconds, || {
        let mut sig = vec![0; aws_rsa.public_modulus_len()];
        aws_rsa
            .sign(&aws_lc_rs::signature::RSA_PKCS1_SHA256, &rng, policy, &mut sig)
            .unwrap();
        black_box(sig);
    });
    row(
        "RSA-2048 PKCS#1 v1.5 SHA-256",
        Some(openssl_sign(&rsa, MessageDigest::sha256())),
        Some(aws_rsa_rate),
        Some(rsa_crate(false)),
    );
    row("ECDSA P-256 SHA-1 (random nonce)", Some(openssl_sign(&ec, MessageDigest::sha1())), None, None);
    let aws_ec = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &ec_pkcs8,
    )
    .unwrap();
    let aws_ec_rate = rate(seconds, || {
        black_box(aws_ec.sign(&rng, policy).unwrap());
    });
    row(
        "ECDSA P-256 SHA-256 (random nonce)",
        Some(openssl_sign(&ec, MessageDigest::sha256())),
        Some(aws_ec_rate),
        None,
    );
    // HMAC-SHA256 over a signed URL's worth of bytes, key set up per call as a signer does.
    let key = [7u8; 32];
    let message = [b'a'; 120];
    let openssl_hmac = rate(seconds, || {
        let pkey = PKey::hmac(&key).unwrap();
        let mut s = Signer::new(MessageDigest::sha256(), &pkey).unwrap();
        s.update(&message).unwrap();
        black_box(s.sign_to_vec().unwrap());
    });
    let aws_key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key);
    let aws_hmac = rate(seconds, || {
        black_box(aws_lc_rs::hmac::sign(&aws_key, &message));
    });
    row("HMAC-SHA256, 120 B", Some(openssl_hmac), Some(aws_hmac), None);
}

fn row(name: &str, openssl: Option<f64>, aws_lc: Option<f64>, rsa_crate: Option<f64>) {
    let cell = |v: Option<f64>| match v {
        Some(v) => format!("{v:.0}"),
        None => "cannot".into(),
    };
    let ratio = |v: Option<f64>| match (v, openssl) {
        (Some(v), Some(o)) => format!("{:.2}", v / o),
        _ => "-".into(),
    };
    println!(
        "{{\"case\":\"{name}\",\"openssl\":\"{}\",\"aws_lc\":\"{}\",\"aws_lc_ratio\":\"{}\",\"rsa_crate\":\"{}\",\"rsa_crate_ratio\":\"{}\"}}",
        cell(openssl),
        cell(aws_lc),
        ratio(aws_lc),
        cell(rsa_crate),
        ratio(rsa_crate)
    );
}

/// Calls per second of this thread's CPU time (Linux schedstat), wall-clock where unreadable.
fn rate(seconds: f64, mut f: impl FnMut()) -> f64 {
    for _ in 0..5 {
        f();
    }
    let cpu = || -> Option<f64> {
        let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
        Some(text.split_whitespace().next()?.parse::<u64>().ok()? as f64 / 1e9)
    };
    let (start, cpu_start) = (Instant::now(), cpu());
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs_f64(seconds) {
        f();
        n += 1;
    }
    let spent = cpu().zip(cpu_start).map(|(e, s)| e - s).filter(|t| *t > 0.0);
    n as f64 / spent.unwrap_or(start.elapsed().as_secs_f64())
}
