#![allow(dead_code)]
//! The vendors' cases (tests/data/provider-vectors.json) and helpers shared by the tests.

use serde_json::Value;

pub const VECTORS: &str = include_str!("../data/provider-vectors.json");

/// Every case of `scheme` (`google-cloud-cdn/signed-url`, ...).
pub fn cases(scheme: &str) -> Vec<Value> {
    let all: Vec<Value> = serde_json::from_str(VECTORS).unwrap();
    let found: Vec<Value> = all.into_iter().filter(|c| c["scheme"] == scheme).collect();
    assert!(!found.is_empty(), "no vectors for {scheme}");
    found
}

pub fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("missing string {key} in {v}"))
}

/// `text` with the character at `index` (modulo its length) replaced by the next one of `alphabet`.
pub fn change_char(text: &str, index: usize, alphabet: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let i = index % chars.len();
    let pos = alphabet.chars().position(|c| c == chars[i]).unwrap_or(0);
    chars[i] = alphabet.chars().nth((pos + 1) % alphabet.len()).unwrap();
    chars.into_iter().collect()
}

/// RFC 4648 §5 base64url with padding, written here independently of the crate.
pub fn base64url(bytes: &[u8]) -> String {
    const A: &[u8] = B64URL.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    while !out.len().is_multiple_of(4) {
        out.push('=');
    }
    out
}

pub const B64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
pub const HEX: &str = "0123456789abcdef";
