//! Step 3 of a request: may this caller read this object? Ordered rules, first match decides,
//! deny by default; a rule may also ask a SQL grant ([`sql_grant`]).
//!
//! A rule carries what an allowed request is signed with as an opaque `T` (the service uses the
//! signing step's target), so authorization never depends on how signing works.
//!
//! [`Rules::trace`] reports the same decision rule by rule, for `signgate explain`. (Over 300
//! lines: the trace's and the requirements' tests close the file.)

pub mod pattern;
pub mod shared_folder;
pub mod sql_grant;

use std::sync::Arc;

use serde_json::Value;

pub use pattern::KeyPattern;
use sql_grant::SqlGrant;

use crate::authenticate::{Principal, User};
use crate::object_key::ObjectKey;

/// A claim the caller must carry: any of the listed values.
#[derive(Clone, Debug)]
pub struct Requirement {
    pub claim: String,
    pub any_of: Vec<String>,
}

impl Requirement {
    fn satisfied_by(&self, user: &User) -> bool {
        self.values_of(user)
            .iter()
            .any(|v| self.any_of.iter().any(|want| want == v))
    }

    /// The caller's values of this requirement's claim, as the requirement reads them (a list,
    /// one string, or the words of a `scope`/`scp` string).
    pub fn values_of<'u>(&self, user: &'u User) -> Vec<&'u str> {
        match user.claims.get(&self.claim) {
            Some(Value::String(s)) if self.claim == "scope" || self.claim == "scp" => {
                s.split_whitespace().collect()
            }
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ if self.claim == "sub" => vec![user.subject.as_str()],
            _ => Vec::new(),
        }
    }
}

/// `access` of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// No login needed.
    Public,
    /// Any authenticated caller that meets the requirements.
    Authenticated,
}

/// One rule as configured (checked by the configuration: a public rule has no claims, no
/// requirements, no cookies and no SQL grant).
#[derive(Clone, Debug)]
pub struct RuleSettings {
    pub pattern: KeyPattern,
    pub access: Access,
    pub require: Vec<Requirement>,
    pub deny_as_not_found: bool,
    /// Hands out signed cookies for the folder the pattern's prefix names.
    pub cookies: bool,
    /// The name of a `[[grants]]` query that must also return a row.
    pub sql_grant: Option<String>,
}

/// A rule, ready to decide; `T` is what an allowed request is signed with.
pub struct Rule<T> {
    pub pattern: KeyPattern,
    pub access: Access,
    pub require: Vec<Requirement>,
    pub deny_as_not_found: bool,
    pub cookies: bool,
    /// A SQL grant that must also allow the object.
    pub sql_grant: Option<Arc<SqlGrant>>,
    pub target: T,
}

impl<T> Rule<T> {
    /// What this rule says about `key` for `user` (claims filled in; `None` for an anonymous
    /// caller). `None` when the pattern does not match: the next rule is tried.
    pub fn verdict(&self, key: &ObjectKey, user: Option<&User>) -> Option<Verdict> {
        if !self.pattern.matches(key, user) {
            return None;
        }
        Some(match (self.access, user) {
            (Access::Public, _) => Verdict::Allow,
            (Access::Authenticated, None) => Verdict::NeedsLogin,
            (Access::Authenticated, Some(u)) if self.require.iter().all(|r| r.satisfied_by(u)) => {
                Verdict::Allow
            }
            (Access::Authenticated, Some(_)) => Verdict::Forbidden {
                not_found: self.deny_as_not_found,
            },
        })
    }

    /// Whether the rule's SQL grant (if any) allows `key` for this caller (an anonymous caller
    /// is never granted anything by a query); `before_query` may refuse a query the decision
    /// cache did not answer.
    pub async fn sql_grant_allows<E, F>(
        &self,
        principal: &Principal,
        key: &ObjectKey,
        before_query: impl FnOnce() -> F,
    ) -> Result<bool, sql_grant::GrantError<E>>
    where
        F: std::future::Future<Output = Result<(), E>>,
    {
        match (&self.sql_grant, principal) {
            (None, _) => Ok(true),
            // Boxed: the query's future is large and only this path needs it.
            (Some(grant), Principal::User(user)) => {
                Box::pin(grant.allows(user, key, before_query)).await
            }
            (Some(_), Principal::Anonymous) => Ok(false),
        }
    }
}

/// The outcome of authorization.
pub enum Decision<'a, T> {
    Allow(&'a Rule<T>),
    /// Not signed in, and signing in might help: 401.
    NeedsLogin,
    /// Signed in and not allowed: 403, or 404 when existence must not leak.
    Forbidden {
        not_found: bool,
    },
}

/// What one rule says about one key for one caller, once its pattern matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// An authenticated rule and an anonymous caller.
    NeedsLogin,
    /// An authenticated rule whose requirements the caller does not meet.
    Forbidden {
        not_found: bool,
    },
}

