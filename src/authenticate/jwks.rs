//! A cached JWKS. Refetched when a token names an unknown `kid`, at most once per configured
//! interval; the last good set is kept while the provider is unreachable. Symmetric (`oct`) keys
//! and encryption keys in a remote set are ignored: a public document must never supply an HMAC
//! secret.
//!
//! (A little over 300 lines: the URL rule's test closes the file.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use prometheus_client::metrics::gauge::Gauge;
use serde_json::Value;

/// Where the key set is found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwksSource {
    Url(String),
    /// `{issuer}/.well-known/openid-configuration` names the `jwks_uri`.
    Discovery {
        issuer: String,
    },
}

pub struct JwksKey {
    pub kid: Option<String>,
    pub alg: Option<Algorithm>,
    pub key: DecodingKey,
}

pub enum KeyLookup {
    Found(Arc<JwksKey>),
    Unknown,
    /// No key set has ever been fetched: the provider must be reached before anyone is let in.
    Unavailable,
}

pub struct JwksCache {
    source: JwksSource,
    /// Plain `http://` to a loopback host is allowed (a development setup); otherwise every URL,
    /// a discovered `jwks_uri` included, must be `https://`.
    dev_loopback_http: bool,
    /// The background fetch loop has been started (once per cache, however many reloads keep it).
    fetching: AtomicBool,
    client: reqwest::Client,
    keys: ArcSwap<Vec<Arc<JwksKey>>>,
    fetched: AtomicBool,
    last_attempt: Mutex<Option<Instant>>,
    min_refresh: Duration,
    refreshing: tokio::sync::Mutex<()>,
    /// Unix time of the last successful fetch (`signgate_jwks_fetched_timestamp_seconds`).
    fetched_at: Gauge,
}

const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_JWKS_BYTES: usize = 512 * 1024;

impl JwksCache {
    /// A cache of `source`'s keys; each successful fetch sets `fetched_at` to the Unix time.
    pub fn new(
        source: JwksSource,
        min_refresh: Duration,
        dev_loopback_http: bool,
        fetched_at: Gauge,
    ) -> Self {
        let client = crate::tls::client_builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .expect("HTTP client builds");
        JwksCache {
            source,
            dev_loopback_http,
            fetching: AtomicBool::new(false),
            client,
            keys: ArcSwap::from_pointee(Vec::new()),
            fetched: AtomicBool::new(false),
            last_attempt: Mutex::new(None),
            min_refresh,
            refreshing: tokio::sync::Mutex::new(()),
            fetched_at,
        }
    }

    pub fn source(&self) -> &JwksSource {
        &self.source
    }

    pub fn is_ready(&self) -> bool {
        self.fetched.load(Ordering::Acquire)
    }

    pub async fn key_for(&self, kid: Option<&str>, alg: Algorithm) -> KeyLookup {
        if let Some(key) = self.find(kid, alg) {
            return KeyLookup::Found(key);
        }
        if self.may_refresh() {
            // Boxed: a fetch is rare, and its future would otherwise be part of every request's.
            Box::pin(self.refresh()).await;
            if let Some(key) = self.find(kid, alg) {
                return KeyLookup::Found(key);
            }
        }
        if self.is_ready() {
            KeyLookup::Unknown
        } else {
            KeyLookup::Unavailable
        }
    }

    fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<Arc<JwksKey>> {
        let keys = self.keys.load();
        let fits =
            |k: &&Arc<JwksKey>| k.alg.is_none_or(|a| a == alg) && k.key.family() == alg.family();
        match kid {
            Some(kid) => keys
                .iter()
                .filter(fits)
                .find(|k| k.kid.as_deref() == Some(kid))
                .cloned(),
            // Without a kid, only an unambiguous set will do.
            None => {
                let mut candidates = keys.iter().filter(fits);
                let first = candidates.next()?;
                candidates.next().is_none().then(|| first.clone())
            }
        }
    }

    fn may_refresh(&self) -> bool {
        let mut last = self.last_attempt.lock().expect("lock");
        let due = last.is_none_or(|t| t.elapsed() >= self.min_refresh);
        if due {
            *last = Some(Instant::now());
        }
        due
    }

