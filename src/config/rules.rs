//! `[[rules]]`: ordered patterns, who may read what they match, and what it is signed with.

use std::sync::Arc;

use anyhow::{anyhow, bail};
use serde::Deserialize;
use signgate_cloudfront::KeySet;

use crate::authorize::{Access, KeyPattern, Requirement, RuleSettings};
use crate::sign::{
    Capabilities, CloudFrontSigner, Distribution, FolderForm, FolderPolicySettings, PolicyChoice,
    SignPer, Signer, TargetSettings, UrlCacheSettings,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    pattern: String,
    access: Access,
    #[serde(default)]
    require: Vec<RawRequirement>,
    distribution: String,
    /// Signs with this key set instead of the distribution's.
    key_set: Option<String>,
    #[serde(default = "default_lifetime")]
    lifetime_seconds: u64,
    /// CloudFront: canned (default) or custom.
    policy: Option<PolicyChoice>,
    #[serde(default)]
    bind_client_ip: bool,
    deny_as_not_found: Option<bool>,
    /// Allows signed cookies (GET /cookies/{folder}) for the folder this pattern's prefix names.
    #[serde(default)]
    cookies: bool,
    /// How the folder credential travels: `cookie` (default), `path` or `query` (the last two
    /// in the entry URL `next=`).
    #[serde(default)]
    folder_token: FolderForm,
    /// A `[[grants]]` query that must also return a row.
    grant: Option<String>,
    /// Accepts a claim and a `*` in one segment (`{sub}-*`), knowing that `alice-*` also
    /// matches the files of a subject `alice-x`.
    #[serde(default)]
    claim_prefix: bool,
    /// Stable, cacheable URLs: round expiries up to this step and reuse signed URLs within it.
    #[serde(default)]
    cache_step_seconds: u64,
    #[serde(default = "default_url_cache_entries")]
    cache_entries: u64,
    /// `folder`: one signature per folder, caller and step for every object inside the folder
    /// (CloudFront custom policy with a wildcard resource), when proved safe at load.
    #[serde(default)]
    sign_per: SignPer,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequirement {
    claim: String,
    any_of: Vec<String>,
}

fn default_url_cache_entries() -> u64 {
    // ~850 bytes per entry with ECDSA signatures, ~1.1 KB with RSA: ~17-22 MiB when full.
    20_000
}
fn default_lifetime() -> u64 {
    300
}

/// The key set named `name`.
pub(super) fn find_key_set(key_sets: &[(String, Arc<KeySet>)], name: &str) -> Option<Arc<KeySet>> {
    key_sets
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, ks)| ks.clone())
}

