//! Limits shared by every replica, counted in Redis: one round trip per check, an atomic GCRA
//! script run by its SHA1 (`EVALSHA`; loaded again on `NOSCRIPT`, after a Redis restart or
//! failover), on Redis's own clock, so replicas whose clocks differ still count as one.
//!
//! Redis not answering within `timeout` never decides a request: the replica counts in its own
//! memory ([`super::memory`]) until Redis answers again, the outage is logged once (and its end
//! once), and `signgate_backend_up{backend="limits"}` is 0 meanwhile. While Redis is down, one
//! check every [`RETRY_AFTER`] tries it again; every other check is local at once, so an outage
//! adds no waiting to requests. Limits never decide who may read what, so an outage never
//! changes a decision either.
//!
//! Keys: `{key_prefix}s:{sha256(subject) as hex}` and `{key_prefix}i:{address}`. A subject is
//! hashed, so however it is spelled (any length, `:`, `{`, newlines) it names one fixed-length
//! key in its own namespace and can never name an address's key or another subject's.
//! Each key expires when its bucket would be full again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use redis::aio::MultiplexedConnection;
use sha2::{Digest, Sha256};

use super::memory::MemoryLimits;
use super::{limited, Counted, LimitSettings, Limited, RedisLimitSettings, OVER_CAPACITY};
use crate::backend::BackendHealth;
use crate::metrics::Metrics;

/// GCRA for `ARGV[3]` cells at once, all or nothing. `KEYS[1]` holds the theoretical arrival
/// time (TAT) in microseconds of Redis's clock; `ARGV[1]` is the emission interval (µs per
/// cell), `ARGV[2]` the burst (cells). Answers 0 when the cells are taken, the wait in µs until
/// they could be when they are not (nothing is taken), and -1 when more cells are asked than the
/// burst holds. Numbers are written with `%.0f`: Lua would print a large number in exponent form.
const GCRA: &str = r"
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cells = tonumber(ARGV[3])
if cells > burst then
  return -1
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then
  tat = now
end
local new_tat = tat + cells * interval
local allowed_at = new_tat - burst * interval
if allowed_at > now then
  return math.ceil(allowed_at - now)
end
local ttl = math.ceil((new_tat - now) / 1000)
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', string.format('%.0f', ttl))
return 0
";

/// While Redis is down, how long checks stay local before one tries Redis again.
const RETRY_AFTER: Duration = Duration::from_millis(500);

/// One limit as the script reads it.
struct Rate {
    /// Microseconds per unit, as text (fractional for rates that do not divide a second).
    interval_us: String,
    burst: u32,
}

impl Rate {
    fn new(per_second: u32, burst: u32) -> Option<Rate> {
        (per_second > 0).then(|| Rate {
            interval_us: format!("{:.3}", 1_000_000.0 / f64::from(per_second)),
            burst: burst.max(per_second),
        })
    }
}

pub struct RedisLimits {
    client: redis::Client,
    /// The multiplexed connection every check shares; `None` until the first check and after
    /// a failure.
    connection: ArcSwapOption<MultiplexedConnection>,
    /// Serializes connecting, so concurrent first checks open one connection, not many.
    connecting: tokio::sync::Mutex<()>,
    script: redis::Script,
    key_prefix: String,
    timeout: Duration,
    per_subject: Option<Rate>,
    per_ip: Option<Rate>,
    health: BackendHealth,
    /// 0 while Redis answers; otherwise when (ms after `epoch`) a check may try it again.
    retry_at_ms: AtomicU64,
    epoch: Instant,
}

impl RedisLimits {
    pub fn new(
        limits: &LimitSettings,
        s: &RedisLimitSettings,
        metrics: &Metrics,
    ) -> anyhow::Result<Self> {
        let client = redis::Client::open(s.url.expose().as_str())
            .map_err(|e| anyhow::anyhow!("limits.redis_url: {e}"))?;
        Ok(RedisLimits {
            client,
            connection: ArcSwapOption::empty(),
            connecting: tokio::sync::Mutex::new(()),
            script: redis::Script::new(GCRA),
            key_prefix: s.key_prefix.clone(),
            timeout: s.timeout,
            per_subject: Rate::new(limits.per_subject_per_second, limits.per_subject_burst),
            per_ip: Rate::new(limits.per_ip_per_second, limits.per_ip_burst),
            health: BackendHealth::with_fallback(
                "limits",
                metrics,
                "rate limits are counted by each replica alone until it answers again",
            ),
            retry_at_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        })
    }

    /// Takes `units` of `counted`'s limit, all or nothing: in Redis, or in `local` memory while
    /// Redis does not answer.
    pub(super) async fn take(
        &self,
        counted: Counted<'_>,
        units: u32,
        local: &MemoryLimits,
    ) -> Result<(), Limited> {
        let rate = match counted {
            Counted::Subject(_) => &self.per_subject,
            Counted::Ip(_) => &self.per_ip,
        };
        let Some(rate) = rate else { return Ok(()) };
        if units == 0 {
            return Ok(());
        }
        if !self.may_try() {
            return local.take(counted, units);
        }
        let key = self.key(counted);
        match tokio::time::timeout(self.timeout, self.run(&key, rate, units)).await {
            Ok(Ok(wait_us)) => {
                self.answered();
                match wait_us {
                    0 => Ok(()),
                    w if w < 0 => Err(OVER_CAPACITY),
                    w => Err(limited(Duration::from_micros(w.unsigned_abs()))),
                }
            }
            Ok(Err(err)) => {
                self.unanswered(&err);
                local.take(counted, units)
            }
            Err(_) => {
                self.unanswered(&"timed out");
                local.take(counted, units)
            }
        }
    }

