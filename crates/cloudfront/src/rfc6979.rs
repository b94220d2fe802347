//! Deterministic ECDSA nonces for P-256, RFC 6979 §3.2: the nonce `k` is drawn from an
//! HMAC-DRBG seeded with the private key and the message digest, so one key signs one message
//! with one signature, on every replica ([decision 7](../../../docs/decisions/0007-deterministic-ecdsa.md)).
//!
//! The HMAC uses the message's own hash (SHA-1 or SHA-256), as the RFC says. It is built here on
//! OpenSSL's low-level SHA state (no per-call EVP setup), with the key's inner and outer pads
//! absorbed once per key, so each HMAC of a short value costs two compression calls.

use openssl::sha::{Sha1, Sha256};

/// The bytes of a P-256 scalar (qlen = rlen = 256 bits).
pub(crate) const SCALAR_LEN: usize = 32;

/// P-256's group order q, big-endian.
const ORDER: [u8; SCALAR_LEN] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// SHA-1 and SHA-256 block size, which HMAC pads its key to.
const BLOCK: usize = 64;

/// The largest digest here (SHA-256).
const MAX_DIGEST: usize = 32;

/// A hash HMAC is built on: OpenSSL's SHA-1 or SHA-256 state.
pub(crate) trait Digest: Clone {
    /// Output bytes (hlen / 8).
    const LEN: usize;
    fn start() -> Self;
    fn absorb(&mut self, data: &[u8]);
    /// Writes the digest into `out[..LEN]`.
    fn finish_into(self, out: &mut [u8]);
}

impl Digest for Sha1 {
    const LEN: usize = 20;
    fn start() -> Self {
        Sha1::new()
    }
    fn absorb(&mut self, data: &[u8]) {
        self.update(data)
    }
    fn finish_into(self, out: &mut [u8]) {
        out[..Self::LEN].copy_from_slice(&self.finish())
    }
}

impl Digest for Sha256 {
    const LEN: usize = 32;
    fn start() -> Self {
        Sha256::new()
    }
    fn absorb(&mut self, data: &[u8]) {
        self.update(data)
    }
    fn finish_into(self, out: &mut [u8]) {
        out[..Self::LEN].copy_from_slice(&self.finish())
    }
}

/// An HMAC key (RFC 2104) with its padded inner and outer blocks already hashed.
struct HmacKey<H> {
    inner: H,
    outer: H,
}

impl<H: Digest> HmacKey<H> {
    /// `key` is at most one block long (here it is always one digest long).
    fn new(key: &[u8]) -> Self {
        let mut pad = [0x36u8; BLOCK];
        for (p, k) in pad.iter_mut().zip(key) {
            *p ^= k;
        }
        let mut inner = H::start();
        inner.absorb(&pad);
        for p in pad.iter_mut() {
            *p ^= 0x36 ^ 0x5c;
        }
        let mut outer = H::start();
        outer.absorb(&pad);
        wipe(&mut pad);
        HmacKey { inner, outer }
    }

    /// HMAC of the concatenation of `parts`, written into `out[..H::LEN]`.
    fn mac(&self, parts: &[&[u8]], out: &mut [u8]) {
        let mut inner = self.inner.clone();
        for part in parts {
            inner.absorb(part);
        }
        let mut digest = [0u8; MAX_DIGEST];
        inner.finish_into(&mut digest);
        let mut outer = self.outer.clone();
        outer.absorb(&digest[..H::LEN]);
        outer.finish_into(out);
        wipe(&mut digest);
    }
}

/// The candidate nonces for one private key and one message digest, in the RFC's order: the
/// first in-range candidate is the nonce unless it gives r = 0 or s = 0 (which the signer
/// checks), and then the next one is, and so on.
pub(crate) struct Nonces<H> {
    key: HmacKey<H>,
    v: [u8; MAX_DIGEST],
    /// Whether a candidate has been handed out (step h.3 then runs before the next).
    started: bool,
}

