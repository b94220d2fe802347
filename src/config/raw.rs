//! The configuration exactly as written (TOML plus SIGNGATE_ environment overrides), before
//! validation. Unknown keys are refused so that a typo cannot silently drop a setting.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub dev: bool,
    pub server: RawServer,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub limits: RawLimits,
    pub auth: RawAuth,
    #[serde(default)]
    pub key_sets: Vec<RawKeySet>,
    #[serde(default)]
    pub distributions: Vec<RawDistribution>,
    #[serde(default)]
    pub rules: Vec<RawRule>,
    #[serde(default)]
    pub grants: Vec<RawGrant>,
}

fn default_pool_size() -> u32 {
    16
}
fn default_connect_timeout() -> u64 {
    1000
}
fn default_query_timeout() -> u64 {
    1000
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRedisSession {
    pub url: Option<String>,
    pub url_env: Option<String>,
    pub cookie: String,
    #[serde(default)]
    pub key_prefix: String,
    #[serde(default = "default_session_format")]
    pub format: String,
    pub subject_field: String,
    #[serde(default)]
    pub claim_fields: Vec<String>,
    #[serde(default = "default_pool_size")]
    pub pool_size: u32,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u64,
    #[serde(default = "default_query_timeout")]
    pub query_timeout_ms: u64,
}
fn default_session_format() -> String {
    "json".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDjangoSession {
    /// "db" or "signed_cookies".
    pub backend: String,
    #[serde(default = "default_django_cookie")]
    pub cookie: String,
    pub secret_key: Option<String>,
    pub secret_key_file: Option<String>,
    pub secret_key_env: Option<String>,
    /// Environment variable with SECRET_KEY_FALLBACKS, separated by newlines.
    pub secret_key_fallbacks_env: Option<String>,
    /// Overrides Django's default salt (custom session engines use their own class name).
    pub salt: Option<String>,
    pub database_url: Option<String>,
    pub database_url_env: Option<String>,
    #[serde(default = "default_django_table")]
    pub table: String,
    /// SESSION_COOKIE_AGE, for signed cookies.
    #[serde(default = "default_cookie_age")]
    pub cookie_age_seconds: u64,
    #[serde(default)]
    pub claim_fields: Vec<String>,
    #[serde(default = "default_pool_size")]
    pub pool_size: u32,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u64,
    #[serde(default = "default_query_timeout")]
    pub query_timeout_ms: u64,
}
fn default_django_cookie() -> String {
    "sessionid".into()
}
fn default_django_table() -> String {
    "django_session".into()
}
fn default_cookie_age() -> u64 {
    1_209_600
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGrant {
    pub name: String,
    pub database_url: Option<String>,
    pub database_url_env: Option<String>,
    pub query: String,
    pub params: Vec<String>,
    #[serde(default = "default_allow_ttl")]
    pub allow_ttl_seconds: u64,
    #[serde(default = "default_deny_ttl")]
    pub deny_ttl_seconds: u64,
    #[serde(default = "default_cache_entries")]
    pub cache_entries: u64,
    #[serde(default = "default_pool_size")]
    pub pool_size: u32,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u64,
    #[serde(default = "default_query_timeout")]
    pub query_timeout_ms: u64,
}
fn default_allow_ttl() -> u64 {
    60
}
fn default_deny_ttl() -> u64 {
    10
}
fn default_cache_entries() -> u64 {
    100_000
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: String,
    #[serde(default)]
    pub metrics_listen: String,
    #[serde(default = "default_files_prefix")]
    pub files_prefix: String,
    pub public_url: String,
    #[serde(default)]
    pub login_url: String,
    #[serde(default)]
    pub deny_as_not_found: bool,
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    #[serde(default = "default_max_key_bytes")]
    pub max_key_bytes: usize,
    #[serde(default = "default_timeout_ms")]
    pub request_timeout_ms: u64,
    #[serde(default = "default_grace")]
    pub shutdown_grace_seconds: u64,
    #[serde(default)]
    pub worker_threads: usize,
    #[serde(default = "default_max_batch")]
    pub max_batch_keys: usize,
}
fn default_max_batch() -> usize {
    100
}

fn default_files_prefix() -> String {
    "/files".into()
}
fn default_max_key_bytes() -> usize {
    1024
}
fn default_timeout_ms() -> u64 {
    10_000
}
fn default_grace() -> u64 {
    30
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    #[serde(default = "default_level")]
    pub level: String,
    #[serde(default = "default_format")]
    pub format: String,
}

impl Default for RawLog {
    fn default() -> Self {
        RawLog {
            level: default_level(),
            format: default_format(),
        }
    }
}
fn default_level() -> String {
    "info".into()
}
fn default_format() -> String {
    "json".into()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    #[serde(default)]
    pub per_subject_per_second: u32,
    #[serde(default)]
    pub per_subject_burst: u32,
    #[serde(default)]
    pub per_ip_per_second: u32,
    #[serde(default)]
    pub per_ip_burst: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    #[serde(default)]
    pub token_cookie: String,
    #[serde(default)]
    pub order: Vec<String>,
    #[serde(default)]
    pub jwt: RawJwt,
    pub redis_session: Option<RawRedisSession>,
    pub django_session: Option<RawDjangoSession>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJwt {
    #[serde(default)]
    pub issuers: Vec<RawIssuer>,
    /// How long a token that verified is remembered by its exact text (0: never).
    #[serde(default = "default_verified_cache_seconds")]
    pub verified_cache_seconds: u64,
    /// Memory bound of that cache, in bytes.
    #[serde(default = "default_verified_cache_bytes")]
    pub verified_cache_bytes: u64,
}

impl Default for RawJwt {
    fn default() -> Self {
        RawJwt {
            issuers: Vec::new(),
            verified_cache_seconds: default_verified_cache_seconds(),
            verified_cache_bytes: default_verified_cache_bytes(),
        }
    }
}
fn default_verified_cache_seconds() -> u64 {
    60
}
fn default_verified_cache_bytes() -> u64 {
    8 * 1024 * 1024
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIssuer {
    pub issuer: String,
    #[serde(default)]
    pub audience: Vec<String>,
    pub algorithms: Vec<String>,
    pub secret: Option<String>,
    pub secret_file: Option<String>,
    pub secret_env: Option<String>,
    pub public_key_file: Option<String>,
    pub jwks_url: Option<String>,
    #[serde(default)]
    pub oidc_discovery: bool,
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
    #[serde(default = "default_jwks_refresh")]
    pub jwks_min_refresh_seconds: u64,
}
fn default_leeway() -> u64 {
    30
}
fn default_jwks_refresh() -> u64 {
    60
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKeySet {
    pub name: String,
    pub active: String,
    pub keys: Vec<RawKey>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKey {
    pub key_pair_id: String,
    pub private_key_file: String,
    pub passphrase_env: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDistribution {
    pub name: String,
    pub url: String,
    pub key_set: String,
    #[serde(default = "default_hash")]
    pub hash: String,
    /// Domain attribute of signed cookies; "" or absent: host-only cookies.
    #[serde(default)]
    pub cookie_domain: String,
    #[serde(default = "yes")]
    pub cookie_secure: bool,
    #[serde(default = "yes")]
    pub cookie_http_only: bool,
    #[serde(default = "default_same_site")]
    pub cookie_same_site: String,
}
fn yes() -> bool {
    true
}
fn default_same_site() -> String {
    "Lax".into()
}
fn default_hash() -> String {
    "sha1".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub pattern: String,
    pub access: String,
    #[serde(default)]
    pub require: Vec<RawRequirement>,
    pub distribution: String,
    /// Signs with this key set instead of the distribution's.
    pub key_set: Option<String>,
    #[serde(default = "default_lifetime")]
    pub lifetime_seconds: u64,
    #[serde(default = "default_policy")]
    pub policy: String,
    #[serde(default)]
    pub bind_client_ip: bool,
    pub deny_as_not_found: Option<bool>,
    /// Allows signed cookies (GET /cookies/{folder}) for the folder this pattern's prefix names.
    #[serde(default)]
    pub cookies: bool,
    /// A `[[grants]]` query that must also return a row.
    pub grant: Option<String>,
    /// Stable, cacheable URLs: round expiries up to this step and reuse signed URLs within it.
    #[serde(default)]
    pub cache_step_seconds: u64,
    #[serde(default = "default_url_cache_entries")]
    pub cache_entries: u64,
}
fn default_url_cache_entries() -> u64 {
    // ~850 bytes per entry with ECDSA signatures, ~1.1 KB with RSA: ~17-22 MiB when full.
    20_000
}
fn default_lifetime() -> u64 {
    300
}
fn default_policy() -> String {
    "canned".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRequirement {
    pub claim: String,
    pub any_of: Vec<String>,
}
