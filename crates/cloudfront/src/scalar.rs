//! Inversion modulo P-256's group order q, in constant time, for the ECDSA nonce: k⁻¹ = k^(q-2)
//! (Fermat), with Montgomery multiplication on four 64-bit limbs.
//!
//! Why here and not OpenSSL: OpenSSL's fast inversion modulo the order is internal; what its
//! public API offers (`BN_mod_inverse`, `BN_mod_exp_mont_consttime`) costs about as much as the
//! whole signature, which would take ECDSA signing well below the rate it must keep. This is
//! the one piece of arithmetic done here; the curve arithmetic and the private-key step stay in
//! OpenSSL ([`crate::ecdsa`]). No branch and no memory access depends on a secret value: the
//! exponent q - 2 is public, and every reduction is a masked select. Tested against OpenSSL's
//! `BN_mod_inverse` and `BN_mod_mul` on random values.

use crate::rfc6979::SCALAR_LEN;

/// Four little-endian 64-bit limbs.
type Limbs = [u64; 4];

/// q, little-endian limbs.
const Q: Limbs = [
    0xf3b9_cac2_fc63_2551,
    0xbce6_faad_a717_9e84,
    0xffff_ffff_ffff_ffff,
    0xffff_ffff_0000_0000,
];

/// -q⁻¹ mod 2⁶⁴, for Montgomery reduction.
const Q_NEG_INV: u64 = neg_inverse(Q[0]);

/// R mod q, R = 2²⁵⁶ (the Montgomery form of 1): 2²⁵⁶ - q, since q > 2²⁵⁵.
const R: Limbs = sub_q([0; 4]).0;

/// R² mod q (to enter Montgomery form): R doubled 256 times modulo q.
const R2: Limbs = {
    let mut x = R;
    let mut i = 0;
    while i < 256 {
        x = double(x);
        i += 1;
    }
    x
};

/// -x⁻¹ mod 2⁶⁴ for odd x (Newton's iteration doubles the correct low bits each step).
const fn neg_inverse(x: u64) -> u64 {
    let mut inv = 1u64;
    let mut i = 0;
    while i < 6 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(x.wrapping_mul(inv)));
        i += 1;
    }
    inv.wrapping_neg()
}

/// x - q modulo 2²⁵⁶, and the borrow (1 when x < q).
const fn sub_q(x: Limbs) -> (Limbs, u64) {
    let mut d = [0u64; 4];
    let mut borrow = 0u64;
    let mut i = 0;
    while i < 4 {
        let v = (x[i] as u128)
            .wrapping_sub(Q[i] as u128)
            .wrapping_sub(borrow as u128);
        d[i] = v as u64;
        borrow = (v >> 127) as u64;
        i += 1;
    }
    (d, borrow)
}

/// `x` if `keep` is 1, `y` if it is 0, without a branch.
const fn select(keep: u64, x: Limbs, y: Limbs) -> Limbs {
    let mask = keep.wrapping_neg();
    [
        (x[0] & mask) | (y[0] & !mask),
        (x[1] & mask) | (y[1] & !mask),
        (x[2] & mask) | (y[2] & !mask),
        (x[3] & mask) | (y[3] & !mask),
    ]
}

/// x + high·2²⁵⁶ reduced once, for a value below 2q.
const fn reduce_once(x: Limbs, high: u64) -> Limbs {
    let (d, borrow) = sub_q(x);
    // x ≥ q exactly when the subtraction does not borrow or the top limb is set.
    select(high | (borrow ^ 1), d, x)
}

/// 2x mod q, for x < q.
const fn double(x: Limbs) -> Limbs {
    let mut y = [0u64; 4];
    let mut carry = 0u64;
    let mut i = 0;
    while i < 4 {
        y[i] = (x[i] << 1) | carry;
        carry = x[i] >> 63;
        i += 1;
    }
    reduce_once(y, carry)
}

/// a·b·R⁻¹ mod q for a, b < q (CIOS Montgomery multiplication).
fn mont_mul(a: &Limbs, b: &Limbs) -> Limbs {
    let mut t = [0u64; 6];
    for &bi in b {
        let mut carry = 0u64;
        for j in 0..4 {
            let v = u128::from(t[j]) + u128::from(a[j]) * u128::from(bi) + u128::from(carry);
            t[j] = v as u64;
            carry = (v >> 64) as u64;
        }
        let v = u128::from(t[4]) + u128::from(carry);
        t[4] = v as u64;
        t[5] = (v >> 64) as u64;
        let m = t[0].wrapping_mul(Q_NEG_INV);
        let v = u128::from(t[0]) + u128::from(m) * u128::from(Q[0]);
        let mut carry = (v >> 64) as u64;
        for j in 1..4 {
            let v = u128::from(t[j]) + u128::from(m) * u128::from(Q[j]) + u128::from(carry);
            t[j - 1] = v as u64;
            carry = (v >> 64) as u64;
        }
        let v = u128::from(t[4]) + u128::from(carry);
        t[3] = v as u64;
        t[4] = t[5] + (v >> 64) as u64;
    }
    reduce_once([t[0], t[1], t[2], t[3]], t[4])
}

