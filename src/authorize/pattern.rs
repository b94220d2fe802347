//! Object-key patterns such as `public/**`, `users/{sub}/**` or `reports/*.pdf`: which keys a
//! rule covers, with the caller's claims filled in. (Over 300 lines: half of it is the matcher's
//! tests, the backtracking reference model among them, kept beside it.)

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

    /// Whether a segment holds both a claim and a `*` (`users/{sub}-*/**`). Such a segment is
    /// a prefix (or suffix) match on the claim: alice's `alice-*` also matches `alice-x-photos`,
    /// which is user `alice-x`'s folder under the same rule. The configuration refuses it unless
    /// the rule says `claim_prefix = true`.
    pub fn mixes_claims_and_wildcards(&self) -> bool {
        self.segments.iter().any(|s| match s {
            Segment::Pieces(p) => {
                p.iter().any(|x| matches!(x, Piece::Claim(_)))
                    && p.iter().any(|x| matches!(x, Piece::Star))
            }
            Segment::AnyDepth => false,
        })
    }

    /// For a pattern ending in `/**`: whether its prefix names exactly `folder` for `user`
    /// (`hls/{sub}/**` names the folder `hls/alice` for alice).
    pub fn matches_folder(&self, folder: &ObjectKey, user: Option<&User>) -> bool {
        match self.segments.split_last() {
            Some((Segment::AnyDepth, prefix)) => {
                match_segments(prefix, &key_segments(folder), user)
            }
            _ => false,
        }
    }

    /// Whether this pattern could match some key strictly below `folder` for `user`.
    pub fn could_match_below(&self, folder: &ObjectKey, user: Option<&User>) -> bool {
        extends_below(&self.segments, &key_segments(folder), user)
    }

    /// The pattern with `user`'s claim values written in (`users/{sub}/**` reads
    /// `users/alice/**` for alice), as matching fills them in; a claim the caller lacks, or
    /// whose value can never match, stays `{claim}`. For people reading a decision.
    pub fn filled_in(&self, user: Option<&User>) -> String {
        let segment = |s: &Segment| match s {
            Segment::AnyDepth => "**".to_owned(),
            Segment::Pieces(pieces) => pieces
                .iter()
                .map(|p| match p {
                    Piece::Star => "*".into(),
                    Piece::Claim(name) => {
                        piece_text(p, user).map_or_else(|| format!("{{{name}}}"), Cow::into_owned)
                    }
                    Piece::Literal(l) => l.clone(),
                })
                .collect(),
        };
        self.segments
            .iter()
            .map(segment)
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The claims of the pattern that `user` lacks or whose value can never match (so the
    /// pattern matches nothing for this caller).
    pub fn unusable_claims(&self, user: Option<&User>) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for segment in &self.segments {
            let Segment::Pieces(pieces) = segment else {
                continue;
            };
            for piece in pieces {
                if let Piece::Claim(name) = piece {
                    if piece_text(piece, user).is_none() && !out.contains(&name.as_str()) {
                        out.push(name);
                    }
                }
            }
        }
        out
    }

    /// For a folder-shaped pattern, `prefix/**` whose prefix segments are each one exact text
    /// (literals and whole claims, no `*`: `users/{sub}/**`), the number of prefix segments.
    /// Such a pattern matches, for one caller, exactly the keys below its prefix with the
    /// caller's claims filled in (a claim value never holds `/`, `*` or `?`), and nothing else
    /// besides the prefix itself. `Err` says why a pattern is not of that shape.
    pub fn folder_depth(&self) -> Result<usize, String> {
        let Some((Segment::AnyDepth, prefix)) = self.segments.split_last() else {
            return Err(format!(
                "the pattern {:?} must end in /** (the folder one policy covers)",
                self.text
            ));
        };
        for segment in prefix {
            match segment {
                Segment::AnyDepth => {
                    return Err(format!(
                        "the pattern {:?} has ** before its end: its folder is not one prefix",
                        self.text
                    ))
                }
                Segment::Pieces(p) if p.contains(&Piece::Star) => {
                    return Err(format!(
                        "the pattern {:?} has a * in its folder: the folder is not one prefix per caller",
                        self.text
                    ))
                }
                Segment::Pieces(_) => {}
            }
        }
        Ok(prefix.len())
    }

    /// Whether this pattern can match, for any caller, some key strictly inside the folder of
    /// the folder-shaped pattern `folder` (see [`KeyPattern::folder_depth`]), for any caller
    /// too. Conservative: a claim on either side is taken as able to be any segment text, and
    /// a `**` as able to reach inside.
    pub fn may_match_inside(&self, folder: &KeyPattern) -> bool {
        let prefix = match folder.segments.split_last() {
            Some((Segment::AnyDepth, prefix)) => prefix,
            _ => &folder.segments[..],
        };
        may_reach_inside(&self.segments, prefix)
    }

    /// Matches `key` for `user` (claims are unavailable for anonymous callers).
    pub fn matches(&self, key: &ObjectKey, user: Option<&User>) -> bool {
        match_segments(&self.segments, &key_segments(key), user)
    }
}

