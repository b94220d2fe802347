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
    /// A burst below the rate is raised to the rate.
    pub(super) fn check(&self) -> LimitSettings {
        LimitSettings {
            per_subject_per_second: self.per_subject_per_second,
            per_subject_burst: self.per_subject_burst.max(self.per_subject_per_second),
            per_ip_per_second: self.per_ip_per_second,
            per_ip_burst: self.per_ip_burst.max(self.per_ip_per_second),
        }
    }
}