    /// Fetches the key set now; keeps the old one on any failure. Returns whether it succeeded.
    pub async fn refresh(&self) -> bool {
        let _one_at_a_time = self.refreshing.lock().await;
        match self.fetch().await {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), "JWKS fetched");
                self.keys.store(Arc::new(keys));
                self.fetched.store(true, Ordering::Release);
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                self.fetched_at.set(i64::try_from(now).unwrap_or(i64::MAX));
                true
            }
            Err(err) => {
                tracing::warn!(error = %err, "JWKS fetch failed; keeping the last good key set");
                false
            }
        }
    }

    /// Starts [`JwksCache::fetch_until_ready`] in the background, unless this cache's loop is
    /// already running (a reload keeps the cache, and must not add a loop each time).
    pub fn start_fetching(self: &Arc<Self>) {
        if !self.fetching.swap(true, Ordering::AcqRel) {
            tokio::spawn(self.clone().fetch_until_ready());
        }
    }

    /// Fetches until the first success, then keeps refreshing every few minutes so that keys the
    /// provider removed (a compromised key, say) stop being accepted. Runs in the background.
    async fn fetch_until_ready(self: Arc<Self>) {
        let mut delay = Duration::from_millis(250);
        while !self.is_ready() {
            *self.last_attempt.lock().expect("lock") = Some(Instant::now());
            if self.refresh().await {
                break;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(10));
        }
        let period = self.min_refresh.max(Duration::from_secs(300));
        let cache = Arc::downgrade(&self);
        drop(self);
        loop {
            tokio::time::sleep(period).await;
            // Stop once the configuration that owns this cache is gone (after a reload).
            let Some(cache) = cache.upgrade() else { return };
            *cache.last_attempt.lock().expect("lock") = Some(Instant::now());
            cache.refresh().await;
        }
    }

    async fn fetch(&self) -> anyhow::Result<Vec<Arc<JwksKey>>> {
        let url = match &self.source {
            JwksSource::Url(url) => url.clone(),
            JwksSource::Discovery { issuer } => {
                let discovery = format!(
                    "{}/.well-known/openid-configuration",
                    issuer.trim_end_matches('/')
                );
                let doc: Value = self.get_json(&discovery).await?;
                doc.get("jwks_uri")
                    .and_then(Value::as_str)
                    .ok_or_else(|| anyhow::anyhow!("discovery document has no jwks_uri"))?
                    .to_owned()
            }
        };
        let set = self.get_json(&url).await?;
        let entries = set
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| anyhow::anyhow!("JWKS has no keys array"))?;
        Ok(entries
            .iter()
            .filter_map(usable_key)
            .map(Arc::new)
            .collect())
    }

    async fn get_json(&self, url: &str) -> anyhow::Result<Value> {
        if !url_allowed(url, self.dev_loopback_http) {
            anyhow::bail!("{} is not an https:// URL", without_query(url));
        }
        // Errors name the URL without it: its query may hold an API key.
        let response = self
            .client
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(reqwest::Error::without_url)?;
        if response
            .content_length()
            .is_some_and(|n| n as usize > MAX_JWKS_BYTES)
        {
            anyhow::bail!("document too large");
        }
        let bytes = response
            .bytes()
            .await
            .map_err(reqwest::Error::without_url)?;
        if bytes.len() > MAX_JWKS_BYTES {
            anyhow::bail!("document too large");
        }
        Ok(serde_json::from_slice(&bytes)?)
    }
}

/// Whether signgate may fetch keys from `url`: `https://`, or `http://` to a loopback host
/// (`localhost`, `127.0.0.0/8`, `[::1]`) in a development setup. Keys fetched over plain HTTP
/// from anywhere else could be swapped by anyone on the path.
pub fn url_allowed(url: &str, dev_loopback_http: bool) -> bool {
    if url.starts_with("https://") {
        return true;
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    dev_loopback_http && loopback
}

/// `url` without its query and fragment, for messages.
pub fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// A JWKS entry usable for verifying signatures, or `None` (symmetric, encryption-only,
/// unsupported or malformed keys).
fn usable_key(entry: &Value) -> Option<JwksKey> {
    if entry.get("kty").and_then(Value::as_str) == Some("oct") {
        return None;
    }
    let jwk: Jwk = serde_json::from_value(entry.clone()).ok()?;
    if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
        return None;
    }
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let alg = match jwk.common.key_algorithm {
        None => None,
        Some(a) => Some(signing_algorithm(a)?),
    };
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    Some(JwksKey {
        kid: jwk.common.key_id.clone(),
        alg,
        key,
    })
}

fn signing_algorithm(a: KeyAlgorithm) -> Option<Algorithm> {
    Some(match a {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_over_https_or_from_loopback_in_a_dev_setup() {
        for url in ["https://idp.example/jwks", "https://127.0.0.1/jwks"] {
            assert!(url_allowed(url, false), "{url}");
            assert!(url_allowed(url, true), "{url}");
        }
        for url in [
            "http://127.0.0.1:8081/jwks.json",
            "http://localhost/jwks",
            "http://[::1]:80/jwks",
            "http://127.9.9.9/k?x=1",
        ] {
            assert!(!url_allowed(url, false), "{url}: never without dev");
            assert!(url_allowed(url, true), "{url}");
        }
        for url in [
            "http://idp.example/jwks",
            "http://127.0.0.1.evil.example/jwks",
            "http://user@evil.example/jwks",
            "http://evil.example/@127.0.0.1",
            "ftp://127.0.0.1/jwks",
            "127.0.0.1/jwks",
        ] {
            assert!(!url_allowed(url, true), "{url}");
        }
        assert_eq!(
            without_query("https://idp.example/jwks?api_key=s3cret#x"),
            "https://idp.example/jwks"
        );
    }
}
