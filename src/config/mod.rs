//! Configuration: one commented TOML file plus `SIGNGATE_SECTION__KEY` environment overrides,
//! parsed once into a plain-data [`Config`]. Every choice is a serde enum; every value is checked
//! here, with the key named in the message; files and environment variables named by the file
//! (keys, secrets, database URLs) are read here too, so a bad setup stops the start.
//!
//! Nothing here builds live parts (pools, caches, HTTP clients) or talks to the network: each
//! module builds itself from its section (`App::build` in `app.rs`). One file per section,
//! holding its raw serde struct and its checks:
//! [`server`], [`log`], [`limits`], [`auth`], [`signing`] (key sets and distributions, with
//! [`providers`] for the keys of CDNs beside CloudFront, and [`key_age`] for their ages),
//! [`rules`] and [`grants`].

mod auth;
mod grants;
mod key_age;
mod limits;
mod log;
mod providers;
mod rules;
mod server;
mod signing;
mod sources;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;
use signgate_cloudfront::KeySet;

use crate::authenticate::settings::AuthSettings;
use crate::authorize::sql_grant::GrantSettings;
use crate::authorize::RuleSettings;
use crate::clock::Clock;
use crate::rate_limit::LimitSettings;
use crate::sign::{Distribution, TargetSettings};
use crate::telemetry::LogSettings;

pub use key_age::KeySetAge;
pub use providers::signer_for_cli;
pub use server::ServerConfig;
pub use signing::DEMO_KEY_MARKER;

/// Everything the service is built from, checked.
#[derive(Clone, Debug)]
pub struct Config {
    /// A development setup: demo keys and inline secrets allowed.
    pub dev: bool,
    pub server: ServerConfig,
    pub log: LogSettings,
    pub limits: LimitSettings,
    pub auth: AuthSettings,
    pub key_sets: Vec<(String, Arc<KeySet>)>,
    /// Each key set's active key's age and `rotate_after_days`, in the order of `key_sets`.
    pub key_ages: Vec<KeySetAge>,
    pub distributions: Vec<Arc<Distribution>>,
    /// The rules in order, each with what it signs with.
    pub rules: Vec<(RuleSettings, TargetSettings)>,
    pub grants: Vec<GrantSettings>,
    /// The file this came from (re-read on SIGHUP).
    pub source: PathBuf,
    /// The time source; the system clock except in tests.
    pub clock: Clock,
}

/// The file as written, before checks. Unknown keys are refused so that a typo cannot silently
/// drop a setting.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    dev: bool,
    server: server::RawServer,
    #[serde(default)]
    log: log::RawLog,
    #[serde(default)]
    limits: limits::RawLimits,
    auth: auth::RawAuth,
    #[serde(default)]
    key_sets: Vec<signing::RawKeySet>,
    #[serde(default)]
    distributions: Vec<signing::RawDistribution>,
    #[serde(default)]
    rules: Vec<rules::RawRule>,
    #[serde(default)]
    grants: Vec<grants::RawGrant>,
}

impl Config {
    /// Reads `path`, applies `SIGNGATE_...` environment overrides, checks.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        Self::load_with(path, Figment::new())
    }

    /// As [`Config::load`], with `overrides` merged last (tests use it to set ports).
    pub fn load_with(path: &Path, overrides: Figment) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!("cannot read the configuration file {}: {e}", path.display())
        })?;
        refuse_misspelled_overrides()?;
        let figment = Figment::from(Toml::string(&text))
            .merge(env_overrides())
            .merge(overrides);
        let raw: RawConfig = figment
            .extract()
            .map_err(|e| anyhow::anyhow!("configuration {}: {}", path.display(), describe(e)))?;
        let base = path.parent().unwrap_or(Path::new("."));
        check(raw, base, path)
            .map_err(|e| anyhow::anyhow!("configuration {}: {e:#}", path.display()))
    }
}

fn check(raw: RawConfig, base: &Path, source: &Path) -> anyhow::Result<Config> {
    let dev = raw.dev;
    let server = raw.server.check()?;
    let (key_sets, key_ages) = signing::key_sets(&raw.key_sets, base, dev, Clock::System.now())?;
    let distributions =
        signing::distributions(&raw.distributions, &key_sets, &server.public_url, base, dev)?;
    let grant_names: Vec<&str> = raw.grants.iter().map(|g| g.name.as_str()).collect();
    let rules = raw
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            r.check(
                &format!("rules[{i}]"),
                &distributions,
                &key_sets,
                &grant_names,
                server.deny_as_not_found,
            )
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    check_shared_folders(&rules)?;
    Ok(Config {
        dev,
        log: raw.log.check()?,
        limits: raw.limits.check(server.max_batch_keys)?,
        auth: raw.auth.check(base, dev)?,
        grants: grants::check(&raw.grants)?,
        server,
        key_sets,
        key_ages,
        distributions,
        rules,
        source: source.to_path_buf(),
        clock: Clock::System,
    })
}

