//! The nginx.conf lines signgate reads as the operator wrote them: `location ~ <regex>` and
//! `secure_link <hash>[,<expires>];`, and the variable a rotation `map` reads.

use regex_automata::meta::Regex;
use regex_automata::util::captures::Captures;
use regex_automata::util::syntax;
use regex_automata::{Input, PatternID};

use super::Error;

/// A `location ~ <regex>` block: the regex nginx matches against `$uri`, and its named
/// captures, which the expression and `secure_link` may use as `$<name>`.
///
/// The regex is matched as PCRE matches it in nginx: on bytes, `\w`, `\d` and `[^/]` on
/// ASCII and bytes, leftmost-first. Syntax PCRE has and this engine lacks (look-around,
/// back-references) is refused when the location is parsed.
///
/// A regex that opens with a named capture, `^(?<name>...`, names the **folder**: that capture
/// starts at the first byte of `$uri`, so a hash over its value holds only for paths that
/// begin with it. The folder forms need one.
#[derive(Clone, Debug)]
pub struct Location {
    regex: Regex,
    folder: Option<String>,
    names: Vec<String>,
}

impl Location {
    /// Parses the regex of `location ~ <regex>` (case-sensitive, as `~`).
    pub fn parse(regex: &str) -> Result<Self, Error> {
        let compiled = Regex::builder()
            .syntax(syntax::Config::new().unicode(false).utf8(false))
            .configure(Regex::config().utf8_empty(false))
            .build(regex)
            .map_err(|e| Error::BadLocation(e.to_string()))?;
        let names = compiled
            .group_info()
            .pattern_names(PatternID::ZERO)
            .flatten()
            .map(str::to_owned)
            .collect();
        let folder = ["^(?<", "^(?P<"]
            .iter()
            .find_map(|open| regex.strip_prefix(open))
            .and_then(|rest| rest.split_once('>'))
            .map(|(name, _)| name.to_owned());
        Ok(Location {
            regex: compiled,
            folder,
            names,
        })
    }

    /// The capture that holds the folder, when the regex opens with one.
    pub fn folder(&self) -> Option<&str> {
        self.folder.as_deref()
    }

    pub(crate) fn has_capture(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    /// The named captures for `uri`, or `None` when this location does not match it.
    pub(crate) fn captures<'u>(&self, uri: &'u [u8]) -> Option<Matched<'u>> {
        let mut caps = self.regex.create_captures();
        self.regex.search_captures(&Input::new(uri), &mut caps);
        caps.is_match().then_some(Matched { uri, caps })
    }
}

/// One match of a [`Location`].
#[derive(Debug)]
pub(crate) struct Matched<'u> {
    uri: &'u [u8],
    caps: Captures,
}

impl<'u> Matched<'u> {
    /// A named capture's bytes, empty when it took no part in the match (as in nginx).
    pub fn get(&self, name: &str) -> &'u [u8] {
        self.caps
            .get_group_by_name(name)
            .map_or(&[][..], |span| &self.uri[span.range()])
    }
}

/// A request variable `secure_link` or a rotation `map` reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Var {
    /// `$arg_<name>`: a query parameter.
    Arg(String),
    /// `$cookie_<name>`: a cookie.
    Cookie(String),
    /// `$<name>`: a named capture of the location regex (a path segment).
    Capture(String),
}

impl Var {
    /// Parses one variable as written in nginx.conf: `$arg_x`, `$cookie_x`, `$x` or `${x}`.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = || Error::BadVariable(text.to_owned());
        let name = text.strip_prefix('$').ok_or_else(bad)?;
        let name = match name.strip_prefix('{') {
            Some(braced) => braced.strip_suffix('}').ok_or_else(bad)?,
            None => name,
        };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(bad());
        }
        let var = if let Some(arg) = name.strip_prefix("arg_") {
            Var::Arg(arg.to_owned())
        } else if let Some(cookie) = name.strip_prefix("cookie_") {
            Var::Cookie(cookie.to_owned())
        } else {
            Var::Capture(name.to_owned())
        };
        match &var {
            Var::Arg(n) | Var::Cookie(n) if n.is_empty() => Err(bad()),
            _ => Ok(var),
        }
    }

    pub(crate) fn form(&self) -> Form {
        match self {
            Var::Arg(_) => Form::Query,
            Var::Cookie(_) => Form::Cookie,
            Var::Capture(_) => Form::Path,
        }
    }

    pub(crate) fn name(&self) -> &str {
        match self {
            Var::Arg(n) | Var::Cookie(n) | Var::Capture(n) => n,
        }
    }
}