impl Verdict {
    fn for_rule<T>(self, rule: &Rule<T>) -> Decision<'_, T> {
        match self {
            Verdict::Allow => Decision::Allow(rule),
            Verdict::NeedsLogin => Decision::NeedsLogin,
            Verdict::Forbidden { not_found } => Decision::Forbidden { not_found },
        }
    }
}

/// One rule's part in a [`Trace`].
pub struct TraceStep<'a, T> {
    pub rule: &'a Rule<T>,
    /// Its place in the configuration (`rules[index]`).
    pub index: usize,
    /// Whether the decision got this far: `false` for every rule after the deciding one.
    pub reached: bool,
    /// `None`: the pattern does not match this key for this caller.
    pub verdict: Option<Verdict>,
    /// Whether the caller meets each of `rule.require`, in order.
    pub requirements: Vec<bool>,
}

/// A decision with each rule's part in it, from [`Rules::trace`].
pub struct Trace<'a, T> {
    pub steps: Vec<TraceStep<'a, T>>,
    /// The rule that decided; `None` when no rule matches.
    pub decided_by: Option<usize>,
    pub decision: Decision<'a, T>,
}

fn user_of(principal: &Principal) -> Option<&User> {
    match principal {
        Principal::Anonymous => None,
        Principal::User(u) => Some(u.as_ref()),
    }
}

pub struct Rules<T> {
    pub rules: Vec<Rule<T>>,
    /// For keys no rule matches.
    pub deny_as_not_found: bool,
}

impl<T> Rules<T> {
    /// The rules, in order, each with its target; SQL grants are looked up by name in `grants`.
    pub fn from_config(
        rules: impl IntoIterator<Item = (RuleSettings, T)>,
        deny_as_not_found: bool,
        grants: &[Arc<SqlGrant>],
    ) -> anyhow::Result<Self> {
        let rules = rules
            .into_iter()
            .map(|(s, target)| {
                let sql_grant = match &s.sql_grant {
                    None => None,
                    Some(name) => Some(
                        grants
                            .iter()
                            .find(|g| &g.name == name)
                            .cloned()
                            .ok_or_else(|| anyhow::anyhow!("no grant named {name:?}"))?,
                    ),
                };
                Ok(Rule {
                    pattern: s.pattern,
                    access: s.access,
                    require: s.require,
                    deny_as_not_found: s.deny_as_not_found,
                    cookies: s.cookies,
                    sql_grant,
                    target,
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Rules {
            rules,
            deny_as_not_found,
        })
    }

    pub fn decide(&self, key: &ObjectKey, principal: &Principal) -> Decision<'_, T> {
        let user = user_of(principal);
        for rule in &self.rules {
            if let Some(verdict) = rule.verdict(key, user) {
                return verdict.for_rule(rule);
            }
        }
        self.no_rule_matches(user)
    }

    /// What no rule matched gets: a login for an anonymous caller, else a refusal.
    fn no_rule_matches(&self, user: Option<&User>) -> Decision<'_, T> {
        match user {
            None => Decision::NeedsLogin,
            Some(_) => Decision::Forbidden {
                not_found: self.deny_as_not_found,
            },
        }
    }

    /// The decision [`Rules::decide`] makes, with every rule's part in it (for `signgate
    /// explain`): each rule's verdict from the very same [`Rule::verdict`], in order, the rules
    /// after the deciding one included (marked as not reached, so a shadowed rule shows).
    pub fn trace(&self, key: &ObjectKey, principal: &Principal) -> Trace<'_, T> {
        let user = user_of(principal);
        let mut decided_by = None;
        let steps = self
            .rules
            .iter()
            .enumerate()
            .map(|(index, rule)| {
                let verdict = rule.verdict(key, user);
                let reached = decided_by.is_none();
                if reached && verdict.is_some() {
                    decided_by = Some(index);
                }
                TraceStep {
                    rule,
                    index,
                    reached,
                    verdict,
                    requirements: rule
                        .require
                        .iter()
                        .map(|r| user.is_some_and(|u| r.satisfied_by(u)))
                        .collect(),
                }
            })
            .collect::<Vec<_>>();
        let decision = match decided_by {
            Some(i) => steps[i]
                .verdict
                .expect("the deciding rule has a verdict")
                .for_rule(steps[i].rule),
            None => self.no_rule_matches(user),
        };
        Trace {
            steps,
            decided_by,
            decision,
        }
    }

