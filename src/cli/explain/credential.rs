//! `signgate explain`, step 1: who is asking, read as the service reads a request's credential,
//! without the network unless a session store must be asked.

use std::sync::Arc;

use anyhow::{bail, Context};
use http::HeaderMap;
use serde_json::{Map, Value};

use super::report::CredentialReport;
use crate::app::App;
use crate::authenticate::jwt::{JwtAuthenticator, SignatureCheck};
use crate::authenticate::settings::{AuthSettings, MethodSettings};
use crate::authenticate::{AuthFailure, AuthOutcome, Authenticator, Principal, User};

/// The credential to explain, from the command line.
pub enum Credential {
    Token(String),
    Given {
        subject: String,
        claims: Vec<String>,
    },
    Cookie {
        name: String,
        value: String,
    },
    Anonymous,
}

/// The caller (or `None` when the credential is refused), and how it was read.
pub struct Reading {
    pub principal: Option<Principal>,
    pub report: CredentialReport,
    /// The refusal, when the credential is refused (the service's 401).
    pub refusal: Option<AuthFailure>,
}

/// Reads `credential` as the service would. Errors are setup errors (exit 2): no authenticator
/// for this kind of credential, a session store that does not answer.
pub async fn read(
    app: &App,
    auth: &AuthSettings,
    credential: Credential,
    now: u64,
) -> anyhow::Result<Reading> {
    match credential {
        Credential::Token(token) => token_reading(app, &token, "token"),
        Credential::Given { subject, claims } => given(subject, &claims),
        Credential::Anonymous => Ok(Reading {
            principal: Some(Principal::Anonymous),
            report: CredentialReport {
                source: "none",
                status: "anonymous",
                ..Default::default()
            },
            refusal: None,
        }),
        Credential::Cookie { name, value } => {
            if auth.token_cookie.as_deref() == Some(name.as_str()) {
                let mut reading = token_reading(app, &value, "token")?;
                let note = format!("cookie {name} carries a bearer token (auth.token_cookie)");
                reading.report.notes.insert(0, note);
                return Ok(reading);
            }
            session(app, auth, &name, &value, now).await
        }
    }
}

fn jwt(app: &App) -> anyhow::Result<&JwtAuthenticator> {
    app.authenticators
        .0
        .iter()
        .find_map(|a| match a {
            Authenticator::Jwt(j) => Some(j),
            _ => None,
        })
        .context("the configuration reads no JWTs (auth.order has no \"jwt\")")
}

fn token_reading(app: &App, token: &str, source: &'static str) -> anyhow::Result<Reading> {
    let reading = jwt(app)?.read_offline(token);
    let mut report = CredentialReport {
        source,
        issuer: reading.issuer.map(|i| i.issuer.clone()),
        signature: Some(match reading.signature {
            SignatureCheck::Verified => "verified",
            SignatureCheck::NotChecked => "not_checked",
        }),
        ..Default::default()
    };
    if reading.signature == SignatureCheck::NotChecked && reading.issuer.is_some() {
        report.notes.push(
            "this issuer's keys come from a JWKS, which explain does not fetch: the signature was not checked, every other check was".into(),
        );
    }
    Ok(match reading.result {
        Ok(user) => authenticated(report, user),
        Err(failure) => {
            let issuer = reading
                .issuer
                .map(|i| (i.issuer.as_str(), i.audience.as_slice()));
            report.status = "refused";
            report.reason = Some(failure.code());
            report.message = Some(refusal_message(failure, token, issuer, reading.signature));
            if failure == AuthFailure::Signature || failure == AuthFailure::Malformed {
                report.signature = None;
            }
            Reading {
                principal: None,
                report,
                refusal: Some(failure),
            }
        }
    })
}

fn authenticated(mut report: CredentialReport, user: User) -> Reading {
    report.status = "authenticated";
    report.authenticator = Some(user.via);
    report.subject = Some(user.subject.clone());
    report.claims = user.claims.clone();
    Reading {
        principal: Some(Principal::User(Arc::new(user))),
        report,
        refusal: None,
    }
}

