//! JWT bearer tokens (from `Authorization: Bearer` or a cookie). The token's `iss` selects the
//! configured issuer; that issuer pins the algorithms and the key source. `exp` is required,
//! `nbf` is honoured, `iss` and `aud` are enforced when configured.
//!
//! A browser or player sends the same token with every request of a session, so a token that
//! verified is remembered by its exact text for a short while ([`VerifiedTokens`]); later
//! requests with the very same bytes skip the signature check but not the time checks.
//!
//! [`JwtAuthenticator::read_offline`] reads a token the same way without the network, for
//! `signgate explain`. (Over 300 lines: a third of it is the offline reading's tests.)

use std::sync::Arc;

use http::HeaderMap;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::credentials::{check_token, sent_credential, Found};
use super::jwks::{JwksCache, KeyLookup};
use super::settings::{IssuerKeySource, IssuerSettings, JwtSettings};
pub use super::verified_tokens::VerifiedTokens;
use super::{AuthFailure, AuthOutcome, User};
use crate::metrics::{IssuerLabels, Metrics};

/// Where an issuer's verification keys come from.
pub enum IssuerKeys {
    /// A secret (HS*) or a PEM public key, fixed in the configuration.
    Static(DecodingKey),
    /// A JWKS, fetched and cached.
    Jwks(Arc<JwksCache>),
}

pub struct Issuer {
    pub issuer: String,
    /// Accepted `aud` values; empty: `aud` is not checked.
    pub audience: Vec<String>,
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
        metrics: &Metrics,
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
                    let fetched_at = metrics.jwks_fetched.get_or_create(&IssuerLabels {
                        issuer: settings.issuer.clone(),
                    });
                    Arc::new(JwksCache::new(
                        source.clone(),
                        *min_refresh,
                        *dev_loopback_http,
                        fetched_at.clone(),
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
            audience,
            algorithms,
            keys,
            validation,
        }
    }
}

/// How [`JwtAuthenticator::read_offline`] judged a token's signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureCheck {
    /// Verified with the issuer's fixed key (secret or PEM public key).
    Verified,
    /// The issuer's keys come from a JWKS, which is not fetched offline.
    NotChecked,
}

/// A token read without the network: which issuer it went to, how its signature was judged,
/// and the caller or why it is refused.
pub struct OfflineReading<'a> {
    pub issuer: Option<&'a Issuer>,
    pub signature: SignatureCheck,
    pub result: Result<User, AuthFailure>,
}

impl<'a> OfflineReading<'a> {
    fn refused(issuer: Option<&'a Issuer>, failure: AuthFailure) -> Self {
        OfflineReading {
            issuer,
            signature: SignatureCheck::NotChecked,
            result: Err(failure),
        }
    }
}

/// `token` if it has the size and characters a bearer token may have, as a request's header
/// is checked.
fn check_token_text(token: &str) -> Result<&str, AuthFailure> {
    match check_token(token.as_bytes()) {
        Found::Token(_) => Ok(token),
        _ => Err(AuthFailure::Malformed),
    }
}

