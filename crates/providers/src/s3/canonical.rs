//! SigV4's canonical forms for S3: the URI and the query encoded byte by byte (every byte but
//! `A-Z a-z 0-9 - . _ ~` as `%XX`, uppercase hex; `/` kept in the path), the query sorted, the
//! `host` header as the client sends it.
//!
//! The signer only accepts URLs already written in that form, so the bytes it signs are the bytes
//! it hands out and every server reads them the same way (S3 and its clones decode the request
//! and encode it again; an `(` written raw or `%7E` for `~` would be signed one way and checked
//! another). The verifier, like those servers, decodes and encodes again.

/// RFC 3986 unreserved: the bytes SigV4 never escapes.
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Appends `bytes` percent-encoded the SigV4 way (`/` kept when `keep_slash`).
pub fn encode(out: &mut String, bytes: &[u8], keep_slash: bool) {
    crate::encoding::push_unreserved_encoded(out, bytes, keep_slash)
}

/// `bytes` percent-encoded the SigV4 way.
pub fn encoded(bytes: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    encode(&mut out, bytes, keep_slash);
    out
}

/// Why `text` (from a URL that parsed: every `%` starts an escape) is not in canonical form, or
/// `None` when it is.
pub fn non_canonical(text: &str, keep_slash: bool) -> Option<String> {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            c if unreserved(c) || (keep_slash && c == b'/') => i += 1,
            b'%' => {
                let escape = match text.get(i..i + 3) {
                    Some(e) if e[1..].bytes().all(|h| h.is_ascii_hexdigit()) => e,
                    _ => return Some("'%' must start a %XX escape".to_owned()),
                };
                if escape[1..].bytes().any(|h| h.is_ascii_lowercase()) {
                    return Some(format!("{escape}: write escapes in uppercase hex"));
                }
                let byte = u8::from_str_radix(&escape[1..], 16).unwrap_or(0);
                if unreserved(byte) || (keep_slash && byte == b'/') {
                    return Some(format!(
                        "{escape} escapes {:?}, which is written as it is",
                        byte as char
                    ));
                }
                i += 3;
            }
            c => {
                return Some(format!(
                    "{:?} must be written %{c:02X}",
                    text[i..].chars().next().unwrap_or('?')
                ))
            }
        }
    }
    None
}

/// Percent-decodes `text` (`+` as a space when `plus_is_space`, as servers read a query); `None`
/// for a stray `%`.
pub fn decode(text: &str, plus_is_space: bool) -> Option<Vec<u8>> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(out)
}

/// The `host` header a client sends for `origin` (`scheme://authority`): the authority without
/// the scheme's default port.
pub fn host(origin: &str) -> &str {
    let (scheme, authority) = origin.split_once("://").unwrap_or(("", origin));
    let default = if scheme == "https" { ":443" } else { ":80" };
    authority.strip_suffix(default).unwrap_or(authority)
}

/// The canonical request of a presigned URL (signed header `host`, payload unsigned), with
/// `query` (encoded name and value pairs, the signature excluded) sorted here.
pub fn request<S: AsRef<str> + Ord>(
    method: &str,
    uri: &str,
    query: &mut [(S, S)],
    host: &str,
) -> String {
    query.sort_unstable();
    let mut out = String::with_capacity(256 + uri.len());
    out.push_str(method);
    out.push('\n');
    out.push_str(uri);
    out.push('\n');
    for (i, (name, value)) in query.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name.as_ref());
        out.push('=');
        out.push_str(value.as_ref());
    }
    out.push_str("\nhost:");
    out.push_str(host);
    out.push_str("\n\nhost\nUNSIGNED-PAYLOAD");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_escapes_all_but_unreserved() {
        assert_eq!(encoded(b"a b+c/d~e", false), "a%20b%2Bc%2Fd~e");
        assert_eq!(encoded("café/x".as_bytes(), true), "caf%C3%A9/x");
    }

    #[test]
    fn canonical_spellings_are_told_apart() {
        assert_eq!(non_canonical("/a%20b/caf%C3%A9~", true), None);
        assert!(non_canonical("/a(1)", true).unwrap().contains("%28"));
        assert!(non_canonical("/a%c3%a9", true)
            .unwrap()
            .contains("uppercase"));
        assert!(non_canonical("/%7E", true).unwrap().contains("'~'"));
        assert!(non_canonical("/a%2Fb", true).unwrap().contains("'/'"));
        assert_eq!(non_canonical("a%2Fb", false), None);
        assert!(non_canonical("a/b", false).is_some());
    }

    #[test]
    fn decoding_reads_plus_as_a_space_in_queries_only() {
        assert_eq!(decode("a+b%2B", true).unwrap(), b"a b+");
        assert_eq!(decode("a+b", false).unwrap(), b"a+b");
        assert_eq!(decode("a%2", false), None);
        assert_eq!(decode("a%zz", false), None);
    }

    #[test]
    fn the_default_port_is_not_part_of_the_host() {
        assert_eq!(host("https://b.s3.amazonaws.com:443"), "b.s3.amazonaws.com");
        assert_eq!(host("http://127.0.0.1:80"), "127.0.0.1");
        assert_eq!(host("http://127.0.0.1:9000"), "127.0.0.1:9000");
        assert_eq!(host("https://h:80"), "h:80");
    }
}