impl<H: Digest> Nonces<H> {
    /// Steps a-g: `scalar` is int2octets(x), `digest` is h1 = H(m).
    pub(crate) fn new(scalar: &[u8; SCALAR_LEN], digest: &[u8]) -> Self {
        let h = bits2octets(digest);
        let n = H::LEN;
        let mut v = [0u8; MAX_DIGEST];
        v[..n].fill(0x01);
        let mut k = [0u8; MAX_DIGEST];
        // d. K = HMAC_K(V || 0x00 || int2octets(x) || bits2octets(h1)), with K = 0x00...
        HmacKey::<H>::new(&k[..n]).mac(&[&v[..n], &[0x00], scalar, &h], &mut k);
        // e. V = HMAC_K(V)
        let key = HmacKey::<H>::new(&k[..n]);
        let previous = v;
        key.mac(&[&previous[..n]], &mut v);
        // f. K = HMAC_K(V || 0x01 || int2octets(x) || bits2octets(h1))
        key.mac(&[&v[..n], &[0x01], scalar, &h], &mut k);
        // g. V = HMAC_K(V)
        let key = HmacKey::<H>::new(&k[..n]);
        let previous = v;
        key.mac(&[&previous[..n]], &mut v);
        wipe(&mut k);
        Nonces {
            key,
            v,
            started: false,
        }
    }

    /// Step h: the next candidate k with 1 <= k < q, big-endian.
    pub(crate) fn next_candidate(&mut self) -> [u8; SCALAR_LEN] {
        let n = H::LEN;
        loop {
            if self.started {
                // h.3, after a rejected candidate: K = HMAC_K(V || 0x00); V = HMAC_K(V).
                let mut k = [0u8; MAX_DIGEST];
                self.key.mac(&[&self.v[..n], &[0x00]], &mut k);
                self.key = HmacKey::new(&k[..n]);
                wipe(&mut k);
                self.step_v();
            }
            self.started = true;
            // h.1-h.2: T = V || V' || ... until it holds qlen bits; bits2int(T) keeps the
            // leftmost qlen bits, which for qlen = 256 are T's first 32 bytes.
            let mut t = [0u8; SCALAR_LEN];
            let mut filled = 0;
            while filled < SCALAR_LEN {
                self.step_v();
                let take = n.min(SCALAR_LEN - filled);
                t[filled..filled + take].copy_from_slice(&self.v[..take]);
                filled += take;
            }
            if in_range(&t) {
                return t;
            }
            wipe(&mut t);
        }
    }

    /// V = HMAC_K(V).
    fn step_v(&mut self) {
        let previous = self.v;
        self.key.mac(&[&previous[..H::LEN]], &mut self.v);
    }
}

impl<H> Drop for Nonces<H> {
    fn drop(&mut self) {
        wipe(&mut self.v);
    }
}

/// bits2octets(h1) for qlen = 256: the digest as an integer (a digest shorter than 256 bits is
/// not shifted), reduced modulo q once, as 32 big-endian bytes. The digest is public.
fn bits2octets(digest: &[u8]) -> [u8; SCALAR_LEN] {
    let mut z = [0u8; SCALAR_LEN];
    let digest = &digest[..digest.len().min(SCALAR_LEN)];
    z[SCALAR_LEN - digest.len()..].copy_from_slice(digest);
    if z >= ORDER {
        let mut borrow = 0u16;
        for i in (0..SCALAR_LEN).rev() {
            let d = u16::from(z[i])
                .wrapping_sub(u16::from(ORDER[i]))
                .wrapping_sub(borrow);
            z[i] = d as u8;
            borrow = (d >> 8) & 1;
        }
    }
    z
}

/// Whether 1 <= k < q, looking at every byte whatever their values (k is secret).
fn in_range(k: &[u8; SCALAR_LEN]) -> bool {
    let mut borrow = 0u16;
    let mut any = 0u8;
    for i in (0..SCALAR_LEN).rev() {
        let d = u16::from(k[i])
            .wrapping_sub(u16::from(ORDER[i]))
            .wrapping_sub(borrow);
        borrow = (d >> 8) & 1;
        any |= k[i];
    }
    // k - q borrows exactly when k < q.
    (borrow == 1) & (any != 0)
}

