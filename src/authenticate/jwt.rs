//! JWT bearer tokens (from `Authorization: Bearer` or a cookie). The token's `iss` selects the
//! configured issuer; that issuer pins the algorithms and the key source. `exp` is required,
//! `nbf` is honoured, `iss` and `aud` are enforced when configured.

use std::sync::Arc;

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
        Some(match self.verify(token).await {
            Ok(user) => AuthOutcome::Authenticated(Arc::new(user)),
            Err(outcome) => outcome,
        })
    }

    async fn verify(&self, token: &str) -> Result<User, AuthOutcome> {
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
        Ok(User {
            subject,
            claims,
            via: "jwt",
        })
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
