//! JWT bearer tokens (from `Authorization: Bearer` or a cookie). The token's `iss` selects the
//! configured issuer; that issuer pins the algorithms and the key source. `exp` is required,
//! `nbf` is honoured, `iss` and `aud` are enforced when configured.
//!
//! A browser or player sends the same token with every request of a session, so a token that
//! verified is remembered by its exact text for a short while ([`VerifiedTokens`]); later
//! requests with the very same bytes skip the signature check but not the time checks.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::credentials::{bearer_or_cookie, Found};
use super::jwks::{JwksCache, KeyLookup};
use super::{AuthFailure, AuthOutcome, User};

/// Where an issuer's verification keys come from.
pub enum IssuerKeys {
    /// A secret (HS*) or a PEM public key, fixed in the configuration.
    Static(DecodingKey),
    /// A JWKS, fetched and cached.
    Jwks(Arc<JwksCache>),
}

pub struct Issuer {
    pub issuer: String,
    pub algorithms: Vec<Algorithm>,
    pub keys: IssuerKeys,
    validation: Validation,
}

impl Issuer {
    pub fn new(
        issuer: String,
        audience: Vec<String>,
        algorithms: Vec<Algorithm>,
        keys: IssuerKeys,
        leeway: u64,
    ) -> Self {
        let mut validation = Validation::new(algorithms[0]);
        validation.algorithms = algorithms.clone();
        validation.leeway = leeway;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub", "iss"];
        validation.set_issuer(&[&issuer]);
        if audience.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&audience);
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        Issuer {
            issuer,
            algorithms,
            keys,
            validation,
        }
    }
}

pub struct JwtAuthenticator {
    pub issuers: Vec<Issuer>,
    pub token_cookie: Option<String>,
    /// Tokens that verified, by their exact text; `None` when disabled.
    pub verified: Option<VerifiedTokens>,
}

/// Tokens that passed every check, keyed by their exact text (any other byte is another key, so
/// a forged variant of a cached token is never a hit). An entry lives at most `ttl` and is only
/// used while the token's own `exp`/`nbf` still hold under the issuer's leeway, with the clock
/// the JWT library itself uses; failures are never cached. The cache belongs to one
/// configuration: a reload builds a new, empty one.
pub struct VerifiedTokens {
    cache: moka::sync::Cache<String, Arc<Verified>>,
}

struct Verified {
    user: Arc<User>,
    exp: u64,
    nbf: Option<u64>,
    leeway: u64,
}

/// Requests answered from [`VerifiedTokens`], and tokens verified in full while it was enabled.
pub static TOKEN_CACHE_HITS: std::sync::LazyLock<prometheus_client::metrics::counter::Counter> =
    std::sync::LazyLock::new(Default::default);
pub static TOKEN_CACHE_MISSES: std::sync::LazyLock<prometheus_client::metrics::counter::Counter> =
    std::sync::LazyLock::new(Default::default);

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
    pub fn new(ttl: Duration, max_bytes: u64) -> Self {
        let cache = moka::sync::Cache::builder()
            .time_to_live(ttl)
            .max_capacity(max_bytes)
            .weigher(|token: &String, v: &Arc<Verified>| {
                // The key, the decoded claims (every name and value, with per-node overhead:
                // a long `groups` list weighs what it holds) and fixed overhead.
                let claims: usize = v
                    .user
                    .claims
                    .iter()
                    .map(|(k, v)| k.len() + 48 + value_bytes(v))
                    .sum();
                u32::try_from(token.len() + claims + v.user.subject.len() + 160).unwrap_or(u32::MAX)
            })
            .build();
        VerifiedTokens { cache }
    }

    fn get(&self, token: &str, now: u64) -> Option<Arc<User>> {
        let user = self.cache.get(token).and_then(|hit| {
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
            Some(_) => TOKEN_CACHE_HITS.inc(),
            None => TOKEN_CACHE_MISSES.inc(),
        };
        user
    }

    fn insert(&self, token: &str, user: Arc<User>, leeway: u64) {
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
        };
        self.cache.insert(token.to_owned(), Arc::new(entry));
    }
}

#[derive(Deserialize)]
struct IssuerPeek {
    iss: Option<Value>,
}

