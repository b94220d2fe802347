//! Absolute URLs as the schemes sign them: byte-exact, never normalized. What would be ambiguous
//! once signed (a fragment, a raw space or non-ASCII byte, a stray `%`, user info, an empty
//! query) is refused instead of repaired, so the string signed is the string served.

use crate::encoding::percent_decode;

/// Why a URL or prefix cannot be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("the URL must be absolute and start with http:// or https://")]
    NotAbsolute,
    #[error("a URL with a #fragment cannot be signed: browsers never send the fragment")]
    Fragment,
    #[error("the URL has no host")]
    MissingHost,
    #[error("user:password@ is not allowed in the URL")]
    UserInfo,
    #[error("character {0:?} must be percent-encoded before signing")]
    RawCharacter(char),
    #[error("'%' must start a %XX escape; write a literal percent sign as %25")]
    StrayPercent,
    #[error("the URL ends in an empty query string ('?')")]
    EmptyQuery,
    #[error("the URL has an empty query parameter (a doubled or trailing '&')")]
    EmptyParameter,
    #[error("a prefix must not contain '?' or '#': it covers paths only")]
    QueryInPrefix,
    #[error("a prefix must include a path starting with '/' after the host")]
    PrefixWithoutPath,
    #[error("the URL already carries the signing parameter {0}")]
    ReservedParameter(String),
    #[error("the URL is longer than {MAX_URL_LEN} bytes")]
    TooLong,
}

/// Longest URL accepted, in bytes.
pub const MAX_URL_LEN: usize = 8192;

/// An absolute `http`/`https` URL split into its parts (borrowed from the input).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Url<'a> {
    pub text: &'a str,
    /// `scheme://authority`.
    pub origin: &'a str,
    /// The path, starting with `/`, or empty.
    pub path: &'a str,
    /// The query without its `?`.
    pub query: Option<&'a str>,
}

impl<'a> Url<'a> {
    /// Parses `text` without changing a byte.
    pub fn parse(text: &'a str) -> Result<Self, UrlError> {
        if text.len() > MAX_URL_LEN {
            return Err(UrlError::TooLong);
        }
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))
            .ok_or(UrlError::NotAbsolute)?;
        if check_characters(text)? {
            return Err(UrlError::Fragment);
        }
        // The authority in one pass: where it ends, whether it has user info, its last `:`.
        let (mut authority_len, mut user_info, mut port_at) = (rest.len(), false, None);
        for (i, &b) in rest.as_bytes().iter().enumerate() {
            match b {
                b'/' | b'?' => {
                    authority_len = i;
                    break;
                }
                b'@' => user_info = true,
                b':' => port_at = Some(i),
                _ => {}
            }
        }
        if user_info {
            return Err(UrlError::UserInfo);
        }
        if port_at.unwrap_or(authority_len) == 0 {
            return Err(UrlError::MissingHost);
        }
        let origin_len = text.len() - rest.len() + authority_len;
        let after = &text[origin_len..];
        let (path, query) = match after.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (after, None),
        };
        if query == Some("") {
            return Err(UrlError::EmptyQuery);
        }
        if query.is_some_and(|q| q.starts_with('&') || q.ends_with('&') || q.contains("&&")) {
            return Err(UrlError::EmptyParameter);
        }
        Ok(Url {
            text,
            origin: &text[..origin_len],
            path,
            query,
        })
    }

    /// Parses a URL prefix: scheme, host and a path, without query or fragment.
    pub fn parse_prefix(text: &'a str) -> Result<Self, UrlError> {
        if text.contains(['?', '#']) {
            return Err(UrlError::QueryInPrefix);
        }
        let url = Url::parse(text)?;
        if !url.path.starts_with('/') {
            return Err(UrlError::PrefixWithoutPath);
        }
        Ok(url)
    }

    /// The raw `name=value` pairs of the query, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
    }

    /// Refuses a URL whose query already has one of `reserved` (compared after percent-decoding,
    /// ignoring ASCII case, so `expires` or `Expire%73` cannot slip a second value past the edge).
    pub fn refuse_params<R: AsRef<str>>(&self, reserved: &[R]) -> Result<(), UrlError> {
        for (name, _) in self.pairs() {
            let decoded = match name.contains('%') {
                true => {
                    std::borrow::Cow::Owned(percent_decode(name).unwrap_or_else(|| name.to_owned()))
                }
                false => std::borrow::Cow::Borrowed(name),
            };
            if let Some(r) = reserved
                .iter()
                .find(|r| r.as_ref().eq_ignore_ascii_case(&decoded))
            {
                return Err(UrlError::ReservedParameter(r.as_ref().to_owned()));
            }
        }
        Ok(())
    }

    /// The separator that appends one more query parameter.
    pub fn separator(&self) -> char {
        if self.query.is_some() {
            '&'
        } else {
            '?'
        }
    }
}

