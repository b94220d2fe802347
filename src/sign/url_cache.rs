//! Stable URLs: one signed URL per object and expiry step, reused by every request within it.

use std::sync::Arc;

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
    cache: moka::sync::Cache<String, Arc<SignedObject>>,
    counters: CacheCounters,
}

impl UrlCache {
    pub fn new(
        step_seconds: u64,
        max_entries: u64,
        lifetime_seconds: u64,
        counters: CacheCounters,
    ) -> Self {
        let cache = moka::sync::Cache::builder()
            .max_capacity(max_entries)
            .time_to_live(std::time::Duration::from_secs(
                lifetime_seconds + step_seconds,
            ))
            .build();
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
            .filter(|hit| hit.expires_at == expires_at && hit.key_pair_id == active_key);
        match hit {
            Some(hit) => {
                self.counters.hits.inc();
                Some(SignedObject::clone(&hit))
            }
            None => {
                self.counters.misses.inc();
                None
            }
        }
    }

    pub fn insert(&self, key: String, signed: &SignedObject) {
        self.cache.insert(key, Arc::new(signed.clone()));
    }
}
