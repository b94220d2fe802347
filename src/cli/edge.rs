//! `signgate edge`: the local stand-in for CloudFront, or with `--provider` for another CDN.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use signgate_cloudfront::{KeyPairId, PublicKeys, VerifyingKey};

use super::provider::ProviderArgs;
use crate::edge::{BaseUrl, Edge, Origin, Verifier};

#[derive(Args, Debug)]
pub struct EdgeArgs {
    /// Serve files from this folder.
    #[arg(long, value_name = "DIR", conflicts_with = "origin")]
    root: Option<PathBuf>,
    /// Or proxy to this origin (http://host:port), which gets exactly the path that verified.
    #[arg(long, value_name = "URL")]
    origin: Option<String>,
    /// A trusted CloudFront public key, as KEY_PAIR_ID=FILE. Repeat for several keys.
    #[arg(
        long = "public-key",
        value_name = "KEY_PAIR_ID=FILE",
        required_unless_present = "provider"
    )]
    public_keys: Vec<String>,
    /// Or check requests as this CDN's edge does, with its keys (--provider-key, as the CDN
    /// holds them) and options.
    #[command(flatten)]
    provider: ProviderArgs,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// The URL viewers use for this edge, scheme and host only (https://media.example.com), as
    /// in the distribution's `url`. Requests are verified against it, and a Host naming another
    /// host is refused. Default: http://LISTEN (required when listening on 0.0.0.0 or ::).
    #[arg(long, value_name = "URL")]
    base_url: Option<BaseUrl>,
}

pub fn run(args: EdgeArgs) -> anyhow::Result<ExitCode> {
    let base = args
        .base_url
        .as_ref()
        .map_or_else(|| format!("http://{}", args.listen), ToString::to_string);
    let verifier = match args.provider.signer(&base)? {
        Some(signer) => Verifier::Cdn(signer),
        None => Verifier::CloudFront(public_keys(&args.public_keys)?),
    };
    let origin = match (args.root, args.origin) {
        (Some(root), None) => {
            if !root.is_dir() {
                bail!("--root {}: not a folder", root.display());
            }
            Origin::Folder(root)
        }
        (None, Some(base)) => Origin::http(&base)?,
        _ => bail!("give --root DIR or --origin URL"),
    };
    let edge = Edge {
        verifier,
        origin,
        base_url: args.base_url,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(crate::edge::run(edge, args.listen))?;
    Ok(ExitCode::SUCCESS)
}

fn public_keys(entries: &[String]) -> anyhow::Result<PublicKeys> {
    let mut keys = PublicKeys::default();
    for entry in entries {
        let (id, file) = entry
            .split_once('=')
            .with_context(|| format!("--public-key {entry:?}: expected KEY_PAIR_ID=FILE"))?;
        keys.insert(
            KeyPairId::parse(id)?,
            VerifyingKey::from_file(&PathBuf::from(file))?,
        );
    }
    Ok(keys)
}
