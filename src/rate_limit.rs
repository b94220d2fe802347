//! Per-subject and per-client-IP rate limits (GCRA), answered with 429 and `Retry-After`.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// `[limits]`: requests per second and burst, per subject and per client IP (0: no limit). The
/// burst is never below the rate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LimitSettings {
    pub per_subject_per_second: u32,
    pub per_subject_burst: u32,
    pub per_ip_per_second: u32,
    pub per_ip_burst: u32,
}

/// Over the limit: retry after this many whole seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: u64,
}

pub struct RateLimits {
    per_subject: Option<DefaultKeyedRateLimiter<String>>,
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    clock: DefaultClock,
}

fn limiter<K: std::hash::Hash + Eq + Clone>(
    per_second: u32,
    burst: u32,
) -> Option<DefaultKeyedRateLimiter<K>> {
    let rate = NonZeroU32::new(per_second)?;
    let burst = NonZeroU32::new(burst).unwrap_or(rate);
    Some(RateLimiter::keyed(
        Quota::per_second(rate).allow_burst(burst),
    ))
}

impl RateLimits {
    pub fn new(s: &LimitSettings) -> Self {
        RateLimits {
            per_subject: limiter(s.per_subject_per_second, s.per_subject_burst),
            per_ip: limiter(s.per_ip_per_second, s.per_ip_burst),
            clock: DefaultClock::default(),
        }
    }

    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Limited> {
        match &self.per_ip {
            Some(l) => l
                .check_key(&ip)
                .map_err(|n| self.limited(n.wait_time_from(self.clock.now()))),
            None => Ok(()),
        }
    }

    pub fn check_subject(&self, subject: &str) -> Result<(), Limited> {
        match &self.per_subject {
            // Look up by &str first so the common (allowed) path does not allocate twice.
            Some(l) => l
                .check_key(&subject.to_owned())
                .map_err(|n| self.limited(n.wait_time_from(self.clock.now()))),
            None => Ok(()),
        }
    }

    fn limited(&self, wait: std::time::Duration) -> Limited {
        Limited {
            retry_after: wait.as_secs().max(1) + u64::from(wait.subsec_nanos() > 0),
        }
    }

    /// Forgets keys that are back to a full bucket, so memory stays bounded.
    pub fn sweep(&self) {
        if let Some(l) = &self.per_subject {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some(l) = &self.per_ip {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}
