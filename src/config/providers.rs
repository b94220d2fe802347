//! The keys and options of a distribution whose provider is not CloudFront: read from a file or
//! an environment variable (inline only with `dev = true`), parsed into the provider's own key
//! type, so that a key of the wrong form stops the start with a message naming it.

use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail};
use serde::Deserialize;
use signgate_providers::{
    akamai, azure_blob, bunny, gcs, google_cloud_cdn, google_media_cdn, nginx_secure_link, s3,
    Digest, Provider,
};

use super::signing::RawDistribution;
use crate::sign::CdnSigner;

/// `provider` of a distribution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderName {
    #[default]
    #[serde(rename = "cloudfront")]
    CloudFront,
    GoogleCloudCdn,
    GoogleMediaCdn,
    Akamai,
    Bunny,
    NginxSecureLink,
    // Object stores.
    Gcs,
    AzureBlob,
    S3,
}

impl ProviderName {
    pub fn name(self) -> &'static str {
        match self {
            ProviderName::CloudFront => "cloudfront",
            ProviderName::GoogleCloudCdn => "google-cloud-cdn",
            ProviderName::GoogleMediaCdn => "google-media-cdn",
            ProviderName::Akamai => "akamai",
            ProviderName::Bunny => "bunny",
            ProviderName::NginxSecureLink => "nginx-secure-link",
            ProviderName::Gcs => "gcs",
            ProviderName::AzureBlob => "azure-blob",
            ProviderName::S3 => "s3",
        }
    }
}

/// One entry of a distribution's `keys`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProviderKey {
    /// The key's name: Cloud CDN's and Media CDN's `KeyName`; a label elsewhere (audit lines).
    name: String,
    key: Option<String>,
    key_file: Option<String>,
    key_env: Option<String>,
    /// google-media-cdn: `ed25519` (default), `hmac-sha1` or `hmac-sha256`.
    algorithm: Option<String>,
}

/// Refuses options set on a distribution whose provider does not read them.
pub(super) fn refuse_foreign_options(
    d: &RawDistribution,
    provider: ProviderName,
    at: &str,
) -> anyhow::Result<()> {
    use ProviderName::*;
    let algorithm = d.keys.iter().any(|k| k.algorithm.is_some());
    let s3_options: [(&str, bool, &[ProviderName]); 3] = [
        ("region", d.region.is_some(), &[S3]),
        ("session_token_file", d.session_token_file.is_some(), &[S3]),
        ("session_token_env", d.session_token_env.is_some(), &[S3]),
    ];
    let options: [(&str, bool, &[ProviderName]); 12] = [
        ("keys[].algorithm", algorithm, &[GoogleMediaCdn]),
        (
            "keys",
            !d.keys.is_empty(),
            &[
                GoogleCloudCdn,
                GoogleMediaCdn,
                Akamai,
                Bunny,
                NginxSecureLink,
                Gcs,
                AzureBlob,
                S3,
            ],
        ),
        (
            "active_key",
            d.active_key.is_some(),
            &[
                GoogleCloudCdn,
                GoogleMediaCdn,
                Akamai,
                Bunny,
                NginxSecureLink,
                Gcs,
                AzureBlob,
                S3,
            ],
        ),
        ("mode", d.mode.is_some(), &[GoogleMediaCdn]),
        ("token_name", d.token_name.is_some(), &[Akamai]),
        ("algorithm", d.algorithm.is_some(), &[Akamai]),
        (
            "ignore_query_string",
            d.ignore_query_string.is_some(),
            &[Akamai],
        ),
        ("ip_binding", d.ip_binding.is_some(), &[Bunny]),
        ("expression", d.expression.is_some(), &[NginxSecureLink]),
        ("secure_link", d.secure_link.is_some(), &[NginxSecureLink]),
        ("location", d.location.is_some(), &[NginxSecureLink]),
        (
            "rotation_selector",
            d.rotation_selector.is_some(),
            &[NginxSecureLink],
        ),
    ];
    let gcs_and_azure: [(&str, bool, &[ProviderName]); 5] = [
        ("hmac_access_id", d.hmac_access_id.is_some(), &[Gcs]),
        ("account", d.account.is_some(), &[AzureBlob]),
        ("container", d.container.is_some(), &[AzureBlob]),
        ("protocol", d.protocol.is_some(), &[AzureBlob]),
        ("stored_policy", d.stored_policy.is_some(), &[AzureBlob]),
    ];
    for (field, set, owners) in options.into_iter().chain(gcs_and_azure).chain(s3_options) {
        if set && !owners.contains(&provider) {
            let names: Vec<&str> = owners.iter().map(|p| p.name()).collect();
            bail!(
                "{at}.{field}: not an option of provider {:?} (it is one of {})",
                provider.name(),
                names.join(", ")
            );
        }
    }
    Ok(())
}

