//! `signgate sign`: one signed URL (or a set of cookies) on stdout.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use signgate_cloudfront::{
    Conditions, HashAlgorithm, Ipv4Range, KeyPairId, Policy, ResourcePattern, SignableUrl,
    SigningKey,
};

#[derive(Args, Debug)]
pub struct SignArgs {
    /// Private key PEM (RSA-2048 or ECDSA P-256). An encrypted key's passphrase is read from
    /// SIGNGATE_KEY_PASSPHRASE.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// CloudFront public key ID.
    #[arg(long, value_name = "ID")]
    key_pair_id: String,
    /// The URL to sign.
    #[arg(long, value_name = "URL")]
    url: String,
    /// Expiry, Unix seconds.
    #[arg(long, value_name = "UNIX", value_parser = super::unix_time)]
    expires: u64,
    /// Resource pattern (wildcards * and ?) when it differs from the URL; makes the policy custom.
    #[arg(long, value_name = "PATTERN")]
    resource: Option<String>,
    /// Start time, Unix seconds; makes the policy custom.
    #[arg(long, value_name = "UNIX", value_parser = super::unix_time)]
    starts: Option<u64>,
    /// Client IPv4 address or CIDR; makes the policy custom.
    #[arg(long, value_name = "IPV4[/N]")]
    ip: Option<String>,
    /// Digest under the signature.
    #[arg(long, value_name = "sha1|sha256", default_value = "sha1", value_parser = parse_hash)]
    hash: HashAlgorithm,
    /// Print signed cookies (one Name=Value line each) instead of a URL.
    #[arg(long)]
    cookies: bool,
}

fn parse_hash(text: &str) -> Result<HashAlgorithm, String> {
    HashAlgorithm::parse(text).ok_or_else(|| format!("{text:?} is not sha1 or sha256"))
}

pub fn run(args: SignArgs) -> anyhow::Result<ExitCode> {
    let id = KeyPairId::parse(&args.key_pair_id)?;
    let url = SignableUrl::parse(&args.url).context("--url")?;
    let mut resource = args
        .resource
        .as_deref()
        .map(ResourcePattern::parse)
        .transpose()
        .context("--resource")?;
    if args.cookies && resource.is_none() && url.as_str().contains('*') {
        // Cookies for a folder: a wildcard URL is the resource pattern itself.
        resource = Some(ResourcePattern::parse(url.as_str()).context("--url")?);
    }
    let conditions = Conditions {
        expires: args.expires,
        starts: args.starts,
        ip: args
            .ip
            .as_deref()
            .map(Ipv4Range::parse)
            .transpose()
            .context("--ip")?,
        resource: resource.clone(),
        force_custom: false,
    };
    let policy = match (&resource, args.cookies) {
        (Some(pattern), true) if pattern.as_str() != url.as_str() || url.as_str().contains('*') => {
            Policy::for_resource(pattern.clone(), &conditions)?
        }
        _ => Policy::for_url(&url, &conditions)?,
    };
    let passphrase = std::env::var_os("SIGNGATE_KEY_PASSPHRASE").map(|p| p.into_encoded_bytes());
    let key = SigningKey::from_file(id, &args.key, passphrase.as_deref())?;
    if args.expires <= crate::clock::Clock::System.now() {
        eprintln!(
            "warning: the expiry {} is already past; CloudFront will refuse this signature",
            args.expires
        );
    }
    if args.cookies {
        for (name, value) in key.sign_cookies(&policy, args.hash)?.0 {
            println!("{name}={value}");
        }
    } else {
        println!("{}", key.sign_url(&url, &policy, args.hash)?);
    }
    Ok(ExitCode::SUCCESS)
}