impl RawRule {
    pub(super) fn check(
        &self,
        at: &str,
        distributions: &[Arc<Distribution>],
        key_sets: &[(String, Arc<KeySet>)],
        grants: &[&str],
        default_not_found: bool,
    ) -> anyhow::Result<(RuleSettings, TargetSettings)> {
        let pattern = KeyPattern::parse(&self.pattern).map_err(|e| anyhow!("{at}.pattern: {e}"))?;
        let public = self.access == Access::Public;
        if pattern.mixes_claims_and_wildcards() && !self.claim_prefix {
            bail!("{at}.pattern: a claim and a * in one segment ({:?}) match other subjects too: alice's \"{{sub}}-*\" also matches \"alice-x-photos\", the folder of a subject alice-x. Give the claim its own segment (\"users/{{sub}}/*\"), or set claim_prefix = true if subjects can never be prefixes of one another", self.pattern);
        }
        if public && (pattern.uses_claims() || !self.require.is_empty()) {
            bail!("{at}: a public rule cannot use claims or requirements");
        }
        if self.cache_step_seconds > 0 && self.bind_client_ip {
            bail!("{at}.cache_step_seconds: a URL bound to one client's IP is never shared; drop one of the two");
        }
        if self.cache_step_seconds > 3600 {
            bail!("{at}.cache_step_seconds: at most 3600");
        }
        if self.cookies {
            if !self.pattern.ends_with("/**") {
                bail!("{at}.cookies: a cookie rule's pattern must end in /** (the folder the cookies cover)");
            }
            if public {
                bail!("{at}.cookies: signed cookies are only handed to authenticated callers");
            }
        }
        if !(1..=7 * 24 * 3600).contains(&self.lifetime_seconds) {
            bail!("{at}.lifetime_seconds: must be between 1 and 604800 (7 days)");
        }
        let distribution = distributions
            .iter()
            .find(|d| d.name == self.distribution)
            .cloned()
            .ok_or_else(|| {
                anyhow!(
                    "{at}.distribution: no distribution named {:?}",
                    self.distribution
                )
            })?;
        let distribution = match (&self.key_set, &distribution.signer) {
            (None, _) => distribution,
            (Some(name), Signer::CloudFront(signer)) => {
                let key_set = find_key_set(key_sets, name)
                    .ok_or_else(|| anyhow!("{at}.key_set: no key set named {name:?}"))?;
                Arc::new(Distribution {
                    signer: Signer::CloudFront(CloudFrontSigner {
                        key_set,
                        hash: signer.hash,
                    }),
                    ..Distribution::clone(&distribution)
                })
            }
            (Some(_), other) => bail!(
                "{at}.key_set: only for cloudfront distributions; {:?} is {} (its keys are the distribution's keys)",
                distribution.name,
                other.provider()
            ),
        };
        let (policy, capabilities) = self.check_provider(at, &distribution, &pattern)?;
        let folder_policies = self.check_sign_per(at, &distribution, &pattern, &capabilities)?;
        let require = self
            .require
            .iter()
            .enumerate()
            .map(|(j, q)| {
                if q.claim.is_empty() || q.any_of.is_empty() {
                    bail!("{at}.require[{j}]: needs a claim and a non-empty any_of");
                }
                Ok(Requirement {
                    claim: q.claim.clone(),
                    any_of: q.any_of.clone(),
                })
            })
            .collect::<anyhow::Result<_>>()?;
        if self.cookies && self.folder_token == FolderForm::Cookie {
            if let Some(problem) = &distribution.cookies.problem {
                bail!(
                    "{at}.cookies: distribution {:?}: {problem}",
                    distribution.name
                );
            }
        }
        if let Some(name) = &self.grant {
            if public {
                bail!("{at}.grant: a public rule has no subject to ask the database about");
            }
            if !grants.contains(&name.as_str()) {
                bail!("{at}.grant: no grant named {name:?}");
            }
        }
        let rule = RuleSettings {
            pattern,
            access: self.access,
            require,
            deny_as_not_found: self.deny_as_not_found.unwrap_or(default_not_found),
            cookies: self.cookies,
            sql_grant: self.grant.clone(),
        };
        let target = TargetSettings {
            distribution,
            lifetime_seconds: self.lifetime_seconds,
            policy,
            bind_client_ip: self.bind_client_ip,
            folder: self.folder_token,
            capabilities,
            url_cache: (self.cache_step_seconds > 0).then_some(UrlCacheSettings {
                step_seconds: self.cache_step_seconds,
                max_entries: self.cache_entries,
            }),
            folder_policies,
        };
        Ok((rule, target))
    }

    /// `sign_per = "folder"`: what the signature carries beside its resource. Whether the
    /// resource covers only what this rule allows is the rules' question, asked once every rule
    /// is read (`authorize::shared_folder`).
    fn check_sign_per(
        &self,
        at: &str,
        distribution: &Distribution,
        pattern: &KeyPattern,
        capabilities: &Capabilities,
    ) -> anyhow::Result<Option<FolderPolicySettings>> {
        if self.sign_per == SignPer::Object {
            return Ok(None);
        }
        let provider = distribution.signer.provider();
        if matches!(distribution.signer, Signer::Cdn(_)) && !capabilities.shared_query {
            bail!("{at}.sign_per: {provider} (distribution {:?}) cannot carry one folder credential on every URL of the folder: its query form did not open other files of a trial folder, or opened files outside it (sign_per = \"folder\" works with cloudfront, google-cloud-cdn, google-media-cdn in tokens mode, akamai and bunny)", distribution.name);
        }
        if self.bind_client_ip {
            bail!("{at}.sign_per: a folder's policy serves every request for the folder within a step, and bind_client_ip binds each URL to one address; drop one of the two");
        }
        if self.cache_step_seconds == 0 {
            bail!("{at}.sign_per: needs cache_step_seconds (the step within which one signature serves the folder)");
        }
        let depth = pattern
            .folder_depth()
            .map_err(|e| anyhow!("{at}.sign_per: {e}"))?;
        Ok(Some(FolderPolicySettings {
            depth,
            max_bytes: self
                .cache_entries
                .saturating_mul(crate::sign::URL_CACHE_BYTES_PER_ENTRY),
        }))
    }
}

