//! `signgate token`: a demo token signed with the configuration's HS* secret.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use serde_json::{Map, Value};

use crate::authenticate::settings::{IssuerKeySource, MethodSettings};
use crate::config::Config;

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
    let config = Config::load(config)?;
    // The first issuer with an HS* secret.
    let minter = config
        .auth
        .methods
        .iter()
        .filter_map(|m| match m {
            MethodSettings::Jwt(jwt) => Some(&jwt.issuers),
            _ => None,
        })
        .flatten()
        .find_map(|issuer| match &issuer.keys {
            IssuerKeySource::Hmac(secret) => Some((issuer, secret)),
            _ => None,
        });
    let Some((issuer, secret)) = minter else {
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
    claims.insert("iss".into(), issuer.issuer.clone().into());
    if let Some(aud) = issuer.audience.first() {
        claims.insert("aud".into(), aud.clone().into());
    }
    claims.insert("iat".into(), now.into());
    let exp = now
        .checked_add(args.ttl)
        .filter(|exp| *exp <= i64::MAX as u64)
        .ok_or_else(|| anyhow::anyhow!("--ttl {}: too large", args.ttl))?;
    claims.insert("exp".into(), exp.into());
    let header = jsonwebtoken::Header::new(issuer.algorithms[0]);
    let key = jsonwebtoken::EncodingKey::from_secret(secret.expose())?;
    println!("{}", jsonwebtoken::encode(&header, &claims, &key)?);
    Ok(ExitCode::SUCCESS)
}
