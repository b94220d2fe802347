//! The request values nginx computes before `secure_link` runs, reproduced byte for byte:
//! `$uri`, `$remote_addr`, `$arg_<name>`, `$cookie_<name>`, and the module's own parsing of
//! `hash[,expires]`.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv6Addr};

use crate::encoding::decode_b64url_any;

/// `$uri` for a raw path: percent-decoded; `None` where nginx would normalize it first (dot
/// segments, `//`, an encoded `/` or NUL), so that a signer never guesses nginx's rewriting.
pub(crate) fn nginx_uri(path: &str) -> Option<Cow<'_, [u8]>> {
    if !path.starts_with('/') {
        return None;
    }
    // Without a `%` the path is its own decoded form (no `%2F` or `%00` can hide in it): one
    // pass over its segments, nothing copied.
    if !path.contains('%') {
        return plain_segments(path.as_bytes()).then_some(Cow::Borrowed(path.as_bytes()));
    }
    if path.contains("//") {
        return None;
    }
    let lower = path.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%00") {
        return None;
    }
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(path).collect();
    // Dot segments and empty ones, after decoding (bytes: a segment of dots is ASCII, and no
    // invalid UTF-8 sequence can read as `.` or `/`).
    plain_segments(&decoded).then_some(Cow::Owned(decoded))
}

/// True when no segment of `path` (which starts with `/`) is `.`, `..` or empty, but the
/// last, which is empty after a trailing `/`. One pass, counting each segment's bytes and dots.
fn plain_segments(path: &[u8]) -> bool {
    let dot_segment = |len: usize, dots: usize| len > 0 && len <= 2 && dots == len;
    let (mut len, mut dots) = (0, 0);
    for &b in path.get(1..).unwrap_or_default() {
        if b == b'/' {
            if len == 0 || dot_segment(len, dots) {
                return false;
            }
            (len, dots) = (0, 0);
        } else {
            len += 1;
            dots += usize::from(b == b'.');
        }
    }
    !dot_segment(len, dots)
}

/// `$remote_addr` as nginx prints it (`ngx_sock_ntop`). An IPv4-mapped address is read as
/// the IPv4 address it maps, as nginx sees a client on an IPv4 listener.
pub(crate) fn nginx_addr(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            // Digit by digit: `Ipv4Addr`'s `Display` pads through the formatter, several
            // times the work on every signed link.
            let mut text = String::with_capacity(15);
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    text.push('.');
                }
                text.push_str(itoa::Buffer::new().format(octet));
            }
            text
        }
        IpAddr::V6(v6) => inet6_ntop(v6),
    }
}

/// `ngx_inet6_ntop`: the longest run of two or more zero groups (the first of equal runs)
/// becomes `::`, groups in lowercase hex; `::a.b.c.d` and `::ffff:a.b.c.d` keep the dotted
/// IPv4 tail, as does `::X` for one non-zero last group whose low byte is not 1 — nginx's own
/// reading of the IPv4-compatible form.
fn inet6_ntop(ip: Ipv6Addr) -> String {
    let p = ip.octets();
    let (mut zero, mut max, mut run, mut last) = (usize::MAX, 1, 0, usize::MAX);
    for i in (0..16).step_by(2) {
        if p[i] != 0 || p[i + 1] != 0 {
            if max < run {
                zero = last;
                max = run;
            }
            run = 0;
            continue;
        }
        if run == 0 {
            last = i;
        }
        run += 1;
    }
    if max < run {
        zero = last;
        max = run;
    }
    let mut out = String::new();
    let mut n = 16;
    if zero == 0 {
        if (max == 5 && p[10] == 0xff && p[11] == 0xff)
            || max == 6
            || (max == 7 && p[14] != 0 && p[15] != 1)
        {
            n = 12;
        }
        out.push(':');
    }
    let mut i = 0;
    while i < n {
        if i == zero {
            out.push(':');
            i += max * 2;
            continue;
        }
        out.push_str(&format!("{:x}", u16::from_be_bytes([p[i], p[i + 1]])));
        if i < 14 {
            out.push(':');
        }
        i += 2;
    }
    if n == 12 {
        out.push_str(&format!("{}.{}.{}.{}", p[12], p[13], p[14], p[15]));
    }
    out
}

/// `$arg_<name>` (`ngx_http_arg`): the first `name=value` of the raw query, the name compared
/// ignoring ASCII case, the value not decoded. A bare `name` without `=` does not count.
pub(crate) fn nginx_arg<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?.split('&').find_map(|pair| {
        let (n, v) = pair.split_once('=')?;
        n.eq_ignore_ascii_case(name).then_some(v)
    })
}