    /// The decision for signed cookies over a whole folder. Only rules marked `cookies = true`
    /// take part (their pattern ends in `/**`), so a cookie grant is always an explicit choice
    /// in the configuration; the first whose prefix names the folder decides.
    pub fn decide_folder(&self, folder: &ObjectKey, principal: &Principal) -> Decision<'_, T> {
        let user = match principal {
            Principal::Anonymous => return Decision::NeedsLogin,
            Principal::User(u) => u.as_ref(),
        };
        for rule in &self.rules {
            if rule.cookies && rule.pattern.matches_folder(folder, Some(user)) {
                return if rule.require.iter().all(|r| r.satisfied_by(user)) {
                    Decision::Allow(rule)
                } else {
                    Decision::Forbidden {
                        not_found: rule.deny_as_not_found,
                    }
                };
            }
            // An earlier rule that governs part of the folder would be bypassed by cookies for
            // the whole folder: refuse rather than widen it.
            if rule.pattern.could_match_below(folder, Some(user)) {
                return Decision::Forbidden {
                    not_found: rule.deny_as_not_found,
                };
            }
        }
        Decision::Forbidden {
            not_found: self.deny_as_not_found,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::pattern::tests::user;
    use super::*;
    use serde_json::json;

    fn rule(pattern: &str, access: Access, require: &[(&str, &[&str])]) -> Rule<&'static str> {
        Rule {
            pattern: KeyPattern::parse(pattern).unwrap(),
            access,
            require: require
                .iter()
                .map(|(claim, any)| Requirement {
                    claim: (*claim).into(),
                    any_of: any.iter().map(|s| s.to_string()).collect(),
                })
                .collect(),
            deny_as_not_found: false,
            cookies: false,
            sql_grant: None,
            target: "",
        }
    }

    /// Which rule a decision names (its pattern), or the refusal.
    fn outcome(d: &Decision<'_, &'static str>) -> String {
        match d {
            Decision::Allow(r) => format!("allow {}", r.pattern.as_str()),
            Decision::NeedsLogin => "login".into(),
            Decision::Forbidden { not_found } => format!("forbidden {not_found}"),
        }
    }

    #[test]
    fn the_trace_decides_exactly_as_decide_does_and_shows_shadowed_rules() {
        let rules = Rules {
            rules: vec![
                rule("public/**", Access::Public, &[]),
                rule("users/{sub}/**", Access::Authenticated, &[]),
                rule(
                    "reports/**",
                    Access::Authenticated,
                    &[("roles", &["editor"])],
                ),
                rule("users/**", Access::Authenticated, &[]),
            ],
            deny_as_not_found: true,
        };
        let alice = Principal::User(Arc::new(user("alice", json!({"roles": ["viewer"]}))));
        let editor = Principal::User(Arc::new(user("ed", json!({"roles": ["editor"]}))));
        for principal in [Principal::Anonymous, alice.clone(), editor] {
            for key in [
                "public/a",
                "users/alice/x",
                "users/bob/x",
                "reports/q",
                "other/z",
            ] {
                let key = ObjectKey::parse(key, 1024).unwrap();
                let trace = rules.trace(&key, &principal);
                assert_eq!(
                    outcome(&trace.decision),
                    outcome(&rules.decide(&key, &principal)),
                    "{key} for {:?}",
                    principal.subject()
                );
                assert_eq!(trace.steps.len(), 4, "every rule is reported");
            }
        }
        let key = ObjectKey::parse("users/alice/x", 1024).unwrap();
        let trace = rules.trace(&key, &alice);
        assert_eq!(trace.decided_by, Some(1));
        let seen: Vec<(bool, Option<Verdict>)> =
            trace.steps.iter().map(|s| (s.reached, s.verdict)).collect();
        assert_eq!(
            seen,
            [
                (true, None),
                (true, Some(Verdict::Allow)),
                (false, None),
                (false, Some(Verdict::Allow)),
            ],
            "rule 3 also matches, shadowed by rule 1"
        );
        let key = ObjectKey::parse("reports/q", 1024).unwrap();
        let trace = rules.trace(&key, &alice);
        assert_eq!(trace.decided_by, Some(2));
        assert_eq!(trace.steps[2].requirements, [false]);
        assert_eq!(outcome(&trace.decision), "forbidden false");
        let trace = rules.trace(&ObjectKey::parse("other/z", 1024).unwrap(), &alice);
        assert_eq!(trace.decided_by, None);
        assert_eq!(outcome(&trace.decision), "forbidden true", "the default");
    }

    #[test]
    fn requirements() {
        let u = user(
            "alice",
            json!({"roles": ["editor", "viewer"], "scope": "files:read openid", "group": "staff"}),
        );
        let req = |claim: &str, any: &[&str]| Requirement {
            claim: claim.into(),
            any_of: any.iter().map(|s| s.to_string()).collect(),
        };
        assert!(req("roles", &["admin", "editor"]).satisfied_by(&u));
        assert!(!req("roles", &["admin"]).satisfied_by(&u));
        assert!(req("scope", &["files:read"]).satisfied_by(&u));
        assert!(!req("scope", &["files"]).satisfied_by(&u));
        assert!(req("group", &["staff"]).satisfied_by(&u));
        assert!(!req("missing", &["x"]).satisfied_by(&u));
        assert!(req("sub", &["alice"]).satisfied_by(&u));
    }
}
