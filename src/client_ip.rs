//! The client's address. The TCP peer, unless the peer is a configured trusted proxy, in which
//! case `X-Forwarded-For` is read from the right, skipping trusted proxies (or `X-Real-IP`).

use std::net::IpAddr;

use http::HeaderMap;
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

pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for entry in forwarded.iter().rev() {
        match entry.parse::<IpAddr>() {
            Ok(ip) if is_trusted(canonical(ip), trusted) => continue,
            Ok(ip) => return canonical(ip),
            // Garbage in the chain: stop believing it.
            Err(_) => return peer,
        }
    }
    if forwarded.is_empty() {
        let mut real = headers.get_all("x-real-ip").iter();
        if let (Some(v), None) = (real.next(), real.next()) {
            if let Some(ip) = v
                .to_str()
                .ok()
                .and_then(|s| s.trim().parse::<IpAddr>().ok())
            {
                return canonical(ip);
            }
        }
    }
    peer
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
}
