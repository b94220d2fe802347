//! HMAC-SHA256 with the key's padded states computed once (RFC 2104 on OpenSSL's SHA-256).

use openssl::sha::Sha256;

/// HMAC-SHA256 under one key, many messages: RFC 2104 on OpenSSL's SHA-256, the states after
/// the padded key computed once. OpenSSL 3's EVP HMAC (`super::hmac`) spends ~10 µs a call
/// setting up; this is ~0.5 µs for a short message (docs/decisions/0006), which S3's five
/// chained HMACs per signature make worth having.
#[derive(Clone)]
pub(crate) struct HmacSha256 {
    inner: Sha256,
    outer: Sha256,
}

impl HmacSha256 {
    pub(crate) fn new(key: &[u8]) -> Self {
        let mut block = [0u8; 64];
        if key.len() > 64 {
            block[..32].copy_from_slice(&openssl::sha::sha256(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let padded = |pad: u8| {
            let mut state = Sha256::new();
            state.update(&block.map(|b| b ^ pad));
            state
        };
        HmacSha256 {
            inner: padded(0x36),
            outer: padded(0x5c),
        }
    }

    pub(crate) fn mac(&self, data: &[u8]) -> [u8; 32] {
        self.mac_parts(&[data])
    }

    /// The MAC of `parts` one after the other, as if joined (no buffer to join them in).
    pub(crate) fn mac_parts(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut inner = self.inner.clone();
        for part in parts {
            inner.update(part);
        }
        let mut outer = self.outer.clone();
        outer.update(&inner.finish());
        outer.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{hmac, Digest};

    #[test]
    fn hmac_sha256_matches_rfc_4231_and_openssl_hmac() {
        // RFC 4231 test cases 1, 2 and 6 (a key longer than the block).
        let cases: [(&[u8], &[u8], &str); 3] = [
            (
                &[0x0b; 20],
                b"Hi There",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe",
                b"what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
        ];
        for (key, data, expected) in cases {
            let mac = HmacSha256::new(key).mac(data);
            assert_eq!(hex::encode(mac), expected);
            assert_eq!(mac.to_vec(), hmac(Digest::Sha256, key, data).unwrap());
        }
        // (OpenSSL's EVP refuses an empty key; this is HMAC-SHA256("", "").)
        assert_eq!(
            hex::encode(HmacSha256::new(b"").mac(b"")),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"
        );
        let joined = HmacSha256::new(b"Jefe").mac(b"what do ya want for nothing?");
        let parts =
            HmacSha256::new(b"Jefe").mac_parts(&[b"what do ", b"", b"ya want for nothing?"]);
        assert_eq!(parts, joined);
        for len in [1, 63, 64, 65, 200] {
            let key = vec![0x5a; len];
            let mac = HmacSha256::new(&key).mac(b"signgate");
            assert_eq!(
                mac.to_vec(),
                hmac(Digest::Sha256, &key, b"signgate").unwrap(),
                "{len}"
            );
        }
    }
}
