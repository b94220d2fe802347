//! The URL (or resource pattern) that goes into a policy, parsed once and normalized so that the
//! string that is signed is exactly the string that will be sent.
//!
//! Normalization is deliberately small: the scheme and host are lowercased (browsers send them
//! that way), an empty path becomes `/`, and spaces, non-ASCII and the other characters that may
//! not appear raw in a URL are percent-encoded (and `'` in the query, which browsers send as
//! `%27`). `%XX` sequences are kept exactly as given, so an
//! already-encoded URL is never encoded twice. Anything ambiguous is refused instead of guessed.
//!
//! (Over 300 lines: the last 140 are its tests, kept beside the normalizer they pin down.)

use crate::error::InputError;

/// Query parameter names that CloudFront reserves for signing.
pub const SIGNING_PARAMS: [&str; 5] = [
    "Expires",
    "Policy",
    "Signature",
    "Key-Pair-Id",
    "Hash-Algorithm",
];

/// Longest URL accepted, in bytes after normalization (CloudFront's own request-URL limit).
pub const MAX_URL_LEN: usize = 8192;

/// An absolute `http`/`https` URL that is safe to sign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignableUrl {
    text: String,
}

impl SignableUrl {
    /// Parses and normalizes `input`; see the module documentation for the rules.
    pub fn parse(input: &str) -> Result<Self, InputError> {
        let text = normalize(input, Mode::Url)?;
        let url = SignableUrl { text };
        if let Some(query) = url.query() {
            if query.is_empty() {
                return Err(InputError::EmptyQuery);
            }
            for pair in query.split('&') {
                let name = pair.split('=').next().unwrap_or_default();
                let decoded = percent_decode(name);
                if let Some(reserved) = SIGNING_PARAMS.iter().find(|p| **p == decoded) {
                    return Err(InputError::ReservedParameter(reserved));
                }
            }
        }
        Ok(url)
    }

    /// Wraps a string that this module produced before (for example a URL with its signing
    /// parameters removed); used by the verifier, which must not re-normalize what it received.
    pub(crate) fn from_normalized(text: String) -> Self {
        SignableUrl { text }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The query string without its leading `?`, if the URL has one.
    pub fn query(&self) -> Option<&str> {
        let after_authority = self.text.find("://").map_or(0, |i| i + 3);
        let path_start = self.text[after_authority..]
            .find('/')
            .map_or(self.text.len(), |i| after_authority + i);
        self.text[path_start..]
            .find('?')
            .map(|i| &self.text[path_start + i + 1..])
    }

    /// True when the URL contains a character a policy would read as a wildcard (`*`).
    pub(crate) fn has_wildcard(&self) -> bool {
        self.text.contains('*')
    }
}

impl std::fmt::Display for SignableUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// A custom-policy `Resource`: a URL in which `*` matches any run of characters and `?` exactly
/// one, each within its own part of the URL (scheme, host, path and query).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourcePattern {
    text: String,
}

impl ResourcePattern {
    pub fn parse(input: &str) -> Result<Self, InputError> {
        Ok(ResourcePattern {
            text: normalize(input, Mode::Pattern)?,
        })
    }

    /// A pattern that matches exactly one URL: the URL itself (as a canned policy does).
    pub(crate) fn exact(url: &SignableUrl) -> Self {
        ResourcePattern {
            text: url.text.clone(),
        }
    }

    /// Wraps a pattern read from a received policy, which must be matched as it is.
    pub(crate) fn from_policy(text: String) -> Self {
        ResourcePattern { text }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `url` is covered by this pattern, as CloudFront decides it.
    pub fn matches(&self, url: &SignableUrl) -> bool {
        crate::pattern::matches(&self.text, &url.text)
    }
}

impl std::fmt::Display for ResourcePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Url,
    Pattern,
}

