//! The one authority an edge serves. A CloudFront distribution answers for its own domain and
//! verifies `https://` + that domain + the request path; so does this edge: the URL it verifies
//! is always its [`BaseUrl`] + the request path, never built from the `Host` header, and a request
//! naming another authority (or anything that is not an authority) is refused.
//!
//! (Over 300 lines: the last 150 are its tests, kept beside the parser they pin down.)

use std::fmt;
use std::net::{Ipv6Addr, SocketAddr};
use std::str::FromStr;

use axum::http::{header, HeaderMap, Uri};

/// A host and an optional port, parsed strictly: a DNS name or IPv4 address (ASCII letters,
/// digits, `.` and `-`, as the signer accepts them) or a bracketed IPv6 address, then `:` and
/// 1-5 digits. Anything else (`/`, `@`, `?`, `#`, whitespace, `%`, an empty port) is no
/// authority. The host is kept lowercased, so hosts compare case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Authority {
    host: String,
    port: Option<u16>,
}

impl Authority {
    fn parse(text: &str) -> Option<Authority> {
        let (host, port) = match text.strip_prefix('[') {
            Some(rest) => {
                let (inner, after) = rest.split_once(']')?;
                let ip: Ipv6Addr = inner.parse().ok()?;
                (format!("[{ip}]"), after)
            }
            None => {
                let (host, port) = text.split_at(text.find(':').unwrap_or(text.len()));
                let name = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.';
                if host.is_empty() || !host.bytes().all(name) {
                    return None;
                }
                (host.to_ascii_lowercase(), port)
            }
        };
        let port = match port {
            "" => None,
            _ => {
                let digits = port.strip_prefix(':')?;
                let ok =
                    (1..=5).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
                Some(digits.parse().ok().filter(|_| ok)?)
            }
        };
        Some(Authority { host, port })
    }
}

/// The URL viewers use for an edge: `http` or `https` and an authority, nothing else (a path
/// prefix would make the verified URL differ from the served path).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseUrl {
    https: bool,
    authority: Authority,
}

impl BaseUrl {
    /// `http://` + the address the edge listens on; refused for 0.0.0.0 and `::`, which name no
    /// host a viewer could send.
    pub fn from_listen(addr: SocketAddr) -> anyhow::Result<BaseUrl> {
        if addr.ip().is_unspecified() {
            anyhow::bail!(
                "listening on {addr}: give --base-url, the URL viewers reach this edge by \
                 (for example http://127.0.0.1:{})",
                addr.port()
            );
        }
        format!("http://{addr}")
            .parse()
            .map_err(|e: String| anyhow::anyhow!("listening on {addr}: {e}; give --base-url"))
    }

    /// Whether a request naming `authority` (a `Host` header, or the authority of an
    /// absolute-form target) is for this edge: same host, same port (an omitted port is the
    /// scheme's default).
    fn serves(&self, authority: &Authority) -> bool {
        let default = if self.https { 443 } else { 80 };
        authority.host == self.authority.host
            && authority.port.unwrap_or(default) == self.authority.port.unwrap_or(default)
    }
}

impl FromStr for BaseUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<BaseUrl, String> {
        let (scheme, rest) = text
            .split_once("://")
            .ok_or("expected http://HOST[:PORT] or https://HOST[:PORT]")?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "http" => false,
            "https" => true,
            _ => return Err(format!("scheme {scheme:?}: expected http or https")),
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        let authority = Authority::parse(authority).ok_or(
            "expected a scheme and a host only (https://media.example.com[:PORT]): no path, \
             query, fragment or user",
        )?;
        Ok(BaseUrl { https, authority })
    }
}

/// The form the signer writes: lowercase scheme and host, the port as given, no trailing `/`.
impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}", self.authority.host)?;
        match self.authority.port {
            Some(port) => write!(f, ":{port}"),
            None => Ok(()),
        }
    }
}

/// Why a request's authority was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostRefusal {
    Missing,
    Several,
    Malformed,
    NotServed,
}

impl HostRefusal {
    /// What the 400 page says (never the Host itself, which is the client's text).
    pub fn reason(self) -> &'static str {
        match self {
            HostRefusal::Missing => "The request has no Host header.",
            HostRefusal::Several => "The request has more than one Host header.",
            HostRefusal::Malformed => "The Host header is not a valid host and port.",
            HostRefusal::NotServed => "This edge does not serve the requested host.",
        }
    }
}

