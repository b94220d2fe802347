//! The request path the edge verifies, then serves or forwards as it is: only a path that every
//! file server reads the same way.
//!
//! Such paths are refused, not normalized. A normalizer would have to guess how the origin
//! decodes (`%2F` as `/` or not, `%5C` or `\` as `/` on Windows, `;` as a parameter in Java
//! servers, once or twice), and a guess that differs from the origin's lets a signature for one
//! folder open another. Refused: encoded `/`, `\`, `.` and `%` (`%2F`, `%5C`, `%2E`, `%25`, any
//! case); encoded `?` and `#` (`%3F`, `%23`: an origin that decodes before it splits off the
//! query would cut the path there, `..%3F` becoming `..`); a raw `\`; dot segments (`.`, `..`,
//! also as `..;x`); empty segments (`a//b`, which a folder server reads as `a/b`); invalid or
//! control-character escapes, and escapes that are not UTF-8; characters that an origin folding
//! Unicode compatibility forms (NFKC) or Windows best-fit code pages reads as one of the above
//! (fullwidth `．．／`, the two dot leader `‥`, the division slash `∕`). signgate never signs a key holding
//! any of these (its object keys refuse them too), so refusing them costs no real request. What
//! is left names one file the same way everywhere: each segment decodes to exactly one path
//! component.

/// Why a path was refused (the 400 page says it; the path itself is never echoed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathRefusal {
    NotAbsolute,
    Backslash,
    EmptySegment,
    DotSegment,
    EncodedSeparator,
    BadEscape,
    ControlCharacter,
    RawDelimiter,
    LookAlike,
}

impl PathRefusal {
    pub fn reason(self) -> &'static str {
        match self {
            PathRefusal::NotAbsolute => "The request path does not start with /.",
            PathRefusal::Backslash => "The request path holds a backslash.",
            PathRefusal::EmptySegment => "The request path holds an empty segment (//).",
            PathRefusal::DotSegment => "The request path holds a . or .. segment.",
            PathRefusal::EncodedSeparator => {
                "The request path holds %2F, %5C, %2E, %25, %3F or %23."
            }
            PathRefusal::BadEscape => "The request path holds an invalid percent escape.",
            PathRefusal::ControlCharacter => "The request path holds a control character.",
            PathRefusal::RawDelimiter => "The request path holds a raw ? or #.",
            PathRefusal::LookAlike => {
                "The request path holds a character that reads as /, \\, ., %, ? or # once normalized."
            }
        }
    }
}

/// Accepts `path` (the raw path of the request target, before any decoding) only when a folder
/// or any origin serves the file the verifier saw; see the module documentation.
pub fn check_path(path: &str) -> Result<(), PathRefusal> {
    let rest = path.strip_prefix('/').ok_or(PathRefusal::NotAbsolute)?;
    if rest.contains('\\') {
        return Err(PathRefusal::Backslash);
    }
    let segments: Vec<&str> = rest.split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        // A trailing `/` (a folder) is the one empty segment allowed.
        if segment.is_empty() && i + 1 < segments.len() {
            return Err(PathRefusal::EmptySegment);
        }
        let decoded = decode_segment(segment)?;
        let before_params = decoded.split(';').next().unwrap_or_default();
        if before_params == "." || before_params == ".." {
            return Err(PathRefusal::DotSegment);
        }
        if crate::object_key::folded_segment(&decoded)
            .is_some_and(|folded| crate::object_key::folds_into_path_syntax(&folded))
        {
            return Err(PathRefusal::LookAlike);
        }
    }
    Ok(())
}

