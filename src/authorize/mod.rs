//! Step 3 of a request: may this caller read this object? Ordered rules, first match decides,
//! deny by default; a rule may also ask a SQL grant ([`sql_grant`]).
//!
//! A rule carries what an allowed request is signed with as an opaque `T` (the service uses the
//! signing step's target), so authorization never depends on how signing works.

pub mod pattern;
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
        let values: Vec<&str> = match user.claims.get(&self.claim) {
            Some(Value::String(s)) if self.claim == "scope" || self.claim == "scp" => {
                s.split_whitespace().collect()
            }
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ if self.claim == "sub" => vec![user.subject.as_str()],
            _ => Vec::new(),
        };
        values
            .iter()
            .any(|v| self.any_of.iter().any(|want| want == v))
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
    /// Whether the rule's SQL grant, if it has one, also allows `key` for this caller. An
    /// anonymous caller is never granted anything by a query.
    /// Whether the rule's SQL grant (if any) allows `key`; `before_query` may refuse a query
    /// the decision cache did not answer.
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
            (Some(grant), Principal::User(user)) => grant.allows(user, key, before_query).await,
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
        let user = match principal {
            Principal::Anonymous => None,
            Principal::User(u) => Some(u.as_ref()),
        };
        for rule in &self.rules {
            if !rule.pattern.matches(key, user) {
                continue;
            }
            return match (rule.access, user) {
                (Access::Public, _) => Decision::Allow(rule),
                (Access::Authenticated, None) => Decision::NeedsLogin,
                (Access::Authenticated, Some(u))
                    if rule.require.iter().all(|r| r.satisfied_by(u)) =>
                {
                    Decision::Allow(rule)
                }
                (Access::Authenticated, Some(_)) => Decision::Forbidden {
                    not_found: rule.deny_as_not_found,
                },
            };
        }
        match user {
            None => Decision::NeedsLogin,
            Some(_) => Decision::Forbidden {
                not_found: self.deny_as_not_found,
            },
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