/// A key's segments, on the stack for keys of up to 16 (every rule match on every request
/// splits the key: no allocation for the usual few segments).
fn key_segments(key: &ObjectKey) -> smallvec::SmallVec<[&str; 16]> {
    key.segments().collect()
}

/// Whether `pattern` matches all of `key`. `**` runs split the pattern into groups of
/// one-segment patterns: the first group must match the key's first segments, the last its last
/// ones, and each group between at the leftmost place after the previous one (taking the leftmost
/// place never loses a match, since `**` takes any number of segments). So matching takes at
/// most (key segments × pattern segments) segment matches, whatever the pattern: no
/// backtracking that a crafted key could make exponential.
fn match_segments(pattern: &[Segment], key: &[&str], user: Option<&User>) -> bool {
    let any_depth = |s: &Segment| matches!(s, Segment::AnyDepth);
    let gaps = pattern.iter().filter(|s| any_depth(s)).count();
    let mut groups = pattern.split(any_depth);
    let first = groups.next().unwrap_or_default();
    if gaps == 0 {
        return first.len() == key.len() && group_at(first, key, user);
    }
    let last = pattern.rsplit(any_depth).next().unwrap_or_default();
    if key.len() < first.len() + last.len()
        || !group_at(first, key, user)
        || !group_at(last, &key[key.len() - last.len()..], user)
    {
        return false;
    }
    let mut middle = &key[first.len()..key.len() - last.len()];
    for group in groups.take(gaps - 1) {
        let Some(at) = (0..=middle.len().saturating_sub(group.len()))
            .find(|&i| middle.len() >= group.len() && group_at(group, &middle[i..], user))
        else {
            return false;
        };
        middle = &middle[at + group.len()..];
    }
    true
}

/// Whether `pattern` can match a key made of `prefix` (exact segments, claims unknown) and at
/// least one more segment.
fn may_reach_inside(pattern: &[Segment], prefix: &[Segment]) -> bool {
    match (pattern.split_first(), prefix.split_first()) {
        // Used up: only keys of at most the prefix's length remain.
        (None, _) => false,
        (Some((Segment::AnyDepth, _)), _) => true,
        // The prefix is used up and the pattern goes on: every segment can match some text.
        (Some(_), None) => true,
        (Some((Segment::Pieces(ours), rest)), Some((theirs, prefix_rest))) => {
            segment_may_equal(ours, theirs) && may_reach_inside(rest, prefix_rest)
        }
    }
}

/// Whether one segment's pieces can match the text of an exact prefix segment, for some pair
/// of callers. A prefix segment holding a claim can be many texts: taken as matched. Else our
/// claims are read as `*` (any text, a superset of any claim value).
fn segment_may_equal(ours: &[Piece], theirs: &Segment) -> bool {
    let Segment::Pieces(theirs) = theirs else {
        return true;
    };
    let mut text = String::new();
    for piece in theirs {
        match piece {
            Piece::Literal(l) => text.push_str(l),
            Piece::Claim(_) | Piece::Star => return true,
        }
    }
    let widened: Vec<Piece> = ours
        .iter()
        .map(|p| match p {
            Piece::Claim(_) => Piece::Star,
            other => other.clone(),
        })
        .collect();
    match_pieces(&widened, &text, None)
}

