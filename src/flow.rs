//! The request flow, shared by every route: object key -> authenticate -> authorize -> sign.
//! `/files` and `/auth` ([`sign_object`]), `/sign` ([`sign_objects`]) and `/cookies`
//! ([`sign_folder`]) all decide here, with the same limits and the same audit lines; routes only
//! translate HTTP in and out. Every error is final: nothing is signed unless a function here
//! returns `Ok`.
//!
//! (About 400 lines: the four flows with their audit lines and decision counts, kept together so
//! that what one entry point audits and counts, the others do too.)

use std::net::IpAddr;
use std::sync::Arc;

use http::HeaderMap;

use crate::app::App;
use crate::authenticate::{AuthOutcome, Principal};
use crate::authorize::{Decision, Rule};
use crate::download::DownloadName;
use crate::error::AppError;
use crate::object_key::ObjectKey;
use crate::rate_limit::Limited;
use crate::sign::{Distribution, FolderCredential, FolderForm, SignTarget, SignedObject};

/// Who is asking, as every route sees it: the configuration in force for this request, the
/// client's address (behind trusted proxies, the forwarded one) and whether that address is
/// within its rate limit (checked once, when the request arrives; enforced first by the flow).
pub struct Caller {
    pub app: Arc<App>,
    /// The TCP peer (IPv4-mapped addresses as IPv4).
    pub peer: IpAddr,
    pub client_ip: IpAddr,
    pub ip_limit: Result<(), Limited>,
}

impl Caller {
    pub async fn new(app: Arc<App>, peer: IpAddr, client_ip: IpAddr) -> Self {
        let ip_limit = app.limits.check_ip(client_ip).await;
        Caller {
            app,
            peer,
            client_ip,
            ip_limit,
        }
    }

    /// Whether the TCP peer is one of `server.trusted_proxies`.
    pub fn peer_is_trusted_proxy(&self) -> bool {
        crate::client_ip::is_trusted(self.peer, &self.app.server.trusted_proxies)
    }
}

/// One request for one object, as the route saw it.
pub struct ObjectRequest<'a> {
    /// The raw (percent-encoded) path after the files prefix and its `/`.
    pub raw_key: &'a str,
    /// The raw query string, if any.
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
}

/// A request for signed cookies over one folder.
pub struct FolderRequest<'a> {
    /// The raw (percent-encoded) folder path after `/cookies/`.
    pub raw_folder: &'a str,
    /// The raw query string, if any (`next=` names where to go inside the folder).
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
}

/// What was allowed and signed, and for whom.
pub struct Allowed<T> {
    pub principal: Principal,
    pub signed: T,
}

/// A folder's credential, and where inside the folder to send the browser, if it asked.
pub struct FolderGrant {
    pub credential: FolderCredential,
    /// Where the cookies are valid (their attributes).
    pub distribution: Arc<Distribution>,
    /// Where to send the browser: the credential's own URL (path and query forms), or the
    /// distribution URL of `next` when given.
    pub next: Option<String>,
}

/// `/files` and `/auth`: the whole decision for one object.
pub async fn sign_object(
    caller: &Caller,
    req: ObjectRequest<'_>,
) -> Result<Allowed<SignedObject>, AppError> {
    caller.ip_limit?;
    let app = &caller.app;
    let key = ObjectKey::from_raw_path(req.raw_key, app.server.max_key_bytes)
        .map_err(AppError::BadKey)?;
    let download = download_param(req.query)?;
    let now = app.clock.now();
    let principal = authenticate(app, req.headers, now).await?;
    let ip = caller.client_ip;
    let signed =
        authorize_and_sign(app, &principal, &key, download.as_ref(), ip, now, true).await?;
    Ok(Allowed { principal, signed })
}

