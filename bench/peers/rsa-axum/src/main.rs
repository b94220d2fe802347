//! The Rust peer of bench/peers/run: a minimal axum handler doing signgate's job with the `rsa`
//! crate (0.9) for the signature and jsonwebtoken for the token.
//!
//!   signgate-bench-peer-rsa-axum PORT
//!
//! GET /files/{key} with `Authorization: Bearer <HS256 JWT>` -> the token is checked (issuer,
//! audience, expiry, HS256 only) -> the key must lie under users/{sub}/ -> a canned-policy
//! CloudFront URL valid 300 s is signed with RSA-SHA1 (PKCS#1 v1.5, blinded with `thread_rng`
//! as the crate's documentation does it) -> 302. 401 without a valid token, 403 for someone
//! else's key. One worker thread, as signgate runs in the benchmark. Settings come from the
//! same PEER_* variables as the Django and Node peers.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{RandomizedSigner, SignatureEncoding};
use rsa::RsaPrivateKey;
use sha1::Sha1;

const LIFETIME_SECONDS: u64 = 300;

struct Peer {
    token_key: DecodingKey,
    validation: Validation,
    signing_key: SigningKey<Sha1>,
    key_pair_id: String,
    distribution: String,
}

#[derive(serde::Deserialize)]
struct Claims {
    sub: String,
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

impl Peer {
    fn from_env() -> Peer {
        let file = std::fs::read_to_string(env("PEER_KEY_FILE")).expect("PEER_KEY_FILE");
        // The demo key file starts with a warning line; the PEM block is what a real key holds.
        let pem = &file[file.find("-----BEGIN").expect("a PEM block")..];
        let private_key = RsaPrivateKey::from_pkcs8_pem(pem).expect("an RSA PKCS#8 key");
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[env("PEER_JWT_ISSUER")]);
        validation.set_audience(&[env("PEER_JWT_AUDIENCE")]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Peer {
            token_key: DecodingKey::from_secret(env("PEER_JWT_SECRET").as_bytes())
                .expect("an HS256 secret"),
            validation,
            signing_key: SigningKey::new(private_key),
            key_pair_id: env("PEER_KEY_PAIR_ID"),
            distribution: env("PEER_DISTRIBUTION_URL"),
        }
    }

    /// A canned-policy signed URL, as CloudFront documents it.
    fn sign(&self, url: &str, expires: u64) -> String {
        let policy = format!(
            r#"{{"Statement":[{{"Resource":"{url}","Condition":{{"DateLessThan":{{"AWS:EpochTime":{expires}}}}}}}]}}"#
        );
        let signature = self
            .signing_key
            .sign_with_rng(&mut rand::thread_rng(), policy.as_bytes());
        let encoded: String = base64::engine::general_purpose::STANDARD
            .encode(signature.to_bytes())
            .chars()
            .map(|c| match c {
                '+' => '-',
                '=' => '_',
                '/' => '~',
                c => c,
            })
            .collect();
        format!(
            "{url}?Expires={expires}&Signature={encoded}&Key-Pair-Id={}",
            self.key_pair_id
        )
    }
}

async fn files(
    State(peer): State<Arc<Peer>>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Response {
    let no_store = [(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    )];
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = token else {
        return (StatusCode::UNAUTHORIZED, no_store).into_response();
    };
    let Ok(data) = jsonwebtoken::decode::<Claims>(token, &peer.token_key, &peer.validation) else {
        return (StatusCode::UNAUTHORIZED, no_store).into_response();
    };
    let sub = data.claims.sub;
    let allowed = !sub.is_empty()
        && !sub.contains('/')
        && !key.split('/').any(|segment| segment == "..")
        && key.starts_with(&format!("users/{sub}/"));
    if !allowed {
        return (StatusCode::FORBIDDEN, no_store).into_response();
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let url = peer.sign(
        &format!("{}/{key}", peer.distribution),
        now + LIFETIME_SECONDS,
    );
    let location = HeaderValue::try_from(url).expect("a signed URL is a valid header");
    (StatusCode::FOUND, no_store, [(header::LOCATION, location)]).into_response()
}

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .expect("PORT")
        .parse()
        .expect("PORT");
    let peer = Arc::new(Peer::from_env());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let app = Router::new()
            .route("/files/{*key}", get(files))
            .with_state(peer);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        axum::serve(listener, app).await.unwrap();
    });
}