/// Where the credential travels, decided by the variables of `secure_link`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// `secure_link $arg_md5,$arg_expires;`: query parameters.
    Query,
    /// `secure_link $cookie_h,$cookie_e;`: cookies on the nginx host.
    Cookie,
    /// `secure_link $h,$e;` with named captures: path segments after the folder.
    Path,
}

impl Form {
    pub fn name(self) -> &'static str {
        match self {
            Form::Query => "query",
            Form::Cookie => "cookie",
            Form::Path => "path",
        }
    }
}

/// The `secure_link` line: the variable holding the hash and, after a comma, the one holding
/// the expiry. With no expiry variable, one value may still carry both as `hash,expires`
/// (nginx splits the value at its first comma), which is how signgate writes it then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub hash: Var,
    pub expires: Option<Var>,
}

impl Source {
    /// Parses the value of `secure_link` as written in nginx.conf, e.g.
    /// `$cookie_sl_hash,$cookie_sl_expires`. Both variables must be of one kind.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let (hash, expires) = match text.split_once(',') {
            Some((h, e)) => (Var::parse(h)?, Some(Var::parse(e)?)),
            None => (Var::parse(text)?, None),
        };
        if expires.as_ref().is_some_and(|e| e.form() != hash.form()) {
            return Err(Error::MixedSource(text.to_owned()));
        }
        Ok(Source { hash, expires })
    }

    pub fn form(&self) -> Form {
        self.hash.form()
    }

    pub(crate) fn vars(&self) -> impl Iterator<Item = &Var> {
        std::iter::once(&self.hash).chain(&self.expires)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_is_the_capture_the_regex_opens_with() {
        let l = Location::parse(r"^(?<sl_folder>/media/[^/]+/)(?<rest>.*)$").unwrap();
        assert_eq!(l.folder(), Some("sl_folder"));
        let m = l.captures(b"/media/m1/a/b.ts").unwrap();
        assert_eq!(m.get("sl_folder"), b"/media/m1/");
        assert_eq!(m.get("rest"), b"a/b.ts");
        assert!(l.captures(b"/other/m1/").is_none());
        let unanchored = Location::parse(r"(?<f>/media/[^/]+/)").unwrap();
        assert_eq!(unanchored.folder(), None);
        assert!(Location::parse(r"^(?<f>/a/)(?=x)").is_err());
    }

    #[test]
    fn classes_match_bytes_as_pcre_does_without_utf() {
        let l = Location::parse(r"^(?<f>/[\w-]+/)(?<rest>.*)$").unwrap();
        assert!(l.captures("/é/x".as_bytes()).is_none());
        let any = Location::parse(r"^(?<f>/[^/]+/)").unwrap();
        assert_eq!(
            any.captures("/é %/x".as_bytes()).unwrap().get("f"),
            "/é %/".as_bytes()
        );
    }

    #[test]
    fn secure_link_values_parse_into_one_form() {
        let s = Source::parse("$cookie_h,$cookie_e").unwrap();
        assert_eq!(s.form(), Form::Cookie);
        assert_eq!(s.expires, Some(Var::Cookie("e".into())));
        assert_eq!(
            Source::parse("${sl_hash},$sl_expires").unwrap().form(),
            Form::Path
        );
        assert_eq!(Source::parse("$arg_md5").unwrap().expires, None);
        assert!(matches!(
            Source::parse("$arg_md5,$cookie_e"),
            Err(Error::MixedSource(_))
        ));
        for bad in ["md5", "$", "$arg_", "$a-b", "${x", "$arg_md5,"] {
            assert!(Source::parse(bad).is_err(), "{bad}");
        }
    }
}
