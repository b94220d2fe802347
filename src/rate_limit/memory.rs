//! Per-subject and per-client-IP rate limits (GCRA), answered with 429 and `Retry-After`.
//!
//! Limits count work, not requests: a request is one unit, and the work it asks for beyond its
//! first signature is charged too ([`RateLimits::charge_subject`], [`RateLimits::charge_ip`]):
//! every further key of a `/sign` batch, every SQL grant query a decision cache did not answer.
//! So one subject within its limit cannot take the signing core or the grant database from
//! everyone else by packing work into few requests.

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

    /// Charges `units` more of work to `subject`, all or nothing.
    pub fn charge_subject(&self, subject: &str, units: u32) -> Result<(), Limited> {
        match (&self.per_subject, NonZeroU32::new(units)) {
            (Some(l), Some(n)) => self.charge(l, &subject.to_owned(), n),
            _ => Ok(()),
        }
    }

    /// Charges `units` more of work to the client address `ip`, all or nothing.
    pub fn charge_ip(&self, ip: IpAddr, units: u32) -> Result<(), Limited> {
        match (&self.per_ip, NonZeroU32::new(units)) {
            (Some(l), Some(n)) => self.charge(l, &ip, n),
            _ => Ok(()),
        }
    }

    fn charge<K: std::hash::Hash + Eq + Clone>(
        &self,
        limiter: &DefaultKeyedRateLimiter<K>,
        key: &K,
        units: NonZeroU32,
    ) -> Result<(), Limited> {
        match limiter.check_key_n(key, units) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(self.limited(not_until.wait_time_from(self.clock.now()))),
            // More than the burst at once: never allowed (the configuration keeps the burst at
            // least the largest batch, so only a bug gets here).
            Err(_) => Err(Limited { retry_after: 60 }),
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