impl Issuer {
    /// The caller verified `claims` describe: `iss` exactly this issuer (the library would also
    /// take a list containing it), `sub` a usable subject.
    fn user_from(&self, mut claims: Map<String, Value>) -> Result<User, AuthFailure> {
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(AuthFailure::UnknownIssuer);
        }
        let subject = match claims.remove("sub") {
            Some(Value::String(s))
                if !s.is_empty() && s.len() <= 256 && !s.chars().any(char::is_control) =>
            {
                s
            }
            _ => return Err(AuthFailure::Claims),
        };
        Ok(User {
            subject,
            claims,
            via: "jwt",
        })
    }

    /// `token`'s claims checked by this issuer's own validation (times, issuer, audience,
    /// required claims), its signature not checked: the claims are re-signed with a throwaway
    /// secret so the library's checks run on them unchanged. Offline use only.
    fn check_claims_only(&self, token: &str) -> jsonwebtoken::errors::Result<Map<String, Value>> {
        let claims: Map<String, Value> = jsonwebtoken::dangerous::insecure_decode_claims(token)?;
        let secret = [
            uuid::Uuid::new_v4().into_bytes(),
            uuid::Uuid::new_v4().into_bytes(),
        ]
        .concat();
        let resigned = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(&secret)?,
        )?;
        let mut validation = self.validation.clone();
        validation.algorithms = vec![Algorithm::HS256];
        jsonwebtoken::decode(&resigned, &DecodingKey::from_secret(&secret)?, &validation)
            .map(|d| d.claims)
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
            .map(|i| Issuer::from_config(i, previous.clone().into_iter().flatten(), metrics))
            .collect::<anyhow::Result<_>>()?;
        Ok(JwtAuthenticator {
            issuers,
            token_cookie: token_cookie.map(str::to_owned),
            verified: settings
                .verified_cache
                .map(|c| VerifiedTokens::new(c.ttl, c.max_bytes, metrics.token_cache.clone())),
        })
    }

    /// The outcome for `headers` at `now` (the request's time from the service clock; the system
    /// clock in a deployment, as the library's own that judges a token on a cache miss).
    pub async fn authenticate(&self, headers: &HeaderMap, now: u64) -> Option<AuthOutcome> {
        let malformed = Some(AuthOutcome::Rejected(AuthFailure::Malformed));
        let sent = match sent_credential(headers, self.token_cookie.as_deref()) {
            Found::None => return None,
            Found::Malformed => return malformed,
            Found::Token(sent) => sent,
        };
        // Looked up as sent: only checked and verified tokens are remembered, so an exact
        // match is one; anything else is checked, then verified.
        if let Some(verified) = &self.verified {
            if let Some(user) = verified.get(sent, now) {
                return Some(AuthOutcome::Authenticated(user));
            }
        }
        let Found::Token(token) = check_token(sent) else {
            return malformed;
        };
        // Boxed: a cache miss verifies in full (microseconds of work anyway), and held inline
        // its state (the token's header, a JWKS lookup) would enlarge every request's future.
        Some(match Box::pin(self.verify(token)).await {
            Ok((user, leeway)) => {
                let user = Arc::new(user);
                if let Some(verified) = &self.verified {
                    verified.insert(token, user.clone(), leeway, now);
                }
                AuthOutcome::Authenticated(user)
            }
            Err(outcome) => outcome,
        })
    }

    /// Verifies `token` in full; returns the caller and the issuer's leeway.
    async fn verify(&self, token: &str) -> Result<(User, u64), AuthOutcome> {
        let reject = AuthOutcome::Rejected;
        let (header, issuer) = self.issuer_for(token).map_err(reject)?;
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
            .map_err(|e| {
                let failure = map_error(e.kind());
                if failure == AuthFailure::Audience {
                    // The signature verified (it is checked before the claims), so the `aud`
                    // shown is the issuer's; the token itself is never logged.
                    tracing::info!(
                        issuer = %issuer.issuer,
                        "a token was refused: {}",
                        audience_mismatch(token, &issuer.issuer, &issuer.audience)
                    );
                }
                reject(failure)
            })?;
        let user = issuer.user_from(data.claims).map_err(reject)?;
        Ok((user, issuer.validation.leeway))
    }

    /// The issuer that verifies `token` (by its not yet verified `iss` when there are several)
    /// and the token's header, its algorithm allowed for that issuer.
    fn issuer_for(&self, token: &str) -> Result<(jsonwebtoken::Header, &Issuer), AuthFailure> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| map_error(e.kind()))?;
        // Only to choose the issuer; everything is verified with that issuer's keys.
        let issuer = match self.issuers.as_slice() {
            // One issuer: the verified decode enforces `iss`, so the payload is parsed once.
            [only] => only,
            _ => self.issuer_of(token).map_err(|outcome| match outcome {
                AuthOutcome::Rejected(failure) => failure,
                _ => AuthFailure::Malformed,
            })?,
        };
        if !issuer.algorithms.contains(&header.alg) {
            return Err(AuthFailure::Algorithm);
        }
        Ok((header, issuer))
    }

    /// Reads `token` as [`JwtAuthenticator::authenticate`] does, without the network: every
    /// check of a request, with the issuer's fixed key; for an issuer whose keys come from a
    /// JWKS (not fetched here) every check but the signature's. For `signgate explain`.
    pub fn read_offline(&self, token: &str) -> OfflineReading<'_> {
        let token = match check_token_text(token) {
            Ok(token) => token,
            Err(failure) => return OfflineReading::refused(None, failure),
        };
        let (_, issuer) = match self.issuer_for(token) {
            Ok(found) => found,
            Err(failure) => return OfflineReading::refused(self.named_issuer(token), failure),
        };
        let (claims, signature) = match &issuer.keys {
            IssuerKeys::Static(key) => (
                jsonwebtoken::decode::<Map<String, Value>>(token, key, &issuer.validation)
                    .map(|d| d.claims),
                SignatureCheck::Verified,
            ),
            IssuerKeys::Jwks(_) => (issuer.check_claims_only(token), SignatureCheck::NotChecked),
        };
        let result = claims
            .map_err(|e| map_error(e.kind()))
            .and_then(|claims| issuer.user_from(claims));
        OfflineReading {
            issuer: Some(issuer),
            signature,
            result,
        }
    }

    /// The configured issuer the token names, if any (to say whose rules refused it).
    fn named_issuer(&self, token: &str) -> Option<&Issuer> {
        let peek: IssuerPeek = jsonwebtoken::dangerous::insecure_decode_claims(token).ok()?;
        let iss = peek.iss?;
        self.issuers
            .iter()
            .find(|i| Some(i.issuer.as_str()) == iss.as_str())
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

/// The cause and the fix of a token refused for its audience, in one line: the token's `aud`
/// (read without trusting it; at most 200 characters), the audiences the issuer accepts, and
/// the two ways out. The service logs it; `signgate explain` prints it.
pub fn audience_mismatch(token: &str, issuer: &str, accepts: &[String]) -> String {
    let claims: Option<Map<String, Value>> =
        jsonwebtoken::dangerous::insecure_decode_claims(token).ok();
    let aud = claims.as_ref().and_then(|c| c.get("aud"));
    let mut shown = aud.map_or("none".to_owned(), Value::to_string);
    if shown.len() > 200 {
        let cut = (0..=200)
            .rev()
            .find(|&i| shown.is_char_boundary(i))
            .unwrap_or(0);
        shown.truncate(cut);
        shown.push_str("...");
    }
    let add = match aud {
        Some(Value::String(one)) => format!("add {one:?} to"),
        _ => "add the token's audience to".to_owned(),
    };
    format!(
        "the token's aud is {shown}; issuer {issuer} accepts {accepts:?}: issue the token with one of those audiences, or {add} that issuer's audience in [[auth.jwt.issuers]]"
    )
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
    use serde_json::json;

    const SECRET: &[u8] = b"a-test-secret-of-at-least-32-bytes!!";

    fn issuer(keys: IssuerKeys) -> Issuer {
        Issuer::new(
            "idp".into(),
            vec!["signgate".into()],
            vec![Algorithm::HS256],
            keys,
            0,
        )
    }

    fn authenticator(keys: IssuerKeys) -> JwtAuthenticator {
        JwtAuthenticator {
            issuers: vec![issuer(keys)],
            token_cookie: None,
            verified: None,
        }
    }

    fn token(claims: Value, secret: &[u8]) -> String {
        let key = jsonwebtoken::EncodingKey::from_secret(secret).unwrap();
        jsonwebtoken::encode(&jsonwebtoken::Header::new(Algorithm::HS256), &claims, &key).unwrap()
    }

    fn claims(extra: Value) -> Value {
        let now = jsonwebtoken::get_current_timestamp();
        let mut c = json!({"sub": "alice", "iss": "idp", "aud": "signgate", "exp": now + 600});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    }

    fn jwks() -> IssuerKeys {
        IssuerKeys::Jwks(Arc::new(JwksCache::new(
            super::super::jwks::JwksSource::Url("https://idp.example/jwks".into()),
            std::time::Duration::from_secs(60),
            false,
            Default::default(),
        )))
    }

    #[test]
    fn offline_reading_checks_everything_a_request_does_with_a_fixed_key() {
        let a = authenticator(IssuerKeys::Static(
            DecodingKey::from_secret(SECRET).unwrap(),
        ));
        let r = a.read_offline(&token(claims(json!({"roles": ["x"]})), SECRET));
        assert_eq!(r.signature, SignatureCheck::Verified);
        let user = r.result.unwrap();
        assert_eq!(user.subject, "alice");
        assert_eq!(user.claims["roles"], json!(["x"]));
        let forged = a.read_offline(&token(
            claims(json!({})),
            b"another-secret-of-32-bytes-or-more!",
        ));
        assert_eq!(forged.result.unwrap_err(), AuthFailure::Signature);
        assert_eq!(
            a.read_offline("not a token").result.unwrap_err(),
            AuthFailure::Malformed
        );
    }

    #[test]
    fn offline_reading_of_a_jwks_issuer_checks_the_claims_but_not_the_signature() {
        let a = authenticator(jwks());
        let any_key = b"whatever-key-signed-it-is-not-checked";
        let r = a.read_offline(&token(claims(json!({})), any_key));
        assert_eq!(r.signature, SignatureCheck::NotChecked);
        assert_eq!(r.result.unwrap().subject, "alice");
        let past = jsonwebtoken::get_current_timestamp() - 3600;
        for (extra, failure) in [
            (json!({"exp": past}), AuthFailure::Expired),
            (json!({"aud": "someone-else"}), AuthFailure::Audience),
            (json!({"nbf": past + 7200}), AuthFailure::NotYetValid),
            (json!({"sub": 7}), AuthFailure::Claims),
        ] {
            let r = a.read_offline(&token(claims(extra.clone()), any_key));
            assert_eq!(r.result.unwrap_err(), failure, "{extra}");
            assert_eq!(r.issuer.unwrap().issuer, "idp");
        }
    }
}