/// `$cookie_<name>`: the first cookie of that name, compared ignoring ASCII case.
pub(crate) fn nginx_cookie<'a>(cookies: &[(&'a str, &'a str)], name: &str) -> Option<&'a str> {
    cookies
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
}

/// `ngx_atotm`: decimal digits only, at least one, no overflow of `time_t`.
pub(crate) fn atotm(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i64>().ok().and_then(|v| u64::try_from(v).ok())
}

/// The 16 hash bytes of the `secure_link` value's first part: at most 24 characters of
/// base64url, padding optional. (nginx also ignores the unused low bits of the last
/// character; this reading refuses a non-canonical last character instead, which only a
/// tampered link has.)
pub(crate) fn decode_hash(text: &str) -> Option<Vec<u8>> {
    if text.len() > 24 {
        return None;
    }
    decode_b64url_any(text).filter(|h| h.len() == 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first, plainer reading of `$uri` (lowercased copy, decoded, read as text), kept here
    /// as the reference the faster one must agree with.
    fn nginx_uri_reference(path: &str) -> Option<Vec<u8>> {
        let lower = path.to_ascii_lowercase();
        if !path.starts_with('/')
            || path.contains("//")
            || lower.contains("%2f")
            || lower.contains("%00")
        {
            return None;
        }
        let decoded: Vec<u8> = percent_encoding::percent_decode_str(path).collect();
        let text = String::from_utf8_lossy(&decoded);
        if text.split('/').any(|seg| seg == "." || seg == "..") || text.contains("//") {
            return None;
        }
        Some(decoded)
    }

    proptest::proptest! {
        #[test]
        fn the_uri_is_read_as_the_reference_reads_it(path in "/(/|a|\\.|%|2|f|F|0|e|E|C|3|A|9|%2[eEfF]|%00|%C3%A9|%FF|~)*") {
            proptest::prop_assert_eq!(nginx_uri(&path).map(Cow::into_owned), nginx_uri_reference(&path));
        }

        #[test]
        fn ipv4_is_printed_as_dotted_decimal(octets in proptest::array::uniform4(proptest::num::u8::ANY)) {
            let ip = std::net::Ipv4Addr::from(octets);
            proptest::prop_assert_eq!(nginx_addr(IpAddr::V4(ip)), ip.to_string());
            proptest::prop_assert_eq!(nginx_addr(IpAddr::V6(ip.to_ipv6_mapped())), ip.to_string());
        }
    }

    #[test]
    fn ipv6_is_printed_as_nginx_prints_it() {
        for (ip, nginx) in [
            ("2001:db8::1", "2001:db8::1"),
            ("2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"),
            ("2001:0:0:1:0:0:1:1", "2001::1:0:0:1:1"),
            ("1::", "1::"),
            ("::", "::"),
            ("::1", "::1"),
            ("::1.2.3.4", "::1.2.3.4"),
            ("::abcd", "::0.0.171.205"),
            ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
            ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),
            ("fe80::aBcD:1", "fe80::abcd:1"),
        ] {
            assert_eq!(inet6_ntop(ip.parse().unwrap()), nginx, "{ip}");
        }
        assert_eq!(nginx_addr("::ffff:192.0.2.1".parse().unwrap()), "192.0.2.1");
        assert_eq!(nginx_addr("192.0.2.1".parse().unwrap()), "192.0.2.1");
    }

    #[test]
    fn args_and_cookies_are_read_as_nginx_reads_them() {
        assert_eq!(nginx_arg(Some("a=1&MD5=x&md5=y"), "md5"), Some("x"));
        assert_eq!(nginx_arg(Some("md5&md5=y"), "md5"), Some("y"));
        assert_eq!(nginx_arg(Some("xmd5=1"), "md5"), None);
        assert_eq!(nginx_arg(Some("md5=a%20b"), "md5"), Some("a%20b"));
        assert_eq!(nginx_arg(None, "md5"), None);
        assert_eq!(nginx_cookie(&[("SL", "1"), ("sl", "2")], "sl"), Some("1"));
    }

    #[test]
    fn expiry_and_hash_are_parsed_as_the_module_does() {
        assert_eq!(atotm("0042"), Some(42));
        assert_eq!(atotm(""), None);
        assert_eq!(atotm("+1"), None);
        assert_eq!(atotm("9223372036854775807"), Some(i64::MAX as u64));
        assert_eq!(atotm("9223372036854775808"), None);
        assert!(decode_hash("_e4Nc3iduzkWRm01TBBNYw").is_some());
        assert!(decode_hash("_e4Nc3iduzkWRm01TBBNYw==").is_some());
        assert!(decode_hash("_e4Nc3iduzkWRm01TBBN").is_none());
        assert!(decode_hash("_e4Nc3iduzkWRm01TBBNYw====").is_none());
    }
}
