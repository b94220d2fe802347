//! Key loading: every failure is a clear, typed error that names the file; nothing panics.

mod common;

use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use signgate_cloudfront::*;

fn id() -> KeyPairId {
    KeyPairId::parse("K2JCJMDEHXQW5F").unwrap()
}

fn load(pem: &[u8], pass: Option<&[u8]>) -> Result<SigningKey, KeyProblem> {
    SigningKey::from_pem(id(), pem, pass).map_err(|e| e.problem)
}

#[test]
fn wrong_rsa_size_is_refused() {
    let small = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap();
    let pem = small.private_key_to_pem_pkcs8().unwrap();
    assert_eq!(load(&pem, None).unwrap_err(), KeyProblem::RsaSize(1024));
    let public = small.public_key_to_pem().unwrap();
    assert_eq!(
        VerifyingKey::from_pem(&public).unwrap_err().problem,
        KeyProblem::RsaSize(1024)
    );
}

#[test]
fn a_2047_bit_modulus_is_not_rsa_2048() {
    // 256 bytes of modulus, but 2047 significant bits: counted by bits, it is refused.
    let odd = PKey::from_rsa(Rsa::generate(2047).unwrap()).unwrap();
    assert_eq!(odd.rsa().unwrap().size(), 256);
    let pem = odd.private_key_to_pem_pkcs8().unwrap();
    assert_eq!(load(&pem, None).unwrap_err(), KeyProblem::RsaSize(2047));
    let public = odd.public_key_to_pem().unwrap();
    assert_eq!(
        VerifyingKey::from_pem(&public).unwrap_err().problem,
        KeyProblem::RsaSize(2047)
    );
}

#[test]
fn wrong_curve_and_wrong_type_are_refused() {
    let p384 = EcKey::generate(&EcGroup::from_curve_name(Nid::SECP384R1).unwrap()).unwrap();
    let pem = p384.private_key_to_pem().unwrap();
    assert_eq!(
        load(&pem, None).unwrap_err(),
        KeyProblem::WrongCurve("secp384r1".into())
    );
    let ed = PKey::generate_ed25519()
        .unwrap()
        .private_key_to_pem_pkcs8()
        .unwrap();
    assert!(matches!(
        load(&ed, None).unwrap_err(),
        KeyProblem::UnsupportedType(_)
    ));
}

#[test]
fn passphrase_problems_are_named() {
    let enc = common::pem("rsa2", "private_pkcs8_encrypted_pem");
    assert_eq!(
        load(enc.as_bytes(), None).unwrap_err(),
        KeyProblem::NeedsPassphrase
    );
    assert_eq!(
        load(enc.as_bytes(), Some(b"wrong horse")).unwrap_err(),
        KeyProblem::WrongPassphrase
    );
    assert_eq!(
        load(enc.as_bytes(), Some(b"")).unwrap_err(),
        KeyProblem::WrongPassphrase
    );
    assert!(load(enc.as_bytes(), Some(b"correct horse battery")).is_ok());
    // A passphrase given for a plain key is simply unused.
    assert!(load(
        common::pem("rsa1", "private_pkcs1_pem").as_bytes(),
        Some(b"x")
    )
    .is_ok());
}

#[test]
fn garbage_and_swapped_keys_are_refused() {
    assert_eq!(load(b"", None).unwrap_err(), KeyProblem::NotPem);
    assert_eq!(load(b"hello", None).unwrap_err(), KeyProblem::NotPem);
    assert_eq!(
        load(&[0xff, 0xfe, 0x00], None).unwrap_err(),
        KeyProblem::NotPem
    );
    assert_eq!(
        load(
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            None
        )
        .unwrap_err(),
        KeyProblem::Unparseable
    );
    assert_eq!(
        load(
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            None
        )
        .unwrap_err(),
        KeyProblem::NotPem
    );
    let public = common::pem("rsa1", "public_pem");
    assert_eq!(
        load(public.as_bytes(), None).unwrap_err(),
        KeyProblem::PublicKeyGiven
    );
    let private = common::pem("rsa1", "private_pkcs8_pem");
    assert_eq!(
        VerifyingKey::from_pem(private.as_bytes())
            .unwrap_err()
            .problem,
        KeyProblem::PrivateKeyGiven
    );
    // A truncated PEM body.
    let truncated = &private[..private.len() / 2];
    assert!(load(truncated.as_bytes(), None).is_err());
}

#[test]
fn file_errors_name_the_file() {
    let dir = std::env::temp_dir().join(format!("signgate-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("missing.pem");
    let err = SigningKey::from_file(id(), &missing, None).unwrap_err();
    assert!(err.to_string().contains("missing.pem"), "{err}");
    assert!(matches!(err.problem, KeyProblem::Io(_)));
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "not a key").unwrap();
    let err = SigningKey::from_file(id(), &garbage, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("key file {}: not a PEM-encoded key", garbage.display())
    );
    let err = VerifyingKey::from_file(&garbage).unwrap_err();
    assert!(err.to_string().contains("garbage.pem"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn key_sets_rotate_and_refuse_mistakes() {
    let a = common::key("rsa1");
    let b = common::key("ec1");
    let (a_id, b_id) = (a.id().clone(), b.id().clone());
    let set = KeySet::new(vec![a, b], &b_id).unwrap();
    assert_eq!(set.active().id(), &b_id);
    assert!(set.get(a_id.as_str()).is_some());
    assert_eq!(set.public_keys().len(), 2);
    let err = KeySet::new(vec![common::key("rsa1"), common::key("rsa1")], &a_id).unwrap_err();
    assert_eq!(err.problem, KeyProblem::DuplicateId(a_id.to_string()));
    let err = KeySet::new(vec![common::key("rsa1")], &b_id).unwrap_err();
    assert_eq!(err.problem, KeyProblem::ActiveMissing(b_id.to_string()));
    assert_eq!(
        KeySet::new(vec![], &a_id).unwrap_err().problem,
        KeyProblem::Empty
    );
}

#[test]
fn key_pair_ids_are_checked() {
    assert!(KeyPairId::parse("APKAEIBAERJR2EXAMPLE").is_ok());
    for bad in ["", "K2 X", "K2&Signature=x", "ключ", &"K".repeat(65)] {
        assert_eq!(
            KeyPairId::parse(bad),
            Err(InputError::BadKeyPairId(bad.to_owned()))
        );
    }
}

#[test]
fn generated_keys_round_trip_through_pem() {
    for t in [KeyType::Rsa2048, KeyType::EcdsaP256] {
        let k = SigningKey::generate(id(), t).unwrap();
        let again = SigningKey::from_pem(id(), k.private_pkcs8_pem().as_bytes(), None).unwrap();
        assert_eq!(again.public_pem(), k.public_pem());
        assert_eq!(
            VerifyingKey::from_pem(k.public_pem().as_bytes())
                .unwrap()
                .key_type(),
            t
        );
    }
}
