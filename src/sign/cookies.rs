//! Folder credentials: cookies (their attributes per distribution and the `Set-Cookie` values)
//! or an entry URL carrying the credential.

/// Attributes of the signed cookies for a distribution.
#[derive(Clone, Debug)]
pub struct CookieSettings {
    /// `Domain`; `None` for host-only cookies.
    pub domain: Option<String>,
    /// The distribution URL's own path prefix ("" or "/prefix").
    pub base_path: String,
    pub secure: bool,
    pub http_only: bool,
    pub same_site: &'static str,
    /// Why cookies cannot work for this distribution, if they cannot (checked at start-up for
    /// every rule that hands out cookies).
    pub problem: Option<String>,
}

/// A folder's credential, ready to hand out: cookies to set, or the entry URL carrying it.
pub struct FolderCredential {
    /// Name and value of each cookie (none when the credential travels in `url`).
    pub cookies: Vec<(String, String)>,
    /// The entry URL with the credential in its path or query, for those forms.
    pub url: Option<String>,
    /// What the credential covers: `https://media.example.com/hls/42/*` (CloudFront's
    /// resource), `https://media.example.com/hls/42/` (a prefix).
    pub resource: String,
    /// `/hls/42/`: where the browser sends them.
    pub path: String,
    pub expires_at: u64,
    pub max_age: u64,
    /// The key that signed it.
    pub key_id: String,
}

impl FolderCredential {
    /// One `Set-Cookie` value per cookie.
    pub fn set_cookie_headers(&self, settings: &CookieSettings) -> Vec<String> {
        self.cookies
            .iter()
            .map(|(name, value)| {
                let mut c = format!(
                    "{name}={value}; Path={}; Max-Age={}",
                    self.path, self.max_age
                );
                if let Some(domain) = &settings.domain {
                    c.push_str("; Domain=");
                    c.push_str(domain);
                }
                if settings.secure {
                    c.push_str("; Secure");
                }
                if settings.http_only {
                    c.push_str("; HttpOnly");
                }
                c.push_str("; SameSite=");
                c.push_str(settings.same_site);
                c
            })
            .collect()
    }
}
