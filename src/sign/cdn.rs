//! Every CDN beside CloudFront, through the providers crate's one interface
//! ([`signgate_providers::Provider`]): sign a URL, sign a folder, verify.
//!
//! What a provider can do (bind an IPv4 or IPv6 client, cover a query parameter such as the
//! download name, hand a folder credential out as a cookie, in the path or in the query) is not
//! declared by hand: [`Capabilities::probe`] finds it out at start-up, for each rule, by signing
//! trial URLs under a folder of the rule's own shape and checking them with the provider's own
//! verifier, exactly as its edge would. A rule that asks for something its provider cannot do is
//! then refused when the configuration is loaded, and a request is never signed in a form the
//! edge would not enforce.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use signgate_providers::{Credential, Delivery, EdgeRequest, Grant, Provider};

use super::{FolderCredential, FolderForm, SignError, SignedObject, Window};

/// A distribution's provider and its active key's name.
#[derive(Clone)]
pub struct CdnSigner {
    provider: Arc<dyn Provider>,
    active_key: String,
}

impl std::fmt::Debug for CdnSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CdnSigner")
            .field("provider", &self.provider())
            .field("active_key", &self.active_key)
            .finish_non_exhaustive()
    }
}

impl CdnSigner {
    /// `provider`, signing with the key named `active_key`.
    pub fn new(provider: Arc<dyn Provider>, active_key: String) -> Self {
        CdnSigner {
            provider,
            active_key,
        }
    }

    pub fn provider(&self) -> &'static str {
        self.provider.scheme().name()
    }

    pub fn active_key(&self) -> &str {
        &self.active_key
    }

    /// The provider itself: its verifier for the local edge and `signgate verify`, its signer
    /// for `signgate sign`.
    pub fn inner(&self) -> &dyn Provider {
        self.provider.as_ref()
    }

    /// Whether a signature in `window` can be made (the client's address bound as asked).
    pub(super) fn check_grant(
        &self,
        window: &Window,
        caps: &Capabilities,
    ) -> Result<(), SignError> {
        self.grant(window, caps).map(|_| ())
    }

    fn grant(&self, window: &Window, caps: &Capabilities) -> Result<Grant, SignError> {
        match window.client_ip {
            Some(IpAddr::V4(_)) if !caps.ipv4 => Err(SignError::IpBindingUnavailable),
            Some(IpAddr::V6(_)) if !caps.ipv6 => Err(SignError::IpBindingUnavailable),
            client_ip => Ok(Grant {
                expires: window.expires,
                starts: None,
                client_ip,
                signed_at: Some(window.signed_at),
            }),
        }
    }

    pub(super) fn sign_url(
        &self,
        url: &str,
        window: &Window,
        caps: &Capabilities,
    ) -> Result<SignedObject, SignError> {
        let grant = self.grant(window, caps)?;
        let signed = self
            .provider
            .sign_url(url, &grant)
            .map_err(|e| SignError::Unsignable(e.to_string()))?;
        Ok(SignedObject {
            url: signed.into(),
            expires_at: grant.expires,
            key_id: self.active_key.as_str().into(),
        })
    }

    /// `sign_per = "folder"`: the prefix credential for `prefix` in its query form, signed once
    /// with `url` (a file inside it) as the entry and returned as the query it appended
    /// (`?...`), which opens every other file of the folder too (the load-time probe,
    /// [`Capabilities::shared_query`], showed it for this provider).
    pub(super) fn sign_shared_query(
        &self,
        prefix: &str,
        url: &str,
        window: &Window,
        caps: &Capabilities,
    ) -> Result<String, SignError> {
        let grant = self.grant(window, caps)?;
        match self
            .provider
            .sign_prefix(prefix, Delivery::Query { url }, &grant)
            .map_err(|e| SignError::Unsignable(e.to_string()))?
        {
            Credential::Url(signed) => signed
                .strip_prefix(url)
                .filter(|query| query.starts_with('?'))
                .map(str::to_owned)
                .ok_or_else(|| SignError::Internal("the folder credential rewrote its URL".into())),
            _ => Err(SignError::Internal(
                "a query folder credential came back in another form".into(),
            )),
        }
    }

    pub(super) fn sign_folder(
        &self,
        prefix: &str,
        form: FolderForm,
        entry: Option<&str>,
        window: &Window,
        caps: &Capabilities,
    ) -> Result<FolderCredential, SignError> {
        let grant = self.grant(window, caps)?;
        let delivery = match (form, entry) {
            (FolderForm::Cookie, _) => Delivery::Cookie,
            (FolderForm::Path, Some(url)) => Delivery::Path { url },
            (FolderForm::Query, Some(url)) => Delivery::Query { url },
            (_, None) => {
                return Err(SignError::Internal(
                    "a path or query folder credential needs an entry URL".into(),
                ))
            }
        };
        let credential = self
            .provider
            .sign_prefix(prefix, delivery, &grant)
            .map_err(|e| SignError::Unsignable(e.to_string()))?;
        let (cookies, url) = match credential {
            Credential::Cookie { name, value } => (vec![(name, value)], None),
            Credential::Cookies(cookies) => (cookies, None),
            Credential::Url(url) => (Vec::new(), Some(url)),
        };
        Ok(FolderCredential {
            cookies,
            url,
            resource: prefix.to_owned(),
            path: String::new(),
            expires_at: grant.expires,
            max_age: 0,
            key_id: self.active_key.clone(),
        })
    }
}

