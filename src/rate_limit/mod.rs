//! Per-subject and per-client-IP rate limits (GCRA), answered with 429 and `Retry-After`.
//!
//! Limits count work, not requests: a request is one unit, and the work it asks for beyond its
//! first signature is charged too ([`RateLimits::charge_subject`], [`RateLimits::charge_ip`]):
//! every further key of a `/sign` batch, every SQL grant query a decision cache did not answer.
//! So one subject within its limit cannot take the signing core or the grant database from
//! everyone else by packing work into few requests.
//!
//! Where the limits are counted is `[limits] store`: in this process ([`memory`]), or in Redis
//! shared by every replica ([`redis`]), so that N replicas allow the configured rate, not N
//! times it. A shared store that does not answer never decides a request: the replica limits
//! with its own memory until the store is back. Limits never decide who may read what.

mod memory;
mod redis;

use std::net::IpAddr;
use std::time::Duration;

use crate::metrics::Metrics;
use crate::secret::Secret;

use self::memory::MemoryLimits;
use self::redis::RedisLimits;

/// `[limits]`: requests per second and burst, per subject and per client IP (0: no limit), and
/// where they are counted. The burst is never below the rate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LimitSettings {
    pub per_subject_per_second: u32,
    pub per_subject_burst: u32,
    pub per_ip_per_second: u32,
    pub per_ip_burst: u32,
    pub store: LimitStore,
}

/// `[limits] store`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum LimitStore {
    /// Each process counts for itself.
    #[default]
    Memory,
    /// Every replica counts in one Redis.
    Redis(RedisLimitSettings),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisLimitSettings {
    pub url: Secret<String>,
    /// Every key this service writes starts with it.
    pub key_prefix: String,
    /// How long one check may take (connecting included) before the replica limits locally.
    pub timeout: Duration,
}

/// Over the limit: retry after this many whole seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: u64,
}

/// More units at once than the burst holds: never allowed (the configuration keeps the burst at
/// least the largest batch, so only a bug gets here).
const OVER_CAPACITY: Limited = Limited { retry_after: 60 };

/// The answer to a wait of `wait`: at least one second, rounded up.
fn limited(wait: Duration) -> Limited {
    Limited {
        retry_after: wait.as_secs().max(1) + u64::from(wait.subsec_nanos() > 0),
    }
}

/// What a limit is counted against.
#[derive(Clone, Copy)]
enum Counted<'a> {
    Subject(&'a str),
    Ip(IpAddr),
}

pub struct RateLimits {
    /// The store with `store = "memory"`; with Redis, the fallback while it does not answer.
    memory: MemoryLimits,
    shared: Option<RedisLimits>,
}

impl RateLimits {
    /// Nothing here touches the network: a shared store connects on first use.
    pub fn new(s: &LimitSettings, metrics: &Metrics) -> anyhow::Result<Self> {
        let shared = match &s.store {
            LimitStore::Memory => None,
            LimitStore::Redis(redis) => Some(RedisLimits::new(s, redis, metrics)?),
        };
        Ok(RateLimits {
            memory: MemoryLimits::new(s),
            shared,
        })
    }

    // The shared store's futures are boxed (~2.5 KB each): they wait on Redis anyway, and held
    // inline they would grow every request's future, which is moved at each layer.
    pub async fn check_ip(&self, ip: IpAddr) -> Result<(), Limited> {
        match &self.shared {
            None => self.memory.check_ip(ip),
            Some(shared) => Box::pin(shared.take(Counted::Ip(ip), 1, &self.memory)).await,
        }
    }

    pub async fn check_subject(&self, subject: &str) -> Result<(), Limited> {
        match &self.shared {
            None => self.memory.check_subject(subject),
            Some(shared) => Box::pin(shared.take(Counted::Subject(subject), 1, &self.memory)).await,
        }
    }

    /// Charges `units` more of work to `subject`, all or nothing.
    pub async fn charge_subject(&self, subject: &str, units: u32) -> Result<(), Limited> {
        match &self.shared {
            None => self.memory.charge_subject(subject, units),
            Some(shared) => {
                Box::pin(shared.take(Counted::Subject(subject), units, &self.memory)).await
            }
        }
    }

    /// Charges `units` more of work to the client address `ip`, all or nothing.
    pub async fn charge_ip(&self, ip: IpAddr, units: u32) -> Result<(), Limited> {
        match &self.shared {
            None => self.memory.charge_ip(ip, units),
            Some(shared) => Box::pin(shared.take(Counted::Ip(ip), units, &self.memory)).await,
        }
    }

    /// Forgets keys that are back to a full bucket, so memory stays bounded (a shared store's
    /// keys expire in Redis on their own).
    pub fn sweep(&self) {
        self.memory.sweep();
    }
}

impl MemoryLimits {
    /// `units` of `counted`, as the memory store takes them.
    fn take(&self, counted: Counted<'_>, units: u32) -> Result<(), Limited> {
        match (counted, units) {
            (Counted::Subject(s), 1) => self.check_subject(s),
            (Counted::Subject(s), n) => self.charge_subject(s, n),
            (Counted::Ip(ip), 1) => self.check_ip(ip),
            (Counted::Ip(ip), n) => self.charge_ip(ip, n),
        }
    }
}
