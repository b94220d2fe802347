//! CloudFront policies: building the exact JSON bytes that are signed, and reading a received
//! custom policy back.
//!
//! (Over 300 lines: the last 200 are its tests, kept beside the policy JSON they pin down.)

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use crate::error::InputError;
use crate::url::{ResourcePattern, SignableUrl};

/// The largest `AWS:EpochTime` CloudFront accepts (2038-01-19, the 32-bit limit).
pub const MAX_EPOCH: u64 = 2_147_483_647;

/// An IPv4 address range for the `IpAddress` condition. A bare address means `/32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Range {
    addr: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Range {
    pub fn parse(text: &str) -> Result<Self, InputError> {
        let bad = || InputError::BadIp(text.to_owned());
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => {
                let valid_digits =
                    !p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit());
                let prefix: u8 = if valid_digits {
                    p.parse().map_err(|_| bad())?
                } else {
                    return Err(bad());
                };
                (a, prefix)
            }
            None => (text, 32),
        };
        if addr.contains(':') {
            return Err(InputError::Ipv6(text.to_owned()));
        }
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        if prefix > 32 {
            return Err(bad());
        }
        Ok(Ipv4Range { addr, prefix })
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let mask = u32::MAX
            .checked_shl(32 - u32::from(self.prefix))
            .unwrap_or(0);
        u32::from(ip) & mask == u32::from(self.addr) & mask
    }
}

impl std::fmt::Display for Ipv4Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Conditions of a policy beyond the URL itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conditions {
    /// `DateLessThan`: the URL works strictly before this time (Unix seconds).
    pub expires: u64,
    /// `DateGreaterThan`: the URL works from this time on.
    pub starts: Option<u64>,
    /// `IpAddress`: only clients in this range.
    pub ip: Option<Ipv4Range>,
    /// `Resource` when it differs from the URL (wildcards allowed).
    pub resource: Option<ResourcePattern>,
    /// Write a custom policy even when a canned one would do.
    pub force_custom: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// Only an expiry; CloudFront rebuilds the policy from the URL, which carries `Expires`.
    Canned,
    /// The policy travels base64-encoded in `Policy`.
    Custom,
}

/// A policy ready to sign: its kind, its exact JSON and the values it was made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    kind: PolicyKind,
    json: String,
    resource: ResourcePattern,
    expires: u64,
    starts: Option<u64>,
    ip: Option<Ipv4Range>,
}

impl Policy {
    /// The policy for signing `url`. Canned when only an expiry is given; custom as soon as a
    /// start, an IP range, a different resource or `force_custom` is asked for.
    pub fn for_url(url: &SignableUrl, conditions: &Conditions) -> Result<Self, InputError> {
        let custom = conditions.force_custom
            || conditions.starts.is_some()
            || conditions.ip.is_some()
            || conditions
                .resource
                .as_ref()
                .is_some_and(|r| r.as_str() != url.as_str());
        let resource = match &conditions.resource {
            Some(pattern) => {
                if !pattern.matches(url) {
                    return Err(InputError::ResourceMismatch {
                        pattern: pattern.to_string(),
                        url: url.to_string(),
                    });
                }
                pattern.clone()
            }
            None if custom && url.has_wildcard() => return Err(InputError::WildcardInUrl),
            None => ResourcePattern::exact(url),
        };
        let kind = if custom {
            PolicyKind::Custom
        } else {
            PolicyKind::Canned
        };
        Self::build(kind, resource, conditions)
    }

    /// A custom policy for a resource pattern alone, as signed cookies use.
    pub fn for_resource(
        resource: ResourcePattern,
        conditions: &Conditions,
    ) -> Result<Self, InputError> {
        Self::build(PolicyKind::Custom, resource, conditions)
    }

