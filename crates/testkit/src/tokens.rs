//! Tokens as callers send them: HS256 with the demo secret, or signed with keys made here.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use signgate_cloudfront::{KeyPairId, KeyType, SigningKey};

/// The HS256 secret of the default configuration's `signgate-dev` issuer.
pub const DEMO_SECRET: &str = "signgate-demo-secret-not-for-production";

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An HS256 demo token with the standard claims, plus `extra` (a null removes a claim).
pub fn token(sub: &str, extra: Value) -> String {
    let mut claims = json!({"sub": sub, "iss": "signgate-dev", "aud": "signgate", "exp": now() + 600, "iat": now()});
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    hs256(&claims, DEMO_SECRET.as_bytes())
}

pub fn hs256(claims: &Value, secret: &[u8]) -> String {
    let key = EncodingKey::from_secret(secret).unwrap();
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key).unwrap()
}

/// Claims for alice from `iss`, for the `signgate` audience, valid for ten minutes.
pub fn claims(iss: &str) -> Value {
    json!({"sub": "alice", "iss": iss, "aud": "signgate", "exp": now() + 600})
}

/// `claims` signed with `alg` and `key`, naming `kid` in the header.
pub fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

/// A fresh key pair of type `t`: its private key (PKCS#8 PEM) and its public key (PEM).
pub fn pem_pair(t: KeyType) -> (String, String) {
    let k = SigningKey::generate(KeyPairId::parse("X").unwrap(), t).unwrap();
    (k.private_pkcs8_pem(), k.public_pem())
}

/// A fresh ES256 key for signing test tokens, and its public JWK with `kid`.
pub fn ec_jwk(kid: &str) -> (EncodingKey, Value) {
    use jsonwebtoken::jwk::Jwk;
    let k = SigningKey::generate(KeyPairId::parse("X").unwrap(), KeyType::EcdsaP256).unwrap();
    let key = EncodingKey::from_ec_pem(k.private_pkcs8_pem().as_bytes()).unwrap();
    let mut jwk =
        serde_json::to_value(Jwk::from_encoding_key(&key, Algorithm::ES256).unwrap()).unwrap();
    jwk["kid"] = json!(kid);
    (key, jwk)
}

/// Base64url without padding, as in JWTs.
pub fn b64url(bytes: impl AsRef<[u8]>) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
