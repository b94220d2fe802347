//! Django sessions, for sites leaving Django + nginx behind: the database backend (a
//! `django_session` row, its `expire_date`, its signed `session_data`) and the `signed_cookies`
//! backend (the cookie itself, within `SESSION_COOKIE_AGE`). The subject is `_auth_user_id`.
//!
//! Django's signing, as `django.core.signing` does it: `value = [.]b64url(json)` (a leading `.`
//! means zlib), then `value:b62(timestamp)`, then `:` and `b64url(HMAC-SHA256(key, that))` with
//! `key = SHA256(salt + "signer" + SECRET_KEY)`. `scripts/django-fixtures/README.md` documents
//! the format with the Django sources it was read from.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::credentials::{find_cookie, CookieLookup};
use super::settings::{DjangoSessionSettings, DjangoStoreSettings};
use super::{session_user, AuthFailure, AuthOutcome};
use crate::backend::sql::SqlPool;
use crate::backend::BackendHealth;
use crate::metrics::Metrics;

pub const DB_SALT: &str = "django.contrib.sessions.SessionStore";
pub const SIGNED_COOKIES_SALT: &str = "django.contrib.sessions.backends.signed_cookies";

/// Largest signed value accepted (Django keeps cookies under 4 KiB; rows can be larger).
const MAX_SIGNED_BYTES: usize = 1 << 20;
/// Largest decompressed payload (a zip bomb stops here).
const MAX_PAYLOAD_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsignError {
    Malformed,
    BadSignature,
    Expired,
}

/// `SECRET_KEY` (and `SECRET_KEY_FALLBACKS`) with a salt.
pub struct DjangoSigner {
    keys: Vec<[u8; 32]>,
}

impl DjangoSigner {
    pub fn new(salt: &str, secret: &[u8], fallbacks: &[Vec<u8>]) -> Self {
        let derive = |secret: &[u8]| -> [u8; 32] {
            let mut h = Sha256::new();
            h.update(salt.as_bytes());
            h.update(b"signer");
            h.update(secret);
            h.finalize().into()
        };
        let mut keys = vec![derive(secret)];
        keys.extend(fallbacks.iter().map(|f| derive(f)));
        DjangoSigner { keys }
    }

    /// Verifies and decodes a signed session. `max_age` (seconds) applies to signed cookies.
    pub fn unsign(
        &self,
        signed: &str,
        max_age: Option<u64>,
        now: u64,
    ) -> Result<Map<String, Value>, UnsignError> {
        if signed.len() > MAX_SIGNED_BYTES || !signed.is_ascii() {
            return Err(UnsignError::Malformed);
        }
        let (signed_part, signature) = signed.rsplit_once(':').ok_or(UnsignError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| UnsignError::BadSignature)?;
        let valid = self.keys.iter().any(|key| {
            let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
            mac.update(signed_part.as_bytes());
            mac.verify_slice(&signature).is_ok()
        });
        if !valid {
            return Err(UnsignError::BadSignature);
        }
        let (value, timestamp) = signed_part.rsplit_once(':').ok_or(UnsignError::Malformed)?;
        let signed_at = base62_decode(timestamp).ok_or(UnsignError::Malformed)?;
        if let Some(max_age) = max_age {
            if now.saturating_sub(signed_at) > max_age {
                return Err(UnsignError::Expired);
            }
        }
        let (compressed, b64) = match value.strip_prefix('.') {
            Some(rest) => (true, rest),
            None => (false, value),
        };
        let raw = URL_SAFE_NO_PAD
            .decode(b64)
            .map_err(|_| UnsignError::Malformed)?;
        let json = if compressed {
            let mut out = Vec::new();
            flate2::read::ZlibDecoder::new(raw.as_slice())
                .take(MAX_PAYLOAD_BYTES as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|_| UnsignError::Malformed)?;
            if out.len() > MAX_PAYLOAD_BYTES {
                return Err(UnsignError::Malformed);
            }
            out
        } else {
            raw
        };
        match serde_json::from_slice(&json) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(UnsignError::Malformed),
        }
    }
}

fn base62_decode(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 11 {
        return None;
    }
    text.bytes().try_fold(0u64, |acc, b| {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'A'..=b'Z' => b - b'A' + 10,
            b'a'..=b'z' => b - b'a' + 36,
            _ => return None,
        };
        acc.checked_mul(62)?.checked_add(u64::from(digit))
    })
}

/// Where the session lives.
pub enum DjangoStore {
    Database {
        pool: SqlPool,
        table: String,
        query_timeout: Duration,
        health: Arc<BackendHealth>,
    },
    SignedCookies {
        max_age: u64,
    },
}