    /// The Redis key of `counted` (see the module documentation).
    fn key(&self, counted: Counted<'_>) -> String {
        use std::fmt::Write;
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut key = String::with_capacity(self.key_prefix.len() + 66);
        key.push_str(&self.key_prefix);
        match counted {
            Counted::Subject(subject) => {
                key.push_str("s:");
                for b in Sha256::digest(subject.as_bytes()) {
                    key.push(char::from(HEX[usize::from(b >> 4)]));
                    key.push(char::from(HEX[usize::from(b & 0xf)]));
                }
            }
            Counted::Ip(ip) => {
                let _ = write!(key, "i:{}", ip.to_canonical());
            }
        }
        key
    }

    async fn run(&self, key: &str, rate: &Rate, units: u32) -> redis::RedisResult<i64> {
        let mut connection = self.connection().await?;
        let mut gcra = self.script.key(key);
        gcra.arg(&rate.interval_us).arg(rate.burst).arg(units);
        gcra.invoke_async(&mut connection).await
    }

    async fn connection(&self) -> redis::RedisResult<MultiplexedConnection> {
        if let Some(c) = self.connection.load_full() {
            return Ok(MultiplexedConnection::clone(&c));
        }
        let _one_at_a_time = self.connecting.lock().await;
        if let Some(c) = self.connection.load_full() {
            return Ok(MultiplexedConnection::clone(&c));
        }
        let c = self.client.get_multiplexed_async_connection().await?;
        self.connection.store(Some(Arc::new(c.clone())));
        Ok(c)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether this check should ask Redis: always while it answers; while it does not, one
    /// check per [`RETRY_AFTER`] (the one that moves the retry time on), the others are local.
    fn may_try(&self) -> bool {
        let at = self.retry_at_ms.load(Ordering::Acquire);
        if at == 0 {
            return true;
        }
        let now = self.now_ms();
        now >= at
            && self
                .retry_at_ms
                .compare_exchange(
                    at,
                    self.next_retry(now),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
    }

    fn next_retry(&self, now: u64) -> u64 {
        (now + RETRY_AFTER.as_millis() as u64).max(1)
    }

    fn answered(&self) {
        if self.retry_at_ms.load(Ordering::Acquire) != 0 {
            self.retry_at_ms.store(0, Ordering::Release);
        }
        self.health.succeeded();
    }

    fn unanswered(&self, error: &dyn std::fmt::Display) {
        // A broken connection is dropped; the next try connects again.
        self.connection.store(None);
        self.retry_at_ms
            .store(self.next_retry(self.now_ms()), Ordering::Release);
        self.health.failed(error);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn limits(prefix: &str) -> RedisLimits {
        let settings = LimitSettings {
            per_subject_per_second: 3,
            per_subject_burst: 10,
            per_ip_per_second: 1,
            per_ip_burst: 1,
            ..Default::default()
        };
        let redis = RedisLimitSettings {
            url: Secret::new("redis://127.0.0.1:1/".into()),
            key_prefix: prefix.into(),
            timeout: Duration::from_millis(50),
        };
        RedisLimits::new(&settings, &redis, &Metrics::default()).unwrap()
    }

    #[test]
    fn subjects_get_fixed_length_keys_in_their_own_namespace() {
        let l = limits("sg:");
        let alice = l.key(Counted::Subject("alice"));
        assert_eq!(alice.len(), "sg:s:".len() + 64);
        assert!(alice.starts_with("sg:s:"));
        // A subject spelled like an address, or like another key, names neither.
        let ip: std::net::IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(l.key(Counted::Ip(ip)), "sg:i:192.0.2.1");
        assert_ne!(l.key(Counted::Subject("i:192.0.2.1")), "sg:i:192.0.2.1");
        let long = "x".repeat(100_000);
        assert_eq!(l.key(Counted::Subject(&long)).len(), alice.len());
        assert_ne!(l.key(Counted::Subject("alice\n")), alice);
        let mapped: std::net::IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(l.key(Counted::Ip(mapped)), "sg:i:192.0.2.1");
    }

    #[test]
    fn rates_become_intervals_in_microseconds() {
        let r = Rate::new(3, 10).unwrap();
        assert_eq!(r.interval_us, "333333.333");
        assert_eq!(r.burst, 10);
        assert_eq!(
            Rate::new(50, 1).unwrap().burst,
            50,
            "the burst is never below the rate"
        );
        assert!(Rate::new(0, 10).is_none());
    }

    #[tokio::test]
    async fn an_unreachable_store_limits_locally_and_retries_only_now_and_then() {
        // Port 1 refuses at once: the first check fails over, the ones right after it do not
        // even try.
        let l = limits("sg:");
        let local = MemoryLimits::new(&LimitSettings {
            per_ip_per_second: 1,
            per_ip_burst: 1,
            ..Default::default()
        });
        let ip = "192.0.2.9".parse().unwrap();
        assert_eq!(l.take(Counted::Ip(ip), 1, &local).await, Ok(()));
        assert!(l.retry_at_ms.load(Ordering::Acquire) > 0);
        assert!(
            !l.may_try(),
            "within RETRY_AFTER of a failure, checks stay local"
        );
        assert!(
            l.take(Counted::Ip(ip), 1, &local).await.is_err(),
            "the local limit holds"
        );
    }
}
