//! The operator's `secure_link_md5` expression and the secret in it.

use super::directives::Location;
use super::Error;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    Text(String),
    Expires,
    Uri,
    RemoteAddr,
    Arg(String),
    /// A named capture of the location regex.
    Capture(String),
    Secret,
}

/// The operator's `secure_link_md5` expression, parsed: text and variables concatenated
/// exactly as written, the secret replaced by `$secret`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expression(pub(crate) Vec<Part>);

impl Expression {
    /// Parses an expression for a prefix location (`location /files/`): the variables are
    /// `$secure_link_expires`, `$uri`, `$remote_addr`, `$arg_<name>` and `$secret`.
    pub fn parse(text: &str) -> Result<Self, Error> {
        Self::parse_with(text, |_| false)
    }

    /// Parses an expression inside `location ~ <regex>`: the regex's named captures are
    /// variables too (`$sl_folder`).
    pub fn parse_in(text: &str, location: &Location) -> Result<Self, Error> {
        Self::parse_with(text, |name| location.has_capture(name))
    }

    fn parse_with(text: &str, is_capture: impl Fn(&str) -> bool) -> Result<Self, Error> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            literal.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let (name, len) = if let Some(braced) = after.strip_prefix('{') {
                let end = braced.find('}').ok_or(Error::Unterminated)?;
                (&braced[..end], end + 2)
            } else {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], end)
            };
            let part = match name {
                "secure_link_expires" => Part::Expires,
                "uri" => Part::Uri,
                "remote_addr" => Part::RemoteAddr,
                "secret" => Part::Secret,
                n if n.starts_with("arg_") && n.len() > 4 => Part::Arg(n[4..].to_owned()),
                n if is_capture(n) => Part::Capture(n.to_owned()),
                n => return Err(Error::UnknownVariable(n.to_owned())),
            };
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            parts.push(part);
            rest = &after[len..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        if parts.iter().filter(|p| **p == Part::Secret).count() != 1 {
            return Err(Error::SecretPlaceholder);
        }
        Ok(Expression(parts))
    }

    pub(crate) fn has(&self, part: &Part) -> bool {
        self.0.contains(part)
    }

    pub(crate) fn has_arg(&self) -> bool {
        self.0.iter().any(|p| matches!(p, Part::Arg(_)))
    }

    pub(crate) fn captures(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|p| match p {
            Part::Capture(name) => Some(name.as_str()),
            _ => None,
        })
    }
}

/// A secret, never printed.
#[derive(Clone)]
pub struct Secret(pub(crate) Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    /// A secret as it appears in nginx.conf, inside a double-quoted string. `$`, `"`, `\\` and
    /// control characters are refused: nginx would not read them literally there.
    pub fn new(secret: &str) -> Result<Self, Error> {
        if secret.is_empty() {
            return Err(Error::EmptySecret);
        }
        if let Some(c) = secret
            .chars()
            .find(|c| matches!(c, '$' | '"' | '\\') || c.is_control())
        {
            return Err(Error::SecretCharacter(c));
        }
        Ok(Secret(secret.as_bytes().to_vec()))
    }
}
