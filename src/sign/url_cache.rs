//! Stable URLs: one signed URL per object and expiry step, reused by every request within it.

use super::SignedObject;
use crate::download::DownloadName;
use crate::metrics::CacheCounters;
use crate::object_key::ObjectKey;

/// Signed URLs reused for every request for the same object within one expiry step, so browsers
/// and players keep their caches. Never used for policies bound to a client IP (configuration
/// refuses that combination). Authorization still runs on every request; only the signature is
/// reused.
pub struct UrlCache {
    pub step_seconds: u64,
    cache: quick_cache::sync::Cache<String, SignedObject, Weight, foldhash::fast::RandomState>,
    counters: CacheCounters,
}

/// An entry's weight: what it holds, in bytes.
#[derive(Clone)]
struct Weight;

impl quick_cache::Weighter<String, SignedObject> for Weight {
    fn weight(&self, key: &String, signed: &SignedObject) -> u64 {
        (key.len() + signed.url.len() + signed.key_id.len() + ENTRY_OVERHEAD) as u64
    }
}

/// What one `cache_entries` stands for: the cache holds at most `cache_entries` KiB, weighed by
/// what each entry really holds, so long keys (a subject filling the cache with 1 KiB keys and
/// long download names, say) mean fewer entries, never more memory.
pub const BYTES_PER_ENTRY: u64 = 1024;

/// Bytes an entry costs beyond its strings (the map slot, the `Arc`, the expiry bookkeeping).
const ENTRY_OVERHEAD: usize = 160;

impl UrlCache {
    pub fn new(step_seconds: u64, max_entries: u64, counters: CacheCounters) -> Self {
        // quick_cache, not moka: a hit is one read lock and a lookup (moka recorded every read
        // for its LRU: ~650 instructions on every cached answer). Nothing expires by time: an
        // entry of an earlier step is never handed out (`get` checks its expiry) and is
        // replaced when its object is signed again, or evicted by weight.
        let cache = quick_cache::sync::Cache::with(
            usize::try_from(max_entries).unwrap_or(usize::MAX).max(1),
            max_entries.saturating_mul(BYTES_PER_ENTRY),
            Weight,
            // Keys are objects some rule allowed: per-process seeded, SipHash is not needed.
            foldhash::fast::RandomState::default(),
            quick_cache::sync::DefaultLifecycle::default(),
        );
        UrlCache {
            step_seconds,
            cache,
            counters,
        }
    }

    /// The cache key of `key` with its download name (which changes the signed URL).
    pub fn key(key: &ObjectKey, download: Option<&DownloadName>) -> String {
        let mut k = String::with_capacity(key.as_str().len() + 48);
        k.push_str(key.as_str());
        k.push('\0');
        if let Some(name) = download {
            k.push_str(&name.query_value());
        }
        k
    }

    /// The URL signed earlier for `key`, if it has the expiry of this step and was signed by
    /// the key still active: then it is the very same URL a new signature would give.
    pub fn get(&self, key: &str, expires_at: u64, active_key: &str) -> Option<SignedObject> {
        let hit = self
            .cache
            .get(key)
            .filter(|hit| hit.expires_at == expires_at && *hit.key_id == *active_key);
        match hit {
            Some(hit) => {
                self.counters.hits.inc();
                Some(hit)
            }
            None => {
                self.counters.misses.inc();
                None
            }
        }
    }

    pub fn insert(&self, key: String, signed: &SignedObject) {
        self.cache.insert(key, signed.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_entries_mean_fewer_entries_never_more_memory() {
        let cache = UrlCache::new(60, 10, CacheCounters::default());
        for i in 0..200 {
            let signed = SignedObject {
                url: format!("https://media.example.com/{i}/{}", "x".repeat(2000)).into(),
                expires_at: 60,
                key_id: "K1".into(),
            };
            cache.insert(format!("{i}/{}", "k".repeat(1000)), &signed);
        }
        let held: usize = cache
            .cache
            .iter()
            .map(|(k, v)| k.len() + v.url.len() + v.key_id.len())
            .sum();
        assert!(held > 0);
        assert!(held as u64 <= 10 * BYTES_PER_ENTRY, "{held} bytes held");
        // Short entries fit about one per KiB.
        let cache = UrlCache::new(60, 10, CacheCounters::default());
        for i in 0..10 {
            let signed = SignedObject {
                url: format!("https://d.example/{i}.mp4?Expires=60&Signature=abc&Key-Pair-Id=K1")
                    .into(),
                expires_at: 60,
                key_id: "K1".into(),
            };
            cache.insert(format!("{i}.mp4\0"), &signed);
        }
        assert_eq!(cache.cache.len(), 10);
    }
}
