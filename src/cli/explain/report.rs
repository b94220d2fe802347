//! What `signgate explain` found, as one value: printed for people, or as JSON for tools. The
//! JSON shape is documented in the README ("signgate explain") and versioned by `version`: a
//! field may be added within a version, never renamed, removed or given another meaning.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Map, Value};

/// The version of the JSON shape.
pub const VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct Report {
    pub version: u32,
    /// The object key, as decided on.
    pub key: String,
    pub credential: CredentialReport,
    /// Every rule in order; empty when the decision stopped before the rules (a refused
    /// credential, a key that is not valid).
    pub rules: Vec<RuleReport>,
    pub decision: DecisionReport,
    /// For an allow: what would be signed. Nothing is signed.
    pub signing: Option<SigningReport>,
}

#[derive(Debug, Default, Serialize)]
pub struct CredentialReport {
    /// `token` (`--token`, or `--cookie` of the token cookie), `session` (`--cookie`), `given`
    /// (`--sub`) or `none` (`--anonymous`).
    pub source: &'static str,
    /// `authenticated`, `anonymous` or `refused`.
    pub status: &'static str,
    /// Which authenticator vouched for the caller (`jwt`, `django_session`, `redis_session`,
    /// `command_line`).
    pub authenticator: Option<&'static str>,
    /// The JWT issuer the token went to.
    pub issuer: Option<String>,
    /// `verified` (the issuer's fixed key), `not_checked` (the issuer's keys come from a JWKS,
    /// not fetched by explain).
    pub signature: Option<&'static str>,
    pub subject: Option<String>,
    /// The caller's claims (`sub` aside).
    pub claims: Map<String, Value>,
    /// Why the credential was refused: the code of the service's 401 body.
    pub reason: Option<&'static str>,
    /// The reason in words, with the values that decided it.
    pub message: Option<String>,
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct RuleReport {
    /// Its place in the configuration: `rules[index]`.
    pub index: usize,
    pub pattern: String,
    /// The pattern with the caller's claims written in; a claim that cannot be filled in stays
    /// `{claim}`.
    pub pattern_filled_in: String,
    /// `public` or `authenticated`.
    pub access: &'static str,
    /// Whether the pattern matches the key for this caller.
    pub matches: bool,
    /// Claims of the pattern the caller lacks (or whose value can never match).
    pub unusable_claims: Vec<String>,
    pub requirements: Vec<RequirementReport>,
    pub sql_grant: Option<GrantReport>,
    /// The rule's own verdict: `no_match`, `allow`, `needs_login` or `forbidden`.
    pub verdict: &'static str,
    /// Whether the decision got to this rule (false after the deciding rule).
    pub reached: bool,
    /// Whether this rule decided.
    pub decided: bool,
    /// For a rule that matches but was not reached: the rule that decided first.
    pub shadowed_by: Option<usize>,
    pub explanation: String,
}

#[derive(Debug, Serialize)]
pub struct RequirementReport {
    pub claim: String,
    pub any_of: Vec<String>,
    /// The caller's values of the claim, as the requirement reads them.
    pub caller_values: Vec<String>,
    pub satisfied: bool,
}

#[derive(Debug, Serialize)]
pub struct GrantReport {
    pub name: String,
    /// Whether the query was run (`--query-grants`).
    pub queried: bool,
    /// Its answer, when queried.
    pub allowed: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct DecisionReport {
    /// `allow`, `deny`, `needs_login`, `credential_refused`, `bad_key` or `not_signable`.
    pub outcome: &'static str,
    /// What `GET {files_prefix}/{key}` would answer: 302 for an allow, else the refusal's.
    pub status: u16,
    /// The code of the service's answer (`signed`, or the refusal body's `error`).
    pub code: &'static str,
    /// The rule that decided, if one did.
    pub rule: Option<usize>,
    /// An allow that also needs this SQL grant, which was not queried.
    pub unqueried_grant: Option<String>,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct SigningReport {
    pub distribution: String,
    pub base_url: String,
    pub provider: &'static str,
    /// The key that would sign (CloudFront: its key pair ID).
    pub key: String,
    /// CloudFront: the key set the key belongs to.
    pub key_set: Option<String>,
    /// The URL before its signature.
    pub url: String,
    pub lifetime_seconds: u64,
    pub expires_at: u64,
    /// Stable URLs: expiries are rounded up to a multiple of this step, and the URL signed
    /// first in a step is handed to every request within it.
    pub stable_url_step_seconds: Option<u64>,
    /// The address the signature would be bound to.
    pub client_ip: Option<String>,
    /// CloudFront: the policy that would be signed.
    pub policy: Option<PolicyReport>,
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct PolicyReport {
    /// `canned` or `custom`.
    pub kind: &'static str,
    /// The exact bytes that would be signed.
    pub json: String,
}

impl Report {
    /// The report for people: the credential, each rule, the decision, and what would be signed.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let c = &self.credential;
        let _ = writeln!(out, "object key: {}", self.key);
        let _ = writeln!(out, "credential: {} ({})", c.status, c.source);
        let mut field = |name: &str, value: &dyn std::fmt::Display| {
            let _ = writeln!(out, "  {name}: {value}");
        };
        if let Some(a) = c.authenticator {
            field("read by", &a);
        }
        if let Some(issuer) = &c.issuer {
            field("issuer", issuer);
        }
        if let Some(signature) = c.signature {
            field("signature", &signature.replace('_', " "));
        }
        if let Some(subject) = &c.subject {
            field("subject", subject);
        }
        if !c.claims.is_empty() {
            field("claims", &Value::Object(c.claims.clone()));
        }
        if let Some(reason) = c.reason {
            field(
                "refused",
                &format!("{reason}: {}", c.message.as_deref().unwrap_or("")),
            );
        }
        for note in &c.notes {
            field("note", note);
        }
        if !self.rules.is_empty() {
            let _ = writeln!(out, "rules (in order; the first that matches decides):");
        }
        for r in &self.rules {
            let filled = if r.pattern_filled_in == r.pattern {
                String::new()
            } else {
                format!(" (for this caller: {})", r.pattern_filled_in)
            };
            let mark = if r.decided { "=>" } else { "  " };
            let _ = writeln!(
                out,
                "{mark} rules[{}] {}{filled}, {}: {}",
                r.index, r.pattern, r.access, r.explanation
            );
        }
        let d = &self.decision;
        let by = d.rule.map_or(String::new(), |i| format!(" by rules[{i}]"));
        let _ = writeln!(
            out,
            "decision: {}{by} (answer {} {}): {}",
            d.outcome, d.status, d.code, d.reason
        );
        if let Some(s) = &self.signing {
            s.write_text(&mut out);
        }
        out
    }
}

impl SigningReport {
    fn write_text(&self, out: &mut String) {
        let _ = writeln!(out, "would sign (nothing was signed):");
        let mut field = |name: &str, value: &dyn std::fmt::Display| {
            let _ = writeln!(out, "  {name}: {value}");
        };
        field(
            "distribution",
            &format!(
                "{} ({}, {})",
                self.distribution, self.base_url, self.provider
            ),
        );
        match &self.key_set {
            Some(set) => field("key", &format!("{} (key set {set})", self.key)),
            None => field("key", &self.key),
        }
        field("url", &self.url);
        field(
            "lifetime",
            &format!(
                "{} s; expires at {} (Unix time)",
                self.lifetime_seconds, self.expires_at
            ),
        );
        match self.stable_url_step_seconds {
            Some(step) => field(
                "stable URLs",
                &format!("expiry rounded up to a multiple of {step} s; one URL per object and step, reused"),
            ),
            None => field("stable URLs", &"off: every request is signed anew"),
        }
        if let Some(ip) = &self.client_ip {
            field("bound to client", ip);
        }
        if let Some(policy) = &self.policy {
            field("policy", &policy.kind);
            field("policy JSON", &policy.json);
        }
        for note in &self.notes {
            field("note", note);
        }
    }
}
