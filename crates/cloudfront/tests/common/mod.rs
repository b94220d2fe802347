#![allow(dead_code)]
//! Keys shared by the integration tests, from the botocore vector file.

use serde_json::Value;
use signgate_cloudfront::*;

pub const VECTORS: &str = include_str!("../data/cloudfront-vectors.json");

pub fn key(name: &str) -> SigningKey {
    let v: Value = serde_json::from_str(VECTORS).unwrap();
    let k = &v["keys"][name];
    let id = KeyPairId::parse(k["key_pair_id"].as_str().unwrap()).unwrap();
    SigningKey::from_pem(
        id,
        k["private_pkcs8_pem"].as_str().unwrap().as_bytes(),
        None,
    )
    .unwrap()
}

pub fn pem(name: &str, form: &str) -> String {
    let v: Value = serde_json::from_str(VECTORS).unwrap();
    v["keys"][name][form].as_str().unwrap().to_owned()
}

pub fn keys_of(list: &[&SigningKey]) -> PublicKeys {
    let mut keys = PublicKeys::default();
    for k in list {
        keys.insert(k.id().clone(), k.verifying_key());
    }
    keys
}
