//! `signgate edge`: the local CloudFront stand-in.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use signgate_cloudfront::{KeyPairId, PublicKeys, VerifyingKey};

use crate::edge::{BaseUrl, Edge, Origin};

#[derive(Args, Debug)]
pub struct EdgeArgs {
    /// Serve files from this folder.
    #[arg(long, value_name = "DIR", conflicts_with = "origin")]
    root: Option<PathBuf>,
    /// Or proxy to this origin (http://host:port), which gets exactly the path that verified.
    #[arg(long, value_name = "URL")]
    origin: Option<String>,
    /// A trusted public key, as KEY_PAIR_ID=FILE. Repeat for several keys.
    #[arg(long = "public-key", value_name = "KEY_PAIR_ID=FILE", required = true)]
    public_keys: Vec<String>,
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
    let mut keys = PublicKeys::default();
    for entry in &args.public_keys {
        let (id, file) = entry
            .split_once('=')
            .with_context(|| format!("--public-key {entry:?}: expected KEY_PAIR_ID=FILE"))?;
        keys.insert(
            KeyPairId::parse(id)?,
            VerifyingKey::from_file(&PathBuf::from(file))?,
        );
    }
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
        keys,
        origin,
        base_url: args.base_url,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(crate::edge::run(edge, args.listen))?;
    Ok(ExitCode::SUCCESS)
}