/// Why a token was refused, with the values that decided it (read from the token without
/// trusting it: for people only).
fn refusal_message(
    failure: AuthFailure,
    token: &str,
    issuer: Option<(&str, &[String])>,
    signature: SignatureCheck,
) -> String {
    let claims: Option<Map<String, Value>> =
        jsonwebtoken::dangerous::insecure_decode_claims(token).ok();
    let claim = |name: &str| claims.as_ref().and_then(|c| c.get(name)).cloned();
    let shown = |v: Option<Value>| v.map_or("none".to_owned(), |v| v.to_string());
    let detail = match failure {
        AuthFailure::Expired => {
            let exp = claim("exp").and_then(|v| v.as_u64());
            let now = jsonwebtoken::get_current_timestamp();
            match exp {
                Some(exp) => format!("exp {exp} is {} s ago", now.saturating_sub(exp)),
                None => String::new(),
            }
        }
        AuthFailure::Audience => crate::authenticate::jwt::audience_mismatch(
            token,
            issuer.map_or("?", |(name, _)| name),
            issuer.map_or(&[][..], |(_, aud)| aud),
        ),
        AuthFailure::UnknownIssuer => format!("the token's iss is {}", shown(claim("iss"))),
        AuthFailure::Signature if signature == SignatureCheck::Verified => {
            "the issuer's key did not verify it".to_owned()
        }
        _ => String::new(),
    };
    if detail.is_empty() {
        failure.to_string()
    } else {
        format!("{failure}: {detail}")
    }
}

/// `--sub` and `--claim NAME=VALUE` (a repeated name makes a list), as a caller whose
/// credential checked out.
fn given(subject: String, entries: &[String]) -> anyhow::Result<Reading> {
    let mut claims = Map::new();
    for entry in entries {
        let (name, value) = entry
            .split_once('=')
            .with_context(|| format!("--claim {entry:?}: expected NAME=VALUE"))?;
        if name.is_empty() || name == "sub" {
            bail!("--claim {entry:?}: give the subject with --sub, and other claims by name");
        }
        let value = Value::String(value.to_owned());
        match claims.get_mut(name) {
            None => {
                claims.insert(name.to_owned(), value);
            }
            Some(Value::Array(list)) => list.push(value),
            Some(existing) => *existing = Value::Array(vec![existing.take(), value]),
        }
    }
    let report = CredentialReport {
        source: "given",
        notes: vec!["a caller as given on the command line; no credential was checked".into()],
        ..Default::default()
    };
    let user = User {
        subject,
        claims,
        via: "command_line",
    };
    Ok(authenticated(report, user))
}

/// A session cookie, read by the configured session authenticators (which ask their store: the
/// only network explain uses without being asked).
async fn session(
    app: &App,
    auth: &AuthSettings,
    name: &str,
    value: &str,
    now: u64,
) -> anyhow::Result<Reading> {
    let mut headers = HeaderMap::new();
    let cookie = http::HeaderValue::from_str(&format!("{name}={value}"))
        .with_context(|| format!("--cookie {name}=...: not a valid cookie header"))?;
    headers.insert(http::header::COOKIE, cookie);
    let mut report = CredentialReport {
        source: "session",
        ..Default::default()
    };
    Ok(match app.authenticators.authenticate(&headers, now).await {
        AuthOutcome::Authenticated(user) => authenticated(report, User::clone(&user)),
        AuthOutcome::Anonymous => {
            report.status = "anonymous";
            report.notes.push(format!(
                "no authenticator reads a cookie named {name}; the cookies read are: {}",
                cookies_read(auth)
            ));
            Reading {
                principal: Some(Principal::Anonymous),
                report,
                refusal: None,
            }
        }
        AuthOutcome::Rejected(failure) => {
            report.status = "refused";
            report.reason = Some(failure.code());
            report.message = Some(failure.to_string());
            Reading {
                principal: None,
                report,
                refusal: Some(failure),
            }
        }
        AuthOutcome::Unavailable(backend) => {
            bail!("the session store ({backend}) did not answer; the service would answer 503")
        }
    })
}

/// The cookies the configuration reads a credential from, with who reads each.
fn cookies_read(auth: &AuthSettings) -> String {
    let mut read: Vec<String> = Vec::new();
    for method in &auth.methods {
        match method {
            MethodSettings::Jwt(_) => {
                if let Some(c) = &auth.token_cookie {
                    read.push(format!("{c} (jwt)"));
                }
            }
            MethodSettings::RedisSession(r) => read.push(format!("{} (redis_session)", r.cookie)),
            MethodSettings::DjangoSession(d) => read.push(format!("{} (django_session)", d.cookie)),
        }
    }
    if read.is_empty() {
        "none".into()
    } else {
        read.join(", ")
    }
}