pub struct DjangoSessions {
    pub cookie: String,
    pub signer: DjangoSigner,
    pub store: DjangoStore,
    pub claim_fields: Vec<String>,
    /// The longest signed value read (a row's `session_data`, or a signed cookie).
    pub max_session_bytes: u32,
}

impl DjangoSessions {
    /// The signer from the keys, and for the database backend a pool that connects on first use.
    pub fn new(s: &DjangoSessionSettings, metrics: &Metrics) -> anyhow::Result<Self> {
        let store = match &s.store {
            DjangoStoreSettings::Database { url, table, pool } => DjangoStore::Database {
                pool: SqlPool::connect_lazy(url.expose(), *pool)
                    .map_err(|e| anyhow::anyhow!("auth.django_session.database_url: {e}"))?,
                table: table.clone(),
                query_timeout: pool.query_timeout,
                health: Arc::new(BackendHealth::new("django_session", metrics)),
            },
            DjangoStoreSettings::SignedCookies { max_age } => {
                DjangoStore::SignedCookies { max_age: *max_age }
            }
        };
        let fallbacks: Vec<Vec<u8>> = s
            .secret_key_fallbacks
            .iter()
            .map(|f| f.expose().clone())
            .collect();
        Ok(DjangoSessions {
            cookie: s.cookie.clone(),
            signer: DjangoSigner::new(&s.salt, s.secret_key.expose(), &fallbacks),
            store,
            claim_fields: s.claim_fields.clone(),
            max_session_bytes: s.max_session_bytes,
        })
    }

    pub async fn authenticate(&self, headers: &HeaderMap, now: u64) -> Option<AuthOutcome> {
        let reject = |f| Some(AuthOutcome::Rejected(f));
        let value = match find_cookie(headers, &self.cookie) {
            CookieLookup::Absent => return None,
            CookieLookup::Ambiguous => return reject(AuthFailure::Malformed),
            CookieLookup::Value(v) => v,
        };
        let session = match &self.store {
            DjangoStore::SignedCookies { max_age } => {
                if value.len() > self.max_session_bytes as usize {
                    return reject(AuthFailure::SessionTooLarge);
                }
                self.signer.unsign(value, Some(*max_age), now)
            }
            DjangoStore::Database {
                pool,
                table,
                query_timeout,
                health,
            } => {
                // Django's keys are 32 characters of [a-z0-9]; anything else never reaches SQL.
                let plausible = (8..=64).contains(&value.len())
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
                if !plausible {
                    return reject(AuthFailure::Malformed);
                }
                let row = pool
                    .django_session(table, value, self.max_session_bytes, *query_timeout)
                    .await;
                let row = match row {
                    Ok(row) => {
                        health.succeeded();
                        row
                    }
                    Err(err) => {
                        health.failed(&err);
                        return Some(AuthOutcome::Unavailable("django_session_db"));
                    }
                };
                let Some(row) = row else {
                    return reject(AuthFailure::UnknownSession);
                };
                if row.expire_micros <= (now as i64).saturating_mul(1_000_000) {
                    return reject(AuthFailure::Expired);
                }
                let Some(data) = row.data else {
                    tracing::debug!(
                        bytes = row.bytes,
                        max_session_bytes = self.max_session_bytes,
                        "a Django session row is larger than max_session_bytes; not read"
                    );
                    return reject(AuthFailure::SessionTooLarge);
                };
                self.signer.unsign(&data, None, now)
            }
        };
        let session = match session {
            Ok(s) => s,
            Err(UnsignError::Expired) => return reject(AuthFailure::Expired),
            Err(UnsignError::BadSignature) => return reject(AuthFailure::Signature),
            Err(UnsignError::Malformed) => return reject(AuthFailure::Malformed),
        };
        Some(session_user(
            &session,
            "_auth_user_id",
            &self.claim_fields,
            "django_session",
        ))
    }

    pub fn backend(&self) -> Option<(&SqlPool, &BackendHealth)> {
        match &self.store {
            DjangoStore::Database { pool, health, .. } => Some((pool, health)),
            DjangoStore::SignedCookies { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base62_matches_django() {
        assert_eq!(base62_decode("1uLhM8"), Some(1_748_779_200));
        assert_eq!(base62_decode("0"), Some(0));
        assert_eq!(base62_decode("z"), Some(61));
        assert_eq!(base62_decode(""), None);
        assert_eq!(base62_decode("a-b"), None);
        assert_eq!(base62_decode("zzzzzzzzzzzz"), None);
    }
}