/// The provider keys published in `config/dev/providers/` for the default configuration: refused
/// unless `dev = true`, like the CloudFront demo keys.
const DEMO_KEYS: [&str; 10] = [
    include_str!("../../config/dev/providers/google-cloud-cdn.key"),
    include_str!("../../config/dev/providers/google-cloud-cdn-old.key"),
    include_str!("../../config/dev/providers/google-media-cdn-ed25519.pem"),
    include_str!("../../config/dev/providers/akamai.hex"),
    include_str!("../../config/dev/providers/akamai-transition.hex"),
    include_str!("../../config/dev/providers/bunny.key"),
    include_str!("../../config/dev/providers/nginx-secure-link.secret"),
    include_str!("../../config/dev/providers/gcs-service-account.json"),
    include_str!("../../config/dev/providers/gcs-hmac.secret"),
    include_str!("../../config/dev/providers/azure-devstoreaccount1.key"),
];

/// The s3 demo secret (config/dev/providers/s3.secret), refused the same way.
const S3_DEMO_SECRET: &str = include_str!("../../config/dev/providers/s3.secret");

/// A key's text, from exactly one of `key` (dev only), `key_file` and `key_env`.
struct KeyText {
    name: String,
    text: String,
    algorithm: Option<String>,
    at: String,
}

fn read_keys(
    d: &RawDistribution,
    at: &str,
    base: &Path,
    dev: bool,
    most: usize,
) -> anyhow::Result<Vec<KeyText>> {
    if d.keys.is_empty() {
        bail!("{at}.keys: list the keys that sign, e.g. keys = [{{ name = \"k1\", key_file = \"...\" }}]");
    }
    if d.keys.len() > most {
        bail!(
            "{at}.keys: {} keys given; this provider holds at most {most}",
            d.keys.len()
        );
    }
    let mut out: Vec<KeyText> = Vec::new();
    for (j, k) in d.keys.iter().enumerate() {
        let at = format!("{at}.keys[{j}]");
        if k.name.is_empty() {
            bail!("{at}.name: must not be empty");
        }
        if out.iter().any(|o| o.name == k.name) {
            bail!("{at}.name: duplicate key name {:?}", k.name);
        }
        let bytes = super::sources::secret(
            &at,
            "key",
            (&k.key, &k.key_file, &k.key_env),
            b"\r\n \t",
            base,
            dev,
        )?
        .ok_or_else(|| anyhow!("{at}: give one of key_file and key_env"))?;
        let text = String::from_utf8(bytes.expose().clone())
            .map_err(|_| anyhow!("{at}: key {:?} is not text", k.name))?;
        if text.is_empty() {
            bail!("{at}: key {:?} is empty", k.name);
        }
        let demo = DEMO_KEYS.iter().chain([&S3_DEMO_SECRET]);
        if !dev && demo.into_iter().any(|demo| demo.trim_end() == text) {
            bail!("{at}: key {:?} is a published demo key (config/dev/providers/); it is refused unless dev = true", k.name);
        }
        out.push(KeyText {
            name: k.name.clone(),
            text,
            algorithm: k.algorithm.clone(),
            at,
        });
    }
    Ok(out)
}

