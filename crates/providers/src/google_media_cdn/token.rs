//! Media CDN tokens: `~`-separated fields, signed with Ed25519 (`Signature=`) or HMAC (`hmac=`).
//!
//! ```text
//! fields = (URLPrefix=<b64url-np(prefix)> | FullPath | PathGlobs=<globs>) [~Starts=<unix>]
//!          ~Expires=<unix> [~SessionID=…] [~Data=…] [~Headers=<names>] [~IPRanges=<b64url-np(cidrs)>]
//! signed = the same, except FullPath → FullPath=<path> and Headers → Headers=<name>=<value>,…
//! ```
//!
//! (Longer than 300 lines on purpose: one scheme, the token fields, their signer and their verifier, read in one place against
//! its specification.)

use std::net::IpAddr;

use crate::encoding::{b64url_unpadded, decode_b64url_unpadded};

use super::Error;

/// Most globs in one `PathGlobs` field.
pub const MAX_GLOBS: usize = 5;

/// What a token covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenScope {
    /// Every URL starting with this `scheme://host/path` prefix.
    UrlPrefix(String),
    /// Exactly this path (sent as a bare `FullPath`; the edge signs the request path).
    FullPath(String),
    /// Paths matching any of these globs (`*` matches any run of characters).
    PathGlobs(Vec<String>),
}

/// One IPv4 or IPv6 range of an `IPRanges` field, kept in the spelling it was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpRange {
    text: String,
    network: IpAddr,
    bits: u8,
}

