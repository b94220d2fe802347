//! The property behind `sign_per = "folder"`: whenever the load check accepts a rule, every key
//! whose URL the folder's CloudFront resource (`https://d.example/<filled prefix>/*`, matched by
//! the CloudFront crate's own wildcard matcher) admits is one the rules allow this caller, by
//! that very rule; so every rule set with such a key is refused.

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::json;
use signgate_cloudfront::{ResourcePattern, SignableUrl};

use super::refusal;
use crate::authenticate::{Principal, User};
use crate::authorize::{Access, Decision, KeyPattern, Requirement, RuleSettings, Rules};
use crate::object_key::ObjectKey;

const BASE: &str = "https://d.example";

fn settings(pattern: &str, access: Access, role: Option<&str>, grant: bool) -> RuleSettings {
    RuleSettings {
        pattern: KeyPattern::parse(pattern).unwrap(),
        access,
        require: role
            .map(|r| Requirement {
                claim: "roles".into(),
                any_of: vec![r.into()],
            })
            .into_iter()
            .collect(),
        deny_as_not_found: false,
        cookies: false,
        sql_grant: grant.then(|| "g".to_owned()),
    }
}

fn caller(sub: &str, role: &str) -> Principal {
    Principal::User(Arc::new(User {
        subject: sub.into(),
        claims: json!({"roles": [role]}).as_object().unwrap().clone(),
        via: "test",
    }))
}

/// What one case showed: whether the check accepted the rule, how many keys the folder's
/// resource admitted and were checked, and the first key admitted but not allowed by the rule.
struct Outcome {
    accepted: bool,
    admitted: usize,
    counterexample: Option<String>,
}

fn run_case(rules: &[RuleSettings], index: usize, who: &Principal, keys: &[String]) -> Outcome {
    let accepted = refusal(rules, index).is_none();
    // The rules as the service decides with them (grants are asked after the decision; a rule
    // with one never gets this far when accepted, and is only read for its pattern otherwise).
    let decide = Rules {
        rules: rules
            .iter()
            .enumerate()
            .map(|(i, s)| crate::authorize::Rule {
                pattern: s.pattern.clone(),
                access: s.access,
                require: s.require.clone(),
                deny_as_not_found: false,
                cookies: false,
                sql_grant: None,
                target: i,
            })
            .collect(),
        deny_as_not_found: false,
    };
    let rule = &rules[index];
    let mut outcome = Outcome {
        accepted,
        admitted: 0,
        counterexample: None,
    };
    let Ok(depth) = rule.pattern.folder_depth() else {
        return outcome;
    };
    let user = match who {
        Principal::User(u) => Some(u.as_ref()),
        Principal::Anonymous => None,
    };
    let filled = rule.pattern.filled_in(user);
    let prefix: Vec<&str> = filled.split('/').take(depth).collect();
    if prefix.iter().any(|s| s.contains('{')) || depth == 0 {
        return outcome; // a claim the caller lacks: the rule never matches, nothing is signed
    }
    let resource = ResourcePattern::parse(&format!(
        "{BASE}/{}/*",
        ObjectKey::parse(&prefix.join("/"), 1024)
            .unwrap()
            .to_url_path()
    ))
    .unwrap();
    // The folder's policy is signed only once this rule allowed this caller a key of the
    // folder; a caller the rule refuses gets nothing signed.
    let first = ObjectKey::parse(&format!("{}/x", prefix.join("/")), 1024).unwrap();
    if decide.rules[index].verdict(&first, user) != Some(crate::authorize::Verdict::Allow) {
        return outcome;
    }
    for key in keys {
        let key = ObjectKey::parse(key, 1024).unwrap();
        let url = SignableUrl::parse(&format!("{BASE}/{}", key.to_url_path())).unwrap();
        if !resource.matches(&url) {
            continue;
        }
        outcome.admitted += 1;
        let allowed_by_rule =
            matches!(decide.decide(&key, who), Decision::Allow(r) if r.target == index);
        if !allowed_by_rule && outcome.counterexample.is_none() {
            outcome.counterexample = Some(key.as_str().to_owned());
        }
    }
    outcome
}

fn arb_pattern() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("a".to_owned()),
        Just("b".to_owned()),
        Just("ab".to_owned()),
        Just("*".to_owned()),
        Just("{sub}".to_owned()),
    ];
    let segment = prop_oneof![
        5 => proptest::collection::vec(piece, 1..3).prop_map(|p| p.concat()),
        1 => Just("**".to_owned()),
    ];
    proptest::collection::vec(segment, 1..4)
        .prop_map(|s| s.join("/"))
        .prop_filter("valid", |p| KeyPattern::parse(p).is_ok())
}

/// A folder-shaped pattern most of the time, so that the check has something to accept.
fn arb_folder_pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::collection::vec(prop_oneof![Just("a"), Just("b"), Just("{sub}"), Just("a{sub}")], 1..3)
            .prop_map(|s| format!("{}/**", s.join("/"))),
        1 => arb_pattern(),
    ]
}

