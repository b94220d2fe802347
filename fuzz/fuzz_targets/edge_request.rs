//! The local edge's request checks (`signgate edge`), on hostile input: never panic, and what
//! they accept is unambiguous.
//!
//! - A path `check_path` accepts decodes, segment by segment, to names holding no `/`, `\`, `%`,
//!   `?`, `#` or control character and no `.`/`..` segment: decoding it once or twice, or
//!   splitting before or after decoding, names the same file.
//! - A base URL that parses prints a form that parses back to itself.
//! - A Host header is accepted only when it names the base URL's host and port.
//!
//! Input: `BASE\nHOST\nPATH`.
#![no_main]
use http::{header, HeaderMap, HeaderValue, Uri};
use libfuzzer_sys::fuzz_target;
use signgate::edge::{check_path, check_request_authority, BaseUrl};

fn decode(segment: &str) -> Option<Vec<u8>> {
    let bytes = segment.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.splitn(3, '\n');
    let base_text = parts.next().unwrap_or_default();
    let host = parts.next().unwrap_or_default();
    let path = parts.next().unwrap_or_default();

    if check_path(path).is_ok() {
        let rest = path.strip_prefix('/').expect("an accepted path is absolute");
        let segments: Vec<&str> = rest.split('/').collect();
        for (i, segment) in segments.iter().enumerate() {
            assert!(!segment.is_empty() || i + 1 == segments.len(), "empty segment in {path:?}");
            let decoded = decode(segment).unwrap_or_else(|| panic!("bad escape accepted: {path:?}"));
            let name = std::str::from_utf8(&decoded).unwrap_or_else(|_| panic!("not UTF-8: {path:?}"));
            assert!(
                !name.chars().any(|c| matches!(c, '/' | '\\' | '%' | '?' | '#') || c.is_control()),
                "a separator, escape or control character decoded from {path:?}"
            );
            let name = name.split(';').next().unwrap_or_default();
            assert!(name != "." && name != "..", "dot segment accepted: {path:?}");
        }
    }

    let Ok(base) = base_text.parse::<BaseUrl>() else { return };
    let printed = base.to_string();
    let again: BaseUrl = printed.parse().expect("a printed base URL parses");
    assert_eq!(again, base, "{base_text:?} printed as {printed:?}");

    let Ok(value) = HeaderValue::from_str(host) else { return };
    let mut headers = HeaderMap::new();
    headers.insert(header::HOST, value);
    let uri = Uri::from_static("/a");
    if check_request_authority(&base, &uri, &headers).is_ok() {
        assert!(
            host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)),
            "Host {host:?} with a path, user or space accepted"
        );
        let default = if printed.starts_with("https") { 443 } else { 80 };
        let (name, port) = host_and_port(host).unwrap_or_else(|| panic!("Host {host:?} accepted"));
        let (base_name, base_port) = host_and_port(printed.split_once("://").unwrap().1).unwrap();
        assert_eq!(
            (name, port.unwrap_or(default)),
            (base_name, base_port.unwrap_or(default)),
            "Host {host:?} accepted for {printed:?}"
        );
    }
});

/// The host (lowercase; an IPv6 address in its shortest form) and the port, read independently
/// of the edge's own parser.
fn host_and_port(text: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = match text.strip_prefix('[') {
        Some(rest) => {
            let (inner, after) = rest.split_once(']')?;
            (inner.parse::<std::net::Ipv6Addr>().ok()?.to_string(), after)
        }
        None => {
            let at = text.find(':').unwrap_or(text.len());
            (text[..at].to_ascii_lowercase(), &text[at..])
        }
    };
    let port = match port.strip_prefix(':') {
        None if port.is_empty() => None,
        None => return None,
        Some(digits) => Some(digits.parse().ok()?),
    };
    Some((host, port))
}
