//! `[limits]`: rate limits per subject and per client IP (0: none).

use serde::Deserialize;

use crate::rate_limit::LimitSettings;

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
}

impl RawLimits {
    /// A burst below the rate is raised to the rate. A limit counts work (each key of a batch),
    /// so its burst must hold the largest batch, `max_batch_keys`.
    pub(super) fn check(&self, max_batch_keys: usize) -> anyhow::Result<LimitSettings> {
        let limits = LimitSettings {
            per_subject_per_second: self.per_subject_per_second,
            per_subject_burst: self.per_subject_burst.max(self.per_subject_per_second),
            per_ip_per_second: self.per_ip_per_second,
            per_ip_burst: self.per_ip_burst.max(self.per_ip_per_second),
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
}
