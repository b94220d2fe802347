//! Step 2 of a request: who is calling. Authenticators are tried in the configured order; the
//! first that finds its credential decides. A credential that is present but invalid is a 401,
//! never a fall-through to the next authenticator or to anonymous access.

pub mod credentials;
pub mod django;
pub mod jwks;
pub mod jwt;
pub mod redis_session;
pub mod settings;
pub mod verified_tokens;

use std::sync::Arc;

use http::HeaderMap;
use serde_json::{Map, Value};

use crate::metrics::Metrics;
use settings::{AuthSettings, MethodSettings};

/// A caller whose credential checked out.
#[derive(Clone, Debug)]
pub struct User {
    pub subject: String,
    pub claims: Map<String, Value>,
    /// Which authenticator vouched for this caller (for logs and metrics).
    pub via: &'static str,
}

impl User {
    /// A claim as a single string value, for `{claim}` templates. `sub` is the subject.
    pub fn claim_str(&self, name: &str) -> Option<std::borrow::Cow<'_, str>> {
        if name == "sub" {
            return Some(self.subject.as_str().into());
        }
        match self.claims.get(name)? {
            Value::String(s) => Some(s.as_str().into()),
            Value::Number(n) => Some(n.to_string().into()),
            _ => None,
        }
    }
}

/// The caller a session describes: its subject field (a non-empty string without control
/// characters, or a number) and the configured claim fields. A session without a subject (logged
/// out, or never logged in) is an anonymous caller; a subject of another type is refused.
pub(crate) fn session_user(
    session: &Map<String, Value>,
    subject_field: &str,
    claim_fields: &[String],
    via: &'static str,
) -> AuthOutcome {
    let subject = match session.get(subject_field) {
        Some(Value::String(s))
            if !s.is_empty() && s.len() <= 256 && !s.chars().any(char::is_control) =>
        {
            s.clone()
        }
        Some(Value::Number(n)) => n.to_string(),
        None | Some(Value::Null) => return AuthOutcome::Anonymous,
        Some(_) => return AuthOutcome::Rejected(AuthFailure::Claims),
    };
    let claims = claim_fields
        .iter()
        .filter_map(|f| session.get(f).map(|v| (f.clone(), v.clone())))
        .collect();
    AuthOutcome::Authenticated(Arc::new(User {
        subject,
        claims,
        via,
    }))
}

#[derive(Clone, Debug)]
pub enum Principal {
    Anonymous,
    User(Arc<User>),
}

impl Principal {
    pub fn subject(&self) -> Option<&str> {
        match self {
            Principal::Anonymous => None,
            Principal::User(u) => Some(&u.subject),
        }
    }
}

/// Why a credential was refused: a metrics label and the code in the 401 body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error("the credential is malformed")]
    Malformed,
    #[error("the token's algorithm is not allowed for its issuer")]
    Algorithm,
    #[error("the token's issuer is not trusted")]
    UnknownIssuer,
    #[error("the token's signing key is unknown")]
    UnknownKey,
    #[error("the token's signature is invalid")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token's audience is not accepted")]
    Audience,
    #[error("the token lacks a required claim or has one in the wrong form")]
    Claims,
    #[error("no such session")]
    UnknownSession,
    /// The stored session is longer than `max_session_bytes`; it was not read.
    #[error("the session is larger than signgate reads")]
    SessionTooLarge,
}

impl AuthFailure {
    pub fn code(self) -> &'static str {
        match self {
            AuthFailure::Malformed => "malformed",
            AuthFailure::Algorithm => "algorithm",
            AuthFailure::UnknownIssuer => "unknown_issuer",
            AuthFailure::UnknownKey => "unknown_key",
            AuthFailure::Signature => "signature",
            AuthFailure::Expired => "expired",
            AuthFailure::NotYetValid => "not_yet_valid",
            AuthFailure::Audience => "audience",
            AuthFailure::Claims => "claims",
            AuthFailure::UnknownSession => "unknown_session",
            AuthFailure::SessionTooLarge => "session_too_large",
        }
    }
}