/// Refuses a raw character that is not printable ASCII and a `%` that does not start an escape,
/// the first in the text; then says whether the text has a `#`. One pass over the bytes (this
/// runs on every URL signed).
fn check_characters(text: &str) -> Result<bool, UrlError> {
    let bytes = text.as_bytes();
    // Most URLs are printable ASCII without `%` or `#`: checked 16 bytes at a time without a
    // branch per byte (the compiler turns each chunk into a few vector compares).
    let special = |b: u8| !(0x21..=0x7e).contains(&b) | (b == b'%') | (b == b'#');
    let chunks = bytes.chunks_exact(16);
    let tail = chunks.remainder();
    let plain = chunks
        .map(|c| c.iter().fold(false, |any, &b| any | special(b)))
        .chain([tail.iter().fold(false, |any, &b| any | special(b))])
        .all(|any| !any);
    if plain {
        return Ok(false);
    }
    let mut fragment = false;
    for (i, &b) in bytes.iter().enumerate() {
        if b.is_ascii_graphic() && b != b'%' {
            fragment |= b == b'#';
            continue;
        }
        if b != b'%' {
            // Every byte before `i` is ASCII, so `i` starts a character.
            let c = text[i..].chars().next().unwrap_or(char::from(b));
            return Err(UrlError::RawCharacter(c));
        }
        let hex = bytes.get(i + 1..i + 3);
        if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
            return Err(UrlError::StrayPercent);
        }
    }
    Ok(fragment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_without_changing_bytes() {
        let u = Url::parse("https://h.example:8443/a%20b/c?x=1&y").unwrap();
        assert_eq!(u.origin, "https://h.example:8443");
        assert_eq!(u.path, "/a%20b/c");
        assert_eq!(u.query, Some("x=1&y"));
        assert_eq!(u.pairs().collect::<Vec<_>>(), [("x", "1"), ("y", "")]);
    }

    #[test]
    fn refuses_ambiguous_urls() {
        assert_eq!(Url::parse("ftp://h/x"), Err(UrlError::NotAbsolute));
        assert_eq!(Url::parse("https://h/x#f"), Err(UrlError::Fragment));
        assert_eq!(Url::parse("https:///x"), Err(UrlError::MissingHost));
        assert_eq!(Url::parse("https://u:p@h/x"), Err(UrlError::UserInfo));
        assert_eq!(
            Url::parse("https://h/a b"),
            Err(UrlError::RawCharacter(' '))
        );
        assert_eq!(Url::parse("https://h/%zz"), Err(UrlError::StrayPercent));
        assert_eq!(Url::parse("https://h/x?"), Err(UrlError::EmptyQuery));
        assert_eq!(
            Url::parse("https://h/x?a&&b"),
            Err(UrlError::EmptyParameter)
        );
        assert_eq!(
            Url::parse_prefix("https://h/x?"),
            Err(UrlError::QueryInPrefix)
        );
        assert_eq!(
            Url::parse_prefix("https://h/x#"),
            Err(UrlError::QueryInPrefix)
        );
        assert_eq!(
            Url::parse_prefix("https://h"),
            Err(UrlError::PrefixWithoutPath)
        );
    }

    #[test]
    fn reserved_parameters_are_found_encoded_and_in_any_case() {
        let u = Url::parse("https://h/x?expire%73=1").unwrap();
        assert_eq!(
            u.refuse_params(&["Expires"]),
            Err(UrlError::ReservedParameter("Expires".into()))
        );
    }

    /// The reading before the single-pass scan: character by character, then the `#`, the
    /// authority and the query's empty parameters each in a pass of their own.
    fn parse_reference(text: &str) -> Result<(&str, &str, Option<&str>), UrlError> {
        if text.len() > MAX_URL_LEN {
            return Err(UrlError::TooLong);
        }
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))
            .ok_or(UrlError::NotAbsolute)?;
        let bytes = text.as_bytes();
        for (i, c) in text.char_indices() {
            if !c.is_ascii_graphic() {
                return Err(UrlError::RawCharacter(c));
            }
            if c == '%'
                && !bytes
                    .get(i + 1..i + 3)
                    .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
            {
                return Err(UrlError::StrayPercent);
            }
        }
        if text.contains('#') {
            return Err(UrlError::Fragment);
        }
        let authority_len = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..authority_len];
        if authority.contains('@') {
            return Err(UrlError::UserInfo);
        }
        if authority
            .rsplit_once(':')
            .map_or(authority, |(h, _)| h)
            .is_empty()
        {
            return Err(UrlError::MissingHost);
        }
        let origin_len = text.len() - rest.len() + authority_len;
        let after = &text[origin_len..];
        let (path, query) = match after.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (after, None),
        };
        if query == Some("") {
            return Err(UrlError::EmptyQuery);
        }
        if query.is_some_and(|q| q.split('&').any(str::is_empty)) {
            return Err(UrlError::EmptyParameter);
        }
        Ok((&text[..origin_len], path, query))
    }

    proptest::proptest! {
        #[test]
        fn the_single_pass_reads_every_url_as_the_reference_reads_it(
            tail in "(a|/|\\?|&|=|#|%|2|F|:|@|\\.| |\t|é|\u{7f}|%2F|~){0,24}",
            scheme in "(https://|http://|ftp://|)",
        ) {
            let text = format!("{scheme}{tail}");
            let ours = Url::parse(&text).map(|u| (u.origin, u.path, u.query));
            proptest::prop_assert_eq!(ours, parse_reference(&text));
        }
    }
}