/// The name of the signing key: `active_key`, or the only key.
fn active(d: &RawDistribution, keys: &[KeyText], at: &str) -> anyhow::Result<String> {
    match (&d.active_key, keys) {
        (Some(name), _) if keys.iter().any(|k| &k.name == name) => Ok(name.clone()),
        (Some(name), _) => bail!("{at}.active_key: no key named {name:?} in keys"),
        (None, [only]) => Ok(only.name.clone()),
        (None, _) => bail!("{at}.active_key: name the key that signs"),
    }
}

/// The signer of a distribution with a provider other than CloudFront.
pub(super) fn signer(
    d: &RawDistribution,
    provider: ProviderName,
    at: &str,
    base: &Path,
    dev: bool,
) -> anyhow::Result<CdnSigner> {
    let name = provider.name();
    let (built, active): (Arc<dyn Provider>, String) = match provider {
        ProviderName::CloudFront => unreachable!("CloudFront signs with its key sets"),
        ProviderName::GoogleCloudCdn => {
            let texts = read_keys(d, at, base, dev, google_cloud_cdn::MAX_KEYS)?;
            let active = active(d, &texts, at)?;
            let mut keys = Vec::new();
            for k in &texts {
                keys.push(
                    google_cloud_cdn::Key::from_base64url(&k.name, &k.text)
                        .map_err(|e| anyhow!("{}: {name}: {e}", k.at))?,
                );
            }
            let set = google_cloud_cdn::KeySet::new(keys, &active)
                .map_err(|e| anyhow!("{at}.keys: {name}: {e}"))?;
            (Arc::new(google_cloud_cdn::CloudCdn::new(set)), active)
        }
        ProviderName::GoogleMediaCdn => {
            let mode = match d.mode.as_deref() {
                Some("signatures") => google_media_cdn::Mode::Signatures,
                Some("tokens") => google_media_cdn::Mode::Tokens,
                Some(other) => bail!("{at}.mode: {other:?} is not \"signatures\" or \"tokens\""),
                None => bail!(
                    "{at}.mode: give the route's signed-request mode, \"signatures\" or \"tokens\""
                ),
            };
            let texts = read_keys(d, at, base, dev, 6)?;
            let active = active(d, &texts, at)?;
            let mut keys = Vec::new();
            for k in &texts {
                keys.push(media_cdn_key(k)?);
            }
            let set = google_media_cdn::Keyset::new(keys, &active)
                .map_err(|e| anyhow!("{at}.keys: {name}: {e}"))?;
            let signer = google_media_cdn::MediaCdn::new(set, mode)
                .map_err(|e| anyhow!("{at}: {name}: {e}"))?;
            (Arc::new(signer), active)
        }
        ProviderName::Akamai => {
            let texts = read_keys(d, at, base, dev, 2)?;
            let active = active(d, &texts, at)?;
            let (primary, transition): (Vec<_>, Vec<_>) =
                texts.iter().partition(|k| k.name == active);
            let key = akamai::HexKey::parse(&primary[0].text)
                .map_err(|e| anyhow!("{}: {name}: {e}", primary[0].at))?;
            let transition = match transition.first() {
                Some(k) => Some(
                    akamai::HexKey::parse_transition(&k.text)
                        .map_err(|e| anyhow!("{}: {name}: {e}", k.at))?,
                ),
                None => None,
            };
            let mut config = akamai::Config::default();
            if let Some(token_name) = &d.token_name {
                config.token_name = akamai::TokenName::parse(token_name)
                    .map_err(|e| anyhow!("{at}.token_name: {name}: {e}"))?;
            }
            if let Some(algorithm) = &d.algorithm {
                config.algorithm = digest(algorithm, &[Digest::Sha256, Digest::Sha1, Digest::Md5])
                    .ok_or_else(|| {
                        anyhow!("{at}.algorithm: {algorithm:?} is not sha256, sha1 or md5")
                    })?;
            }
            if let Some(ignore) = d.ignore_query_string {
                config.ignore_query_string = ignore;
            }
            let signer = akamai::Akamai::new(key, transition, config)
                .map_err(|e| anyhow!("{at}: {name}: {e}"))?;
            (Arc::new(signer), active)
        }
        ProviderName::Bunny => {
            let texts = read_keys(d, at, base, dev, 1)?;
            let ip_binding = match d.ip_binding.as_deref() {
                None | Some("ipv4") => bunny::IpBinding::V4Only,
                Some("ipv4-and-ipv6-64") => bunny::IpBinding::V4AndV6Slash64,
                Some(other) => {
                    bail!("{at}.ip_binding: {other:?} is not \"ipv4\" or \"ipv4-and-ipv6-64\"")
                }
            };
            let key = bunny::SecurityKey::new(&texts[0].text)
                .map_err(|e| anyhow!("{}: {name}: {e}", texts[0].at))?;
            (
                Arc::new(bunny::Bunny::new(key, ip_binding)),
                active(d, &texts, at)?,
            )
        }
        ProviderName::NginxSecureLink => {
            use nginx_secure_link::{Config, Expression, Location, Rotation, Secret, SecureLink};
            let texts = read_keys(d, at, base, dev, 2)?;
            let active = active(d, &texts, at)?;
            let location = d
                .location
                .as_deref()
                .map(Location::parse)
                .transpose()
                .map_err(|e| anyhow!("{at}.location: {name}: {e}"))?;
            let source = d.secure_link.as_deref().unwrap_or("$arg_md5,$arg_expires");
            let source = nginx_secure_link::Source::parse(source)
                .map_err(|e| anyhow!("{at}.secure_link: {name}: {e}"))?;
            let expression = d.expression.as_deref().ok_or_else(|| {
                anyhow!("{at}.expression: give the secure_link_md5 expression nginx checks, e.g. \"$secure_link_expires$uri$remote_addr $secret\"")
            })?;
            let expression = match &location {
                Some(location) => Expression::parse_in(expression, location),
                None => Expression::parse(expression),
            }
            .map_err(|e| anyhow!("{at}.expression: {name}: {e}"))?;
            let mut secret = None;
            let mut previous = None;
            for k in &texts {
                let s = Secret::new(&k.text).map_err(|e| anyhow!("{}: {name}: {e}", k.at))?;
                if k.name == active {
                    secret = Some(s);
                } else {
                    previous = Some(s);
                }
            }
            let rotation = match (previous, d.rotation_selector.as_deref()) {
                (None, None) => None,
                (Some(previous), Some(selector)) => Some(Rotation {
                    selector: nginx_secure_link::Var::parse(selector)
                        .map_err(|e| anyhow!("{at}.rotation_selector: {name}: {e}"))?,
                    name: active.clone(),
                    previous,
                }),
                (Some(_), None) => bail!("{at}.rotation_selector: two keys are a rotation: name the variable nginx's map reads to pick the current secret (e.g. \"$arg_sk\"); links signed with the active key carry its name"),
                (None, Some(_)) => bail!("{at}.rotation_selector: a rotation needs the previous secret listed in keys"),
            };
            let signer = SecureLink::configure(Config {
                location,
                source,
                expression,
                secret: secret.expect("the active key is among the keys"),
                rotation,
            })
            .map_err(|e| anyhow!("{at}: {name}: {e}"))?;
            (Arc::new(signer), active)
        }
        ProviderName::Gcs => gcs_signer(d, at, base, dev)?,
        ProviderName::AzureBlob => azure_blob_signer(d, at, base, dev)?,
        ProviderName::S3 => s3_signer(d, at, base, dev, s3::Method::Get)?,
    };
    Ok(CdnSigner::new(built, active))
}

