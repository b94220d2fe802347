//! Stable URLs: one signed URL per object and expiry step, reused by every request within it.

use super::SignedObject;
use crate::metrics::CacheCounters;
use crate::object_key::ObjectKey;

/// Signed URLs reused for every request for the same object within one expiry step, so browsers
/// and players keep their caches. Never used for policies bound to a client IP (configuration
/// refuses that combination). Authorization still runs on every request; only the signature is
/// reused.
pub struct UrlCache {
    pub step_seconds: u64,
    cache: quick_cache::sync::Cache<EntryKey, SignedObject, Weight, foldhash::fast::RandomState>,
    counters: CacheCounters,
}

/// What an entry is stored under: the object key and the download name's query value (which
/// changes the signed URL).
#[derive(Clone, Debug, PartialEq, Eq)]
struct EntryKey {
    object: Box<str>,
    download: Option<Box<str>>,
}

/// An entry's key, borrowed: looked up without building an [`EntryKey`].
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
struct Lookup<'a> {
    object: &'a str,
    download: Option<&'a str>,
}

impl std::hash::Hash for EntryKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // As its borrowed form hashes, so that either finds the same slot.
        self.borrowed().hash(state);
    }
}

impl EntryKey {
    fn borrowed(&self) -> Lookup<'_> {
        Lookup {
            object: &self.object,
            download: self.download.as_deref(),
        }
    }
}

impl quick_cache::Equivalent<EntryKey> for Lookup<'_> {
    fn equivalent(&self, key: &EntryKey) -> bool {
        *self == key.borrowed()
    }
}

impl Lookup<'_> {
    fn to_owned(self) -> EntryKey {
        EntryKey {
            object: self.object.into(),
            download: self.download.map(Into::into),
        }
    }
}

/// An entry's weight: what it holds, in bytes.
#[derive(Clone)]
struct Weight;

impl quick_cache::Weighter<EntryKey, SignedObject> for Weight {
    fn weight(&self, key: &EntryKey, signed: &SignedObject) -> u64 {
        let key_bytes = key.object.len() + key.download.as_ref().map_or(0, |d| d.len());
        (key_bytes + signed.url.len() + signed.key_id.len() + ENTRY_OVERHEAD) as u64
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

    /// The URL signed earlier for `key` with the download name `download` (its query value),
    /// if it has the expiry of this step and was signed by the key still active: then it is the
    /// very same URL a new signature would give.
    pub fn get(
        &self,
        key: &ObjectKey,
        download: Option<&str>,
        expires_at: u64,
        active_key: &str,
    ) -> Option<SignedObject> {
        let hit = self
            .cache
            .get(&Lookup {
                object: key.as_str(),
                download,
            })
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

    /// Keeps `signed` as the URL of `key` with the download name `download` for this step.
    pub fn insert(&self, key: &ObjectKey, download: Option<&str>, signed: &SignedObject) {
        let key = Lookup {
            object: key.as_str(),
            download,
        };
        self.cache.insert(key.to_owned(), signed.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(url: &str) -> SignedObject {
        SignedObject {
            url: url.to_owned().into(),
            expires_at: 60,
            key_id: "K1".into(),
        }
    }

    #[test]
    fn an_entry_is_found_by_its_object_download_step_and_signing_key_only() {
        let cache = UrlCache::new(60, 100, CacheCounters::default());
        let key = |k: &str| ObjectKey::parse(k, 4096).unwrap();
        cache.insert(&key("a/b.mp4"), None, &signed("plain"));
        cache.insert(&key("a/b.mp4"), Some("x.mp4"), &signed("named"));
        let url = |k: &str, d: Option<&str>, exp: u64, active: &str| {
            cache
                .get(&key(k), d, exp, active)
                .map(|s| s.url.to_string())
        };
        assert_eq!(url("a/b.mp4", None, 60, "K1").as_deref(), Some("plain"));
        assert_eq!(
            url("a/b.mp4", Some("x.mp4"), 60, "K1").as_deref(),
            Some("named")
        );
        assert_eq!(url("a/b.mp4", Some("y.mp4"), 60, "K1"), None);
        assert_eq!(url("a/b.mp4", Some(""), 60, "K1"), None);
        assert_eq!(url("a/b.mp", None, 60, "K1"), None);
        assert_eq!(url("a/b.mp4", None, 120, "K1"), None, "another step");
        assert_eq!(url("a/b.mp4", None, 60, "K2"), None, "another signing key");
        // The owned and the borrowed key hash alike (else a stored entry is never found).
        use std::hash::BuildHasher;
        let hasher = foldhash::fast::RandomState::default();
        let stored = Lookup {
            object: "a/b.mp4",
            download: Some("x.mp4"),
        }
        .to_owned();
        assert_eq!(
            hasher.hash_one(&stored),
            hasher.hash_one(Lookup {
                object: "a/b.mp4",
                download: Some("x.mp4")
            })
        );
    }

    #[test]
    fn long_entries_mean_fewer_entries_never_more_memory() {
        let cache = UrlCache::new(60, 10, CacheCounters::default());
        for i in 0..200 {
            let signed = SignedObject {
                url: format!("https://media.example.com/{i}/{}", "x".repeat(2000)).into(),
                expires_at: 60,
                key_id: "K1".into(),
            };
            let key = ObjectKey::parse(&format!("{i}/{}", "k".repeat(1000)), 4096).unwrap();
            cache.insert(&key, None, &signed);
        }
        let held: usize = cache
            .cache
            .iter()
            .map(|(k, v)| k.object.len() + v.url.len() + v.key_id.len())
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
            cache.insert(
                &ObjectKey::parse(&format!("{i}.mp4"), 4096).unwrap(),
                None,
                &signed,
            );
        }
        assert_eq!(cache.cache.len(), 10);
    }
}
