//! Deterministic ECDSA P-256 signatures (RFC 6979) on OpenSSL's primitives: the same key signs
//! the same policy with the same bytes on every replica, so stable URLs are identical across a
//! fleet ([decision 7](../../../docs/decisions/0007-deterministic-ecdsa.md)).
//!
//! OpenSSL 3.0 (this system's) has no deterministic ECDSA (`OSSL_SIGNATURE_PARAM_NONCE_TYPE`
//! came in 3.2). So the nonce k comes from [`crate::rfc6979`], and OpenSSL does the rest:
//! - r = x(k·G) mod q with `EC_POINT_mul` (constant-time for the generator);
//! - k⁻¹ mod q in constant time by [`crate::scalar`] (OpenSSL's fast inversion modulo the
//!   order is internal, and its public ones cost about as much as a signature);
//! - s = k⁻¹·(e + r·d) mod q with `ECDSA_do_sign_ex`, OpenSSL's own constant-time signing code
//!   given that k⁻¹ and r; the private key d never leaves OpenSSL for that step.

use std::ffi::c_int;

use foreign_types::{ForeignType, ForeignTypeRef};
use openssl::bn::{BigNum, BigNumContext, BigNumRef};
use openssl::ec::{EcKey, EcPoint};
use openssl::ecdsa::EcdsaSig;
use openssl::error::ErrorStack;
use openssl::pkey::Private;
use openssl::sha::{Sha1, Sha256};

use crate::rfc6979::{wipe, Digest, Nonces, SCALAR_LEN};
use crate::scalar;
use crate::sign::HashAlgorithm;

/// `ERR_LIB_EC` and `EC_R_NEED_NEW_SETUP_VALUES` (`<openssl/err.h>`, `<openssl/ecerr.h>`):
/// `ECDSA_do_sign_ex` found s = 0 for the k it was given, and a new k is needed.
const ERR_LIB_EC: c_int = 16;
const EC_R_NEED_NEW_SETUP_VALUES: c_int = 157;

/// Candidates tried before giving up. Each one is rejected with probability below 2⁻³¹
/// (k ≥ q, which [`Nonces`] skips itself) or 2⁻²⁵⁶ (r = 0, s = 0); reaching this is a bug.
const MAX_CANDIDATES: usize = 8;

extern "C" {
    // <openssl/ec.h>: deprecated in OpenSSL 3.0, still exported (Debian builds keep the
    // deprecated API, and the crate's own `EcdsaSig::sign` calls its sibling `ECDSA_do_sign`);
    // openssl-sys does not declare it.
    fn ECDSA_do_sign_ex(
        dgst: *const u8,
        dgstlen: c_int,
        kinv: *const openssl_sys::BIGNUM,
        rp: *const openssl_sys::BIGNUM,
        eckey: *mut openssl_sys::EC_KEY,
    ) -> *mut openssl_sys::ECDSA_SIG;
}

/// A P-256 private key that signs deterministically.
pub(crate) struct EcdsaSigner {
    key: EcKey<Private>,
    /// int2octets(d), the HMAC-DRBG's seed with each digest.
    scalar: [u8; SCALAR_LEN],
    order: BigNum,
}

impl EcdsaSigner {
    pub(crate) fn new(key: EcKey<Private>) -> Result<Self, ErrorStack> {
        let mut ctx = BigNumContext::new()?;
        let mut order = BigNum::new()?;
        key.group().order(&mut order, &mut ctx)?;
        let mut bytes = key.private_key().to_vec_padded(SCALAR_LEN as i32)?;
        let mut scalar = [0u8; SCALAR_LEN];
        scalar.copy_from_slice(&bytes);
        wipe(&mut bytes);
        Ok(EcdsaSigner { key, scalar, order })
    }

    /// The signature of `message` hashed with `hash`.
    pub(crate) fn sign(&self, message: &[u8], hash: HashAlgorithm) -> Result<EcdsaSig, ErrorStack> {
        match hash {
            HashAlgorithm::Sha1 => self.sign_digest::<Sha1>(&openssl::sha::sha1(message)),
            HashAlgorithm::Sha256 => self.sign_digest::<Sha256>(&openssl::sha::sha256(message)),
        }
    }

    fn sign_digest<H: Digest>(&self, digest: &[u8]) -> Result<EcdsaSig, ErrorStack> {
        let mut nonces = Nonces::<H>::new(&self.scalar, digest);
        let mut ctx = BigNumContext::new()?;
        for _ in 0..MAX_CANDIDATES {
            let mut k_bytes = nonces.next_candidate();
            let mut kinv_bytes = scalar::invert(&k_bytes);
            let (k, kinv) = (
                BigNum::from_slice(&k_bytes),
                BigNum::from_slice(&kinv_bytes),
            );
            wipe(&mut k_bytes);
            wipe(&mut kinv_bytes);
            let (mut k, mut kinv) = (k?, kinv?);
            k.set_const_time();
            kinv.set_const_time();
            let r = self.r_of(&k, &mut ctx)?;
            if r.num_bits() == 0 {
                continue;
            }
            if let Some(signature) = self.sign_with(digest, &kinv, &r)? {
                return Ok(signature);
            }
        }
        Err(ErrorStack::get())
    }

    /// r = x(k·G) mod q.
    fn r_of(&self, k: &BigNumRef, ctx: &mut BigNumContext) -> Result<BigNum, ErrorStack> {
        let group = self.key.group();
        let mut point = EcPoint::new(group)?;
        point.mul_generator2(group, k, ctx)?;
        let (mut x, mut y) = (BigNum::new()?, BigNum::new()?);
        point.affine_coordinates(group, &mut x, &mut y, ctx)?;
        let mut r = BigNum::new()?;
        r.nnmod(&x, &self.order, ctx)?;
        Ok(r)
    }