/// `gcs`: one key, a service account's JSON key file, or with `hmac_access_id` an HMAC secret.
fn gcs_signer(
    d: &RawDistribution,
    at: &str,
    base: &Path,
    dev: bool,
) -> anyhow::Result<(Arc<dyn Provider>, String)> {
    let texts = read_keys(d, at, base, dev, 1)?;
    let k = &texts[0];
    let key = match &d.hmac_access_id {
        Some(access_id) => {
            gcs::SigningKey::hmac(&k.name, access_id, &k.text).map_err(|e| match e {
                gcs::Error::BadAccessId(_) => anyhow!("{at}.hmac_access_id: gcs: {e}"),
                e => anyhow!(
                    "{}: gcs: {e} (with hmac_access_id the key file holds the HMAC secret)",
                    k.at
                ),
            })?
        }
        None => gcs::SigningKey::service_account_json(&k.name, &k.text)
            .map_err(|e| anyhow!("{}: gcs: {e}", k.at))?,
    };
    Ok((Arc::new(gcs::Gcs::new(key)), k.name.clone()))
}

/// `azure-blob`: the account's key (or both), the container from the URL or the options.
fn azure_blob_signer(
    d: &RawDistribution,
    at: &str,
    base: &Path,
    dev: bool,
) -> anyhow::Result<(Arc<dyn Provider>, String)> {
    use azure_blob::Error as E;
    let texts = read_keys(d, at, base, dev, 2)?;
    let active = active(d, &texts, at)?;
    let mut keys = Vec::new();
    for k in &texts {
        keys.push(
            azure_blob::AccountKey::from_base64(&k.name, &k.text)
                .map_err(|e| anyhow!("{}: azure-blob: {e}", k.at))?,
        );
    }
    let location =
        azure_blob::Location::from_url(&d.url, d.account.as_deref(), d.container.as_deref())
            .map_err(|e| {
                let field = match e {
                    E::AccountMissing | E::AccountMismatch { .. } | E::BadAccountName(_) => {
                        "account"
                    }
                    E::ContainerMissing | E::ContainerMismatch { .. } | E::BadContainerName(_) => {
                        "container"
                    }
                    _ => "url",
                };
                anyhow!("{at}.{field}: azure-blob: {e}")
            })?;
    let protocol = match d.protocol.as_deref() {
        None | Some("https") => azure_blob::Protocol::Https,
        Some("https,http" | "http,https") => azure_blob::Protocol::HttpsAndHttp,
        Some(other) => {
            bail!("{at}.protocol: {other:?} is not \"https\" or \"https,http\" (the emulator's)")
        }
    };
    let config = azure_blob::Config {
        location,
        protocol,
        stored_policy: d.stored_policy.clone(),
    };
    let signer = azure_blob::AzureBlob::new(keys, &active, config).map_err(|e| {
        let field = match e {
            E::BadPolicyId(_) => "stored_policy",
            E::HttpWithHttpsOnly => "protocol",
            _ => "keys",
        };
        anyhow!("{at}.{field}: azure-blob: {e}")
    })?;
    Ok((Arc::new(signer), active))
}

