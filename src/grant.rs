//! The request flow, shared by every route: object key -> authenticate -> authorize -> sign.
//! Routes only translate HTTP in and out.

use std::net::IpAddr;
use std::time::Instant;

use http::HeaderMap;

use crate::authenticate::{AuthOutcome, Principal};
use crate::authorize::Decision;
use crate::download::DownloadName;
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::object_key::ObjectKey;
use crate::sign::SignedObject;
use crate::state::App;

/// One request for one object, as the route saw it.
pub struct ObjectRequest<'a> {
    /// The raw (percent-encoded) path after the files prefix and its `/`.
    pub raw_key: &'a str,
    /// The raw query string, if any.
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub client_ip: IpAddr,
}

/// An allowed, signed object.
pub struct Grant {
    pub key: ObjectKey,
    pub principal: Principal,
    pub signed: SignedObject,
}

/// Runs the whole decision. Every error is final: nothing is signed unless this returns `Ok`.
pub async fn grant(
    app: &App,
    metrics: &Metrics,
    req: ObjectRequest<'_>,
) -> Result<Grant, AppError> {
    app.limits.check_ip(req.client_ip)?;
    let key = ObjectKey::from_raw_path(req.raw_key, app.settings.server.max_key_bytes)
        .map_err(AppError::BadKey)?;
    let download = download_param(req.query)?;
    let principal = authenticate(app, metrics, req.headers).await?;
    let signed = authorize_and_sign(
        app,
        metrics,
        &principal,
        &key,
        download.as_ref(),
        req.client_ip,
    )
    .await?;
    Ok(Grant {
        key,
        principal,
        signed,
    })
}

/// Who is calling: a user, anonymous, or an error (invalid credential: 401; backend down: 503).
/// Applies the per-subject rate limit.
pub async fn authenticate(
    app: &App,
    metrics: &Metrics,
    headers: &HeaderMap,
) -> Result<Principal, AppError> {
    let principal = match app
        .settings
        .authenticators
        .authenticate(headers, app.settings.clock.now())
        .await
    {
        AuthOutcome::Authenticated(user) => Principal::User(user),
        AuthOutcome::Anonymous => Principal::Anonymous,
        AuthOutcome::Rejected(reason) => {
            metrics.auth_failure(reason.code());
            crate::audit!(decision = "unauthenticated", reason = reason.code());
            return Err(AppError::Unauthenticated {
                reason: Some(reason),
                login: None,
            });
        }
        AuthOutcome::Unavailable(backend) => {
            metrics.auth_failure("backend_unavailable");
            return Err(AppError::Unavailable {
                backend,
                retry_after: 5,
            });
        }
    };
    if let Some(subject) = principal.subject() {
        app.limits.check_subject(subject)?;
    }
    Ok(principal)
}

/// Decides on one object for an authenticated (or anonymous) caller and signs it if allowed.
pub async fn authorize_and_sign(
    app: &App,
    metrics: &Metrics,
    principal: &Principal,
    key: &ObjectKey,
    download: Option<&DownloadName>,
    client_ip: IpAddr,
) -> Result<SignedObject, AppError> {
    let subject = principal.subject().unwrap_or("-");
    match app.settings.rules.decide(key, principal) {
        Decision::Allow(rule) => {
            if !grant_allows(rule, principal, key).await? {
                crate::audit!(subject, object = %key, decision = "deny", grant = rule.grant.as_ref().map(|g| g.name.as_str()));
                return Err(if rule.deny_as_not_found {
                    AppError::NotFound
                } else {
                    AppError::Forbidden
                });
            }
            let started = Instant::now();
            let signed = rule
                .target
                .sign(key, download, client_ip, app.settings.clock.now())?;
            metrics
                .signing_seconds
                .observe(started.elapsed().as_secs_f64());
            crate::audit!(
                subject,
                object = %key,
                decision = "allow",
                rule = rule.pattern.as_str(),
                key_id = %signed.key_pair_id,
                expires = signed.expires_at,
            );
            Ok(signed)
        }
        Decision::NeedsLogin => {
            crate::audit!(subject, object = %key, decision = "unauthenticated");
            Err(AppError::Unauthenticated {
                reason: None,
                login: None,
            })
        }
        Decision::Forbidden { not_found } => {
            crate::audit!(subject, object = %key, decision = "deny");
            Err(if not_found {
                AppError::NotFound
            } else {
                AppError::Forbidden
            })
        }
    }
}

/// The rule's SQL grant, if it has one, must also allow the object.
pub async fn grant_allows(
    rule: &crate::authorize::Rule,
    principal: &Principal,
    key: &ObjectKey,
) -> Result<bool, AppError> {
    match (&rule.grant, principal) {
        (None, _) => Ok(true),
        (Some(grant), Principal::User(user)) => grant.allows(user, key).await,
        (Some(_), Principal::Anonymous) => Ok(false),
    }
}

/// The `download` query parameter, at most once.
fn download_param(query: Option<&str>) -> Result<Option<DownloadName>, AppError> {
    let mut found = None;
    for pair in query.unwrap_or_default().split('&') {
        let Some(value) = pair.strip_prefix("download=") else {
            continue;
        };
        if found.is_some() {
            return Err(AppError::BadRequest(
                "duplicate_parameter",
                "download is given more than once",
            ));
        }
        found = Some(DownloadName::from_query_value(value).map_err(|_| {
            AppError::BadRequest("bad_download_name", "the download name is not valid")
        })?);
    }
    Ok(found)
}
