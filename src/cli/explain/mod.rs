//! `signgate explain`: why a caller may or may not read an object. Reads the credential, traces
//! every rule with the service's own matching code ([`Rules::trace`]), and for an allow shows
//! what would be signed ([`SignTarget::plan`]): the distribution, key, policy, lifetime and
//! stable-URL step. Nothing is signed, and nothing touches the network unless the credential is
//! a session cookie whose store must be asked, or `--query-grants` asks the SQL grants.
//!
//! Exit codes: 0 allow, 1 deny (a refusal, a login needed, a refused credential), 2 setup error.
//!
//! [`Rules::trace`]: crate::authorize::Rules::trace
//! [`SignTarget::plan`]: crate::sign::SignTarget::plan

mod credential;
mod report;
mod rules;

use std::net::IpAddr;
use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use crate::app::App;
use crate::config::Config;
use crate::error::AppError;
use crate::object_key::ObjectKey;
use credential::Credential;
use report::{CredentialReport, DecisionReport, Report};

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("credential").required(true).args(["token", "sub", "cookie", "anonymous"])))]
pub struct ExplainArgs {
    /// A JWT, as the caller sends it in `Authorization: Bearer`.
    #[arg(long, value_name = "JWT")]
    token: Option<String>,
    /// A caller with this subject, whose credential is taken as checked (with --claim).
    #[arg(long, value_name = "SUBJECT")]
    sub: Option<String>,
    /// With --sub: a claim, as NAME=VALUE; repeat a name to make a list.
    #[arg(long = "claim", value_name = "NAME=VALUE", requires = "sub")]
    claims: Vec<String>,
    /// A cookie the caller sends, as NAME=VALUE: a session (its store is asked) or the token
    /// cookie.
    #[arg(long, value_name = "NAME=VALUE")]
    cookie: Option<String>,
    /// A caller without any credential.
    #[arg(long)]
    anonymous: bool,
    /// The object key, as stored (`users/alice/report.pdf`; percent-escapes are decoded as in
    /// a /files path), or a request path starting with the files prefix (`/files/users/...`).
    #[arg(long, value_name = "OBJECT_KEY")]
    key: String,
    /// The caller's address, for rules that bind signed URLs to it.
    #[arg(long, value_name = "IP")]
    client_ip: Option<IpAddr>,
    /// Run the SQL grant query of the deciding rule (the only database explain asks unasked is
    /// a session store).
    #[arg(long)]
    query_grants: bool,
    /// Print the report as JSON (README: "signgate explain" documents its fields).
    #[arg(long)]
    json: bool,
}

pub fn run(config: &Path, args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(explain(&config, &args))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.text());
    }
    Ok(match report.decision.outcome {
        "allow" => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    })
}

async fn explain(config: &Config, args: &ExplainArgs) -> anyhow::Result<Report> {
    let app = App::build(config, None)?;
    let now = app.clock.now();
    let credential = match (&args.token, &args.sub, &args.cookie) {
        (Some(token), _, _) => Credential::Token(token.clone()),
        (_, Some(subject), _) => Credential::Given {
            subject: subject.clone(),
            claims: args.claims.clone(),
        },
        (_, _, Some(cookie)) => {
            let (name, value) = cookie
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--cookie {cookie:?}: expected NAME=VALUE"))?;
            Credential::Cookie {
                name: name.to_owned(),
                value: value.to_owned(),
            }
        }
        _ => Credential::Anonymous,
    };
    let key_text = object_key_text(&args.key, &app.server.files_prefix)?;
    let reading = credential::read(&app, &config.auth, credential, now).await?;
    let key = match ObjectKey::from_raw_path(key_text, app.server.max_key_bytes) {
        Ok(key) => key,
        Err(rejection) => {
            let err = AppError::BadKey(rejection);
            return Ok(stopped(
                args,
                reading.report,
                "bad_key",
                &err,
                rejection.to_string(),
            ));
        }
    };
    let Some(principal) = reading.principal else {
        let err = AppError::Unauthenticated {
            reason: reading.refusal,
            login: None,
        };
        let why = reading.report.message.clone().unwrap_or_default();
        return Ok(stopped(
            args,
            reading.report,
            "credential_refused",
            &err,
            why,
        ));
    };
    let options = rules::Options {
        client_ip: args.client_ip,
        query_grants: args.query_grants,
        now,
    };
    let (rules, decision, signing) =
        rules::decide(&app, config, &key, &principal, &options).await?;
    Ok(Report {
        version: report::VERSION,
        key: key.as_str().to_owned(),
        credential: reading.report,
        rules,
        decision,
        signing,
    })
}

/// The key text `--key` names: the key itself, or what follows the files prefix of a path.
fn object_key_text<'a>(given: &'a str, files_prefix: &str) -> anyhow::Result<&'a str> {
    if !given.starts_with('/') {
        return Ok(given);
    }
    given
        .strip_prefix(files_prefix)
        .and_then(|rest| rest.strip_prefix('/'))
        .ok_or_else(|| {
            anyhow::anyhow!("--key {given:?}: a path must start with the files prefix {files_prefix}/; or give the object key itself")
        })
}

/// A report whose decision was made before any rule (the key or the credential).
fn stopped(
    args: &ExplainArgs,
    credential: CredentialReport,
    outcome: &'static str,
    err: &AppError,
    reason: String,
) -> Report {
    Report {
        version: report::VERSION,
        key: args.key.clone(),
        credential,
        rules: Vec::new(),
        decision: DecisionReport {
            outcome,
            status: err.status().as_u16(),
            code: err.code(),
            rule: None,
            unqueried_grant: None,
            reason,
        },
        signing: None,
    }
}
