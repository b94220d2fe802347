//! `signgate explain`, steps 2 and 3: each rule as the service tries it ([`Rules::trace`], the
//! matching code of every request), the decision, and for an allow what would be signed
//! ([`SignTarget::plan`]).
//!
//! [`Rules::trace`]: crate::authorize::Rules::trace

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use super::report::{
    DecisionReport, GrantReport, PolicyReport, RequirementReport, RuleReport, SigningReport,
};
use crate::app::App;
use crate::authenticate::Principal;
use crate::authorize::sql_grant::GrantError;
use crate::authorize::{Access, Decision, Rule, TraceStep, Verdict};
use crate::config::Config;
use crate::error::AppError;
use crate::object_key::ObjectKey;
use crate::sign::{SignError, SignTarget, Signer};
use signgate_cloudfront::PolicyKind;

pub struct Options {
    pub client_ip: Option<IpAddr>,
    pub query_grants: bool,
    pub now: u64,
}

type Explained = (Vec<RuleReport>, DecisionReport, Option<SigningReport>);

pub async fn decide(
    app: &App,
    config: &Config,
    key: &ObjectKey,
    principal: &Principal,
    options: &Options,
) -> anyhow::Result<Explained> {
    let trace = app.rules.trace(key, principal);
    let user = match principal {
        Principal::User(u) => Some(u.as_ref()),
        Principal::Anonymous => None,
    };
    let mut rules: Vec<RuleReport> = trace
        .steps
        .iter()
        .map(|step| rule_report(step, trace.decided_by, user))
        .collect();
    let rule = match trace.decision {
        Decision::Allow(rule) => rule,
        Decision::NeedsLogin => {
            let err = AppError::Unauthenticated {
                reason: None,
                login: None,
            };
            let reason = match trace.decided_by {
                Some(_) => "the rule is for signed-in callers and this caller is anonymous",
                None => {
                    "no rule matches this key, and an anonymous caller is asked to sign in first"
                }
            };
            return Ok((
                rules,
                refusal("needs_login", &err, trace.decided_by, reason),
                None,
            ));
        }
        Decision::Forbidden { not_found } => {
            let err = if not_found {
                AppError::NotFound
            } else {
                AppError::Forbidden
            };
            let reason = match trace.decided_by {
                Some(_) => "the caller does not meet the rule's requirements",
                None => "no rule matches this key: denied by default",
            };
            return Ok((rules, refusal("deny", &err, trace.decided_by, reason), None));
        }
    };
    let index = trace.decided_by.expect("an allow is a rule's");
    let mut unqueried_grant = None;
    if let Some(grant) = &rule.sql_grant {
        let allowed = if options.query_grants {
            let no_limit = || std::future::ready(Ok::<(), Infallible>(()));
            match rule.sql_grant_allows(principal, key, no_limit).await {
                Ok(allowed) => Some(allowed),
                Err(GrantError::Unavailable(_)) => anyhow::bail!(
                    "grant {:?}: the database did not answer; the service would answer 503",
                    grant.name
                ),
                Err(GrantError::Refused(never)) => match never {},
            }
        } else {
            unqueried_grant = Some(grant.name.clone());
            None
        };
        rules[index].sql_grant = Some(GrantReport {
            name: grant.name.clone(),
            queried: options.query_grants,
            allowed,
        });
        if allowed == Some(false) {
            let err = if rule.deny_as_not_found {
                AppError::NotFound
            } else {
                AppError::Forbidden
            };
            let reason = format!("SQL grant {:?} returned no row", grant.name);
            return Ok((rules, refusal("deny", &err, Some(index), &reason), None));
        }
    }
    let signing = match signing_report(&rule.target, config, key, options) {
        Ok(signing) => signing,
        Err(err) => {
            let reason = format!("the rule allows it, and it cannot be signed: {err}");
            let err = AppError::from(err);
            return Ok((
                rules,
                refusal("not_signable", &err, Some(index), &reason),
                None,
            ));
        }
    };
    let reason = match &unqueried_grant {
        Some(name) => format!("allowed by the rules if SQL grant {name:?} returns a row (not queried: give --query-grants)"),
        None => "the rule allows it".to_owned(),
    };
    let decision = DecisionReport {
        outcome: "allow",
        status: 302,
        code: "signed",
        rule: Some(index),
        unqueried_grant,
        reason,
    };
    Ok((rules, decision, Some(signing)))
}

fn refusal(
    outcome: &'static str,
    err: &AppError,
    rule: Option<usize>,
    reason: &str,
) -> DecisionReport {
    DecisionReport {
        outcome,
        status: err.status().as_u16(),
        code: err.code(),
        rule,
        unqueried_grant: None,
        reason: reason.to_owned(),
    }
}