/// Overwrites secret bytes before they go out of scope.
pub(crate) fn wipe(bytes: &mut [u8]) {
    bytes.fill(0);
    std::hint::black_box(bytes);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// RFC 6979 A.2.5: the P-256 private key x.
    pub(crate) const X: &str = "C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721";

    pub(crate) fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    fn scalar() -> [u8; SCALAR_LEN] {
        hex(X).try_into().unwrap()
    }

    #[test]
    fn the_nonces_are_those_of_rfc_6979_a_2_5_for_sha1() {
        let cases = [
            (
                "sample",
                "882905F1227FD620FBF2ABF21244F0BA83D0DC3A9103DBBEE43A1FB858109DB4",
            ),
            (
                "test",
                "8C9520267C55D6B980DF741E56B4ADEE114D84FBFA2E62137954164028632A2E",
            ),
        ];
        for (message, k) in cases {
            let digest = openssl::sha::sha1(message.as_bytes());
            let mut nonces = Nonces::<Sha1>::new(&scalar(), &digest);
            assert_eq!(nonces.next_candidate().to_vec(), hex(k), "{message}");
        }
    }

    #[test]
    fn the_nonces_are_those_of_rfc_6979_a_2_5_for_sha256() {
        let cases = [
            (
                "sample",
                "A6E3C57DD01ABE90086538398355DD4C3B17AA873382B0F24D6129493D8AAD60",
            ),
            (
                "test",
                "D16B6AE827F17175E040871A1C7EC3500192C4C92677336EC2537ACAEE0008E0",
            ),
        ];
        for (message, k) in cases {
            let digest = openssl::sha::sha256(message.as_bytes());
            let mut nonces = Nonces::<Sha256>::new(&scalar(), &digest);
            assert_eq!(nonces.next_candidate().to_vec(), hex(k), "{message}");
        }
    }

    #[test]
    fn the_hmac_is_rfc_4231_test_case_2() {
        // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?".
        let mut out = [0u8; 32];
        HmacKey::<Sha256>::new(b"Jefe").mac(&[b"what do ya want ", b"for nothing?"], &mut out);
        assert_eq!(
            out.to_vec(),
            hex("5BDCC146BF60754E6A042426089575C75A003F089D2739839DEC58B964EC3843")
        );
    }

    #[test]
    fn later_candidates_differ_and_stay_in_range() {
        let digest = openssl::sha::sha256(b"sample");
        let mut nonces = Nonces::<Sha256>::new(&scalar(), &digest);
        let first = nonces.next_candidate();
        let second = nonces.next_candidate();
        assert_ne!(first, second);
        assert!(in_range(&second));
        // Another key or another message: another nonce.
        let mut other_key = scalar();
        other_key[31] ^= 1;
        assert_ne!(
            Nonces::<Sha256>::new(&other_key, &digest).next_candidate(),
            first
        );
        let other_digest = openssl::sha::sha256(b"samplf");
        assert_ne!(
            Nonces::<Sha256>::new(&scalar(), &other_digest).next_candidate(),
            first
        );
    }

    #[test]
    fn the_range_check_holds_at_its_edges() {
        let mut q_minus_1 = ORDER;
        q_minus_1[31] -= 1;
        let mut one = [0u8; SCALAR_LEN];
        one[31] = 1;
        assert!(in_range(&one));
        assert!(in_range(&q_minus_1));
        assert!(!in_range(&[0u8; SCALAR_LEN]));
        assert!(!in_range(&ORDER));
        assert!(!in_range(&[0xff; SCALAR_LEN]));
    }

    #[test]
    fn a_digest_at_or_above_the_order_is_reduced_once() {
        assert_eq!(bits2octets(&ORDER), [0u8; SCALAR_LEN]);
        let mut expected = [0u8; SCALAR_LEN];
        expected[31] = 5;
        let mut above = ORDER;
        above[31] += 5;
        assert_eq!(bits2octets(&above), expected);
        // A SHA-1 digest is an integer of 160 bits: left-padded, never shifted.
        let short = [0xabu8; 20];
        let z = bits2octets(&short);
        assert_eq!(&z[..12], &[0u8; 12]);
        assert_eq!(&z[12..], &short);
    }
}