/// An s3 distribution: one key, named by its access key ID, whose file or variable holds the
/// secret access key; the bucket's region; a session token for temporary credentials. Links are
/// signed for `method` (the service's are GET; `signgate sign --option method=HEAD`).
fn s3_signer(
    d: &RawDistribution,
    at: &str,
    base: &Path,
    dev: bool,
    method: s3::Method,
) -> anyhow::Result<(Arc<dyn Provider>, String)> {
    if d.keys.len() != 1 {
        bail!("{at}.keys: s3 takes one key: keys = [{{ name = \"<access key ID>\", key_file or key_env = \"<the secret access key>\" }}]");
    }
    let texts = read_keys(d, at, base, dev, 1)?;
    let key = &texts[0];
    // The base URL as the distribution signs under it (scheme and host lowercased).
    let url =
        signgate_cloudfront::SignableUrl::parse(&d.url).map_err(|e| anyhow!("{at}.url: {e}"))?;
    s3::check_base_url(url.as_str().trim_end_matches('/'))
        .map_err(|e| anyhow!("{at}.url: s3: {e}"))?;
    let region = d.region.as_deref().ok_or_else(|| {
        anyhow!("{at}.region: give the bucket's region (\"eu-west-1\"; \"auto\" for Cloudflare R2; \"us-east-1\" for MinIO unless it was set otherwise)")
    })?;
    let region = s3::Region::parse(region).map_err(|e| anyhow!("{at}.region: s3: {e}"))?;
    let mut credentials =
        s3::Credentials::new(&key.name, &key.text).map_err(|e| anyhow!("{}: s3: {e}", key.at))?;
    let token = super::sources::secret(
        at,
        "session_token",
        (&None, &d.session_token_file, &d.session_token_env),
        b"\r\n \t",
        base,
        dev,
    )?;
    if let Some(token) = token {
        let text = std::str::from_utf8(token.expose())
            .map_err(|_| anyhow!("{at}.session_token: s3: the session token is not text"))?;
        credentials = credentials
            .with_session_token(text)
            .map_err(|e| anyhow!("{at}.session_token: s3: {e}"))?;
    }
    let signer = s3::S3::new(credentials, region).with_method(method);
    Ok((Arc::new(signer), key.name.clone()))
}

