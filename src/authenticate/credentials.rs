//! Pulling a credential out of the request headers, defensively: one Authorization header at
//! most, a bounded size, and only the characters a token can contain.

use http::header::{AUTHORIZATION, COOKIE};
use http::HeaderMap;

/// Longest token accepted (bytes). Real tokens are a few hundred bytes to a few KiB.
pub const MAX_TOKEN_BYTES: usize = 8192;

/// A credential as found, or why what was found cannot be one: `T` is the token, as sent
/// (`&[u8]`, from [`sent_credential`]) or checked (`&str`, from [`check_token`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Found<T> {
    None,
    Token(T),
    Malformed,
}

/// A bearer token from `Authorization: Bearer`, else from the cookie `cookie_name`, as sent:
/// its characters and size are not checked yet ([`check_token`]), so that it can first be
/// looked up among tokens verified earlier, which were checked before they were stored (an
/// exact match needs no second check).
pub fn sent_credential<'a>(headers: &'a HeaderMap, cookie_name: Option<&str>) -> Found<&'a [u8]> {
    let mut auth = headers.get_all(AUTHORIZATION).iter();
    if let Some(value) = auth.next() {
        if auth.next().is_some() {
            return Found::Malformed;
        }
        let value = value.as_bytes();
        let Some(space) = value.iter().position(|&b| b == b' ') else {
            return Found::Malformed;
        };
        if !value[..space].eq_ignore_ascii_case(b"bearer") {
            if !value
                .iter()
                .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b))
            {
                return Found::Malformed;
            }
            // Another scheme (Basic, say) is not ours to judge; look at cookies.
            return cookie(headers, cookie_name);
        }
        let token = &value[space + 1..];
        let start = token.iter().position(|&b| b != b' ').unwrap_or(token.len());
        let end = token
            .iter()
            .rposition(|&b| b != b' ')
            .map_or(start, |i| i + 1);
        return Found::Token(&token[start..end]);
    }
    cookie(headers, cookie_name)
}

fn cookie<'a>(headers: &'a HeaderMap, cookie_name: Option<&str>) -> Found<&'a [u8]> {
    let Some(name) = cookie_name else {
        return Found::None;
    };
    match find_cookie(headers, name) {
        CookieLookup::Absent => Found::None,
        CookieLookup::Ambiguous => Found::Malformed,
        CookieLookup::Value(v) => Found::Token(v.as_bytes()),
    }
}

pub enum CookieLookup<'a> {
    Absent,
    /// The cookie appears more than once (possibly planted for another path): refuse to guess.
    Ambiguous,
    Value(&'a str),
}

/// Finds one cookie across all `Cookie` headers. Other cookies are skipped whatever bytes they
/// hold (a site's `lang=français` must not hide the session cookie); the one asked for must be
/// visible ASCII, or it is refused as ambiguous rather than guessed at.
pub fn find_cookie<'a>(headers: &'a HeaderMap, name: &str) -> CookieLookup<'a> {
    let mut found = None;
    for header in headers.get_all(COOKIE) {
        for pair in header.as_bytes().split(|&b| b == b';') {
            let pair = pair.trim_ascii_start();
            let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                continue;
            };
            if &pair[..eq] != name.as_bytes() {
                continue;
            }
            if found.is_some() {
                return CookieLookup::Ambiguous;
            }
            let value = &pair[eq + 1..];
            if !value.iter().all(|b| b.is_ascii_graphic()) {
                return CookieLookup::Ambiguous;
            }
            let Ok(value) = std::str::from_utf8(value) else {
                return CookieLookup::Ambiguous;
            };
            found = Some(value.trim_matches('"'));
        }
    }
    found.map_or(CookieLookup::Absent, CookieLookup::Value)
}

/// The bytes a token may hold: base64url and base64 (JWTs and opaque tokens), `.` and `=`.
/// Whether `b` may appear in a token: ASCII letters and digits, `-`, `_`, `.` (JWT's base64url
/// and separators), `=`, `+` and `/` (padded and standard base64 of opaque tokens). Written as
/// comparisons, without a branch or a table, so a run of bytes is checked in vector registers.
#[inline(always)]
fn token_byte(b: u8) -> bool {
    let letter = (b | 0x20).wrapping_sub(b'a') < 26;
    let digit = b.wrapping_sub(b'0') < 10;
    let dash_dot_slash = b.wrapping_sub(b'-') < 3;
    letter | digit | dash_dot_slash | (b == b'_') | (b == b'=') | (b == b'+')
}