fn rule_report<T>(
    step: &TraceStep<'_, T>,
    decided_by: Option<usize>,
    user: Option<&crate::authenticate::User>,
) -> RuleReport {
    let rule: &Rule<T> = step.rule;
    let unusable: Vec<String> = rule
        .pattern
        .unusable_claims(user)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let requirements: Vec<RequirementReport> = rule
        .require
        .iter()
        .zip(&step.requirements)
        .map(|(r, satisfied)| RequirementReport {
            claim: r.claim.clone(),
            any_of: r.any_of.clone(),
            caller_values: user.map_or_else(Vec::new, |u| {
                r.values_of(u).into_iter().map(str::to_owned).collect()
            }),
            satisfied: *satisfied,
        })
        .collect();
    let decided = decided_by == Some(step.index);
    let shadowed_by = (!step.reached && step.verdict.is_some())
        .then_some(decided_by)
        .flatten();
    let explanation = explanation(step, &unusable, &requirements, user.is_some(), decided_by);
    RuleReport {
        index: step.index,
        pattern: rule.pattern.as_str().to_owned(),
        pattern_filled_in: rule.pattern.filled_in(user),
        access: match rule.access {
            Access::Public => "public",
            Access::Authenticated => "authenticated",
        },
        matches: step.verdict.is_some(),
        unusable_claims: unusable,
        requirements,
        sql_grant: rule.sql_grant.as_ref().map(|g| GrantReport {
            name: g.name.clone(),
            queried: false,
            allowed: None,
        }),
        verdict: match step.verdict {
            None => "no_match",
            Some(Verdict::Allow) => "allow",
            Some(Verdict::NeedsLogin) => "needs_login",
            Some(Verdict::Forbidden { .. }) => "forbidden",
        },
        reached: step.reached,
        decided,
        shadowed_by,
        explanation,
    }
}

fn explanation<T>(
    step: &TraceStep<'_, T>,
    unusable: &[String],
    requirements: &[RequirementReport],
    signed_in: bool,
    decided_by: Option<usize>,
) -> String {
    let first = decided_by.map_or(String::new(), |i| format!("rules[{i}]"));
    match (step.reached, step.verdict) {
        (false, Some(_)) => format!("matches too, but {first} decided first: shadowed"),
        (false, None) => format!("not reached ({first} decided); its pattern does not match"),
        (true, None) if !unusable.is_empty() && !signed_in => {
            "no match: the pattern uses claims and an anonymous caller has none".into()
        }
        (true, None) if !unusable.is_empty() => format!(
            "no match: the caller has no usable claim {}",
            unusable
                .iter()
                .map(|c| format!("{{{c}}}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        (true, None) => "no match: the pattern does not match the key".into(),
        (true, Some(Verdict::Allow)) if step.rule.access == Access::Public => {
            "matches; public: allowed without a login".into()
        }
        (true, Some(Verdict::Allow)) if requirements.is_empty() => {
            "matches; any signed-in caller: allowed".into()
        }
        (true, Some(Verdict::Allow)) => "matches; every requirement is met: allowed".into(),
        (true, Some(Verdict::NeedsLogin)) => {
            "matches; for signed-in callers, and this caller is anonymous: sign in first".into()
        }
        (true, Some(Verdict::Forbidden { not_found })) => {
            let unmet: Vec<String> = requirements
                .iter()
                .filter(|r| !r.satisfied)
                .map(|r| {
                    format!(
                        "{} any of {:?} (the caller has {:?})",
                        r.claim, r.any_of, r.caller_values
                    )
                })
                .collect();
            let answer = if not_found { "404" } else { "403" };
            format!(
                "matches; a requirement is not met: {}: refused ({answer})",
                unmet.join("; ")
            )
        }
    }
}

/// What the rule's target would sign for `key`, or why it cannot be signed.
fn signing_report(
    target: &SignTarget,
    config: &Config,
    key: &ObjectKey,
    options: &Options,
) -> Result<SigningReport, SignError> {
    let mut notes = Vec::new();
    let client_ip = match (target.bind_client_ip, options.client_ip) {
        (_, Some(ip)) => ip,
        (true, None) => {
            notes.push("the rule binds the URL to the caller's address: give --client-ip to see the policy".into());
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))
        }
        (false, None) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    let unknown_ip = target.bind_client_ip && options.client_ip.is_none();
    let plan = target.plan(key, None, client_ip, options.now)?;
    let folder_wide = plan
        .policy
        .as_ref()
        .is_some_and(|p| p.resource().as_str().ends_with("/*"));
    if target.folder_policies.is_some() && folder_wide {
        notes.push("sign_per = \"folder\": this policy covers the caller's whole folder; it is signed once per step and carried by the URL of every object inside it".into());
    } else if target.folder_policies.is_some()
        && matches!(target.distribution.signer, Signer::Cdn(_))
    {
        notes.push("sign_per = \"folder\": the provider's prefix credential for the caller's folder (its query form) is signed once per step and carried by the URL of every object inside it".into());
    }
    let dist = &target.distribution;
    let key_set = match &dist.signer {
        Signer::CloudFront(s) => config
            .key_sets
            .iter()
            .find(|(_, set)| Arc::ptr_eq(set, &s.key_set))
            .map(|(name, _)| name.clone()),
        Signer::Cdn(_) => None,
    };
    let policy = plan.policy.filter(|_| !unknown_ip).map(|p| PolicyReport {
        kind: match p.kind() {
            PolicyKind::Canned => "canned",
            PolicyKind::Custom => "custom",
        },
        json: p.json().to_owned(),
    });
    let report = SigningReport {
        distribution: dist.name.clone(),
        base_url: dist.base_url.clone(),
        provider: target.provider(),
        key: plan.key_id,
        key_set,
        url: plan.url,
        lifetime_seconds: target.lifetime_seconds,
        expires_at: plan.expires_at,
        stable_url_step_seconds: target.url_cache.as_ref().map(|c| c.step_seconds),
        client_ip: plan
            .client_ip
            .filter(|_| !unknown_ip)
            .map(|ip| ip.to_string()),
        policy,
        notes,
    };
    Ok(report)
}