fn normalize(input: &str, mode: Mode) -> Result<String, InputError> {
    if let Some(c) = input.chars().find(|c| c.is_control()) {
        return Err(InputError::ControlCharacter(c as u32));
    }
    let (scheme, rest) = input.split_once("://").ok_or(InputError::NotAbsolute)?;
    let scheme = scheme.to_ascii_lowercase();
    match mode {
        Mode::Url if scheme == "http" || scheme == "https" => {}
        Mode::Pattern
            if !scheme.is_empty()
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'*' || b == b'?')
                && (crate::pattern::glob(&scheme, "http")
                    || crate::pattern::glob(&scheme, "https")) => {}
        _ => return Err(InputError::Scheme(scheme)),
    }
    let ends_authority: &[char] = match mode {
        Mode::Url => &['/', '?', '#'],
        Mode::Pattern => &['/', '#'],
    };
    let split = rest.find(ends_authority).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let host = normalize_authority(authority, mode)?;
    let path = normalize_path(path, mode)?;

    let mut out = String::with_capacity(input.len() + 8);
    out.push_str(&scheme);
    out.push_str("://");
    out.push_str(&host);
    if mode == Mode::Url && !path.starts_with('/') {
        out.push('/');
    }
    out.push_str(&path);
    if out.len() > MAX_URL_LEN {
        return Err(InputError::TooLong(MAX_URL_LEN));
    }
    Ok(out)
}

fn normalize_authority(authority: &str, mode: Mode) -> Result<String, InputError> {
    if authority.is_empty() {
        return Err(InputError::MissingHost);
    }
    if authority.contains('@') {
        return Err(InputError::UserInfo);
    }
    if !authority.is_ascii() {
        return Err(InputError::NonAsciiHost);
    }
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']').ok_or(InputError::BadHost)?;
        let (h, p) = authority.split_at(end + 1);
        let inner = &h[1..h.len() - 1];
        if inner.is_empty()
            || !inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(InputError::BadHost);
        }
        (h, p)
    } else {
        match authority.find(':') {
            Some(i) => authority.split_at(i),
            None => (authority, ""),
        }
    };
    let wildcard = |b: u8| mode == Mode::Pattern && (b == b'*' || b == b'?');
    if !host.starts_with('[')
        && (host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || wildcard(b)))
    {
        return Err(InputError::BadHost);
    }
    if let Some(digits) = port.strip_prefix(':') {
        let ok = !digits.is_empty()
            && digits.len() <= 5
            && digits.bytes().all(|b| b.is_ascii_digit() || wildcard(b));
        if !ok {
            return Err(InputError::BadPort);
        }
    } else if !port.is_empty() {
        return Err(InputError::BadHost);
    }
    Ok(authority.to_ascii_lowercase())
}

/// Percent-encodes what may not appear raw, keeps valid `%XX` escapes, refuses fragments and
/// stray `%`.
fn normalize_path(path: &str, mode: Mode) -> Result<String, InputError> {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    let mut in_query = false;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'#' => return Err(InputError::Fragment),
            // In a pattern, `?` is a wildcard, not the start of a query.
            b'?' => {
                in_query = mode == Mode::Url;
                out.push('?');
            }
            // Browsers send a `'` in the query of an http(s) URL as %27 (and keep it raw in the
            // path): sign what they will send.
            b'\'' if in_query => push_escaped(&mut out, b),
            b'%' => {
                let valid = bytes.len() > i + 2
                    && bytes[i + 1].is_ascii_hexdigit()
                    && bytes[i + 2].is_ascii_hexdigit();
                if !valid {
                    return Err(InputError::StrayPercent);
                }
                out.push_str(&path[i..i + 3]);
                i += 3;
                continue;
            }
            b' ' | b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}' => {
                push_escaped(&mut out, b)
            }
            0x80..=0xff => push_escaped(&mut out, b),
            _ => out.push(b as char),
        }
        i += 1;
    }
    Ok(out)
}

fn push_escaped(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(HEX[usize::from(b >> 4)] as char);
    out.push(HEX[usize::from(b & 0xf)] as char);
}

