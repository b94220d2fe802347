//! What authentication is built from: plain data, filled in by the configuration (which checks
//! it and reads the secrets) and turned into live authenticators by
//! [`Authenticators::from_config`](super::Authenticators::from_config).

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey};

use super::jwks::JwksSource;
use crate::backend::sql::PoolSettings;
use crate::secret::Secret;

#[derive(Clone, Debug)]
pub struct AuthSettings {
    /// A cookie that may carry the bearer token (for players that cannot set headers).
    pub token_cookie: Option<String>,
    /// The authenticators, in the order they are tried.
    pub methods: Vec<MethodSettings>,
}

#[derive(Clone, Debug)]
pub enum MethodSettings {
    Jwt(JwtSettings),
    RedisSession(RedisSessionSettings),
    DjangoSession(DjangoSessionSettings),
}

#[derive(Clone, Debug)]
pub struct JwtSettings {
    pub issuers: Vec<IssuerSettings>,
    /// How long, and in how many bytes, tokens that verified are remembered; `None`: never.
    pub verified_cache: Option<VerifiedCacheSettings>,
}

#[derive(Clone, Copy, Debug)]
pub struct VerifiedCacheSettings {
    pub ttl: Duration,
    pub max_bytes: u64,
}

#[derive(Clone, Debug)]
pub struct IssuerSettings {
    pub issuer: String,
    pub audience: Vec<String>,
    /// One family (checked); the first is the default.
    pub algorithms: Vec<Algorithm>,
    pub keys: IssuerKeySource,
    pub leeway_seconds: u64,
}

#[derive(Clone, Debug)]
pub enum IssuerKeySource {
    /// An HS* secret (at least 32 bytes).
    Hmac(Secret<Vec<u8>>),
    /// A public key read from a PEM file.
    PublicKey(Secret<DecodingKey>),
    /// A JWKS, fetched and cached.
    Jwks {
        source: JwksSource,
        min_refresh: Duration,
        /// `http://` to a loopback host is allowed (a development setup).
        dev_loopback_http: bool,
    },
}

/// Sessions kept in Redis by the site.
#[derive(Clone, Debug)]
pub struct RedisSessionSettings {
    pub url: Secret<String>,
    pub cookie: String,
    pub key_prefix: String,
    pub format: SessionFormat,
    pub subject_field: String,
    pub claim_fields: Vec<String>,
    /// The largest session read: a longer value (a hash: its field names and values together)
    /// is refused by Redis itself, before any of it is sent.
    pub max_session_bytes: u32,
    pub pool: PoolSettings,
}

/// How a Redis session is stored: `auth.redis_session.format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionFormat {
    /// A JSON object in a string value.
    Json,
    /// A Redis hash.
    Hash,
}

/// Django's own sessions.
#[derive(Clone, Debug)]
pub struct DjangoSessionSettings {
    pub cookie: String,
    pub secret_key: Secret<Vec<u8>>,
    pub secret_key_fallbacks: Vec<Secret<Vec<u8>>>,
    pub salt: String,
    pub store: DjangoStoreSettings,
    pub claim_fields: Vec<String>,
    /// The largest signed session read: a longer `session_data` is never sent by the database,
    /// and a longer signed cookie is not verified.
    pub max_session_bytes: u32,
}

#[derive(Clone, Debug)]
pub enum DjangoStoreSettings {
    /// `django.contrib.sessions.backends.db`: a row of the session table.
    Database {
        url: Secret<String>,
        table: String,
        pool: PoolSettings,
    },
    /// `django.contrib.sessions.backends.signed_cookies`, within `SESSION_COOKIE_AGE`.
    SignedCookies { max_age: u64 },
}
