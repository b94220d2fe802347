//! `sign_per = "folder"`: one CloudFront custom policy per folder, caller's prefix and step
//! (resource `https://d.example/users/alice/*`), signed once and appended to the URL of every
//! object inside the folder; for the other CDNs, their prefix credential in its query form
//! (Cloud CDN `URLPrefix`, Media CDN tokens, Akamai `acl`, Bunny `token_path`), when the
//! provider's own verifier showed at load that one such query opens every file of a folder and
//! nothing outside it (`sign::Capabilities::shared_query`). The configuration proved at load that everything the wildcard
//! covers is something the rule allows this caller anyway (`authorize::shared_folder`);
//! authorization still runs on every request, only the signature is reused.

use std::sync::Arc;

use signgate_cloudfront::SignedPolicy;

use super::SignedObject;
use crate::metrics::CacheCounters;
use crate::object_key::ObjectKey;

/// Signed folder policies of one rule, reused by every request for an object of the folder
/// within one step, bounded by the bytes they hold (as the URL cache is).
pub struct FolderPolicies {
    /// How many leading segments of a key name its folder (the rule's prefix).
    pub depth: usize,
    cache: moka::sync::Cache<String, Arc<CachedPolicy>>,
    counters: CacheCounters,
}

/// A folder's signature, its expiry and the key that signed it.
pub struct CachedPolicy {
    pub signed: FolderSignature,
    pub expires_at: u64,
    pub key_id: String,
}

/// What one signature over a folder is, per provider.
pub enum FolderSignature {
    /// CloudFront's custom policy with a wildcard resource.
    CloudFront(SignedPolicy),
    /// Another CDN's prefix credential as a query (`?URLPrefix=...&Signature=...`), appended
    /// as it is to the URL of any object in the folder.
    Query(String),
}

/// Bytes an entry costs beyond its strings (the map slot, the `Arc`s, the expiry bookkeeping).
const ENTRY_OVERHEAD: usize = 200;

impl CachedPolicy {
    /// What the cache counts for this entry under `folder`: its strings and the overhead.
    pub fn weight(&self, folder: &str) -> usize {
        let signature = match &self.signed {
            FolderSignature::CloudFront(signed) => {
                let policy = signed.policy();
                policy.json().len() + policy.resource().as_str().len() + signed.query().len()
            }
            FolderSignature::Query(query) => query.len(),
        };
        folder.len() + signature + self.key_id.len() + ENTRY_OVERHEAD
    }
}

impl FolderPolicies {
    /// Holds at most `max_bytes`; an entry lives at most a lifetime and a step.
    pub fn new(
        depth: usize,
        max_bytes: u64,
        lifetime_seconds: u64,
        step_seconds: u64,
        counters: CacheCounters,
    ) -> Self {
        let cache = moka::sync::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|folder: &String, entry: &Arc<CachedPolicy>| {
                u32::try_from(entry.weight(folder)).unwrap_or(u32::MAX)
            })
            .time_to_live(std::time::Duration::from_secs(
                lifetime_seconds + step_seconds,
            ))
            .build();
        FolderPolicies {
            depth,
            cache,
            counters,
        }
    }

    /// The URL path of `key`'s folder with its closing `/` (`users/alice/`, escaped as the
    /// object's URL is), beside the object's whole URL path; `None` when the key is not strictly
    /// inside a folder of `depth` segments (the folder itself is signed on its own).
    pub fn folder_of(&self, key: &ObjectKey) -> Option<(usize, String)> {
        let path = key.to_url_path();
        let end = path.match_indices('/').nth(self.depth.checked_sub(1)?)?.0 + 1;
        (end < path.len()).then_some((end, path))
    }

    /// The policy signed earlier for `folder`, if it has this step's expiry and was signed by
    /// the key still active: then it is the very policy a new signature would sign.
    pub fn get(
        &self,
        folder: &str,
        expires_at: u64,
        active_key: &str,
    ) -> Option<Arc<CachedPolicy>> {
        let hit = self
            .cache
            .get(folder)
            .filter(|hit| hit.expires_at == expires_at && hit.key_id == active_key);
        match &hit {
            Some(_) => self.counters.hits.inc(),
            None => self.counters.misses.inc(),
        };
        hit
    }

    pub fn insert(&self, folder: String, entry: Arc<CachedPolicy>) {
        self.cache.insert(folder, entry);
    }
}

impl CachedPolicy {
    /// `url` (inside the folder) carrying the folder's signature.
    pub fn sign_url(&self, url: &str) -> Result<SignedObject, super::SignError> {
        let signed = match &self.signed {
            FolderSignature::CloudFront(policy) => {
                let url = signgate_cloudfront::SignableUrl::parse(url)
                    .map_err(|e| super::internal(format!("built an unsignable URL: {e}")))?;
                policy.sign_url(&url).map_err(super::internal)?
            }
            // The object URL has no query of its own (a download name is signed on its own).
            FolderSignature::Query(query) => format!("{url}{query}"),
        };
        Ok(SignedObject {
            url: signed.into(),
            expires_at: self.expires_at,
            key_id: self.key_id.as_str().into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> ObjectKey {
        ObjectKey::parse(k, 1024).unwrap()
    }

    #[test]
    fn a_keys_folder_is_its_first_segments_escaped_as_in_its_url() {
        let two = FolderPolicies::new(2, 1 << 20, 300, 60, CacheCounters::default());
        let folder = |k: &str| two.folder_of(&key(k)).map(|(end, p)| p[..end].to_owned());
        assert_eq!(folder("users/alice/x.jpg").as_deref(), Some("users/alice/"));
        assert_eq!(
            folder("users/al ice/a/b c.jpg").as_deref(),
            Some("users/al%20ice/")
        );
        assert_eq!(folder("users/alice"), None, "the folder itself");
        assert_eq!(folder("users"), None);
        let zero = FolderPolicies::new(0, 1 << 20, 300, 60, CacheCounters::default());
        assert_eq!(zero.folder_of(&key("a/b")), None);
    }
}