impl RawRule {
    /// What the rule asks of its distribution's provider, checked against what the provider was
    /// found to enforce at load (trial signatures, `sign::Capabilities`); the policy shape.
    fn check_provider(
        &self,
        at: &str,
        distribution: &Distribution,
        pattern: &KeyPattern,
    ) -> anyhow::Result<(PolicyChoice, Capabilities)> {
        let provider = distribution.signer.provider();
        let caps = match &distribution.signer {
            Signer::CloudFront(_) => {
                let policy = self.policy.unwrap_or(PolicyChoice::Canned);
                if self.bind_client_ip && policy != PolicyChoice::Custom {
                    bail!("{at}.bind_client_ip: needs policy = \"custom\"");
                }
                if self.cookies && self.folder_token != FolderForm::Cookie {
                    bail!("{at}.folder_token: cloudfront hands a folder out as signed cookies only; drop folder_token");
                }
                return Ok((policy, Capabilities::default()));
            }
            Signer::Cdn(signer) => {
                let folder = probe_folder(pattern);
                let caps = Capabilities::probe(signer.inner(), &distribution.base_url, &folder);
                // An expiry rounded up to the stable-URL step lies up to a step further out.
                let longest = self.lifetime_seconds + self.cache_step_seconds.saturating_sub(1);
                let refusal =
                    caps.lifetime_refusal(signer.inner(), &distribution.base_url, &folder, longest);
                if let Some(why) = refusal {
                    let with_step = if self.cache_step_seconds > 1 {
                        " (lifetime_seconds + cache_step_seconds - 1)"
                    } else {
                        ""
                    };
                    bail!("{at}.lifetime_seconds: {provider} (distribution {:?}) cannot sign a link valid for {longest} s{with_step}: {why}", distribution.name);
                }
                caps
            }
        };
        if self.policy.is_some() {
            bail!(
                "{at}.policy: CloudFront's policy shape; distribution {:?} is {provider}",
                distribution.name
            );
        }
        if self.bind_client_ip && !caps.ipv4 && !caps.ipv6 {
            bail!("{at}.bind_client_ip: {provider} (distribution {:?}) cannot bind a URL to the client's address", distribution.name);
        }
        if caps.needs_client_ip && !self.bind_client_ip {
            bail!("{at}.bind_client_ip: distribution {:?} signs the client's address ({provider}); set bind_client_ip = true", distribution.name);
        }
        if self.cookies && !caps.folder(self.folder_token) {
            let can: Vec<&str> = [FolderForm::Cookie, FolderForm::Path, FolderForm::Query]
                .into_iter()
                .filter(|f| caps.folder(*f))
                .map(FolderForm::name)
                .collect();
            if can.is_empty() {
                bail!(
                    "{at}.cookies: {provider} (distribution {:?}) signs one object per URL and has no folder credential (no cookie, path or query form); drop cookies = true, or serve the folder through a CDN",
                    distribution.name
                );
            }
            let can = can.join(", ");
            bail!(
                "{at}.folder_token: {provider} (distribution {:?}) cannot hand a folder out as a {}; it can: {can}",
                distribution.name,
                self.folder_token.name()
            );
        }
        Ok((PolicyChoice::Canned, caps))
    }
}

/// A folder of the shape `pattern` governs, for the trial signatures: its literal segments up to
/// the first `**`, with claim and wildcard segments filled in (`hls/{sub}/**` → `hls/signgate-probe`).
fn probe_folder(pattern: &KeyPattern) -> String {
    let mut segments: Vec<&str> = pattern
        .as_str()
        .split('/')
        .take_while(|s| *s != "**")
        .map(|s| {
            if s.contains(['*', '?', '{']) {
                "signgate-probe"
            } else {
                s
            }
        })
        .collect();
    if !pattern.as_str().contains("**") {
        // The last segment names an object, not a folder.
        segments.pop();
    }
    if segments.is_empty() {
        segments.push("signgate-probe");
    }
    segments.join("/")
}