/// The result of authentication for one request.
#[derive(Debug)]
pub enum AuthOutcome {
    Authenticated(Arc<User>),
    /// No authenticator found its credential.
    Anonymous,
    /// A credential was present and is invalid.
    Rejected(AuthFailure),
    /// A backend needed to decide (a JWKS provider, a session store) is unavailable.
    Unavailable(&'static str),
}

/// One way of authenticating. An enum rather than a trait object: the set is closed and known
/// at start-up, and dispatch stays on the stack.
pub enum Authenticator {
    Jwt(jwt::JwtAuthenticator),
    DjangoSession(django::DjangoSessions),
    RedisSession(redis_session::RedisSessions),
}

impl Authenticator {
    /// `None` when this authenticator's credential is absent.
    ///
    /// The session stores' futures are boxed: they wait on the network anyway, and held inline
    /// (a Redis lookup's is ~7 KB) they would make every request's future that large, to be
    /// moved at each of its layers (`bench/README.md`, "Where the time goes").
    async fn authenticate(&self, headers: &HeaderMap, now: u64) -> Option<AuthOutcome> {
        match self {
            Authenticator::Jwt(a) => a.authenticate(headers, now).await,
            Authenticator::DjangoSession(a) => Box::pin(a.authenticate(headers, now)).await,
            Authenticator::RedisSession(a) => Box::pin(a.authenticate(headers)).await,
        }
    }

    /// Ready to decide: keys fetched, backends answering (checked actively, with timeouts).
    pub async fn is_ready(&self) -> bool {
        match self {
            Authenticator::Jwt(a) => a.is_ready(),
            Authenticator::DjangoSession(a) => match a.backend() {
                None => true,
                Some((pool, health)) => {
                    health.record(pool.ping(std::time::Duration::from_secs(1)).await)
                }
            },
            Authenticator::RedisSession(a) => a.ping().await,
        }
    }
}

/// The configured authenticators, in order.
pub struct Authenticators(pub Vec<Authenticator>);

impl Authenticators {
    /// Builds the authenticators (pools, caches, verification keys). The JWKS already fetched
    /// by `previous` (the configuration a reload replaces) is kept for every issuer whose key
    /// source did not change, so a reload never leaves a window without keys.
    pub fn from_config(
        settings: &AuthSettings,
        previous: Option<&Authenticators>,
        metrics: &Metrics,
    ) -> anyhow::Result<Self> {
        let token_cookie = settings.token_cookie.as_deref();
        settings
            .methods
            .iter()
            .map(|method| {
                Ok(match method {
                    MethodSettings::Jwt(jwt) => Authenticator::Jwt(jwt::JwtAuthenticator::new(
                        jwt,
                        token_cookie,
                        previous.map(Authenticators::issuers),
                        metrics,
                    )?),
                    MethodSettings::RedisSession(r) => {
                        Authenticator::RedisSession(redis_session::RedisSessions::new(r, metrics)?)
                    }
                    MethodSettings::DjangoSession(d) => {
                        Authenticator::DjangoSession(django::DjangoSessions::new(d, metrics)?)
                    }
                })
            })
            .collect::<anyhow::Result<_>>()
            .map(Authenticators)
    }

    /// Every JWT issuer, whichever authenticator holds it.
    pub fn issuers(&self) -> impl Iterator<Item = &jwt::Issuer> + Clone {
        self.0.iter().flat_map(|a| match a {
            Authenticator::Jwt(j) => j.issuers.as_slice(),
            _ => &[],
        })
    }

    /// Starts fetching every JWKS in the background (readiness waits for them); a cache carried
    /// over from before a reload keeps its one loop.
    pub fn start_background_fetches(&self) {
        for issuer in self.issuers() {
            if let jwt::IssuerKeys::Jwks(cache) = &issuer.keys {
                cache.start_fetching();
            }
        }
    }

    pub async fn authenticate(&self, headers: &HeaderMap, now: u64) -> AuthOutcome {
        for authenticator in &self.0 {
            if let Some(outcome) = authenticator.authenticate(headers, now).await {
                return outcome;
            }
        }
        AuthOutcome::Anonymous
    }

    pub async fn is_ready(&self) -> bool {
        for a in &self.0 {
            if !a.is_ready().await {
                return false;
            }
        }
        true
    }
}
