//! Wildcard matching for policy `Resource` values: `*` matches any run of characters (including
//! none) and `?` exactly one. A wildcard only matches within its own part of the URL: the scheme,
//! the host (with port) and the rest (path and query). So `https://*.example.com/*` cannot be
//! satisfied by `https://evil.test/.example.com/x`.

/// Matches a whole URL against a whole pattern, part by part.
pub(crate) fn matches(pattern: &str, url: &str) -> bool {
    let (Some(p), Some(u)) = (split(pattern), split(url)) else {
        return false;
    };
    glob(p.0, u.0) && glob(p.1, u.1) && glob(p.2, u.2)
}

/// Splits `scheme://authority/rest` into its three parts; `rest` keeps its leading `/`.
/// Normalized URLs always have a `/` after the authority, and in a pattern `?` is a wildcard,
/// so only `/` ends the authority.
fn split(text: &str) -> Option<(&str, &str, &str)> {
    let (scheme, after) = text.split_once("://")?;
    let end = after.find('/').unwrap_or(after.len());
    Some((scheme, &after[..end], &after[end..]))
}

/// Glob match over bytes with `*` and `?`, linear in practice (single backtrack point).
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        // `*` first: a literal `*` in the text must not consume the pattern's wildcard.
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn glob_basics() {
        assert!(glob("*", ""));
        assert!(glob("a*c", "abbbc"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(glob("*.ts", "seg/1.ts"));
        assert!(!glob("*.ts", "seg/1.tsx"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
        assert!(
            glob("/a/*", "/a/*x"),
            "a literal * in the text is matched by the wildcard"
        );
        assert!(glob("/a/*", "/a/*"));
    }

    #[test]
    fn star_in_the_path_covers_subfolders_and_query() {
        let p = "https://d111111abcdef8.cloudfront.net/private/*";
        assert!(matches(
            p,
            "https://d111111abcdef8.cloudfront.net/private/file.zip?token=abc"
        ));
        assert!(matches(
            p,
            "https://d111111abcdef8.cloudfront.net/private/a/b/c"
        ));
        assert!(!matches(
            p,
            "https://d111111abcdef8.cloudfront.net/privateer/x"
        ));
        assert!(!matches(
            p,
            "http://d111111abcdef8.cloudfront.net/private/x"
        ));
    }

    #[test]
    fn wildcards_stay_within_their_part() {
        let p = "https://*.example.com/*";
        assert!(matches(p, "https://media.example.com/x"));
        assert!(!matches(p, "https://evil.test/.example.com/x"));
        assert!(!matches("https://*/x", "https://h.example/y/x"));
        assert!(matches("http*://h.example/*", "http://h.example/a"));
        assert!(matches("http*://h.example/*", "https://h.example/a"));
        assert!(!matches("http?://h.example/*", "http://h.example/a"));
    }

    #[test]
    fn exact_pattern_matches_only_itself() {
        let u = "https://h.example/a.txt";
        assert!(matches(u, u));
        assert!(!matches(u, "https://h.example/a.txt2"));
        assert!(!matches(u, "https://h.example/a.tx"));
    }

    fn naive(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => naive(&p[1..], t) || (!t.is_empty() && naive(p, &t[1..])),
            (Some(b'?'), Some(_)) => naive(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => naive(&p[1..], &t[1..]),
            _ => false,
        }
    }

    proptest! {
        #[test]
        fn glob_agrees_with_recursive_definition(p in "[ab*?]{0,8}", t in "[ab*?]{0,10}") {
            prop_assert_eq!(glob(&p, &t), naive(p.as_bytes(), t.as_bytes()));
        }
    }
}
