//! `[limits]`: rate limits per subject and per client IP (0: none), and where they are counted.

use std::time::Duration;

use anyhow::bail;
use serde::Deserialize;

use crate::config::sources::inline_or_env;
use crate::rate_limit::{LimitSettings, LimitStore, RedisLimitSettings};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    #[serde(default)]
    per_subject_per_second: u32,
    #[serde(default)]
    per_subject_burst: u32,
    #[serde(default)]
    per_ip_per_second: u32,
    #[serde(default)]
    per_ip_burst: u32,
    #[serde(default)]
    store: Store,
    redis_url: Option<String>,
    redis_url_env: Option<String>,
    key_prefix: Option<String>,
    timeout_ms: Option<u64>,
}

/// `limits.store`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Store {
    #[default]
    Memory,
    Redis,
}

const DEFAULT_KEY_PREFIX: &str = "signgate:limits:";
/// A check is on every request's path: Redis on the same network answers in well under a
/// millisecond, so 50 ms means it is in trouble.
const DEFAULT_TIMEOUT_MS: u64 = 50;
const TIMEOUT_RANGE_MS: std::ops::RangeInclusive<u64> = 1..=5000;

impl RawLimits {
    /// A burst below the rate is raised to the rate. A limit counts work (each key of a batch),
    /// so its burst must hold the largest batch, `max_batch_keys`.
    pub(super) fn check(&self, max_batch_keys: usize) -> anyhow::Result<LimitSettings> {
        let limits = LimitSettings {
            per_subject_per_second: self.per_subject_per_second,
            per_subject_burst: self.per_subject_burst.max(self.per_subject_per_second),
            per_ip_per_second: self.per_ip_per_second,
            per_ip_burst: self.per_ip_burst.max(self.per_ip_per_second),
            store: self.store()?,
        };
        for (name, per_second, burst) in [
            (
                "per_subject",
                limits.per_subject_per_second,
                limits.per_subject_burst,
            ),
            ("per_ip", limits.per_ip_per_second, limits.per_ip_burst),
        ] {
            if per_second > 0 && (burst as usize) < max_batch_keys {
                anyhow::bail!("limits.{name}_burst: {burst} is below server.max_batch_keys ({max_batch_keys}); a batch is charged one unit per key, so a full batch could never pass: raise the burst or lower max_batch_keys");
            }
        }
        Ok(limits)
    }

    fn store(&self) -> anyhow::Result<LimitStore> {
        let at = "limits";
        if self.store == Store::Memory {
            for (key, given) in [
                ("redis_url", self.redis_url.is_some()),
                ("redis_url_env", self.redis_url_env.is_some()),
                ("key_prefix", self.key_prefix.is_some()),
                ("timeout_ms", self.timeout_ms.is_some()),
            ] {
                if given {
                    bail!("{at}.{key}: only used with store = \"redis\" (the store is \"memory\")");
                }
            }
            return Ok(LimitStore::Memory);
        }
        let url = inline_or_env(at, "redis_url", &self.redis_url, &self.redis_url_env)?;
        let scheme_ok = ["redis://", "rediss://", "redis+unix://", "unix://"]
            .iter()
            .any(|s| url.expose().starts_with(s));
        if !scheme_ok {
            bail!("{at}.redis_url: not a redis:// URL");
        }
        let key_prefix = self
            .key_prefix
            .clone()
            .unwrap_or_else(|| DEFAULT_KEY_PREFIX.to_owned());
        // Without a prefix the limits would share the key space with whatever else the
        // database holds (sessions, say).
        if key_prefix.is_empty() {
            bail!("{at}.key_prefix: must not be empty (the limits must live under their own prefix, such as \"{DEFAULT_KEY_PREFIX}\")");
        }
        let timeout_ms = self.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
        if !TIMEOUT_RANGE_MS.contains(&timeout_ms) {
            bail!(
                "{at}.timeout_ms: must be between {} and {} (milliseconds)",
                TIMEOUT_RANGE_MS.start(),
                TIMEOUT_RANGE_MS.end()
            );
        }
        Ok(LimitStore::Redis(RedisLimitSettings {
            url,
            key_prefix,
            timeout: Duration::from_millis(timeout_ms),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(toml: &str) -> RawLimits {
        use figment::providers::Format;
        figment::Figment::from(figment::providers::Toml::string(toml))
            .extract()
            .unwrap()
    }

    #[test]
    fn memory_is_the_default_and_refuses_redis_settings() {
        let limits = raw("per_ip_per_second = 5").check(1).unwrap();
        assert_eq!(limits.store, LimitStore::Memory);
        let err = raw("redis_url = \"redis://x/\"").check(1).unwrap_err();
        assert!(
            err.to_string()
                .contains("limits.redis_url: only used with store = \"redis\""),
            "{err}"
        );
    }

    #[test]
    fn a_redis_store_needs_a_url_and_a_prefix_and_has_a_short_timeout() {
        let limits = raw("store = \"redis\"\nredis_url = \"redis://127.0.0.1:6379/\"")
            .check(1)
            .unwrap();
        let LimitStore::Redis(redis) = limits.store else {
            panic!("redis")
        };
        assert_eq!(redis.key_prefix, DEFAULT_KEY_PREFIX);
        assert_eq!(redis.timeout, Duration::from_millis(50));
        for (toml, message) in [
            (
                "store = \"redis\"",
                "limits: give exactly one of redis_url and redis_url_env",
            ),
            (
                "store = \"redis\"\nredis_url = \"http://x/\"",
                "limits.redis_url: not a redis:// URL",
            ),
            (
                "store = \"redis\"\nredis_url = \"redis://x/\"\nkey_prefix = \"\"",
                "limits.key_prefix: must not be empty",
            ),
            (
                "store = \"redis\"\nredis_url = \"redis://x/\"\ntimeout_ms = 0",
                "limits.timeout_ms: must be between 1 and 5000",
            ),
        ] {
            let err = raw(toml).check(1).unwrap_err().to_string();
            assert!(err.contains(message), "{toml}: {err}");
        }
    }
}
