//! `signgate verify`: checks a signed URL as CloudFront (or, with `--provider`, that CDN) does;
//! prints `valid` or the reason in the CDN's own terms, and exits 1 when it is refused.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use signgate_cloudfront::{verify_url, KeyPairId, PublicKeys, VerifyingKey, Viewer};
use signgate_providers::EdgeRequest;

use super::provider::ProviderArgs;

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// A trusted public key, as KEY_PAIR_ID=FILE. Repeat for several keys.
    #[arg(
        long = "public-key",
        value_name = "KEY_PAIR_ID=FILE",
        required_unless_present = "provider"
    )]
    public_keys: Vec<String>,
    #[command(flatten)]
    provider: ProviderArgs,
    /// --provider: a cookie the request carries, as NAME=VALUE. Repeat for several.
    #[arg(long = "cookie", value_name = "NAME=VALUE", requires = "provider")]
    cookies: Vec<String>,
    /// The signed URL.
    #[arg(long, value_name = "SIGNED_URL")]
    url: String,
    /// The time to check against, Unix seconds (default: now).
    #[arg(long, value_name = "UNIX", value_parser = super::unix_time)]
    now: Option<u64>,
    /// The client's IP address, for policies with an IpAddress condition.
    #[arg(long, value_name = "IP")]
    client_ip: Option<IpAddr>,
}

pub fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let now = args
        .now
        .unwrap_or_else(|| crate::clock::Clock::System.now());
    if let Some(signer) = args.provider.signer(&args.url)? {
        let cookies: Vec<(&str, &str)> = args
            .cookies
            .iter()
            .map(|c| c.split_once('=').unwrap_or((c, "")))
            .collect();
        let request = EdgeRequest {
            method: signer.inner().method(),
            url: &args.url,
            cookies: &cookies,
            client_ip: args.client_ip,
            now,
        };
        return Ok(match signer.inner().verify(&request) {
            Ok(v) => {
                println!("valid: key {}, expires {}", v.key, v.expires);
                ExitCode::SUCCESS
            }
            Err(refusal) => {
                println!("{refusal}");
                ExitCode::from(1)
            }
        });
    }
    let mut keys = PublicKeys::default();
    for entry in &args.public_keys {
        let (id, file) = entry
            .split_once('=')
            .with_context(|| format!("--public-key {entry:?}: expected KEY_PAIR_ID=FILE"))?;
        let id = KeyPairId::parse(id).with_context(|| format!("--public-key {entry:?}"))?;
        keys.insert(id, VerifyingKey::from_file(&PathBuf::from(file))?);
    }
    let viewer = Viewer {
        now,
        client_ip: args.client_ip,
    };
    match verify_url(&args.url, &keys, viewer) {
        Ok(_) => {
            println!("valid");
            Ok(ExitCode::SUCCESS)
        }
        Err(denial) => {
            println!("{denial}");
            Ok(ExitCode::from(1))
        }
    }
}
