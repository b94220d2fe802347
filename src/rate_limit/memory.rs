//! The limits kept in this process (GCRA via governor): the whole store with `store = "memory"`,
//! and each replica's fallback while a shared store is unreachable.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::{limited, LimitSettings, Limited};

pub struct MemoryLimits {
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

impl MemoryLimits {
    pub fn new(s: &LimitSettings) -> Self {
        MemoryLimits {
            per_subject: limiter(s.per_subject_per_second, s.per_subject_burst),
            per_ip: limiter(s.per_ip_per_second, s.per_ip_burst),
            clock: DefaultClock::default(),
        }
    }

    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Limited> {
        match &self.per_ip {
            Some(l) => l
                .check_key(&ip)
                .map_err(|n| limited(n.wait_time_from(self.clock.now()))),
            None => Ok(()),
        }
    }

    pub fn check_subject(&self, subject: &str) -> Result<(), Limited> {
        match &self.per_subject {
            Some(l) => l
                .check_key(&subject.to_owned())
                .map_err(|n| limited(n.wait_time_from(self.clock.now()))),
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
            Ok(Err(not_until)) => Err(limited(not_until.wait_time_from(self.clock.now()))),
            // More than the burst at once: never allowed (the configuration keeps the burst at
            // least the largest batch, so only a bug gets here).
            Err(_) => Err(super::OVER_CAPACITY),
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
