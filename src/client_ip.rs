//! The client's address. The TCP peer, unless the peer is a configured trusted proxy, in which
//! case `X-Forwarded-For` is read from the right, skipping trusted proxies (or `X-Real-IP`).

use std::net::IpAddr;

use http::{HeaderMap, HeaderName};
use ipnet::IpNet;

pub fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    if !is_trusted(peer, trusted) {
        return peer;
    }
    // Most requests carry neither header. Among a few headers, comparing each name is cheaper
    // than the two hashed lookups below (a custom name is hashed byte by byte).
    if headers.keys_len() <= 16
        && !headers
            .keys()
            .any(|name| *name == X_FORWARDED_FOR || *name == X_REAL_IP)
    {
        return peer;
    }
    // Static names (a `&str` name is parsed on every lookup) and no collecting: this runs on
    // every request that comes through a proxy.
    let mut forwarded = headers
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .rev()
        .peekable();
    if forwarded.peek().is_some() {
        for entry in forwarded {
            match parse_forwarded(entry) {
                Ok(ip) if is_trusted(canonical(ip), trusted) => continue,
                Ok(ip) => return canonical(ip),
                // Garbage in the chain: stop believing it.
                Err(_) => return peer,
            }
        }
        return peer;
    }
    let mut real = headers.get_all(&X_REAL_IP).iter();
    if let (Some(v), None) = (real.next(), real.next()) {
        if let Some(ip) = v.to_str().ok().and_then(|s| parse_forwarded(s.trim()).ok()) {
            return canonical(ip);
        }
    }
    peer
}

/// One forwarded address: `192.0.2.5`, `2001:db8::1`, or with a port as some proxies send it
/// (`192.0.2.5:41234`, `[2001:db8::1]:41234`).
fn parse_forwarded(entry: &str) -> Result<IpAddr, std::net::AddrParseError> {
    entry.parse::<IpAddr>().or_else(|e| {
        entry
            .parse::<std::net::SocketAddr>()
            .map(|s| s.ip())
            .map_err(|_| e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn h(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(*k, HeaderValue::from_str(v).unwrap());
        }
        m
    }

    #[test]
    fn untrusted_peers_headers_are_ignored() {
        let trusted = vec!["127.0.0.1/32".parse().unwrap()];
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(
            client_ip(peer, &h(&[("x-forwarded-for", "1.2.3.4")]), &trusted),
            peer
        );
    }

    #[test]
    fn trusted_proxy_chain_is_walked_from_the_right() {
        let trusted: Vec<IpNet> = vec![
            "127.0.0.1/32".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ];
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        let headers = h(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.1.2.3")]);
        assert_eq!(
            client_ip(peer, &headers, &trusted),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_ip(peer, &h(&[("x-real-ip", "192.0.2.5")]), &trusted),
            "192.0.2.5".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_ip(peer, &h(&[("x-forwarded-for", "junk")]), &trusted),
            peer
        );
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(
            client_ip(mapped, &h(&[("x-real-ip", "192.0.2.5")]), &trusted),
            "192.0.2.5".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn the_forwarded_address_is_read_among_few_headers_and_among_many() {
        let trusted: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap()];
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        let client: IpAddr = "198.51.100.7".parse().unwrap();
        for others in [0, 3, 15, 16, 40] {
            let names: Vec<String> = (0..others).map(|i| format!("x-other-{i}")).collect();
            for header in ["x-forwarded-for", "x-real-ip"] {
                let mut headers = h(&[]);
                for name in &names {
                    let name: http::HeaderName = name.parse().unwrap();
                    headers.insert(name, HeaderValue::from_static("1"));
                }
                assert_eq!(
                    client_ip(peer, &headers, &trusted),
                    peer,
                    "{others} others, none"
                );
                headers.insert(header, HeaderValue::from_static("198.51.100.7"));
                assert_eq!(
                    client_ip(peer, &headers, &trusted),
                    client,
                    "{others} others, {header}"
                );
            }
        }
    }

    #[test]
    fn a_forwarded_address_with_a_port_is_read() {
        let trusted: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap()];
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        for (header, value, want) in [
            ("x-forwarded-for", "198.51.100.7:41234", "198.51.100.7"),
            ("x-forwarded-for", "[2001:db8::1]:443", "2001:db8::1"),
            (
                "x-forwarded-for",
                "6.6.6.6, 198.51.100.7:80",
                "198.51.100.7",
            ),
            ("x-real-ip", "192.0.2.5:1234", "192.0.2.5"),
        ] {
            assert_eq!(
                client_ip(peer, &h(&[(header, value)]), &trusted),
                want.parse::<IpAddr>().unwrap(),
                "{value}"
            );
        }
        // A port does not make garbage believable.
        assert_eq!(
            client_ip(peer, &h(&[("x-forwarded-for", "junk:80")]), &trusted),
            peer
        );
    }
}