/// One segment with its escapes decoded; refuses escapes that would add a separator, a dot, a
/// query or fragment delimiter or another escape, control characters, and bytes that are not
/// UTF-8.
fn decode_segment(segment: &str) -> Result<String, PathRefusal> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            // Raw controls never reach here through HTTP (the request line refuses them), but
            // the check must not depend on what parsed the request before it.
            match bytes[i] {
                0x00..=0x1f | 0x7f => return Err(PathRefusal::ControlCharacter),
                // A path taken from a parsed request never holds them (they end it); one that
                // does was cut from a query or fragment by something else.
                b'?' | b'#' => return Err(PathRefusal::RawDelimiter),
                _ => {}
            }
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let value = segment
            .get(i + 1..i + 3)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .ok_or(PathRefusal::BadEscape)?;
        match value {
            b'/' | b'\\' | b'.' | b'%' | b'?' | b'#' => return Err(PathRefusal::EncodedSeparator),
            0x00..=0x1f | 0x7f => return Err(PathRefusal::BadEscape),
            _ => out.push(value),
        }
        i += 3;
    }
    let name = String::from_utf8(out).map_err(|_| PathRefusal::BadEscape)?;
    // C1 controls (U+0080..U+009F), raw or escaped (`%C2%88`).
    if !name.is_ascii() && name.chars().any(char::is_control) {
        return Err(PathRefusal::ControlCharacter);
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_encoded_names_pass() {
        for ok in [
            "/",
            "/hls/alice/",
            "/hls/alice/master.m3u8",
            "/public/Q3%20report.pdf",
            "/public/caf%C3%A9.txt",
            "/a/..b/c..",
            "/a/.hidden",
            "/a/b;v=1",
            "/a/%3B",
            // Compatibility forms that fold to letters, digits or a dot inside a name are names.
            "/public/%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%94.pdf",
            "/public/report%EF%BC%8Epdf",
            "/public/%EF%AC%81le.txt",
            "/public/\u{2460}",
        ] {
            assert_eq!(check_path(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn whatever_an_origin_could_read_as_another_path_is_refused() {
        use PathRefusal::*;
        for (bad, why) in [
            ("hls/alice/a", NotAbsolute),
            ("/hls/alice/..%2fbob/master.m3u8", EncodedSeparator),
            ("/hls/alice/..%2Fbob/master.m3u8", EncodedSeparator),
            ("/hls/alice/%2e%2e%2fbob/master.m3u8", EncodedSeparator),
            ("/hls/alice/%2E%2e/bob/master.m3u8", EncodedSeparator),
            ("/hls/alice/.%2e/bob", EncodedSeparator),
            ("/hls/alice/a%2eb", EncodedSeparator),
            ("/hls/alice/..%5cbob/x", EncodedSeparator),
            ("/hls/alice/..%5Cbob/x", EncodedSeparator),
            ("/hls/alice/%252e%252e%252fbob/x", EncodedSeparator),
            ("/hls/alice/..%3f/bob/x", EncodedSeparator),
            ("/hls/alice/..%3F", EncodedSeparator),
            ("/hls/alice/..%23/bob/x", EncodedSeparator),
            ("/hls/alice/..\\bob/x", Backslash),
            ("/hls/alice/../bob/x", DotSegment),
            ("/hls/alice/./x", DotSegment),
            ("/hls/alice/..", DotSegment),
            ("/hls/alice/..;/bob/x", DotSegment),
            ("/hls/alice/..;jsessionid=1/bob/x", DotSegment),
            ("/hls/alice/..%3b/bob/x", DotSegment),
            ("/hls/alice//../x", EmptySegment),
            ("//hls/alice/x", EmptySegment),
            ("/hls/alice//x", EmptySegment),
            ("/hls/alice/%", BadEscape),
            ("/hls/alice/%2", BadEscape),
            ("/hls/alice/%zz", BadEscape),
            ("/hls/alice/%+1", BadEscape),
            ("/hls/alice/a%00.txt", BadEscape),
            ("/hls/alice/a%0d%0a", BadEscape),
            ("/hls/alice/a%7F", BadEscape),
            ("/hls/alice/%c0%af..", BadEscape),
            ("/hls/alice/%ff", BadEscape),
            // Raw control characters (found by the edge_request fuzz target: `/:=/oo\n\nooo`).
            ("/:=/oo\n\nooo", ControlCharacter),
            ("/hls/alice/a\tb", ControlCharacter),
            ("/hls/alice/a\u{7f}", ControlCharacter),
            ("/hls/alice/a\0", ControlCharacter),
            // Raw query and fragment delimiters (the same target: `/ffffffffffff?fffffff/`).
            ("/ffffffffffff?fffffff/", RawDelimiter),
            ("/hls/alice/..?/bob", RawDelimiter),
            ("/hls/alice/a#b", RawDelimiter),
            // C1 controls, raw or escaped (the same target: `/_\u{5c8}\u{88}F`).
            ("/_\u{5c8}\u{88}F", ControlCharacter),
            ("/hls/alice/a%C2%88b", ControlCharacter),
            ("/hls/alice/a%C2%9F", ControlCharacter),
            // Fullwidth `．．／bob`: `../bob` to an origin that folds compatibility forms.
            ("/hls/alice/%EF%BC%8E%EF%BC%8E%EF%BC%8Fbob/x", LookAlike),
            ("/hls/alice/\u{ff0e}\u{ff0e}/bob/x", LookAlike),
            ("/hls/alice/%EF%BC%8E%EF%BC%8E/bob/x", LookAlike),
            // Two dot leader, small full stops, one dot leader twice, ellipsis: dot segments.
            ("/hls/alice/%E2%80%A5/bob/x", LookAlike),
            ("/hls/alice/%EF%B9%92%EF%B9%92/bob/x", LookAlike),
            ("/hls/alice/%E2%80%A4%E2%80%A4;x/bob", LookAlike),
            ("/hls/alice/%E2%80%A6/bob/x", LookAlike),
            // Slash and backslash look-alikes: fullwidth, small, division, fraction, set minus.
            ("/hls/alice/..%EF%BC%8Fbob/x", LookAlike),
            ("/hls/alice/..%EF%BC%BCbob/x", LookAlike),
            ("/hls/alice/..%EF%B9%A8bob/x", LookAlike),
            ("/hls/alice/..%E2%88%95bob/x", LookAlike),
            ("/hls/alice/..%E2%81%84bob/x", LookAlike),
            ("/hls/alice/..%E2%88%96bob/x", LookAlike),
            ("/hls/alice/%E2%84%80", LookAlike),
            // Fullwidth percent, question mark and number sign.
            ("/hls/alice/%EF%BC%852e%EF%BC%852e/x", LookAlike),
            ("/hls/alice/..%EF%BC%9F/bob", LookAlike),
            ("/hls/alice/..%EF%BC%83/bob", LookAlike),
        ] {
            assert_eq!(check_path(bad), Err(why), "{bad}");
        }
    }
}