/// `sign_per = "folder"` rules: one signature over a folder must cover only what the rule
/// allows the caller anyway, which depends on the rules read before it.
fn check_shared_folders(rules: &[(RuleSettings, TargetSettings)]) -> anyhow::Result<()> {
    let settings: Vec<RuleSettings> = rules.iter().map(|(r, _)| r.clone()).collect();
    for (i, (_, target)) in rules.iter().enumerate() {
        if target.folder_policies.is_some() {
            if let Some(why) = crate::authorize::shared_folder::refusal(&settings, i) {
                anyhow::bail!("rules[{i}].sign_per: {why}");
            }
        }
    }
    Ok(())
}

/// `SIGNGATE_SECTION__KEY=value`. Variables that are not settings are left alone.
/// A `SIGNGATE_<SECTION>__<KEY>` variable whose section does not exist is a typo of an override
/// (`SIGNGATE_SERVR__LISTEN`): refused rather than silently ignored.
fn refuse_misspelled_overrides() -> anyhow::Result<()> {
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        let Some(key) = name.strip_prefix("SIGNGATE_") else {
            continue;
        };
        if key.contains("__") && !is_setting(key) && !key.to_ascii_lowercase().starts_with("test_")
        {
            anyhow::bail!("environment variable {name}: no configuration section {:?} (overrides are SIGNGATE_<SECTION>__<KEY>)", key.split("__").next().unwrap_or_default().to_ascii_lowercase());
        }
    }
    Ok(())
}

fn env_overrides() -> Env {
    Env::prefixed("SIGNGATE_")
        .split("__")
        .filter(|key| is_setting(key.as_str()))
}

/// Only `SIGNGATE_<SECTION>[__<KEY>...]` variables are settings, for the file's own top-level
/// sections. Every other `SIGNGATE_` variable is somebody's value, not an override: the config
/// path, the CLI's key passphrase, the test suite's service addresses, and the variables a file
/// names for its secrets (`secret_env = "SIGNGATE_HS256_SECRET"`, `database_url_env =
/// "SIGNGATE_DJANGO_DB"`), which must work as written. Keys arrive here in their original case.
fn is_setting(key: &str) -> bool {
    const SECTIONS: [&str; 9] = [
        "dev",
        "server",
        "log",
        "limits",
        "auth",
        "key_sets",
        "distributions",
        "rules",
        "grants",
    ];
    let key = key.to_ascii_lowercase();
    let section = key.split(['.']).next().unwrap_or_default();
    let section = section.split("__").next().unwrap_or_default();
    SECTIONS.contains(&section)
}

/// figment's error, one line per problem, with the key named as the checks name it
/// (`rules[0].access`).
fn describe(err: figment::Error) -> String {
    err.into_iter()
        .map(|e| {
            let key = e.path.iter().fold(String::new(), |mut key, part| {
                if part.bytes().all(|b| b.is_ascii_digit()) && !key.is_empty() {
                    key.push('[');
                    key.push_str(part);
                    key.push(']');
                } else {
                    if !key.is_empty() {
                        key.push('.');
                    }
                    key.push_str(part);
                }
                key
            });
            let source = e
                .metadata
                .as_ref()
                .map(|m| m.name.to_string())
                .unwrap_or_default();
            if key.is_empty() {
                format!("{} ({source})", e.kind)
            } else {
                format!("{key}: {} ({source})", e.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_config() -> Config {
        Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/signgate.toml")).unwrap()
    }

    #[test]
    fn the_configurations_debug_output_never_shows_a_secret() {
        let config = default_config();
        let text = format!("{config:?}");
        assert!(text.contains("signgate-dev"), "the issuer is shown: {text}");
        assert!(text.contains("[redacted]"), "{text}");
        assert!(!text.contains("signgate-demo-secret"), "{text}");
        assert!(!text.contains("PRIVATE KEY"), "{text}");
    }

    #[test]
    fn a_configuration_is_plain_data_that_can_be_cloned() {
        let config = default_config();
        let copy = config.clone();
        assert_eq!(copy.server, config.server);
        assert_eq!(copy.rules.len(), config.rules.len());
    }

    #[test]
    fn figment_paths_read_as_the_checks_name_keys() {
        let toml =
            "[server]\nlisten = \"127.0.0.1:1\"\npublic_url = \"https://x.example\"\n[auth]\n\
                    [[rules]]\npattern = \"a/**\"\naccess = \"everyone\"\ndistribution = \"d\"\n";
        let err = Figment::from(Toml::string(toml))
            .extract::<RawConfig>()
            .unwrap_err();
        let text = describe(err);
        assert!(text.starts_with("rules[0].access: "), "{text}");
        assert!(text.contains("everyone"), "{text}");
    }
}
