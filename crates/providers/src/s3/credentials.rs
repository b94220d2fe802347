//! What an S3 presigned URL is signed with, each checked for its shape when it is loaded: the
//! access key ID (it travels in every URL), the secret access key, the session token of
//! temporary credentials, the region, and the method the URL is for.

use super::Error;

/// An access key ID: `AKIA…` at AWS, 32 hex characters at R2, a B2 application key ID, a MinIO
/// user. It is written into `X-Amz-Credential` before a `/`, so it cannot contain one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessKeyId(String);

impl AccessKeyId {
    pub fn parse(text: &str) -> Result<Self, Error> {
        let ok = (3..=128).contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_graphic() && b != b'/');
        if ok {
            Ok(AccessKeyId(text.to_owned()))
        } else {
            Err(Error::BadAccessKeyId(text.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A secret access key (40 characters at AWS and Wasabi, 64 hex characters at R2, 31 at B2, 8 to
/// 40 at MinIO): visible ASCII, never printed.
#[derive(Clone)]
pub struct SecretAccessKey(String);

impl std::fmt::Debug for SecretAccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretAccessKey(<redacted>)")
    }
}

impl SecretAccessKey {
    /// The secret of `key` (its access key ID), refused when its shape says it is something else:
    /// a line of a credentials file, an AWS access key ID, text with spaces. (It may equal the
    /// key ID: MinIO's default user is `minioadmin` with the secret `minioadmin`.)
    pub fn parse(key: &AccessKeyId, text: &str) -> Result<Self, Error> {
        let bad = |reason: &'static str| Error::BadSecret {
            key: key.0.clone(),
            reason,
        };
        if text.to_ascii_lowercase().contains("aws_secret_access_key") {
            return Err(bad(
                "it is a line of a credentials file: give the secret alone",
            ));
        }
        if looks_like_aws_key_id(text) {
            return Err(bad(
                "it is an access key ID, not the secret access key that goes with one",
            ));
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad(
                "it must be visible ASCII, without spaces or line breaks inside",
            ));
        }
        if !(8..=128).contains(&text.len()) {
            return Err(bad("it must have 8 to 128 characters (AWS: 40)"));
        }
        Ok(SecretAccessKey(text.to_owned()))
    }

    pub(super) fn expose(&self) -> &str {
        &self.0
    }
}

/// `AKIA…`/`ASIA…` and 16 more capitals or digits: AWS's access key IDs.
fn looks_like_aws_key_id(text: &str) -> bool {
    text.len() == 20
        && (text.starts_with("AKIA") || text.starts_with("ASIA"))
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// The session token of temporary credentials (STS, an assumed role, SSO), sent as
/// `X-Amz-Security-Token`; a URL signed with them stops working when the session ends.
#[derive(Clone)]
pub struct SessionToken(String);

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

impl SessionToken {
    pub fn parse(text: &str) -> Result<Self, Error> {
        if !(16..=4096).contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::BadSessionToken);
        }
        Ok(SessionToken(text.to_owned()))
    }

    pub(super) fn as_str(&self) -> &str {
        &self.0
    }
}

/// An access key with its secret, and the session token when the credentials are temporary.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub access_key_id: AccessKeyId,
    pub secret: SecretAccessKey,
    pub session_token: Option<SessionToken>,
}

impl Credentials {
    /// Long-term credentials (an IAM user's key, an R2 or B2 application key, a MinIO user).
    pub fn new(access_key_id: &str, secret: &str) -> Result<Self, Error> {
        let access_key_id = AccessKeyId::parse(access_key_id)?;
        let secret = SecretAccessKey::parse(&access_key_id, secret)?;
        Ok(Credentials {
            access_key_id,
            secret,
            session_token: None,
        })
    }

    /// The same with a session token (temporary credentials).
    pub fn with_session_token(mut self, token: &str) -> Result<Self, Error> {
        self.session_token = Some(SessionToken::parse(token)?);
        Ok(self)
    }
}

/// The bucket's region as the credential scope names it: `eu-west-1`, `auto` at R2,
/// `us-west-004` at B2, `us-east-1` for MinIO unless it was configured otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region(String);

impl Region {
    pub fn parse(text: &str) -> Result<Self, Error> {
        let ok = (1..=64).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
        if ok {
            Ok(Region(text.to_owned()))
        } else {
            Err(Error::BadRegion(text.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The HTTP method a presigned URL is for: it is part of what is signed, so a GET URL does not
/// work for a HEAD (or a PUT or DELETE).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Method {
    #[default]
    Get,
    Head,
}

impl Method {
    /// `GET` or `HEAD`, in any letter case.
    pub fn parse(text: &str) -> Result<Self, Error> {
        match text.to_ascii_uppercase().as_str() {
            "GET" => Ok(Method::Get),
            "HEAD" => Ok(Method::Head),
            _ => Err(Error::UnsupportedMethod(text.to_owned())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AK: &str = "AKIAIOSFODNN7EXAMPLE";

    #[test]
    fn secrets_of_the_wrong_shape_are_refused_naming_the_key() {
        let key = AccessKeyId::parse(AK).unwrap();
        for (text, says) in [
            ("aws_secret_access_key = abc", "credentials file"),
            (AK, "access key ID"),
            ("ASIAIOSFODNN7EXAMPLE", "access key ID"),
            ("wJalrXUtnFEMI/K7MDENG bPxRfiCYEXAMPLEKEY", "visible ASCII"),
            ("short", "8 to 128"),
            ("caf\u{e9}caf\u{e9}caf\u{e9}", "visible ASCII"),
        ] {
            let e = SecretAccessKey::parse(&key, text).unwrap_err().to_string();
            assert!(e.contains(AK) && e.contains(says), "{text}: {e}");
        }
        SecretAccessKey::parse(&key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY").unwrap();
        assert_eq!(
            format!(
                "{:?}",
                Credentials::new(AK, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
            ),
            format!(
                "{:?}",
                Credentials::new(AK, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
            )
        );
        assert!(!format!(
            "{:?}",
            Credentials::new(AK, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        )
        .contains("EXAMPLEKEY"));
    }

    #[test]
    fn names_regions_tokens_and_methods_are_checked() {
        assert!(AccessKeyId::parse("a/b").is_err());
        assert!(AccessKeyId::parse("ab").is_err());
        assert!(AccessKeyId::parse("minioadmin").is_ok());
        assert!(Region::parse("auto").is_ok());
        assert!(Region::parse("eu west").is_err());
        assert!(Region::parse("").is_err());
        assert!(SessionToken::parse("IQoJb3JpZ2luX2VjEHcaCXVz+/==").is_ok());
        assert!(SessionToken::parse("IQoJb3JpZ2luX2VjEHcaCXVz \n").is_err());
        assert_eq!(Method::parse("head").unwrap(), Method::Head);
        assert!(Method::parse("PUT").is_err());
    }
}