/// `/sign`: many objects for one caller, authenticated once. Each key gets its own answer; a
/// backend outage fails the whole call closed rather than being one key's answer.
pub async fn sign_objects(
    caller: &Caller,
    headers: &HeaderMap,
    keys: &[String],
) -> Result<Vec<Result<SignedObject, AppError>>, AppError> {
    caller.ip_limit?;
    let app = &caller.app;
    if keys.len() > app.server.max_batch_keys {
        return Err(AppError::PayloadTooLarge);
    }
    let now = app.clock.now();
    let principal = authenticate(app, headers, now).await?;
    // Limits count work: every key after the first is one more signature (and the request's own
    // unit was charged on arrival). All or nothing, before anything is signed.
    let extra = u32::try_from(keys.len().saturating_sub(1)).unwrap_or(u32::MAX);
    if let Some(subject) = principal.subject() {
        app.limits.charge_subject(subject, extra).await?;
    }
    app.limits.charge_ip(caller.client_ip, extra).await?;
    // An anonymous caller's "sign in first" answers are one audit line for the call, not one per
    // key (a batch of 1,000 would otherwise write 1,000 lines for one unauthenticated request).
    let audit_logins = principal.subject().is_some();
    let mut needs_login = 0u64;
    let mut results = Vec::with_capacity(keys.len());
    for key in keys {
        let outcome = match ObjectKey::parse(key, app.server.max_key_bytes) {
            Ok(object) => {
                let ip = caller.client_ip;
                authorize_and_sign(app, &principal, &object, None, ip, now, audit_logins).await
            }
            Err(rejection) => Err(AppError::BadKey(rejection)),
        };
        match outcome {
            Err(err @ AppError::Unavailable { .. }) => return Err(err),
            Err(AppError::Unauthenticated { .. }) => needs_login += 1,
            _ => {}
        }
        results.push(outcome);
    }
    if needs_login > 0 && !audit_logins {
        crate::audit!(
            subject = "-",
            decision = "unauthenticated",
            kind = "batch",
            keys = needs_login
        );
    }
    Ok(results)
}

/// `/cookies`: signed cookies for a whole folder, decided by the rules marked `cookies = true`.
pub async fn sign_folder(
    caller: &Caller,
    req: FolderRequest<'_>,
) -> Result<Allowed<FolderGrant>, AppError> {
    caller.ip_limit?;
    let app = &caller.app;
    let max = app.server.max_key_bytes;
    let folder = ObjectKey::from_raw_path(req.raw_folder.trim_end_matches('/'), max)
        .map_err(AppError::BadKey)?;
    let next = match req
        .query
        .unwrap_or_default()
        .split('&')
        .find_map(|p| p.strip_prefix("next="))
    {
        Some(raw) => Some(ObjectKey::from_raw_path(raw, max).map_err(AppError::BadKey)?),
        None => None,
    };
    let now = app.clock.now();
    let principal = authenticate(app, req.headers, now).await?;
    let granted = authorize_folder(app, &principal, &folder, next, caller.client_ip, now).await;
    count_decision(app, "folder", &granted);
    Ok(Allowed {
        principal,
        signed: granted?,
    })
}

/// The rules' decision on a folder for this caller, and its credential if allowed.
async fn authorize_folder(
    app: &App,
    principal: &Principal,
    folder: &ObjectKey,
    next: Option<ObjectKey>,
    client_ip: IpAddr,
    now: u64,
) -> Result<FolderGrant, AppError> {
    let subject = principal.subject().unwrap_or("-");
    let rule = match app.rules.decide_folder(folder, principal) {
        Decision::Allow(rule) => rule,
        Decision::NeedsLogin => {
            crate::audit!(subject, folder = %folder, decision = "unauthenticated", kind = "cookies");
            return Err(AppError::Unauthenticated {
                reason: None,
                login: None,
            });
        }
        Decision::Forbidden { not_found } => {
            crate::audit!(subject, folder = %folder, decision = "deny", kind = "cookies");
            return Err(refusal(not_found));
        }
    };
    let charge = || charge_query(app, principal);
    if !rule.sql_grant_allows(principal, folder, charge).await? {
        crate::audit!(subject, folder = %folder, decision = "deny", kind = "cookies", grant = sql_grant_name(rule));
        return Err(refusal(rule.deny_as_not_found));
    }
    let distribution = rule.target.distribution.clone();
    let next = next.map(|next| {
        format!(
            "{}/{}/{}",
            distribution.base_url,
            folder.to_url_path(),
            next.to_url_path()
        )
    });
    if rule.target.folder != FolderForm::Cookie && next.is_none() {
        return Err(AppError::BadRequest(
            "next_required",
            "this folder's credential travels in its entry URL: give next=<file in the folder>",
        ));
    }
    let credential = rule
        .target
        .sign_folder(folder, next.as_deref(), client_ip, now)?;
    app.metrics
        .signature(rule.target.provider(), &credential.key_id);
    crate::audit!(
        subject,
        folder = %folder,
        decision = "allow",
        kind = "cookies",
        rule = rule.pattern.as_str(),
        provider = rule.target.provider(),
        key_id = %credential.key_id,
        expires = credential.expires_at,
    );
    let next = credential.url.clone().or(next);
    Ok(FolderGrant {
        credential,
        distribution,
        next,
    })
}