    fn build(
        kind: PolicyKind,
        resource: ResourcePattern,
        c: &Conditions,
    ) -> Result<Self, InputError> {
        check_time(c.expires)?;
        if let Some(starts) = c.starts {
            check_time(starts)?;
            if c.expires <= starts {
                return Err(InputError::ExpiryNotAfterStart {
                    expires: c.expires,
                    starts,
                });
            }
        }
        let (starts, ip) = match kind {
            PolicyKind::Canned => (None, None),
            PolicyKind::Custom => (c.starts, c.ip),
        };
        let json = policy_json(resource.as_str(), c.expires, ip, starts);
        Ok(Policy {
            kind,
            json,
            resource,
            expires: c.expires,
            starts,
            ip,
        })
    }

    pub fn kind(&self) -> PolicyKind {
        self.kind
    }
    /// The exact bytes that are signed.
    pub fn json(&self) -> &str {
        &self.json
    }
    pub fn resource(&self) -> &ResourcePattern {
        &self.resource
    }
    pub fn expires(&self) -> u64 {
        self.expires
    }
    pub fn starts(&self) -> Option<u64> {
        self.starts
    }
    pub fn ip(&self) -> Option<Ipv4Range> {
        self.ip
    }

    /// The canned policy CloudFront rebuilds from a received URL and its `Expires`.
    pub(crate) fn decode_canned(json: String, resource: ResourcePattern, expires: u64) -> Policy {
        Policy {
            kind: PolicyKind::Canned,
            json,
            resource,
            expires,
            starts: None,
            ip: None,
        }
    }

    /// Reads a received custom policy. Strict: one statement, a `Resource`, a numeric
    /// `DateLessThan`, optional `DateGreaterThan` and `IpAddress`, nothing else.
    pub fn decode(json_bytes: &[u8]) -> Option<Policy> {
        let doc: wire::Document = serde_json::from_slice(json_bytes).ok()?;
        let [statement] = <[wire::Statement; 1]>::try_from(doc.statement).ok()?;
        let cond = statement.condition;
        let ip = match cond.ip_address {
            Some(ip) => Some(Ipv4Range::parse(&ip.source_ip).ok()?),
            None => None,
        };
        let expires = cond.date_less_than.epoch_time;
        let starts = cond.date_greater_than.map(|d| d.epoch_time);
        if expires > MAX_EPOCH || starts.is_some_and(|s| s > MAX_EPOCH) {
            return None;
        }
        Some(Policy {
            kind: PolicyKind::Custom,
            json: String::from_utf8(json_bytes.to_vec()).ok()?,
            resource: ResourcePattern::from_policy(statement.resource),
            expires,
            starts,
            ip,
        })
    }
}

fn check_time(t: u64) -> Result<(), InputError> {
    if t > MAX_EPOCH {
        return Err(InputError::TimeTooLarge(t));
    }
    Ok(())
}