impl IpRange {
    /// `a.b.c.d[/n]` or an IPv6 address `[/n]`. An IPv6 network may be written by its leading
    /// groups alone (`2001:db8:4a7f:a732/64`, as Google's own samples do) when the prefix length
    /// does not reach past them.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = || Error::BadIpRange(text.to_owned());
        let (addr, bits) = match text.split_once('/') {
            Some((a, b)) => {
                if b.is_empty() || b.len() > 3 || !b.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(bad());
                }
                (a, Some(b.parse::<u8>().map_err(|_| bad())?))
            }
            None => (text, None),
        };
        let network: IpAddr = match addr.parse() {
            Ok(ip) => ip,
            Err(_) => {
                // Leading groups of an IPv6 network, without "::".
                let groups: Vec<&str> = addr.split(':').collect();
                let ok = (2..8).contains(&groups.len())
                    && groups.iter().all(|g| {
                        (1..=4).contains(&g.len()) && g.bytes().all(|c| c.is_ascii_hexdigit())
                    });
                if !ok || bits.is_none_or(|b| usize::from(b) > 16 * groups.len()) {
                    return Err(bad());
                }
                format!("{addr}::").parse().map_err(|_| bad())?
            }
        };
        let max = if network.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(max);
        if bits > max {
            return Err(bad());
        }
        Ok(IpRange {
            text: text.to_owned(),
            network,
            bits,
        })
    }

    /// The range holding exactly `ip`.
    pub fn single(ip: IpAddr) -> Self {
        let ip = ip.to_canonical();
        let bits = if ip.is_ipv4() { 32 } else { 128 };
        IpRange {
            text: format!("{ip}/{bits}"),
            network: ip,
            bits,
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Everything a token carries besides its signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenFields {
    pub scope: TokenScope,
    pub starts: Option<u64>,
    pub expires: u64,
    pub session_id: Option<String>,
    pub data: Option<String>,
    /// Request headers the token binds, name and value.
    pub headers: Vec<(String, String)>,
    pub ip_ranges: Vec<IpRange>,
}

impl TokenFields {
    pub fn new(scope: TokenScope, expires: u64) -> Self {
        TokenFields {
            scope,
            starts: None,
            expires,
            session_id: None,
            data: None,
            headers: Vec::new(),
            ip_ranges: Vec::new(),
        }
    }
}

/// A value that may sit inside a token field: printable ASCII without the field separator.
fn plain(value: &str, what: &'static str, extra: &[char]) -> Result<(), Error> {
    let ok = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '~' && !extra.contains(&c));
    if ok {
        Ok(())
    } else {
        Err(Error::BadTokenField {
            field: what,
            value: value.to_owned(),
        })
    }
}

/// Adds a field that is sent and signed alike.
fn both(field: String, sent: &mut Vec<String>, signed: &mut Vec<String>) {
    signed.push(field.clone());
    sent.push(field);
}

/// The token fields as sent, and the string that is signed.
pub(crate) fn compose(fields: &TokenFields) -> Result<(String, String), Error> {
    let mut sent = Vec::new();
    let mut signed = Vec::new();
    match &fields.scope {
        TokenScope::UrlPrefix(prefix) => {
            crate::url::Url::parse_prefix(prefix)?;
            both(
                format!("URLPrefix={}", b64url_unpadded(prefix.as_bytes())),
                &mut sent,
                &mut signed,
            );
        }
        TokenScope::FullPath(path) => {
            if !path.starts_with('/') {
                return Err(Error::BadTokenField {
                    field: "FullPath",
                    value: path.clone(),
                });
            }
            plain(path, "FullPath", &['?', '#'])?;
            sent.push("FullPath".to_owned());
            signed.push(format!("FullPath={path}"));
        }
        TokenScope::PathGlobs(globs) => {
            if globs.is_empty() || globs.len() > MAX_GLOBS {
                return Err(Error::BadTokenField {
                    field: "PathGlobs",
                    value: globs.join(","),
                });
            }
            for g in globs {
                if !g.starts_with('/') {
                    return Err(Error::BadTokenField {
                        field: "PathGlobs",
                        value: g.clone(),
                    });
                }
                plain(g, "PathGlobs", &[',', '!', '?', '#'])?;
            }
            both(
                format!("PathGlobs={}", globs.join(",")),
                &mut sent,
                &mut signed,
            );
        }
    }
    if let (Some(starts), expires) = (fields.starts, fields.expires) {
        if starts >= expires {
            return Err(Error::StartsNotBeforeExpires { starts, expires });
        }
        both(format!("Starts={starts}"), &mut sent, &mut signed);
    }
    if fields.expires > super::MAX_EXPIRES {
        return Err(Error::ExpiresTooLarge(fields.expires));
    }
    both(
        format!("Expires={}", fields.expires),
        &mut sent,
        &mut signed,
    );
    if let Some(id) = &fields.session_id {
        plain(id, "SessionID", &[])?;
        both(format!("SessionID={id}"), &mut sent, &mut signed);
    }
    if let Some(data) = &fields.data {
        plain(data, "Data", &[])?;
        both(format!("Data={data}"), &mut sent, &mut signed);
    }
    if !fields.headers.is_empty() {
        for (name, value) in &fields.headers {
            plain(name, "Headers", &[',', '=', ':'])?;
            plain(value, "Headers", &[','])?;
        }
        let names: Vec<&str> = fields.headers.iter().map(|(n, _)| n.as_str()).collect();
        let pairs: Vec<String> = fields
            .headers
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        sent.push(format!("Headers={}", names.join(",")));
        signed.push(format!("Headers={}", pairs.join(",")));
    }
    if !fields.ip_ranges.is_empty() {
        let list: Vec<&str> = fields.ip_ranges.iter().map(IpRange::as_str).collect();
        both(
            format!("IPRanges={}", b64url_unpadded(list.join(",").as_bytes())),
            &mut sent,
            &mut signed,
        );
    }
    Ok((sent.join("~"), signed.join("~")))
}

/// A token read from a request, with the string its signature must cover.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub signed: String,
    pub signature: Signature,
    pub url_prefix: Option<Vec<u8>>,
    pub path_globs: Option<Vec<String>>,
    pub full_path: bool,
    pub starts: Option<u64>,
    pub expires: u64,
    pub ip_ranges: Option<Vec<IpRange>>,
}

#[derive(Debug)]
pub(crate) enum Signature {
    Ed25519(Vec<u8>),
    Hmac(Vec<u8>),
}

/// Why a token cannot be read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ParseProblem {
    Malformed,
    /// `Headers` binds request headers this verifier is not given.
    Headers,
}

