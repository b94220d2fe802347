//! Signed cookies for a folder: their attributes per distribution and the `Set-Cookie` values.

use signgate_cloudfront::SignedCookies;

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

/// Signed cookies for a folder, ready to set.
pub struct FolderCookies {
    pub cookies: SignedCookies,
    /// `https://media.example.com/hls/42/*`
    pub resource: String,
    /// `/hls/42/`: where the browser sends them.
    pub path: String,
    pub expires_at: u64,
    pub max_age: u64,
    pub key_pair_id: String,
}

impl FolderCookies {
    /// One `Set-Cookie` value per cookie.
    pub fn set_cookie_headers(&self, settings: &CookieSettings) -> Vec<String> {
        self.cookies
            .0
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