/// Every byte of `bytes` a token byte, 16 at a time (one SSE2 register; this runs on every
/// request whose token is not remembered, over a few hundred bytes: 2 instructions a byte
/// against 3.5 by table).
fn token_bytes(bytes: &[u8]) -> bool {
    let all = |chunk: &[u8]| chunk.iter().fold(true, |ok, &b| ok & token_byte(b));
    let mut chunks = bytes.chunks_exact(16);
    chunks.by_ref().all(all) && all(chunks.remainder())
}

/// `token` as a token's text, if it has the size and characters a token may have.
pub fn check_token(token: &[u8]) -> Found<&str> {
    if token.is_empty() || token.len() > MAX_TOKEN_BYTES || !token_bytes(token) {
        return Found::Malformed;
    }
    // Token bytes are ASCII, so this cannot fail; it is what turns them into text safely.
    match std::str::from_utf8(token) {
        Ok(token) => Found::Token(token),
        Err(_) => Found::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    /// The token a request carries, as the JWT authenticator reads it on a cache miss.
    fn bearer_or_cookie<'a>(headers: &'a HeaderMap, cookie_name: Option<&str>) -> Found<&'a str> {
        match sent_credential(headers, cookie_name) {
            Found::Token(sent) => check_token(sent),
            Found::None => Found::None,
            Found::Malformed => Found::Malformed,
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn token_bytes_are_exactly_base64_and_jwt_characters() {
        for b in 0..=255u8 {
            let allowed =
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'=' | b'+' | b'/');
            assert_eq!(token_byte(b), allowed, "byte {b:#04x}");
            // At every position of a run longer than one chunk, and in the remainder.
            for at in [0, 15, 16, 31, 32, 63, 64, 70] {
                let mut token = vec![b'a'; 71];
                token[at] = b;
                assert_eq!(token_bytes(&token), allowed, "byte {b:#04x} at {at}");
            }
        }
    }

    #[test]
    fn bearer_header_wins_over_cookie() {
        let h = headers(&[("authorization", "Bearer abc.def.ghi"), ("cookie", "t=zzz")]);
        assert_eq!(bearer_or_cookie(&h, Some("t")), Found::Token("abc.def.ghi"));
        let h = headers(&[("authorization", "bearer abc")]);
        assert_eq!(bearer_or_cookie(&h, None), Found::Token("abc"));
    }

    #[test]
    fn a_non_ascii_byte_in_another_cookie_does_not_hide_ours() {
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            HeaderValue::from_bytes("lang=fran\u{e7}ais; t=tok.en.x".as_bytes()).unwrap(),
        );
        assert_eq!(bearer_or_cookie(&h, Some("t")), Found::Token("tok.en.x"));
        assert!(matches!(
            find_cookie(&h, "t"),
            CookieLookup::Value("tok.en.x")
        ));
        // Our own cookie with such a byte is refused, never guessed at.
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            HeaderValue::from_bytes("t=tok\u{e7}en".as_bytes()).unwrap(),
        );
        assert!(matches!(find_cookie(&h, "t"), CookieLookup::Ambiguous));
        assert_eq!(bearer_or_cookie(&h, Some("t")), Found::Malformed);
    }

    #[test]
    fn cookie_is_used_when_no_bearer() {
        let h = headers(&[("cookie", "a=1; t=tok.en.x; b=2")]);
        assert_eq!(bearer_or_cookie(&h, Some("t")), Found::Token("tok.en.x"));
        assert_eq!(bearer_or_cookie(&h, None), Found::None);
        let h = headers(&[("authorization", "Basic dXNlcjpwdw=="), ("cookie", "t=tok")]);
        assert_eq!(bearer_or_cookie(&h, Some("t")), Found::Token("tok"));
    }

    #[test]
    fn malformed_credentials_are_not_ignored() {
        for h in [
            headers(&[("authorization", "Bearer a"), ("authorization", "Bearer b")]),
            headers(&[("authorization", "Bearer")]),
            headers(&[("authorization", "Bearer a b")]),
            headers(&[("authorization", "Bearer a<script>")]),
            headers(&[("cookie", "t=1"), ("cookie", "t=2")]),
            headers(&[("cookie", "t=1; t=2")]),
            headers(&[("cookie", "t=")]),
        ] {
            assert_eq!(bearer_or_cookie(&h, Some("t")), Found::Malformed, "{h:?}");
        }
        let long = format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES + 1));
        assert_eq!(
            bearer_or_cookie(&headers(&[("authorization", &long)]), None),
            Found::Malformed
        );
        let mut h = HeaderMap::new();
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
        );
        assert_eq!(bearer_or_cookie(&h, None), Found::Malformed);
    }
}
