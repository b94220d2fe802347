//! `signgate sign`: one signed URL (or a set of cookies) on stdout, for CloudFront or, with
//! `--provider`, another CDN.

use std::path::PathBuf;
use std::process::ExitCode;

use std::net::IpAddr;

use anyhow::{bail, Context};
use clap::Args;
use signgate_cloudfront::{
    Conditions, HashAlgorithm, Ipv4Range, KeyPairId, Policy, ResourcePattern, SignableUrl,
    SigningKey,
};
use signgate_providers::{Credential, Delivery, Grant};

use super::provider::ProviderArgs;
use crate::sign::FolderForm;

#[derive(Args, Debug)]
pub struct SignArgs {
    /// CloudFront: private key PEM (RSA-2048 or ECDSA P-256). An encrypted key's passphrase is
    /// read from SIGNGATE_KEY_PASSPHRASE.
    #[arg(long, value_name = "FILE", required_unless_present = "provider")]
    key: Option<PathBuf>,
    /// CloudFront public key ID.
    #[arg(long, value_name = "ID", required_unless_present = "provider")]
    key_pair_id: Option<String>,
    #[command(flatten)]
    provider: ProviderArgs,
    /// The URL to sign (with --prefix and a path or query delivery: the entry URL inside it).
    #[arg(long, value_name = "URL", required_unless_present = "prefix")]
    url: Option<String>,
    /// --provider: sign a credential for every URL under this prefix (scheme://host/path/).
    #[arg(long, value_name = "PREFIX", requires = "provider")]
    prefix: Option<String>,
    /// --provider with --prefix: how the credential travels.
    #[arg(long, value_name = "cookie|path|query", default_value = "cookie", value_parser = parse_delivery)]
    delivery: FolderForm,
    /// Expiry, Unix seconds.
    #[arg(long, value_name = "UNIX", value_parser = super::unix_time)]
    expires: u64,
    /// Resource pattern (wildcards * and ?) when it differs from the URL; makes the policy custom.
    #[arg(long, value_name = "PATTERN")]
    resource: Option<String>,
    /// --provider: the signing time, Unix seconds (default: now), for the stores whose signature
    /// carries it (s3's X-Amz-Date).
    #[arg(long, value_name = "UNIX", value_parser = super::unix_time, requires = "provider")]
    now: Option<u64>,
    /// Start time, Unix seconds; makes the policy custom.
    #[arg(long, value_name = "UNIX", value_parser = super::unix_time)]
    starts: Option<u64>,
    /// Client IPv4 address or CIDR (CloudFront; makes the policy custom), or the client address
    /// to bind (--provider).
    #[arg(long, value_name = "IP[/N]")]
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

fn parse_delivery(text: &str) -> Result<FolderForm, String> {
    match text {
        "cookie" => Ok(FolderForm::Cookie),
        "path" => Ok(FolderForm::Path),
        "query" => Ok(FolderForm::Query),
        _ => Err(format!("{text:?} is not cookie, path or query")),
    }
}

pub fn run(args: SignArgs) -> anyhow::Result<ExitCode> {
    if args.expires <= crate::clock::Clock::System.now() {
        eprintln!(
            "warning: the expiry {} is already past; the CDN will refuse this signature",
            args.expires
        );
    }
    if args.provider.provider.is_some() {
        return run_provider(&args);
    }
    let (Some(key_file), Some(key_pair_id), Some(url)) = (&args.key, &args.key_pair_id, &args.url)
    else {
        bail!("CloudFront signing needs --key, --key-pair-id and --url");
    };
    let id = KeyPairId::parse(key_pair_id)?;
    let url = SignableUrl::parse(url).context("--url")?;
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
    let key = SigningKey::from_file(id, key_file, passphrase.as_deref())?;
    if args.cookies {
        for (name, value) in key.sign_cookies(&policy, args.hash)?.0 {
            println!("{name}={value}");
        }
    } else {
        println!("{}", key.sign_url(&url, &policy, args.hash)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// `--provider`: one URL, or a folder credential (a `Name=Value` cookie line or a URL).
fn run_provider(args: &SignArgs) -> anyhow::Result<ExitCode> {
    let target = args
        .prefix
        .as_deref()
        .or(args.url.as_deref())
        .unwrap_or_default();
    let signer = args.provider.signer(target)?.expect("--provider is given");
    let client_ip = args
        .ip
        .as_deref()
        .map(|ip| {
            ip.parse::<IpAddr>()
                .with_context(|| format!("--ip {ip:?}: give one address"))
        })
        .transpose()?;
    let grant = Grant {
        expires: args.expires,
        starts: args.starts,
        client_ip,
        signed_at: Some(
            args.now
                .unwrap_or_else(|| crate::clock::Clock::System.now()),
        ),
    };
    let provider = signer.inner();
    let Some(prefix) = &args.prefix else {
        let url = args.url.as_deref().unwrap_or_default();
        println!("{}", provider.sign_url(url, &grant)?);
        return Ok(ExitCode::SUCCESS);
    };
    let entry = || {
        args.url
            .as_deref()
            .context("--delivery path or query: give the entry URL inside the prefix with --url")
    };
    let delivery = match args.delivery {
        FolderForm::Cookie => Delivery::Cookie,
        FolderForm::Path => Delivery::Path { url: entry()? },
        FolderForm::Query => Delivery::Query { url: entry()? },
    };
    match provider.sign_prefix(prefix, delivery, &grant)? {
        Credential::Cookie { name, value } => println!("{name}={value}"),
        Credential::Cookies(cookies) => {
            for (name, value) in cookies {
                println!("{name}={value}");
            }
        }
        Credential::Url(url) => println!("{url}"),
    }
    Ok(ExitCode::SUCCESS)
}
