//! Tokens that verified, remembered by their exact text: a browser or player sends the same
//! token with every request of a session, so later requests with the very same bytes skip the
//! signature check (not the time checks).

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::User;
use crate::metrics::CacheCounters;

/// Tokens that passed every check, keyed by their exact text (any other byte is another key, so
/// a forged variant of a cached token is never a hit). An entry lives at most `ttl` and is only
/// used while the token's own `exp`/`nbf` still hold under the issuer's leeway, judged at the
/// request's time from the service clock (always the system clock outside tests, the clock the
/// JWT library verifies by); failures are never cached. The cache belongs to one
/// configuration: a reload builds a new, empty one.
pub struct VerifiedTokens {
    cache: quick_cache::sync::Cache<Box<[u8]>, Verified, Weight, foldhash::fast::RandomState>,
    /// How long an entry may be used, in whole seconds.
    ttl_seconds: u64,
    counters: CacheCounters,
}

#[derive(Clone)]
struct Verified {
    user: Arc<User>,
    exp: u64,
    nbf: Option<u64>,
    leeway: u64,
    /// The first second (the request clock, as for [`VerifiedTokens::get`]) at which the entry is
    /// no longer used.
    stale_at: u64,
}

/// An entry's weight in bytes: the key, the decoded claims (every name and value, with
/// per-node overhead: a long `groups` list weighs what it holds) and fixed overhead.
#[derive(Clone)]
struct Weight;

impl quick_cache::Weighter<Box<[u8]>, Verified> for Weight {
    fn weight(&self, token: &Box<[u8]>, v: &Verified) -> u64 {
        let claims: usize = v
            .user
            .claims
            .iter()
            .map(|(k, v)| k.len() + 48 + value_bytes(v))
            .sum();
        (token.len() + claims + v.user.subject.len() + 160) as u64
    }
}

/// Approximate heap bytes held by a decoded JSON value.
fn value_bytes(v: &Value) -> usize {
    const NODE: usize = 32;
    match v {
        Value::String(s) => NODE + s.len(),
        Value::Array(a) => NODE + a.iter().map(value_bytes).sum::<usize>(),
        Value::Object(m) => {
            NODE + m
                .iter()
                .map(|(k, v)| k.len() + 48 + value_bytes(v))
                .sum::<usize>()
        }
        _ => NODE,
    }
}

/// Tokens longer than this are verified every time rather than cached.
const MAX_CACHED_TOKEN_BYTES: usize = 4096;

impl VerifiedTokens {
    /// Hits and misses are counted in `counters` (the service's `jwt_cache_*` series).
    pub fn new(ttl: Duration, max_bytes: u64, counters: CacheCounters) -> Self {
        // quick_cache, not moka: a hit is one read lock and a lookup (moka's recorded every
        // read for its LRU and checked its clock: ~650 instructions a lookup, on every request).
        // It has no time-to-live, so each entry carries its own and is refused once stale;
        // memory is bounded by weight either way.
        let cache = quick_cache::sync::Cache::with(
            usize::try_from(max_bytes / 1024)
                .unwrap_or(usize::MAX)
                .max(1),
            max_bytes,
            Weight,
            // Only verified tokens are stored, so an attacker cannot choose what fills the table.
            foldhash::fast::RandomState::default(),
            quick_cache::sync::DefaultLifecycle::default(),
        );
        VerifiedTokens {
            cache,
            ttl_seconds: ttl.as_secs(),
            counters,
        }
    }

    /// The caller of `token` (its bytes as sent) if it was verified within the TTL and is
    /// still fresh at `now`, the request's time from the service clock (the system clock in a
    /// deployment, the one the JWT library verifies a missed token by). Only tokens that passed
    /// the credential check and verification are ever stored, so a match on the exact bytes
    /// needs neither again.
    pub(super) fn get(&self, token: &[u8], now: u64) -> Option<Arc<User>> {
        if token.len() > MAX_CACHED_TOKEN_BYTES {
            // Never stored: no need to hash it to find out.
            self.counters.misses.inc();
            return None;
        }
        let user = self.cache.get(token).and_then(|hit| {
            if now >= hit.stale_at {
                return None;
            }
            // The library's own rules: expired when exp < now - leeway, early when
            // nbf > now + leeway (`Issuer::new` leaves reject_tokens_expiring_in_less_than at
            // 0; a change there must be mirrored here).
            let fresh = hit.exp >= now.saturating_sub(hit.leeway)
                && hit
                    .nbf
                    .is_none_or(|nbf| nbf <= now.saturating_add(hit.leeway));
            fresh.then(|| hit.user.clone())
        });
        match user {
            Some(_) => self.counters.hits.inc(),
            None => self.counters.misses.inc(),
        };
        user
    }

    /// Remembers `token` from `now` (the request clock, as for [`Self::get`]).
    pub(super) fn insert(&self, token: &str, user: Arc<User>, leeway: u64, now: u64) {
        if token.len() > MAX_CACHED_TOKEN_BYTES {
            return;
        }
        // The library has validated both as whole seconds; anything else is not cached.
        let Some(exp) = user.claims.get("exp").and_then(Value::as_u64) else {
            return;
        };
        let nbf = match user.claims.get("nbf") {
            None => None,
            Some(v) => match v.as_u64() {
                Some(n) => Some(n),
                None => return,
            },
        };
        let entry = Verified {
            user,
            exp,
            nbf,
            leeway,
            stale_at: now.saturating_add(self.ttl_seconds),
        };
        self.cache.insert(token.as_bytes().into(), entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_used_for_its_ttl_and_not_one_second_more() {
        let cache = VerifiedTokens::new(Duration::from_secs(60), 1 << 20, CacheCounters::default());
        let claims = serde_json::json!({"sub": "alice", "exp": 10_000});
        let user = Arc::new(User {
            subject: "alice".into(),
            claims: claims.as_object().unwrap().clone(),
            via: "jwt",
        });
        cache.insert("tok.en.x", user, 0, 1_000);
        assert!(cache.get(b"tok.en.x", 1_000).is_some());
        assert!(cache.get(b"tok.en.x", 1_059).is_some());
        assert!(
            cache.get(b"tok.en.x", 1_060).is_none(),
            "stale at insertion + ttl"
        );
        // The token's own expiry still ends it first when it is sooner.
        let cache = VerifiedTokens::new(Duration::from_secs(60), 1 << 20, CacheCounters::default());
        let claims = serde_json::json!({"sub": "alice", "exp": 1_010});
        let user = Arc::new(User {
            subject: "alice".into(),
            claims: claims.as_object().unwrap().clone(),
            via: "jwt",
        });
        cache.insert("tok.en.y", user, 0, 1_000);
        assert!(cache.get(b"tok.en.y", 1_010).is_some());
        assert!(cache.get(b"tok.en.y", 1_011).is_none());
    }

    #[test]
    fn claim_values_count_toward_the_cache_weight() {
        let groups: Vec<Value> = (0..200)
            .map(|i| Value::String(format!("group-{i:04}")))
            .collect();
        let small = serde_json::json!("x");
        let large = Value::Array(groups);
        // 200 strings of 10 bytes, each with its node: far more than the name alone.
        assert!(value_bytes(&large) >= 200 * (32 + 10));
        assert!(value_bytes(&large) > 100 * value_bytes(&small));
        let nested = serde_json::json!({"realm": {"roles": ["a", "b"]}});
        assert!(value_bytes(&nested) > value_bytes(&serde_json::json!(["a", "b"])));
    }
}
