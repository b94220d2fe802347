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
        check_characters(text)?;
        if text.contains('#') {
            return Err(UrlError::Fragment);
        }
        let authority_len = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..authority_len];
        if authority.contains('@') {
            return Err(UrlError::UserInfo);
        }
        let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
        if host.is_empty() {
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
    pub fn refuse_params(&self, reserved: &[&str]) -> Result<(), UrlError> {
        for (name, _) in self.pairs() {
            let decoded = percent_decode(name).unwrap_or_else(|| name.to_owned());
            if let Some(r) = reserved.iter().find(|r| r.eq_ignore_ascii_case(&decoded)) {
                return Err(UrlError::ReservedParameter((*r).to_owned()));
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

fn check_characters(text: &str) -> Result<(), UrlError> {
    let bytes = text.as_bytes();
    for (i, c) in text.char_indices() {
        if !c.is_ascii_graphic() {
            return Err(UrlError::RawCharacter(c));
        }
        if c == '%' {
            let hex = bytes.get(i + 1..i + 3);
            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                return Err(UrlError::StrayPercent);
            }
        }
    }
    Ok(())
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
}