/// Decodes `%XX` escapes (used only to compare parameter names); invalid escapes stay literal.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Result<String, InputError> {
        SignableUrl::parse(s).map(|u| u.as_str().to_owned())
    }

    #[test]
    fn keeps_a_plain_url_byte_for_byte() {
        let s = "https://d111111abcdef8.cloudfront.net/images/cat.jpg?size=large&v=2";
        assert_eq!(url(s).unwrap(), s);
    }

    #[test]
    fn encodes_spaces_and_non_ascii_once() {
        let raw = "https://d111111abcdef8.cloudfront.net/media/My Holiday été.mp4";
        let encoded =
            "https://d111111abcdef8.cloudfront.net/media/My%20Holiday%20%C3%A9t%C3%A9.mp4";
        assert_eq!(url(raw).unwrap(), encoded);
        assert_eq!(
            url(encoded).unwrap(),
            encoded,
            "already encoded stays as it is"
        );
        assert_eq!(url(&url(raw).unwrap()).unwrap(), encoded, "idempotent");
        assert_eq!(
            url("https://h.example/a b?q=x y").unwrap(),
            "https://h.example/a%20b?q=x%20y"
        );
    }

    #[test]
    fn a_quote_in_the_query_is_signed_as_browsers_send_it() {
        assert_eq!(
            url("https://d.example/it's.pdf?name=it's").unwrap(),
            "https://d.example/it's.pdf?name=it%27s"
        );
        assert_eq!(
            url("https://d.example/a?x=%27").unwrap(),
            "https://d.example/a?x=%27",
            "an escape is never encoded twice"
        );
    }

    #[test]
    fn lowercases_scheme_and_host_and_adds_root_path() {
        assert_eq!(
            url("HTTPS://Media.Example.COM").unwrap(),
            "https://media.example.com/"
        );
        assert_eq!(
            url("http://h.example:8080/A").unwrap(),
            "http://h.example:8080/A"
        );
        assert_eq!(
            url("https://h.example?a=1").unwrap(),
            "https://h.example/?a=1"
        );
    }

    #[test]
    fn refuses_what_cannot_be_signed_safely() {
        assert_eq!(url("/relative/path"), Err(InputError::NotAbsolute));
        assert_eq!(
            url("ftp://h.example/x"),
            Err(InputError::Scheme("ftp".into()))
        );
        assert_eq!(url("https://h.example/x#frag"), Err(InputError::Fragment));
        assert_eq!(url("https://h.example/x?y#"), Err(InputError::Fragment));
        assert_eq!(url("https:///x"), Err(InputError::MissingHost));
        assert_eq!(
            url("https://user:pw@h.example/x"),
            Err(InputError::UserInfo)
        );
        assert_eq!(
            url("https://bücher.example/x"),
            Err(InputError::NonAsciiHost)
        );
        assert_eq!(url("https://h_x.example/x"), Err(InputError::BadHost));
        assert_eq!(url("https://h.example:port/x"), Err(InputError::BadPort));
        assert_eq!(url("https://h.example/100%"), Err(InputError::StrayPercent));
        assert_eq!(url("https://h.example/%zz"), Err(InputError::StrayPercent));
        assert_eq!(
            url("https://h.example/a\nb"),
            Err(InputError::ControlCharacter(10))
        );
        assert_eq!(
            url("https://h.example/a\0b"),
            Err(InputError::ControlCharacter(0))
        );
        assert_eq!(url("https://h.example/a?"), Err(InputError::EmptyQuery));
        let long = format!("https://h.example/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(url(&long), Err(InputError::TooLong(MAX_URL_LEN)));
    }

    #[test]
    fn refuses_every_signing_parameter_even_encoded() {
        for name in SIGNING_PARAMS {
            let s = format!("https://h.example/x?a=1&{name}=2");
            assert_eq!(url(&s), Err(InputError::ReservedParameter(name)), "{s}");
        }
        assert_eq!(
            url("https://h.example/x?%45xpires=1"),
            Err(InputError::ReservedParameter("Expires"))
        );
        // Other names, including differently cased ones, are the URL's own business.
        assert!(url("https://h.example/x?expires=1&signature=2").is_ok());
    }

    #[test]
    fn accepts_ipv6_literal_hosts() {
        assert_eq!(url("http://[::1]:8080/a").unwrap(), "http://[::1]:8080/a");
        assert_eq!(url("http://[zz]/a"), Err(InputError::BadHost));
    }

    #[test]
    fn patterns_keep_wildcards_and_refuse_other_schemes() {
        let p = ResourcePattern::parse("https://d111111abcdef8.cloudfront.net/hls/123/*").unwrap();
        assert_eq!(
            p.as_str(),
            "https://d111111abcdef8.cloudfront.net/hls/123/*"
        );
        assert!(ResourcePattern::parse("http*://*.example.com/a?c/*").is_ok());
        assert_eq!(
            ResourcePattern::parse("ftp://h/*"),
            Err(InputError::Scheme("ftp".into()))
        );
        assert_eq!(ResourcePattern::parse("*"), Err(InputError::NotAbsolute));
    }

    #[test]
    fn percent_decode_handles_edges() {
        assert_eq!(percent_decode("%45xpires"), "Expires");
        assert_eq!(percent_decode("a%"), "a%");
        assert_eq!(percent_decode("a%4"), "a%4");
        assert_eq!(percent_decode("%4g"), "%4g");
    }
}
