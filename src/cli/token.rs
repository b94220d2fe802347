//! `signgate token`: a demo token signed with the configuration's HS* secret.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use serde_json::{Map, Value};

use crate::config::Settings;

#[derive(Args, Debug)]
pub struct TokenArgs {
    /// The subject (`sub`).
    #[arg(long)]
    sub: String,
    /// An extra claim, as NAME=VALUE; repeat a name to make a list.
    #[arg(long = "claim", value_name = "NAME=VALUE")]
    claims: Vec<String>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    ttl: u64,
}

pub fn run(config: &Path, args: TokenArgs) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(config)?;
    let Some(minter) = settings.token_minters.first() else {
        bail!("the configuration has no issuer with an HS* secret to sign tokens with");
    };
    let now = crate::clock::Clock::System.now();
    let mut claims = Map::new();
    for entry in &args.claims {
        let (name, value) = entry
            .split_once('=')
            .with_context(|| format!("--claim {entry:?}: expected NAME=VALUE"))?;
        if matches!(name, "sub" | "iss" | "aud" | "exp" | "iat") {
            bail!("--claim {name}: set by signgate token itself");
        }
        let value = Value::String(value.to_owned());
        match claims.get_mut(name) {
            None => {
                claims.insert(name.to_owned(), value);
            }
            Some(Value::Array(list)) => list.push(value),
            Some(existing) => *existing = Value::Array(vec![existing.take(), value]),
        }
    }
    claims.insert("sub".into(), args.sub.into());
    claims.insert("iss".into(), minter.issuer.clone().into());
    if let Some(aud) = minter.audience.first() {
        claims.insert("aud".into(), aud.clone().into());
    }
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), (now + args.ttl).into());
    let header = jsonwebtoken::Header::new(minter.algorithm);
    let key = jsonwebtoken::EncodingKey::from_secret(&minter.secret)?;
    println!("{}", jsonwebtoken::encode(&header, &claims, &key)?);
    Ok(ExitCode::SUCCESS)
}