/// Who is calling: a user, anonymous, or an error (invalid credential: 401; backend down: 503).
/// Applies the per-subject rate limit. `now` is the request's time, read once per request before
/// authentication for every step that needs it: a URL signed after authentication waited (on a
/// session store or a JWKS fetch, within `server.request_timeout_ms`) expires that much sooner,
/// never later.
async fn authenticate(app: &App, headers: &HeaderMap, now: u64) -> Result<Principal, AppError> {
    let principal = match app.authenticators.authenticate(headers, now).await {
        AuthOutcome::Authenticated(user) => Principal::User(user),
        AuthOutcome::Anonymous => Principal::Anonymous,
        AuthOutcome::Rejected(reason) => {
            app.metrics.auth_failure(reason.code());
            crate::audit!(decision = "unauthenticated", reason = reason.code());
            return Err(AppError::Unauthenticated {
                reason: Some(reason),
                login: None,
            });
        }
        AuthOutcome::Unavailable(backend) => {
            app.metrics.auth_failure("backend_unavailable");
            return Err(AppError::Unavailable {
                backend,
                retry_after: 5,
            });
        }
    };
    if let Some(subject) = principal.subject() {
        app.limits.check_subject(subject).await?;
    }
    Ok(principal)
}

/// Decides on one object for an authenticated (or anonymous) caller and signs it if allowed.
async fn authorize_and_sign(
    app: &App,
    principal: &Principal,
    key: &ObjectKey,
    download: Option<&DownloadName>,
    client_ip: IpAddr,
    now: u64,
    audit_login: bool,
) -> Result<SignedObject, AppError> {
    let signed = decide_and_sign(app, principal, key, download, client_ip, now, audit_login).await;
    count_decision(app, "object", &signed);
    signed
}

/// `signgate_decisions_total`: allow, deny (403 or 404), unauthenticated (sign in first), or
/// error (no decision: a backend down, a limit, an object the provider cannot sign).
fn count_decision<T>(app: &App, kind: &'static str, result: &Result<T, AppError>) {
    let decision = match result {
        Ok(_) => "allow",
        Err(AppError::Forbidden | AppError::NotFound) => "deny",
        Err(AppError::Unauthenticated { .. }) => "unauthenticated",
        Err(_) => "error",
    };
    app.metrics.decision(kind, decision);
}

async fn decide_and_sign(
    app: &App,
    principal: &Principal,
    key: &ObjectKey,
    download: Option<&DownloadName>,
    client_ip: IpAddr,
    now: u64,
    audit_login: bool,
) -> Result<SignedObject, AppError> {
    let subject = principal.subject().unwrap_or("-");
    match app.rules.decide(key, principal) {
        Decision::Allow(rule) => {
            let charge = || charge_query(app, principal);
            if !rule.sql_grant_allows(principal, key, charge).await? {
                crate::audit!(subject, object = %key, decision = "deny", grant = sql_grant_name(rule));
                return Err(refusal(rule.deny_as_not_found));
            }
            let signed = rule.target.sign(key, download, client_ip, now)?;
            app.metrics
                .signature(rule.target.provider(), &signed.key_id);
            crate::audit!(
                subject,
                object = %key,
                decision = "allow",
                rule = rule.pattern.as_str(),
                provider = rule.target.provider(),
                key_id = %signed.key_id,
                expires = signed.expires_at,
            );
            Ok(signed)
        }
        Decision::NeedsLogin => {
            if audit_login {
                crate::audit!(subject, object = %key, decision = "unauthenticated");
            }
            Err(AppError::Unauthenticated {
                reason: None,
                login: None,
            })
        }
        Decision::Forbidden { not_found } => {
            crate::audit!(subject, object = %key, decision = "deny");
            Err(refusal(not_found))
        }
    }
}

/// A SQL grant query the decision cache did not answer is work: one unit of the subject's limit.
async fn charge_query(app: &App, principal: &Principal) -> Result<(), Limited> {
    match principal.subject() {
        Some(subject) => app.limits.charge_subject(subject, 1).await,
        None => Ok(()),
    }
}

fn refusal(not_found: bool) -> AppError {
    if not_found {
        AppError::NotFound
    } else {
        AppError::Forbidden
    }
}

fn sql_grant_name(rule: &Rule<SignTarget>) -> Option<&str> {
    rule.sql_grant.as_ref().map(|g| g.name.as_str())
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
