//! `sign_per = "folder"`: when one signature over a rule's whole folder (for one caller) is
//! safe. It is proved from the rules at load, never assumed: the signature covers every key
//! below the folder, so each of them must be one this rule decides, and decides the same way,
//! for that caller.
//!
//! - The rule's pattern is `prefix/**` whose prefix segments are exact texts (literals and
//!   whole claims, no `*`): for one caller it matches exactly the keys below the filled-in
//!   prefix ([`KeyPattern::folder_depth`]). A claim value holding `/`, `*`, `?` or `..` never
//!   fills a template, so the prefix stays one folder.
//! - Its verdict does not depend on the key: `access` and `require` read the caller only, and a
//!   SQL grant (which reads the key) is refused.
//! - No earlier rule can match anything inside the folder, for any caller: rules are read in
//!   order and the first match decides, so an earlier rule reaching inside would be bypassed
//!   (even an earlier allow: it may sign with other settings). Conservative: a claim is taken
//!   as able to be any text ([`KeyPattern::may_match_inside`]).
//!
//! Rules after this one are never reached for a key this rule matches. What the signature
//! carries beside the resource (bind_client_ip, a download name, the distribution's provider)
//! is the signing step's to refuse (`config::rules`).

use super::{KeyPattern, RuleSettings};

/// Why `rules[index]` cannot sign one policy per folder, or `None` when it can.
pub fn refusal(rules: &[RuleSettings], index: usize) -> Option<String> {
    let rule = &rules[index];
    match rule.pattern.folder_depth() {
        Err(why) => return Some(why),
        Ok(0) => {
            return Some(
                "the pattern ** names no folder (one policy would cover the whole distribution): give it a prefix"
                    .into(),
            )
        }
        Ok(_) => {}
    }
    if let Some(grant) = &rule.sql_grant {
        return Some(format!(
            "the rule asks the SQL grant {grant:?} about each object; one signature for the folder would skip it"
        ));
    }
    let folder = &rule.pattern;
    rules[..index]
        .iter()
        .enumerate()
        .find(|(_, earlier)| earlier.pattern.may_match_inside(folder))
        .map(|(j, earlier)| {
            format!(
                "rules[{j}] ({:?}) can match keys inside this rule's folder {:?} and is read first; one signature for the folder would bypass it. Put this rule first, or narrow rules[{j}]",
                earlier.pattern.as_str(),
                folder_text(folder)
            )
        })
}

/// `users/{sub}/` for `users/{sub}/**`.
fn folder_text(folder: &KeyPattern) -> String {
    let text = folder.as_str();
    text.strip_suffix("**").unwrap_or(text).to_owned()
}

#[cfg(test)]
mod tests;