fn arb_rule(pattern: BoxedStrategy<String>) -> impl Strategy<Value = RuleSettings> {
    (
        pattern,
        any::<bool>(),
        prop_oneof![Just(None), Just(Some("editor"))],
        prop::bool::weighted(0.1),
    )
        .prop_map(|(p, public, role, grant)| {
            let access = if public && !p.contains('{') {
                Access::Public
            } else {
                Access::Authenticated
            };
            settings(&p, access, role, grant)
        })
}

fn arb_case() -> impl Strategy<Value = (Vec<RuleSettings>, Principal, Vec<String>)> {
    let earlier = proptest::collection::vec(arb_rule(arb_pattern().boxed()), 0..3);
    let folder = arb_rule(arb_folder_pattern().boxed());
    let later = proptest::collection::vec(arb_rule(arb_pattern().boxed()), 0..2);
    let who = (
        "[ab]{1,2}",
        prop_oneof![Just("editor"), Just("viewer")],
        prop::bool::weighted(0.1),
    )
        .prop_map(|(sub, role, anonymous)| {
            if anonymous {
                Principal::Anonymous
            } else {
                caller(&sub, role)
            }
        });
    let keys = proptest::collection::vec(
        proptest::collection::vec("[ab]{1,3}", 1..6).prop_map(|s| s.join("/")),
        1..40,
    );
    (earlier, folder, later, who, keys).prop_map(|(mut rules, folder, later, who, mut keys)| {
        let index = rules.len();
        rules.push(folder);
        rules.extend(later);
        // Keys inside the caller's own folder too, which random keys rarely hit.
        if let Ok(depth) = rules[index].pattern.folder_depth() {
            let user = match &who {
                Principal::User(u) => Some(u.as_ref()),
                Principal::Anonymous => None,
            };
            let filled = rules[index].pattern.filled_in(user);
            let prefix: Vec<&str> = filled.split('/').take(depth).collect();
            if depth > 0 && !prefix.iter().any(|s| s.contains('{')) {
                let inside: Vec<String> = keys
                    .iter()
                    .map(|k| format!("{}/{k}", prefix.join("/")))
                    .collect();
                keys.extend(inside);
            }
        }
        (rules, who, keys)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]
    #[test]
    fn every_key_the_folders_policy_admits_is_one_the_rules_allow_this_caller(
        (rules, who, keys) in arb_case(),
    ) {
        // Check every rule of the set as the folder rule (the generated one among them).
        for index in 0..rules.len() {
            let outcome = run_case(&rules, index, &who, &keys);
            if let Some(key) = &outcome.counterexample {
                prop_assert!(
                    !outcome.accepted,
                    "rules[{}] accepted, yet its policy admits {key:?}, which the rules do not allow it: {:?}",
                    index,
                    rules.iter().map(|r| r.pattern.as_str()).collect::<Vec<_>>()
                );
            }
        }
    }
}

/// The property above is not vacuous: over the same cases the check accepts many folder rules
/// whose policy admits keys, and the rule sets it refuses include ones with a key the policy
/// would wrongly admit.
#[test]
fn the_check_accepts_safe_folders_and_the_refused_sets_include_unsafe_ones() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut accepted_admitting, mut refused_unsafe) = (0, 0);
    for _ in 0..3000 {
        let (rules, who, keys) = arb_case().new_tree(&mut runner).unwrap().current();
        for index in 0..rules.len() {
            let o = run_case(&rules, index, &who, &keys);
            if o.accepted && o.admitted > 0 {
                accepted_admitting += 1;
            }
            if !o.accepted && o.counterexample.is_some() {
                refused_unsafe += 1;
            }
            assert!(!(o.accepted && o.counterexample.is_some()));
        }
    }
    assert!(accepted_admitting > 300, "{accepted_admitting} accepted");
    assert!(refused_unsafe > 100, "{refused_unsafe} unsafe refused");
}

#[test]
fn refusals_name_the_shape_the_grant_and_the_earlier_rule() {
    let r = |p: &str| settings(p, Access::Authenticated, None, false);
    let why = |rules: &[RuleSettings], i| refusal(rules, i).unwrap_or_default();
    assert_eq!(refusal(&[r("users/{sub}/**")], 0), None);
    assert_eq!(refusal(&[r("public/**"), r("users/{sub}/**")], 1), None);
    assert_eq!(
        refusal(&[r("*/readme.txt"), r("users/{sub}/**")], 1),
        None,
        "two segments only: nothing inside users/alice/"
    );
    assert!(why(&[r("users/*/**")], 0).contains("has a * in its folder"));
    assert!(why(&[r("users/{sub}-*/**")], 0).contains("has a * in its folder"));
    assert!(why(&[r("users/{sub}/*")], 0).contains("must end in /**"));
    assert!(why(&[r("a/**/b/**")], 0).contains("** before its end"));
    let grant = settings("users/{sub}/**", Access::Authenticated, None, true);
    assert!(why(&[grant], 0).contains("SQL grant \"g\""));
    for earlier in [
        "users/{sub}/private/**",
        "users/admin/**",
        "**/secret.txt",
        "users/*/a/*",
        "*/{sub}/x",
        "users/a*/b",
    ] {
        let text = why(&[r(earlier), r("users/{sub}/**")], 1);
        assert!(
            text.starts_with(&format!("rules[0] ({earlier:?}) can match keys inside this rule's folder \"users/{{sub}}/\"")),
            "{earlier}: {text}"
        );
    }
}
