//! `?download=NAME`: ask the origin to send the object as an attachment with that file name,
//! through `response-content-disposition` (RFC 6266, with RFC 5987 `filename*` for non-ASCII).

use crate::object_key::{encode_component, push_escape};

/// A file name safe to put in a Content-Disposition header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DownloadName(String);

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameRejection {
    #[error("the download name is empty")]
    Empty,
    #[error("the download name is longer than 255 bytes")]
    TooLong,
    #[error("the download name has an invalid %-escape or is not UTF-8")]
    Encoding,
    #[error("the download name may not contain control characters, '/' or '\\'")]
    Character,
}

/// Line separators and bidirectional controls (U+202A-202E overrides and embeddings, U+2066-2069
/// isolates, U+200E/200F marks, U+061C): in a file name they make `invoice\u{202E}fdp.exe` show
/// as `invoiceexe.pdf`.
fn is_invisible_control(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

impl DownloadName {
    /// Parses the raw (form-encoded) query value.
    pub fn from_query_value(raw: &str) -> Result<Self, NameRejection> {
        let bytes = raw.as_bytes();
        let mut decoded = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => decoded.push(b' '),
                b'%' => {
                    let hex = raw.get(i + 1..i + 3).ok_or(NameRejection::Encoding)?;
                    decoded.push(u8::from_str_radix(hex, 16).map_err(|_| NameRejection::Encoding)?);
                    i += 2;
                }
                b => decoded.push(b),
            }
            i += 1;
        }
        let name = String::from_utf8(decoded).map_err(|_| NameRejection::Encoding)?;
        let name = name.trim();
        if name.is_empty() || name == "." || name == ".." {
            return Err(NameRejection::Empty);
        }
        if name.len() > 255 {
            return Err(NameRejection::TooLong);
        }
        if name
            .chars()
            .any(|c| c.is_control() || matches!(c, '/' | '\\') || is_invisible_control(c))
        {
            return Err(NameRejection::Character);
        }
        Ok(DownloadName(name.to_owned()))
    }

    /// The Content-Disposition value: an ASCII `filename` for every client, and `filename*`
    /// with the exact UTF-8 name when the two differ.
    pub fn content_disposition(&self) -> String {
        let ascii: String = self
            .0
            .chars()
            .map(|c| if c.is_ascii() && c != '"' { c } else { '_' })
            .collect();
        let mut value = format!("attachment; filename=\"{ascii}\"");
        if ascii != self.0 {
            value.push_str("; filename*=UTF-8''");
            for &b in self.0.as_bytes() {
                // RFC 5987 attr-char
                if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                    value.push(b as char);
                } else {
                    push_escape(&mut value, b);
                }
            }
        }
        value
    }

    /// The Content-Disposition value, percent-encoded for a query string.
    pub fn query_value(&self) -> String {
        encode_component(&self.content_disposition())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_names_get_a_plain_filename() {
        let n = DownloadName::from_query_value("report+2024.pdf").unwrap();
        assert_eq!(
            n.content_disposition(),
            "attachment; filename=\"report 2024.pdf\""
        );
        assert_eq!(
            n.query_value(),
            "attachment%3B%20filename%3D%22report%202024.pdf%22"
        );
    }

    #[test]
    fn non_ascii_and_quotes_get_filename_star() {
        let n = DownloadName::from_query_value("%C3%A9t%C3%A9%20%22final%22.mp4").unwrap();
        assert_eq!(
            n.content_disposition(),
            "attachment; filename=\"_t_ _final_.mp4\"; filename*=UTF-8''%C3%A9t%C3%A9%20%22final%22.mp4"
        );
    }

    #[test]
    fn hostile_names_are_refused() {
        use NameRejection::*;
        for (raw, why) in [
            ("", Empty),
            ("%20", Empty),
            ("..", Empty),
            ("a%0d%0aSet-Cookie:x", Character),
            ("a%00", Character),
            ("..%2f..%2fetc%2fpasswd", Character),
            ("a%5cb", Character),
            ("%ff", Encoding),
            ("%zz", Encoding),
            ("a%", Encoding),
            // Right-to-left override: "invoice<RLO>fdp.exe" shows as "invoiceexe.pdf".
            ("invoice%E2%80%AEfdp.exe", Character),
            ("a%E2%80%AAb", Character),
            ("a%E2%81%A6b", Character),
            ("a%E2%80%8Fb", Character),
            ("a%D8%9Cb", Character),
            ("a%E2%80%A8b", Character),
        ] {
            assert_eq!(DownloadName::from_query_value(raw), Err(why), "{raw}");
        }
        assert_eq!(
            DownloadName::from_query_value(&"a".repeat(256)),
            Err(TooLong)
        );
    }
}