impl JwtAuthenticator {
    pub async fn authenticate(&self, headers: &HeaderMap) -> Option<AuthOutcome> {
        let token = match bearer_or_cookie(headers, self.token_cookie.as_deref()) {
            Found::None => return None,
            Found::Malformed => return Some(AuthOutcome::Rejected(AuthFailure::Malformed)),
            Found::Token(t) => t,
        };
        if let Some(verified) = &self.verified {
            if let Some(user) = verified.get(token, jsonwebtoken::get_current_timestamp()) {
                return Some(AuthOutcome::Authenticated(user));
            }
        }
        Some(match self.verify(token).await {
            Ok((user, leeway)) => {
                let user = Arc::new(user);
                if let Some(verified) = &self.verified {
                    verified.insert(token, user.clone(), leeway);
                }
                AuthOutcome::Authenticated(user)
            }
            Err(outcome) => outcome,
        })
    }

    /// Verifies `token` in full; returns the caller and the issuer's leeway.
    async fn verify(&self, token: &str) -> Result<(User, u64), AuthOutcome> {
        let reject = AuthOutcome::Rejected;
        let header = jsonwebtoken::decode_header(token).map_err(|e| reject(map_error(e.kind())))?;
        // Only to choose the issuer; everything is verified below with that issuer's keys.
        let issuer = match self.issuers.as_slice() {
            // One issuer: the verified decode below enforces `iss`, so the payload is parsed once.
            [only] => only,
            _ => self.issuer_of(token)?,
        };
        if !issuer.algorithms.contains(&header.alg) {
            return Err(reject(AuthFailure::Algorithm));
        }
        let jwks_key;
        let key = match &issuer.keys {
            IssuerKeys::Static(key) => key,
            IssuerKeys::Jwks(cache) => match cache.key_for(header.kid.as_deref(), header.alg).await
            {
                KeyLookup::Found(key) => {
                    jwks_key = key;
                    &jwks_key.key
                }
                KeyLookup::Unknown => return Err(reject(AuthFailure::UnknownKey)),
                KeyLookup::Unavailable => return Err(AuthOutcome::Unavailable("jwks")),
            },
        };
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, key, &issuer.validation)
            .map_err(|e| reject(map_error(e.kind())))?;
        let mut claims = data.claims;
        // `iss` must be the one string (the library would also take a list containing it).
        if claims.get("iss").and_then(Value::as_str) != Some(issuer.issuer.as_str()) {
            return Err(reject(AuthFailure::UnknownIssuer));
        }
        let subject = match claims.remove("sub") {
            Some(Value::String(s))
                if !s.is_empty() && s.len() <= 256 && !s.chars().any(char::is_control) =>
            {
                s
            }
            _ => return Err(reject(AuthFailure::Claims)),
        };
        let user = User {
            subject,
            claims,
            via: "jwt",
        };
        Ok((user, issuer.validation.leeway))
    }

    /// The configured issuer named by the token's (not yet verified) `iss`, only to choose which
    /// keys and algorithms verify it.
    fn issuer_of(&self, token: &str) -> Result<&Issuer, AuthOutcome> {
        let reject = AuthOutcome::Rejected;
        let peek: IssuerPeek = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|_| reject(AuthFailure::Malformed))?;
        match peek.iss {
            Some(Value::String(iss)) => self
                .issuers
                .iter()
                .find(|i| i.issuer == iss)
                .ok_or(reject(AuthFailure::UnknownIssuer)),
            Some(_) => Err(reject(AuthFailure::Claims)),
            None => Err(reject(AuthFailure::UnknownIssuer)),
        }
    }

    pub fn is_ready(&self) -> bool {
        self.issuers.iter().all(|i| match &i.keys {
            IssuerKeys::Static(_) => true,
            IssuerKeys::Jwks(cache) => cache.is_ready(),
        })
    }
}

fn map_error(kind: &ErrorKind) -> AuthFailure {
    match kind {
        ErrorKind::ExpiredSignature => AuthFailure::Expired,
        ErrorKind::ImmatureSignature => AuthFailure::NotYetValid,
        ErrorKind::InvalidIssuer => AuthFailure::UnknownIssuer,
        ErrorKind::InvalidAudience => AuthFailure::Audience,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => AuthFailure::Algorithm,
        ErrorKind::MissingRequiredClaim(_)
        | ErrorKind::InvalidClaimFormat(_)
        | ErrorKind::InvalidSubject => AuthFailure::Claims,
        ErrorKind::InvalidSignature
        | ErrorKind::InvalidKeyFormat
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidRsaKey(_) => AuthFailure::Signature,
        _ => AuthFailure::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