/// What a provider enforces, as found by trial signatures checked with its own verifier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// It signs only with a client address (nginx `$remote_addr` in the expression).
    pub needs_client_ip: bool,
    /// A URL bound to an IPv4 client verifies from it and not from another.
    pub ipv4: bool,
    /// The same for IPv6 (another /64).
    pub ipv6: bool,
    /// `response-content-disposition` in the query is covered: changing it fails verification.
    pub download: bool,
    /// A folder credential as a cookie admits files inside the folder and nothing outside.
    pub cookie: bool,
    /// In the entry URL's path, inherited by a relative URL beside it, nothing outside.
    pub path: bool,
    /// In the entry URL's query.
    pub query: bool,
    /// In the query, signed once with one file as the entry, and appended as it is to any other
    /// file of the folder (at any depth) it verifies, and outside the folder it does not: what
    /// `sign_per = "folder"` needs.
    pub shared_query: bool,
}

/// The trial time; any fixed moment well inside every scheme's range.
const NOW: u64 = 1_800_000_000;
const V4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
const V4_OTHER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11));
const V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10));
const V6_OTHER: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x10));

impl Capabilities {
    /// Signs trial URLs under `base_url/folder/` (a folder of the rule's shape: its literal
    /// prefix, any claim or wildcard segment filled in) and checks each with the provider's
    /// verifier.
    pub fn probe(provider: &dyn Provider, base_url: &str, folder: &str) -> Self {
        let prefix = format!("{base_url}/{folder}/");
        let object = format!("{prefix}index.m3u8");
        // The same URL with the folder's last segment renamed: a sibling folder.
        let beside_folder = |url: &str| {
            url.replacen(
                &format!("/{folder}/"),
                &format!("/{folder}-signgate-other/"),
                1,
            )
        };
        let grant = |client_ip| Grant {
            expires: NOW + 300,
            starts: None,
            client_ip,
            signed_at: Some(NOW),
        };
        let verifies = |url: &str, cookies: &[(&str, &str)], client_ip| {
            provider
                .verify(&EdgeRequest {
                    method: provider.method(),
                    url,
                    cookies,
                    client_ip: Some(client_ip),
                    now: NOW,
                })
                .is_ok()
        };
        let binds = |ip, other| match provider.sign_url(&object, &grant(Some(ip))) {
            Ok(url) => verifies(&url, &[], ip) && !verifies(&url, &[], other),
            Err(_) => false,
        };
        let ipv4 = binds(V4, V4_OTHER);
        let needs_client_ip = provider.sign_url(&object, &grant(None)).is_err() && ipv4;
        // Every other trial as a caller at V4 would be signed: bound when the provider needs it.
        let g = grant(needs_client_ip.then_some(V4));
        let download = {
            let with = |name: &str| format!("{object}?response-content-disposition={name}");
            match provider.sign_url(&with("attachment"), &g) {
                Ok(url) => {
                    let tampered = url.replacen("=attachment", "=inline", 1);
                    verifies(&url, &[], V4) && tampered != url && !verifies(&tampered, &[], V4)
                }
                Err(_) => false,
            }
        };
        let inside = format!("{prefix}segment-1.ts");
        let outside = beside_folder(&object);
        let cookie = match provider.sign_prefix(&prefix, Delivery::Cookie, &g) {
            Ok(Credential::Cookie { name, value }) => {
                let jar = [(name.as_str(), value.as_str())];
                verifies(&inside, &jar, V4) && !verifies(&outside, &jar, V4)
            }
            Ok(Credential::Cookies(cookies)) => {
                let jar: Vec<(&str, &str)> = cookies
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                verifies(&inside, &jar, V4) && !verifies(&outside, &jar, V4)
            }
            _ => false,
        };
        let in_url = |delivery| match provider.sign_prefix(&prefix, delivery, &g) {
            Ok(Credential::Url(url)) => Some(url),
            _ => None,
        };
        let path = in_url(Delivery::Path { url: &object }).is_some_and(|url| {
            // A player resolves `segment-1.ts` against the entry URL.
            let beside = format!("{}segment-1.ts", &url[..url.rfind('/').unwrap_or(0) + 1]);
            let escaped = beside_folder(&url);
            verifies(&url, &[], V4)
                && verifies(&beside, &[], V4)
                && escaped != url
                && !verifies(&escaped, &[], V4)
        });
        let query_url = in_url(Delivery::Query { url: &object });
        let query = query_url.as_deref().is_some_and(|url| {
            let escaped = beside_folder(url);
            verifies(url, &[], V4) && escaped != url && !verifies(&escaped, &[], V4)
        });
        let shared_query = query
            && query_url
                .as_deref()
                .and_then(|url| url.strip_prefix(object.as_str()))
                .filter(|q| q.starts_with('?'))
                .is_some_and(|q| {
                    let elsewhere = |file: &str| verifies(&format!("{file}{q}"), &[], V4);
                    elsewhere(&format!("{prefix}segment-1.ts"))
                        && elsewhere(&format!("{prefix}1080p/segment-2.ts"))
                        && !elsewhere(&beside_folder(&format!("{prefix}segment-1.ts")))
                        && !elsewhere(&format!("{base_url}/segment-1.ts"))
                });
        Capabilities {
            needs_client_ip,
            ipv4,
            ipv6: binds(V6, V6_OTHER),
            download,
            cookie,
            path,
            query,
            shared_query,
        }
    }

    /// Why `provider` cannot sign a link under `base_url/folder/` valid for `seconds` (a rule's
    /// lifetime, plus the stable-URL step its expiry may be rounded up by) when it signs a
    /// five-minute one: S3 carries at most 7 days from the signing time.
    pub fn lifetime_refusal(
        &self,
        provider: &dyn Provider,
        base_url: &str,
        folder: &str,
        seconds: u64,
    ) -> Option<String> {
        let object = format!("{base_url}/{folder}/index.m3u8");
        let sign = |seconds| {
            provider.sign_url(
                &object,
                &Grant {
                    expires: NOW + seconds,
                    starts: None,
                    client_ip: self.needs_client_ip.then_some(V4),
                    signed_at: Some(NOW),
                },
            )
        };
        match (sign(300), sign(seconds)) {
            (Ok(_), Err(e)) => Some(e.to_string()),
            _ => None,
        }
    }

    /// Whether a folder credential can be delivered in `form`.
    pub fn folder(&self, form: FolderForm) -> bool {
        match form {
            FolderForm::Cookie => self.cookie,
            FolderForm::Path => self.path,
            FolderForm::Query => self.query,
        }
    }
}