/// Accepts a request only when every authority it names (the one `Host` header, and the
/// authority of an absolute-form or HTTP/2 target) is `base`'s.
pub fn check_request_authority(
    base: &BaseUrl,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<(), HostRefusal> {
    let mut hosts = headers.get_all(header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(HostRefusal::Several);
    }
    let host = match host {
        Some(v) => Some(v.to_str().map_err(|_| HostRefusal::Malformed)?),
        None => None,
    };
    let named: Vec<&str> = host
        .into_iter()
        .chain(uri.authority().map(|a| a.as_str()))
        .collect();
    if named.is_empty() {
        return Err(HostRefusal::Missing);
    }
    for text in named {
        let authority = Authority::parse(text).ok_or(HostRefusal::Malformed)?;
        if !base.serves(&authority) {
            return Err(HostRefusal::NotServed);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn base(text: &str) -> BaseUrl {
        text.parse().unwrap()
    }

    fn with_host(base: &BaseUrl, host: &[u8]) -> Result<(), HostRefusal> {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_bytes(host).unwrap());
        check_request_authority(base, &Uri::from_static("/hls/alice/a.ts"), &headers)
    }

    #[test]
    fn a_base_url_is_a_scheme_and_an_authority_only() {
        assert_eq!(
            base("HTTP://Media.Example.COM/").to_string(),
            "http://media.example.com"
        );
        assert_eq!(base("https://[::1]:8443").to_string(), "https://[::1]:8443");
        assert_eq!(
            base("http://127.0.0.1:8081").to_string(),
            "http://127.0.0.1:8081"
        );
        for bad in [
            "media.example.com",
            "ftp://media.example.com",
            "http://media.example.com/prefix",
            "http://media.example.com//",
            "http://media.example.com?x",
            "http://media.example.com#x",
            "http://user@media.example.com",
            "http://media example.com",
            "http://media.example.com:",
            "http://media.example.com:123456",
            "http://media.example.com:99999",
            "http://[::1",
            "http://[zz]",
            "http://",
        ] {
            assert!(bad.parse::<BaseUrl>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_listen_address_is_the_default_base_unless_it_names_no_host() {
        let local: SocketAddr = "127.0.0.1:8081".parse().unwrap();
        assert_eq!(
            BaseUrl::from_listen(local).unwrap().to_string(),
            "http://127.0.0.1:8081"
        );
        let v6: SocketAddr = "[::1]:8081".parse().unwrap();
        assert_eq!(
            BaseUrl::from_listen(v6).unwrap().to_string(),
            "http://[::1]:8081"
        );
        for any in ["0.0.0.0:8081", "[::]:8081"] {
            let err = BaseUrl::from_listen(any.parse().unwrap()).unwrap_err();
            assert!(err.to_string().contains("--base-url"), "{err}");
        }
    }

    #[test]
    fn only_the_base_urls_authority_is_served_whatever_its_case_and_default_port() {
        let b = base("http://media.example.com");
        for ok in [
            "media.example.com",
            "MEDIA.example.Com",
            "media.example.com:80",
        ] {
            assert_eq!(with_host(&b, ok.as_bytes()), Ok(()), "{ok}");
        }
        let with_port = base("https://media.example.com:8443");
        assert_eq!(with_host(&with_port, b"Media.Example.Com:8443"), Ok(()));
        assert_eq!(
            with_host(&with_port, b"media.example.com"),
            Err(HostRefusal::NotServed)
        );
        assert_eq!(with_host(&base("http://[::1]:81"), b"[0:0::1]:81"), Ok(()));
        for other in [
            "evil.example",
            "media.example.com:81",
            "media.example.com.",
            "media.example.co",
            "media.example.com.evil.example",
        ] {
            assert_eq!(
                with_host(&b, other.as_bytes()),
                Err(HostRefusal::NotServed),
                "{other}"
            );
        }
    }

    #[test]
    fn a_host_that_is_not_an_authority_is_refused() {
        let b = base("http://media.example.com");
        for bad in [
            &b"media.example.com/hls/alice"[..],
            b"media.example.com/",
            b"media.example.com:80/users/alice",
            b"x@media.example.com",
            b"media.example.com@evil.example",
            b"media.example.com?x",
            b"media.example.com#x",
            b"media.example.com x",
            b"media.example.com\tx",
            b"media.example.com:",
            b"media.example.com:80:80",
            b"media.example.com:+80",
            b"media%2eexample.com",
            b"media.example.com\\hls",
            b"",
            b"[::1",
            b"[::1]x",
            b"media.example.\xc3\xa9",
        ] {
            assert_eq!(
                with_host(&b, bad),
                Err(HostRefusal::Malformed),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn every_authority_a_request_names_must_be_served_and_at_least_one_must_be_named() {
        let b = base("http://media.example.com");
        let none = HeaderMap::new();
        let origin_form = Uri::from_static("/a");
        assert_eq!(
            check_request_authority(&b, &origin_form, &none),
            Err(HostRefusal::Missing)
        );
        let absolute = Uri::from_static("http://media.example.com/a");
        assert_eq!(check_request_authority(&b, &absolute, &none), Ok(()));
        let elsewhere = Uri::from_static("http://evil.example/a");
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("media.example.com"));
        assert_eq!(
            check_request_authority(&b, &elsewhere, &headers),
            Err(HostRefusal::NotServed)
        );
        let userinfo = Uri::from_static("http://x@media.example.com/a");
        assert_eq!(
            check_request_authority(&b, &userinfo, &headers),
            Err(HostRefusal::Malformed)
        );
        headers.append(header::HOST, HeaderValue::from_static("media.example.com"));
        assert_eq!(
            check_request_authority(&b, &origin_form, &headers),
            Err(HostRefusal::Several)
        );
    }
}
