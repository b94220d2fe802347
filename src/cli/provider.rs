//! `--provider NAME --provider-key NAME=FILE --option OPTION=VALUE`: a CDN beside CloudFront for
//! `sign`, `verify` and `edge`, with the keys and options a `[[distributions]]` entry takes,
//! checked the same way.

use anyhow::{bail, Context};
use clap::Args;

use crate::sign::CdnSigner;

#[derive(Args, Debug, Clone)]
pub struct ProviderArgs {
    /// A CDN beside CloudFront (google-cloud-cdn, google-media-cdn, akamai, bunny,
    /// nginx-secure-link) or an object store (s3, gcs, azure-blob; s3's key: ACCESS_KEY_ID=FILE
    /// with the secret).
    #[arg(long, value_name = "NAME")]
    pub provider: Option<String>,
    /// One of that provider's keys, as NAME=FILE (the file holds the key as a distribution's
    /// key_file does). Repeat for several; the first one signs.
    #[arg(long = "provider-key", value_name = "NAME=FILE", requires = "provider")]
    keys: Vec<String>,
    /// A provider option as in [[distributions]] (mode=tokens, token_name=hdnts,
    /// expression=..., ip_binding=ipv4-and-ipv6-64, region=eu-west-1, hmac_access_id=...,
    /// account=..., container=..., protocol=https,http, stored_policy=...; for s3 method=GET|HEAD,
    /// the method the link is for). Repeat for several.
    #[arg(long = "option", value_name = "OPTION=VALUE", requires = "provider")]
    options: Vec<String>,
}

fn pairs(flag: &str, entries: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    entries
        .iter()
        .map(|e| {
            let (k, v) = e
                .split_once('=')
                .with_context(|| format!("{flag} {e:?}: expected NAME=VALUE"))?;
            Ok((k.to_owned(), v.to_owned()))
        })
        .collect()
}

impl ProviderArgs {
    /// The provider's signer for URLs under `url`'s origin, or `None` without `--provider`.
    pub fn signer(&self, url: &str) -> anyhow::Result<Option<CdnSigner>> {
        let Some(provider) = &self.provider else {
            return Ok(None);
        };
        if self.keys.is_empty() {
            bail!("--provider {provider}: give its keys with --provider-key NAME=FILE");
        }
        let origin = origin(url).with_context(|| format!("{url:?} is not an absolute URL"))?;
        let keys = pairs("--provider-key", &self.keys)?;
        let options = pairs("--option", &self.options)?;
        crate::config::signer_for_cli(provider, origin, &keys, &options).map(Some)
    }
}

/// `scheme://authority` of `url`.
fn origin(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&url[..url.len() - rest.len() + end])
}
