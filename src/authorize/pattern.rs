//! Object-key patterns such as `public/**`, `users/{sub}/**` or `reports/*.pdf`: which keys a
//! rule covers, with the caller's claims filled in. (A little over 300 lines: about a third are
//! the matcher's tests, kept beside it.)

use std::borrow::Cow;

use crate::authenticate::User;
use crate::object_key::ObjectKey;

/// One piece of a pattern segment.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Literal(String),
    /// `*`: any run of characters within the segment.
    Star,
    /// `{claim}`: exactly the caller's claim value.
    Claim(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    /// `**`: any number of whole segments, including none.
    AnyDepth,
    Pieces(Vec<Piece>),
}

/// An object-key pattern such as `public/**`, `users/{sub}/**` or `reports/*.pdf`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPattern {
    text: String,
    segments: Vec<Segment>,
}

impl KeyPattern {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("the pattern is empty".into());
        }
        let mut segments = Vec::new();
        for seg in text.split('/') {
            if seg == "**" {
                segments.push(Segment::AnyDepth);
                continue;
            }
            if seg.is_empty() || seg == "." || seg == ".." {
                return Err(format!("invalid segment {seg:?} in pattern {text:?}"));
            }
            if seg.contains("**") {
                return Err(format!("'**' must be a whole segment in pattern {text:?}"));
            }
            let mut pieces = Vec::new();
            let mut rest = seg;
            while !rest.is_empty() {
                if let Some(after) = rest.strip_prefix('*') {
                    pieces.push(Piece::Star);
                    rest = after;
                } else if let Some(after) = rest.strip_prefix('{') {
                    let end = after
                        .find('}')
                        .ok_or_else(|| format!("unclosed '{{' in pattern {text:?}"))?;
                    let name = &after[..end];
                    let valid = !name.is_empty()
                        && name.bytes().all(|b| {
                            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':')
                        });
                    if !valid {
                        return Err(format!("invalid claim name {name:?} in pattern {text:?}"));
                    }
                    pieces.push(Piece::Claim(name.to_owned()));
                    rest = &after[end + 1..];
                } else {
                    let end = rest.find(['*', '{']).unwrap_or(rest.len());
                    let literal = &rest[..end];
                    if literal.contains(['}', '?', '\\', '%', ';', '#'])
                        || literal.chars().any(char::is_control)
                    {
                        return Err(format!("invalid character in pattern {text:?}"));
                    }
                    pieces.push(Piece::Literal(literal.to_owned()));
                    rest = &rest[end..];
                }
            }
            segments.push(Segment::Pieces(pieces));
        }
        Ok(KeyPattern {
            text: text.to_owned(),
            segments,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern uses any claim (and so can never match an anonymous caller).
    pub fn uses_claims(&self) -> bool {
        self.segments.iter().any(
            |s| matches!(s, Segment::Pieces(p) if p.iter().any(|x| matches!(x, Piece::Claim(_)))),
        )
    }

    /// For a pattern ending in `/**`: whether its prefix names exactly `folder` for `user`
    /// (`hls/{sub}/**` names the folder `hls/alice` for alice).
    pub fn matches_folder(&self, folder: &ObjectKey, user: Option<&User>) -> bool {
        match self.segments.split_last() {
            Some((Segment::AnyDepth, prefix)) => {
                let segments: Vec<&str> = folder.segments().collect();
                match_segments(prefix, &segments, user)
            }
            _ => false,
        }
    }

    /// Whether this pattern could match some key strictly below `folder` for `user`.
    pub fn could_match_below(&self, folder: &ObjectKey, user: Option<&User>) -> bool {
        let segments: Vec<&str> = folder.segments().collect();
        extends_below(&self.segments, &segments, user)
    }

    /// Matches `key` for `user` (claims are unavailable for anonymous callers).
    pub fn matches(&self, key: &ObjectKey, user: Option<&User>) -> bool {
        let segments: Vec<&str> = key.segments().collect();
        match_segments(&self.segments, &segments, user)
    }
}

fn match_segments(pattern: &[Segment], key: &[&str], user: Option<&User>) -> bool {
    match pattern.split_first() {
        None => key.is_empty(),
        Some((Segment::AnyDepth, rest)) => {
            (0..=key.len()).any(|skip| match_segments(rest, &key[skip..], user))
        }
        Some((Segment::Pieces(pieces), rest)) => match key.split_first() {
            Some((first, key_rest)) => {
                match_pieces(pieces, first, user) && match_segments(rest, key_rest, user)
            }
            None => false,
        },
    }
}

/// Whether `pattern` can match `folder` followed by at least one more segment.
fn extends_below(pattern: &[Segment], folder: &[&str], user: Option<&User>) -> bool {
    match (pattern.split_first(), folder.split_first()) {
        (None, _) => false,
        (Some((Segment::AnyDepth, _)), _) => true,
        // The folder is used up: any remaining piece of pattern can match something below it.
        (Some(_), None) => true,
        (Some((Segment::Pieces(pieces), rest)), Some((first, folder_rest))) => {
            match_pieces(pieces, first, user) && extends_below(rest, folder_rest, user)
        }
    }
}

fn match_pieces(pieces: &[Piece], text: &str, user: Option<&User>) -> bool {
    match pieces.split_first() {
        None => text.is_empty(),
        Some((Piece::Literal(l), rest)) => text
            .strip_prefix(l.as_str())
            .is_some_and(|t| match_pieces(rest, t, user)),
        Some((Piece::Claim(name), rest)) => {
            let Some(value) = user.and_then(|u| claim_for_template(u, name)) else {
                return false;
            };
            text.strip_prefix(value.as_ref())
                .is_some_and(|t| match_pieces(rest, t, user))
        }
        Some((Piece::Star, rest)) => text
            .char_indices()
            .map(|(i, _)| i)
            .chain(std::iter::once(text.len()))
            .any(|i| match_pieces(rest, &text[i..], user)),
    }
}

/// A claim value usable inside a path template. Values that could step outside their segment
/// or widen a match (`/`, `*`, `?`, `..`, backslashes, control characters) never match.
fn claim_for_template<'a>(user: &'a User, name: &str) -> Option<Cow<'a, str>> {
    let value = user.claim_str(name)?;
    let safe = !value.is_empty()
        && value.as_ref() != "."
        && !value.contains("..")
        && !value
            .chars()
            .any(|c| c.is_control() || matches!(c, '/' | '\\' | '*' | '?' | '%' | ';' | '#'));
    safe.then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn user(sub: &str, claims: Value) -> User {
        User {
            subject: sub.into(),
            claims: claims.as_object().unwrap().clone(),
            via: "test",
        }
    }

    fn key(k: &str) -> ObjectKey {
        ObjectKey::parse(k, 1024).unwrap()
    }

    fn m(p: &str, k: &str, u: Option<&User>) -> bool {
        KeyPattern::parse(p).unwrap().matches(&key(k), u)
    }

    #[test]
    fn double_star_spans_segments_single_star_does_not() {
        assert!(m("public/**", "public/a", None));
        assert!(m("public/**", "public/a/b/c.txt", None));
        assert!(!m("public/**", "publicity/a", None));
        assert!(m("**", "anything/at/all", None));
        assert!(m("a/**/z.txt", "a/z.txt", None));
        assert!(m("a/**/z.txt", "a/b/c/z.txt", None));
        assert!(m("reports/*.pdf", "reports/q3.pdf", None));
        assert!(!m("reports/*.pdf", "reports/2024/q3.pdf", None));
        assert!(!m("reports/*.pdf", "reports/q3.pdfx", None));
        assert!(m("a/*", "a/b", None));
        assert!(!m("a/*", "a/b/c", None));
    }

    #[test]
    fn claim_templates_match_only_that_callers_value() {
        let alice = user("alice", json!({"org": "acme", "n": 7}));
        assert!(m("users/{sub}/**", "users/alice/x.txt", Some(&alice)));
        assert!(!m("users/{sub}/**", "users/bob/x.txt", Some(&alice)));
        assert!(!m("users/{sub}/**", "users/alice/x.txt", None));
        assert!(m(
            "orgs/{org}/{sub}-*.pdf",
            "orgs/acme/alice-1.pdf",
            Some(&alice)
        ));
        assert!(m("n/{n}/x", "n/7/x", Some(&alice)));
        assert!(!m("orgs/{missing}/x", "orgs/acme/x", Some(&alice)));
    }

    #[test]
    fn hostile_claim_values_never_match() {
        // Values that could step out of their segment or act as wildcards never match, even
        // where the key literally contains them.
        for (value, k) in [
            ("a..b", "users/a..b/x"),
            ("a/b", "users/a/b/x"),
            ("", "users/e/x"),
        ] {
            let u = user(value, json!({}));
            assert!(!m("users/{sub}/**", k, Some(&u)), "{value:?}");
        }
        for value in [
            "*", "a*", "?", "..", ".", "a\u{0}", "a\\b", "a%2f", "a;b", "a#b",
        ] {
            let u = user(value, json!({"team": value}));
            assert!(claim_for_template(&u, "sub").is_none(), "{value:?}");
            assert!(claim_for_template(&u, "team").is_none(), "{value:?}");
        }
        assert!(claim_for_template(&user("alice", json!({})), "sub").is_some());
    }

    #[test]
    fn folder_matching_uses_the_prefix_exactly() {
        let alice = user("alice", json!({}));
        let p = KeyPattern::parse("hls/{sub}/**").unwrap();
        assert!(p.matches_folder(&key("hls/alice"), Some(&alice)));
        assert!(
            !p.matches_folder(&key("hls"), Some(&alice)),
            "a parent folder is never granted"
        );
        assert!(
            !p.matches_folder(&key("hls/alice/sub"), Some(&alice)),
            "only the named folder"
        );
        assert!(!p.matches_folder(&key("hls/bob"), Some(&alice)));
        assert!(!KeyPattern::parse("hls/*")
            .unwrap()
            .matches_folder(&key("hls/a"), Some(&alice)));
    }

    #[test]
    fn folder_cookies_never_bypass_an_earlier_rule() {
        let alice = user("alice", json!({}));
        let p = |t: &str| KeyPattern::parse(t).unwrap();
        assert!(p("videos/*/drm/**").could_match_below(&key("videos/42"), Some(&alice)));
        assert!(p("videos/**").could_match_below(&key("videos/42"), Some(&alice)));
        assert!(p("**").could_match_below(&key("a/b"), Some(&alice)));
        assert!(!p("audio/**").could_match_below(&key("videos/42"), Some(&alice)));
        assert!(!p("videos/41/**").could_match_below(&key("videos/42"), Some(&alice)));
        assert!(
            !p("videos/42").could_match_below(&key("videos/42"), Some(&alice)),
            "the folder itself is not below it"
        );
        assert!(!p("users/{sub}/**").could_match_below(&key("users/bob"), Some(&alice)));
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in [
            "",
            "a//b",
            "a/../b",
            "a/**b",
            "a/{sub",
            "a/{}/b",
            "a/{s u b}/c",
            "a?b",
            "a/./b",
        ] {
            assert!(KeyPattern::parse(bad).is_err(), "{bad:?}");
        }
    }
}