/// Writes the policy JSON: no whitespace, keys in CloudFront's documented order, conditions in
/// the order DateLessThan, IpAddress, DateGreaterThan (as AWS's own SDK writes them), epoch times
/// unquoted, `/` never escaped.
pub(crate) fn policy_json(
    resource: &str,
    expires: u64,
    ip: Option<Ipv4Range>,
    starts: Option<u64>,
) -> String {
    let mut out = String::with_capacity(resource.len() + 160);
    out.push_str(r#"{"Statement":[{"Resource":""#);
    push_json_string_body(&mut out, resource);
    let _ = write!(
        out,
        r#"","Condition":{{"DateLessThan":{{"AWS:EpochTime":{expires}}}"#
    );
    if let Some(ip) = ip {
        let _ = write!(out, r#","IpAddress":{{"AWS:SourceIp":"{ip}"}}"#);
    }
    if let Some(starts) = starts {
        let _ = write!(out, r#","DateGreaterThan":{{"AWS:EpochTime":{starts}}}"#);
    }
    out.push_str("}}]}");
    out
}

/// JSON string escaping without `\/`. Normalized URLs never contain `"`, `\` or control
/// characters, but the writer must be right for any input.
fn push_json_string_body(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
}

mod wire {
    use serde::Deserialize;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Document {
        #[serde(rename = "Statement")]
        pub statement: Vec<Statement>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Statement {
        #[serde(rename = "Resource")]
        pub resource: String,
        #[serde(rename = "Condition")]
        pub condition: Condition,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Condition {
        #[serde(rename = "DateLessThan")]
        pub date_less_than: Epoch,
        #[serde(rename = "DateGreaterThan")]
        pub date_greater_than: Option<Epoch>,
        #[serde(rename = "IpAddress")]
        pub ip_address: Option<SourceIp>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Epoch {
        #[serde(rename = "AWS:EpochTime")]
        pub epoch_time: u64,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct SourceIp {
        #[serde(rename = "AWS:SourceIp")]
        pub source_ip: String,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> SignableUrl {
        SignableUrl::parse(s).unwrap()
    }

    #[test]
    fn canned_json_is_exact() {
        let p = Policy::for_url(
            &url("https://h.example/a/b.mp4"),
            &Conditions {
                expires: 1767225600,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(p.kind(), PolicyKind::Canned);
        assert_eq!(
            p.json(),
            r#"{"Statement":[{"Resource":"https://h.example/a/b.mp4","Condition":{"DateLessThan":{"AWS:EpochTime":1767225600}}}]}"#
        );
    }

    #[test]
    fn custom_json_orders_conditions_like_the_sdk() {
        let c = Conditions {
            expires: 1767229200,
            starts: Some(1767225600),
            ip: Some(Ipv4Range::parse("198.51.100.0/24").unwrap()),
            resource: Some(ResourcePattern::parse("https://h.example/private/*").unwrap()),
            force_custom: false,
        };
        let p = Policy::for_url(&url("https://h.example/private/file.zip?token=abc"), &c).unwrap();
        assert_eq!(p.kind(), PolicyKind::Custom);
        assert_eq!(
            p.json(),
            r#"{"Statement":[{"Resource":"https://h.example/private/*","Condition":{"DateLessThan":{"AWS:EpochTime":1767229200},"IpAddress":{"AWS:SourceIp":"198.51.100.0/24"},"DateGreaterThan":{"AWS:EpochTime":1767225600}}}]}"#
        );
        assert_eq!(Policy::decode(p.json().as_bytes()).unwrap(), p);
    }

    #[test]
    fn any_extra_condition_means_custom() {
        let u = url("https://h.example/x");
        let start = Conditions {
            expires: 20,
            starts: Some(10),
            ..Default::default()
        };
        let ip = Conditions {
            expires: 20,
            ip: Some(Ipv4Range::parse("192.0.2.1").unwrap()),
            ..Default::default()
        };
        let same_resource = Conditions {
            expires: 20,
            resource: Some(ResourcePattern::parse("https://h.example/x").unwrap()),
            ..Default::default()
        };
        let forced = Conditions {
            expires: 20,
            force_custom: true,
            ..Default::default()
        };
        assert_eq!(
            Policy::for_url(&u, &start).unwrap().kind(),
            PolicyKind::Custom
        );
        assert_eq!(Policy::for_url(&u, &ip).unwrap().kind(), PolicyKind::Custom);
        assert_eq!(
            Policy::for_url(&u, &same_resource).unwrap().kind(),
            PolicyKind::Canned
        );
        assert_eq!(
            Policy::for_url(&u, &forced).unwrap().kind(),
            PolicyKind::Custom
        );
    }

    #[test]
    fn time_rules() {
        let u = url("https://h.example/x");
        let too_late = Conditions {
            expires: MAX_EPOCH + 1,
            ..Default::default()
        };
        assert_eq!(
            Policy::for_url(&u, &too_late),
            Err(InputError::TimeTooLarge(MAX_EPOCH + 1))
        );
        let at_max = Conditions {
            expires: MAX_EPOCH,
            ..Default::default()
        };
        assert!(Policy::for_url(&u, &at_max).is_ok());
        let inverted = Conditions {
            expires: 10,
            starts: Some(10),
            ..Default::default()
        };
        assert_eq!(
            Policy::for_url(&u, &inverted),
            Err(InputError::ExpiryNotAfterStart {
                expires: 10,
                starts: 10
            })
        );
    }

    #[test]
    fn resource_must_cover_the_url_and_url_wildcards_are_refused() {
        let c = Conditions {
            expires: 20,
            resource: Some(ResourcePattern::parse("https://h.example/a/*").unwrap()),
            ..Default::default()
        };
        assert!(matches!(
            Policy::for_url(&url("https://h.example/b/x"), &c),
            Err(InputError::ResourceMismatch { .. })
        ));
        let ip = Conditions {
            expires: 20,
            ip: Some(Ipv4Range::parse("192.0.2.1").unwrap()),
            ..Default::default()
        };
        assert_eq!(
            Policy::for_url(&url("https://h.example/a*"), &ip),
            Err(InputError::WildcardInUrl)
        );
        // In a canned policy '*' is not a wildcard: CloudFront compares the URL it received.
        let canned = Conditions {
            expires: 20,
            ..Default::default()
        };
        assert!(Policy::for_url(&url("https://h.example/a*"), &canned).is_ok());
    }

    #[test]
    fn ip_ranges() {
        assert_eq!(
            Ipv4Range::parse("192.0.2.10").unwrap().to_string(),
            "192.0.2.10/32"
        );
        assert_eq!(
            Ipv4Range::parse("10.0.0.0/8").unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(
            Ipv4Range::parse("0.0.0.0/0").unwrap().to_string(),
            "0.0.0.0/0"
        );
        assert_eq!(
            Ipv4Range::parse("2001:db8::1"),
            Err(InputError::Ipv6("2001:db8::1".into()))
        );
        assert_eq!(
            Ipv4Range::parse("2001:db8::/32"),
            Err(InputError::Ipv6("2001:db8::/32".into()))
        );
        for bad in [
            "10.0.0.0/33",
            "10.0.0/8",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "300.1.1.1",
            "x",
            "",
        ] {
            assert_eq!(
                Ipv4Range::parse(bad),
                Err(InputError::BadIp(bad.into())),
                "{bad}"
            );
        }
        let r = Ipv4Range::parse("198.51.100.0/24").unwrap();
        assert!(r.contains("198.51.100.255".parse().unwrap()));
        assert!(!r.contains("198.51.101.0".parse().unwrap()));
        assert!(Ipv4Range::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
    }

    #[test]
    fn decode_is_strict() {
        let ok = r#"{"Statement":[{"Resource":"https://h/*","Condition":{"DateLessThan":{"AWS:EpochTime":5}}}]}"#;
        assert!(Policy::decode(ok.as_bytes()).is_some());
        for bad in [
            r#"{"Statement":[{"Resource":"https://h/*","Condition":{"DateLessThan":{"AWS:EpochTime":"5"}}}]}"#,
            r#"{"Statement":[{"Resource":"https://h/*","Condition":{}}]}"#,
            r#"{"Statement":[]}"#,
            r#"{"Statement":[{"Resource":"https://h/*","Condition":{"DateLessThan":{"AWS:EpochTime":5}},"Extra":1}]}"#,
            r#"{"Statement":[{"Resource":"https://h/*","Condition":{"DateLessThan":{"AWS:EpochTime":5},"IpAddress":{"AWS:SourceIp":"::1"}}}]}"#,
            r#"{"Statement":[{"Resource":"https://h/*","Condition":{"DateLessThan":{"AWS:EpochTime":99999999999}}}]}"#,
            "not json",
        ] {
            assert!(Policy::decode(bad.as_bytes()).is_none(), "{bad}");
        }
    }

    #[test]
    fn json_escaping_never_escapes_slash() {
        let mut s = String::new();
        push_json_string_body(&mut s, "a/\"b\\\u{1}");
        assert_eq!(s, "a/\\\"b\\\\\\u0001");
    }
}