/// A provider's signer from command-line arguments (`signgate sign/verify/edge --provider`):
/// the same keys and options as a `[[distributions]]` entry, checked the same way. Keys are
/// `(name, file)`, the first one signing; options are `(option, value)` as in the file.
pub fn signer_for_cli(
    provider: &str,
    base_url: &str,
    keys: &[(String, String)],
    options: &[(String, String)],
) -> anyhow::Result<CdnSigner> {
    let mut raw = serde_json::json!({
        "name": "cli",
        "provider": provider,
        "url": base_url,
        "keys": keys
            .iter()
            .map(|(name, file)| serde_json::json!({"name": name, "key_file": file}))
            .collect::<Vec<_>>(),
        "active_key": keys.first().map(|(name, _)| name),
    });
    // s3's `method` is the command line's only: the service signs GET links.
    let method = options.iter().find(|(o, _)| o == "method");
    let options = options.iter().filter(|(o, _)| o != "method");
    for (option, value) in options {
        raw[option] = match (option.as_str(), value.as_str()) {
            ("ignore_query_string", "true") => true.into(),
            ("ignore_query_string", "false") => false.into(),
            _ => value.as_str().into(),
        };
    }
    let raw: RawDistribution =
        serde_json::from_value(raw).map_err(|e| anyhow!("--provider/--option: {e}"))?;
    if raw.provider == ProviderName::CloudFront {
        bail!("--provider cloudfront: CloudFront signs with --key and --key-pair-id");
    }
    refuse_foreign_options(&raw, raw.provider, "--option")?;
    if let Some((_, method)) = method {
        if raw.provider != ProviderName::S3 {
            bail!("--option method: only provider s3 signs for a method");
        }
        let method = s3::Method::parse(method).map_err(|e| anyhow!("--option method: {e}"))?;
        let (built, active) = s3_signer(&raw, "provider", Path::new("."), true, method)?;
        return Ok(CdnSigner::new(built, active));
    }
    signer(&raw, raw.provider, "provider", Path::new("."), true)
}

fn digest(text: &str, allowed: &[Digest]) -> Option<Digest> {
    let d = match text.to_ascii_lowercase().as_str() {
        "sha256" => Digest::Sha256,
        "sha1" => Digest::Sha1,
        "md5" => Digest::Md5,
        _ => return None,
    };
    allowed.contains(&d).then_some(d)
}

/// A Media CDN key: an Ed25519 private key (PKCS#8 PEM, or its 32-byte seed in base64) or an
/// HMAC secret in base64.
fn media_cdn_key(k: &KeyText) -> anyhow::Result<google_media_cdn::SigningKey> {
    use google_media_cdn::SigningKey;
    let key = match k.algorithm.as_deref().unwrap_or("ed25519") {
        "hmac-sha1" => SigningKey::hmac(&k.name, &k.text, Digest::Sha1),
        "hmac-sha256" => SigningKey::hmac(&k.name, &k.text, Digest::Sha256),
        "ed25519" if k.text.starts_with("-----BEGIN") => {
            SigningKey::ed25519_pkcs8(&k.name, k.text.as_bytes())
        }
        "ed25519" => SigningKey::ed25519_seed(&k.name, &k.text),
        other => bail!(
            "{}.algorithm: {other:?} is not ed25519, hmac-sha1 or hmac-sha256",
            k.at
        ),
    };
    key.map_err(|e| anyhow!("{}: google-media-cdn: {e}", k.at))
}