fn from_bytes(bytes: &[u8; SCALAR_LEN]) -> Limbs {
    let limb = |i: usize| {
        let at = SCALAR_LEN - 8 * (i + 1);
        u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
    };
    [limb(0), limb(1), limb(2), limb(3)]
}

fn to_bytes(x: &Limbs) -> [u8; SCALAR_LEN] {
    let mut out = [0u8; SCALAR_LEN];
    for (i, limb) in x.iter().enumerate() {
        let at = SCALAR_LEN - 8 * (i + 1);
        out[at..at + 8].copy_from_slice(&limb.to_be_bytes());
    }
    out
}

/// k⁻¹ mod q for 1 <= k < q (big-endian), in constant time.
pub(crate) fn invert(k: &[u8; SCALAR_LEN]) -> [u8; SCALAR_LEN] {
    let a = mont_mul(&from_bytes(k), &R2);
    // a^0 .. a^15, for a fixed 4-bit window over the public exponent q - 2.
    let mut table = [R; 16];
    for i in 1..16 {
        table[i] = mont_mul(&table[i - 1], &a);
    }
    let mut exponent = Q;
    exponent[0] -= 2;
    let mut x = R;
    for limb in exponent.iter().rev() {
        for nibble in (0..16).rev() {
            for _ in 0..4 {
                x = mont_mul(&x, &x);
            }
            x = mont_mul(&x, &table[((limb >> (4 * nibble)) & 0xf) as usize]);
        }
    }
    let inverse = to_bytes(&mont_mul(&x, &[1, 0, 0, 0]));
    for entry in table.iter_mut() {
        *entry = [0; 4];
    }
    std::hint::black_box(&table);
    inverse
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::bn::{BigNum, BigNumContext};

    fn order() -> BigNum {
        BigNum::from_slice(&to_bytes(&Q)).unwrap()
    }

    fn bytes(n: &BigNum) -> [u8; SCALAR_LEN] {
        n.to_vec_padded(SCALAR_LEN as i32)
            .unwrap()
            .try_into()
            .unwrap()
    }

    #[test]
    fn the_constants_are_those_openssl_computes() {
        let mut ctx = BigNumContext::new().unwrap();
        let q = order();
        let mut r_squared = BigNum::new().unwrap();
        r_squared
            .lshift(&BigNum::from_u32(1).unwrap(), 512)
            .unwrap();
        let mut r2 = BigNum::new().unwrap();
        r2.nnmod(&r_squared, &q, &mut ctx).unwrap();
        assert_eq!(to_bytes(&R2), bytes(&r2));
        assert_eq!(
            Q[0].wrapping_mul(Q_NEG_INV),
            u64::MAX,
            "q·(-q⁻¹) = -1 mod 2⁶⁴"
        );
    }

    #[test]
    fn inverses_match_openssl_and_multiply_to_one() {
        let mut ctx = BigNumContext::new().unwrap();
        let q = order();
        let mut q_minus_1 = BigNum::new().unwrap();
        q_minus_1
            .checked_sub(&q, BigNum::from_u32(1).unwrap().as_ref())
            .unwrap();
        let mut cases = vec![
            BigNum::from_u32(1).unwrap(),
            BigNum::from_u32(2).unwrap(),
            q_minus_1,
        ];
        for _ in 0..500 {
            let mut k = BigNum::new().unwrap();
            while k.num_bits() == 0 {
                q.rand_range(&mut k).unwrap();
            }
            cases.push(k);
        }
        for k in cases {
            let ours = BigNum::from_slice(&invert(&bytes(&k))).unwrap();
            let mut theirs = BigNum::new().unwrap();
            theirs.mod_inverse(&k, &q, &mut ctx).unwrap();
            assert_eq!(ours, theirs, "k = {k}");
            let mut one = BigNum::new().unwrap();
            one.mod_mul(&ours, &k, &q, &mut ctx).unwrap();
            assert_eq!(one, BigNum::from_u32(1).unwrap());
        }
    }

    #[test]
    fn montgomery_products_match_openssl() {
        let mut ctx = BigNumContext::new().unwrap();
        let q = order();
        for _ in 0..500 {
            let (mut a, mut b) = (BigNum::new().unwrap(), BigNum::new().unwrap());
            q.rand_range(&mut a).unwrap();
            q.rand_range(&mut b).unwrap();
            let am = mont_mul(&from_bytes(&bytes(&a)), &R2);
            let bm = mont_mul(&from_bytes(&bytes(&b)), &R2);
            let product = to_bytes(&mont_mul(&mont_mul(&am, &bm), &[1, 0, 0, 0]));
            let mut expected = BigNum::new().unwrap();
            expected.mod_mul(&a, &b, &q, &mut ctx).unwrap();
            assert_eq!(product, bytes(&expected));
        }
    }
}