/// Whether the one-segment patterns of `group` match the first `group.len()` segments of `key`.
fn group_at(group: &[Segment], key: &[&str], user: Option<&User>) -> bool {
    key.len() >= group.len()
        && group.iter().zip(key).all(|(segment, text)| match segment {
            Segment::Pieces(pieces) => match_pieces(pieces, text, user),
            Segment::AnyDepth => false,
        })
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

/// Whether one segment's pieces match all of `text`. Stars split the pieces into chunks of fixed
/// text (literals and the caller's claim values): the first chunk must start the text, the last
/// end it, and each chunk between is found at its leftmost place after the previous one, which
/// never loses a match. At most (text length × pattern length) steps, whatever the pattern.
fn match_pieces(pieces: &[Piece], text: &str, user: Option<&User>) -> bool {
    let star = |p: &Piece| matches!(p, Piece::Star);
    let stars = pieces.iter().filter(|p| star(p)).count();
    let mut chunks = pieces.split(star);
    let first = chunks.next().unwrap_or_default();
    let Some(start) = chunk_at(first, text, user) else {
        return false;
    };
    if stars == 0 {
        return start == text.len();
    }
    let rest = &text[start..];
    let last = pieces.rsplit(star).next().unwrap_or_default();
    let Some(last_len) = chunk_len(last, user) else {
        return false;
    };
    let Some(tail) = rest.len().checked_sub(last_len) else {
        return false;
    };
    if !rest.is_char_boundary(tail) || chunk_at(last, &rest[tail..], user) != Some(last_len) {
        return false;
    }
    let mut middle = &rest[..tail];
    for chunk in chunks.take(stars - 1) {
        let found = (0..=middle.len())
            .filter(|&i| middle.is_char_boundary(i))
            .find_map(|i| chunk_at(chunk, &middle[i..], user).map(|n| i + n));
        match found {
            Some(end) => middle = &middle[end..],
            None => return false,
        }
    }
    true
}

/// The text of one star-free piece for `user`; `None` when a claim is missing or unusable.
fn piece_text<'a>(piece: &'a Piece, user: Option<&'a User>) -> Option<Cow<'a, str>> {
    match piece {
        Piece::Literal(l) => Some(Cow::Borrowed(l)),
        Piece::Claim(name) => user.and_then(|u| claim_for_template(u, name)),
        Piece::Star => None,
    }
}

/// The bytes `chunk` (star-free pieces) takes at the start of `text`, if it is there.
fn chunk_at(chunk: &[Piece], text: &str, user: Option<&User>) -> Option<usize> {
    #[cfg(test)]
    STEPS.with(|s| s.set(s.get() + 1));
    let mut rest = text;
    for piece in chunk {
        rest = rest.strip_prefix(piece_text(piece, user)?.as_ref())?;
    }
    Some(text.len() - rest.len())
}

fn chunk_len(chunk: &[Piece], user: Option<&User>) -> Option<usize> {
    chunk
        .iter()
        .map(|p| piece_text(p, user).map(|t| t.len()))
        .sum()
}

#[cfg(test)]
thread_local! {
    /// Chunk comparisons made on this thread, so tests can bound the work a match takes.
    static STEPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
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
pub(super) mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// A caller with subject `sub` and `claims`, for tests here and in the rules.
    pub(in crate::authorize) fn user(sub: &str, claims: Value) -> User {
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
    fn keys_of_16_segments_and_longer_match_as_any_other() {
        for depth in [15, 16, 17, 40] {
            let segments: Vec<String> = (0..depth).map(|i| format!("s{i}")).collect();
            let text = segments.join("/");
            let exact = segments.join("/").replace("s3", "*");
            assert!(m(&exact, &text, None), "{depth}");
            let last = format!("s0/**/s{}", depth - 1);
            assert!(m(&last, &text, None), "{depth}");
            let shorter = segments[..depth - 1].join("/");
            assert!(!m(&shorter, &text, None), "{depth}: one segment short");
            let folder = KeyPattern::parse(&format!("{shorter}/**")).unwrap();
            assert!(folder.matches_folder(&key(&shorter), None), "{depth}");
        }
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
    fn a_pattern_reads_with_the_callers_claims_filled_in() {
        let alice = user("alice", json!({"org": "acme", "team": "a/b"}));
        let p = KeyPattern::parse("orgs/{org}/{sub}-*/{team}/**").unwrap();
        assert_eq!(p.filled_in(Some(&alice)), "orgs/acme/alice-*/{team}/**");
        assert_eq!(p.unusable_claims(Some(&alice)), ["team"]);
        assert_eq!(p.filled_in(None), "orgs/{org}/{sub}-*/{team}/**");
        assert_eq!(p.unusable_claims(None), ["org", "sub", "team"]);
        assert!(KeyPattern::parse("public/**")
            .unwrap()
            .unusable_claims(None)
            .is_empty());
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

    /// The matcher before it was made linear: plain backtracking, exponential on crafted input,
    /// but obviously right. The property test checks the new matcher against it on small cases.
    fn reference(pattern: &[Segment], key: &[&str], user: Option<&User>) -> bool {
        fn pieces_ref(pieces: &[Piece], text: &str, user: Option<&User>) -> bool {
            match pieces.split_first() {
                None => text.is_empty(),
                Some((Piece::Star, rest)) => text
                    .char_indices()
                    .map(|(i, _)| i)
                    .chain(std::iter::once(text.len()))
                    .any(|i| pieces_ref(rest, &text[i..], user)),
                Some((piece, rest)) => piece_text(piece, user).is_some_and(|t| {
                    text.strip_prefix(t.as_ref())
                        .is_some_and(|t| pieces_ref(rest, t, user))
                }),
            }
        }
        match pattern.split_first() {
            None => key.is_empty(),
            Some((Segment::AnyDepth, rest)) => {
                (0..=key.len()).any(|skip| reference(rest, &key[skip..], user))
            }
            Some((Segment::Pieces(pieces), rest)) => key
                .split_first()
                .is_some_and(|(k, kr)| pieces_ref(pieces, k, user) && reference(rest, kr, user)),
        }
    }

    fn steps_of(f: impl FnOnce() -> bool) -> (bool, u64) {
        STEPS.with(|s| s.set(0));
        let result = f();
        (result, STEPS.with(|s| s.get()))
    }

    #[test]
    fn crafted_keys_cannot_make_matching_blow_up() {
        // Each case would take seconds to years with backtracking; here the work is bounded by
        // (key length x pattern length), counted in chunk comparisons.
        let underscores = format!("archive/{}.pd", "_".repeat(400));
        let p = KeyPattern::parse("archive/*_*_*_*_*_*.pdf").unwrap();
        let (matched, steps) = steps_of(|| p.matches(&key(&underscores), None));
        assert!(!matched);
        assert!(steps <= 8 * 410, "{steps} steps");

        let deep = format!("{}b", "a/".repeat(300));
        let p = KeyPattern::parse("**/a/**/a/**/a/**/a/**/c").unwrap();
        let (matched, steps) = steps_of(|| p.matches(&key(&deep), None));
        assert!(!matched);
        assert!(steps <= 8 * 310, "{steps} steps");

        let alice = user("alice", json!({}));
        let p = KeyPattern::parse("u/*{sub}*{sub}*{sub}*x").unwrap();
        let text = format!("u/{}y", "alice".repeat(150));
        let (matched, steps) = steps_of(|| p.matches(&key(&text), Some(&alice)));
        assert!(!matched);
        assert!(steps <= 8 * 760, "{steps} steps");
    }

    fn arb_pattern() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            Just("a".to_owned()),
            Just("b".to_owned()),
            Just("ab".to_owned()),
            Just("*".to_owned()),
            Just("{sub}".to_owned()),
        ];
        let segment = prop_oneof![
            4 => proptest::collection::vec(piece, 1..4).prop_map(|p| p.concat()),
            1 => Just("**".to_owned()),
        ];
        proptest::collection::vec(segment, 1..5)
            .prop_map(|s| s.join("/"))
            .prop_filter("valid", |p| KeyPattern::parse(p).is_ok())
    }

    proptest::proptest! {
        #[test]
        fn the_linear_matcher_agrees_with_backtracking(
            pattern in arb_pattern(),
            key_segments in proptest::collection::vec("[ab]{1,5}", 1..6),
            sub in "[ab]{1,2}",
        ) {
            let p = KeyPattern::parse(&pattern).unwrap();
            let text = key_segments.join("/");
            let k = key(&text);
            let u = user(&sub, json!({}));
            let segments: Vec<&str> = k.segments().collect();
            for who in [None, Some(&u)] {
                proptest::prop_assert_eq!(
                    p.matches(&k, who),
                    reference(&p.segments, &segments, who),
                    "{} against {}", pattern, text
                );
            }
        }
    }
}
