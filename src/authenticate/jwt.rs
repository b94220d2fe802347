//! JWT bearer tokens (from `Authorization: Bearer` or a cookie). The token's `iss` selects the
//! configured issuer; that issuer pins the algorithms and the key source. `exp` is required,
//! `nbf` is honoured, `iss` and `aud` are enforced when configured.
//!
//! A browser or player sends the same token with every request of a session, so a token that
//! verified is remembered by its exact text for a short while ([`VerifiedTokens`]); later
//! requests with the very same bytes skip the signature check but not the time checks.

use std::sync::Arc;

use http::HeaderMap;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::credentials::{bearer_or_cookie, Found};
use super::jwks::{JwksCache, KeyLookup};
use super::settings::{IssuerKeySource, IssuerSettings, JwtSettings};
pub use super::verified_tokens::VerifiedTokens;
use super::{AuthFailure, AuthOutcome, User};
use crate::metrics::Metrics;

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
    /// The issuer `settings` describe. A JWKS cache of `previous` (a configuration a reload
    /// replaces) is reused when it is this issuer's with the same source.
    pub fn from_config<'a>(
        settings: &IssuerSettings,
        mut previous: impl Iterator<Item = &'a Issuer>,
    ) -> anyhow::Result<Self> {
        let keys = match &settings.keys {
            IssuerKeySource::Hmac(secret) => IssuerKeys::Static(
                DecodingKey::from_secret(secret.expose())
                    .map_err(|e| anyhow::anyhow!("issuer {:?}: {e}", settings.issuer))?,
            ),
            IssuerKeySource::PublicKey(key) => IssuerKeys::Static(key.expose().clone()),
            IssuerKeySource::Jwks {
                source,
                min_refresh,
                dev_loopback_http,
            } => {
                let kept = previous.find_map(|old| match &old.keys {
                    IssuerKeys::Jwks(cache)
                        if old.issuer == settings.issuer && cache.source() == source =>
                    {
                        Some(cache.clone())
                    }
                    _ => None,
                });
                IssuerKeys::Jwks(kept.unwrap_or_else(|| {
                    Arc::new(JwksCache::new(
                        source.clone(),
                        *min_refresh,
                        *dev_loopback_http,
                    ))
                }))
            }
        };
        Ok(Issuer::new(
            settings.issuer.clone(),
            settings.audience.clone(),
            settings.algorithms.clone(),
            keys,
            settings.leeway_seconds,
        ))
    }

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

#[derive(Deserialize)]
struct IssuerPeek {
    iss: Option<Value>,
}

impl JwtAuthenticator {
    /// The issuers `settings` list, reusing the JWKS caches of `previous` issuers where their
    /// source is unchanged.
    pub fn new<'a>(
        settings: &JwtSettings,
        token_cookie: Option<&str>,
        previous: Option<impl Iterator<Item = &'a Issuer> + Clone>,
        metrics: &Metrics,
    ) -> anyhow::Result<Self> {
        let issuers = settings
            .issuers
            .iter()
            .map(|i| Issuer::from_config(i, previous.clone().into_iter().flatten()))
            .collect::<anyhow::Result<_>>()?;
        Ok(JwtAuthenticator {
            issuers,
            token_cookie: token_cookie.map(str::to_owned),
            verified: settings
                .verified_cache
                .map(|c| VerifiedTokens::new(c.ttl, c.max_bytes, metrics.token_cache.clone())),
        })
    }

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