/// Reads `token`, signing `FullPath` as `request_path`.
pub(crate) fn parse(token: &str, request_path: &str) -> Result<Parsed, ParseProblem> {
    use ParseProblem::Malformed;
    let (body, sig) = token.rsplit_once('~').ok_or(Malformed)?;
    let signature = if let Some(s) = sig.strip_prefix("Signature=") {
        Signature::Ed25519(crate::encoding::decode_b64url_any(s).ok_or(Malformed)?)
    } else if let Some(h) = sig.strip_prefix("hmac=") {
        Signature::Hmac(crate::encoding::decode_hex_lower(h).ok_or(Malformed)?)
    } else {
        return Err(Malformed);
    };
    let mut parsed = Parsed {
        signed: String::new(),
        signature,
        url_prefix: None,
        path_globs: None,
        full_path: false,
        starts: None,
        expires: 0,
        ip_ranges: None,
    };
    let mut signed = Vec::new();
    let mut expires = None;
    let mut scopes = 0;
    for field in body.split('~') {
        let (name, value) = field.split_once('=').unwrap_or((field, ""));
        match name {
            "FullPath" if value.is_empty() && !field.contains('=') => {
                parsed.full_path = true;
                scopes += 1;
                signed.push(format!("FullPath={request_path}"));
                continue;
            }
            "URLPrefix" => {
                parsed.url_prefix = Some(decode_b64url_unpadded(value).ok_or(Malformed)?);
                scopes += 1;
            }
            "PathGlobs" => {
                parsed.path_globs = Some(value.split([',', '!']).map(str::to_owned).collect());
                scopes += 1;
            }
            "Starts" => parsed.starts = Some(time(value)?),
            "Expires" => expires = Some(time(value)?),
            "SessionID" | "Data" => {}
            "Headers" => return Err(ParseProblem::Headers),
            "IPRanges" => {
                let text = decode_b64url_unpadded(value).ok_or(Malformed)?;
                let text = String::from_utf8(text).map_err(|_| Malformed)?;
                let ranges = text
                    .split(',')
                    .map(IpRange::parse)
                    .collect::<Result<Vec<_>, _>>();
                parsed.ip_ranges = Some(ranges.map_err(|_| Malformed)?);
            }
            _ => return Err(Malformed),
        }
        signed.push(field.to_owned());
    }
    if scopes != 1 {
        return Err(Malformed);
    }
    parsed.expires = expires.ok_or(Malformed)?;
    parsed.signed = signed.join("~");
    Ok(parsed)
}

fn time(text: &str) -> Result<u64, ParseProblem> {
    crate::google_cloud_cdn::parse_time(text).map_err(|_| ParseProblem::Malformed)
}

/// `*` matches any run of characters (including `/`); everything else matches itself.
pub(crate) fn glob_matches(glob: &str, path: &str) -> bool {
    let mut parts = glob.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = path.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_documented() {
        assert!(glob_matches("/*", "/a/b.ts"));
        assert!(glob_matches("/tv/*", "/tv/x"));
        assert!(!glob_matches("/tv/*", "/film/x"));
        assert!(glob_matches("/a/*.ts", "/a/b/c.ts"));
        assert!(!glob_matches("/a/*.ts", "/a/b.m3u8"));
        assert!(glob_matches("/exact", "/exact"));
        assert!(!glob_matches("/exact", "/exact2"));
        assert!(glob_matches("/a*b*c", "/abc"));
    }

    #[test]
    fn ip_ranges_parse_and_contain() {
        let r = IpRange::parse("203.0.113.0/24").unwrap();
        assert!(r.contains("203.0.113.9".parse().unwrap()));
        assert!(!r.contains("203.0.114.9".parse().unwrap()));
        let r = IpRange::parse("2001:db8:4a7f:a732/64").unwrap();
        assert!(r.contains("2001:db8:4a7f:a732::1".parse().unwrap()));
        assert!(!r.contains("2001:db8:4a7f:a733::1".parse().unwrap()));
        assert!(IpRange::parse("2001:db8/64").is_err());
        assert!(IpRange::parse("10.0.0.0/33").is_err());
        assert!(IpRange::parse("10.0.0.0/").is_err());
        assert!(IpRange::single("::ffff:10.1.2.3".parse().unwrap())
            .contains("10.1.2.3".parse().unwrap()));
    }
}