    /// (r, s) from OpenSSL's signing code with the given k⁻¹ and r; `None` when s came out 0
    /// (the next candidate is then used, as RFC 6979 §3.4 says).
    fn sign_with(
        &self,
        digest: &[u8],
        kinv: &BigNumRef,
        r: &BigNumRef,
    ) -> Result<Option<EcdsaSig>, ErrorStack> {
        let len = c_int::try_from(digest.len()).expect("a digest is short");
        // SAFETY: every pointer is valid for the call: `digest` for `len` bytes, `kinv`, `r` and
        // the key are live OpenSSL objects borrowed for its duration. OpenSSL only reads the key
        // (the `*mut` is its C signature; the crate's `EcdsaSig::sign` passes it the same way)
        // and copies `kinv` and `r`. A non-null result is a new ECDSA_SIG that we own.
        let signature = unsafe {
            ECDSA_do_sign_ex(
                digest.as_ptr(),
                len,
                kinv.as_ptr(),
                r.as_ptr(),
                self.key.as_ptr(),
            )
        };
        if !signature.is_null() {
            // SAFETY: non-null and owned (see above); EcdsaSig frees it.
            return Ok(Some(unsafe { EcdsaSig::from_ptr(signature) }));
        }
        let errors = ErrorStack::get();
        let needs_new_k = errors.errors().iter().any(|e| {
            e.library_code() == ERR_LIB_EC && e.reason_code() == EC_R_NEED_NEW_SETUP_VALUES
        });
        if needs_new_k {
            Ok(None)
        } else {
            Err(errors)
        }
    }
}

impl Drop for EcdsaSigner {
    fn drop(&mut self) {
        wipe(&mut self.scalar);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rfc6979::tests::{hex, X};
    use openssl::ec::EcGroup;
    use openssl::nid::Nid;

    /// The RFC 6979 A.2.5 key pair.
    fn rfc_key() -> EcdsaSigner {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let d = BigNum::from_slice(&hex(X)).unwrap();
        let mut ctx = BigNumContext::new().unwrap();
        let mut public = EcPoint::new(&group).unwrap();
        public.mul_generator2(&group, &d, &mut ctx).unwrap();
        EcdsaSigner::new(EcKey::from_private_components(&group, &d, &public).unwrap()).unwrap()
    }

    fn check(message: &str, hash: HashAlgorithm, r: &str, s: &str) {
        let key = rfc_key();
        let signature = key.sign(message.as_bytes(), hash).unwrap();
        assert_eq!(
            signature.r().to_vec_padded(32).unwrap(),
            hex(r),
            "{message} {hash:?}"
        );
        assert_eq!(
            signature.s().to_vec_padded(32).unwrap(),
            hex(s),
            "{message} {hash:?}"
        );
    }

    #[test]
    fn signatures_are_those_of_rfc_6979_a_2_5_with_sha1() {
        check(
            "sample",
            HashAlgorithm::Sha1,
            "61340C88C3AAEBEB4F6D667F672CA9759A6CCAA9FA8811313039EE4A35471D32",
            "6D7F147DAC089441BB2E2FE8F7A3FA264B9C475098FDCF6E00D7C996E1B8B7EB",
        );
        check(
            "test",
            HashAlgorithm::Sha1,
            "0CBCC86FD6ABD1D99E703E1EC50069EE5C0B4BA4B9AC60E409E8EC5910D81A89",
            "01B9D7B73DFAA60D5651EC4591A0136F87653E0FD780C3B1BC872FFDEAE479B1",
        );
    }

    #[test]
    fn signatures_are_those_of_rfc_6979_a_2_5_with_sha256() {
        check(
            "sample",
            HashAlgorithm::Sha256,
            "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716",
            "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8",
        );
        check(
            "test",
            HashAlgorithm::Sha256,
            "F1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367",
            "019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083",
        );
    }

    #[test]
    fn a_signature_is_the_same_every_time_and_verifies_with_openssl() {
        let key = rfc_key();
        let first = key.sign(b"policy", HashAlgorithm::Sha256).unwrap();
        for _ in 0..20 {
            let again = key.sign(b"policy", HashAlgorithm::Sha256).unwrap();
            assert_eq!(again.to_der().unwrap(), first.to_der().unwrap());
        }
        let digest = openssl::sha::sha256(b"policy");
        assert!(first.verify(&digest, &key.key).unwrap());
        let other = openssl::sha::sha256(b"policz");
        assert!(!first.verify(&other, &key.key).unwrap());
    }

    #[test]
    fn fresh_keys_sign_deterministically_and_verifiably() {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        for _ in 0..50 {
            let key = EcdsaSigner::new(EcKey::generate(&group).unwrap()).unwrap();
            for hash in [HashAlgorithm::Sha1, HashAlgorithm::Sha256] {
                let a = key.sign(b"m", hash).unwrap();
                let b = key.sign(b"m", hash).unwrap();
                assert_eq!(a.to_der().unwrap(), b.to_der().unwrap());
                let digest: Vec<u8> = match hash {
                    HashAlgorithm::Sha1 => openssl::sha::sha1(b"m").to_vec(),
                    HashAlgorithm::Sha256 => openssl::sha::sha256(b"m").to_vec(),
                };
                assert!(a.verify(&digest, &key.key).unwrap());
            }
        }
    }
}
