use super::*;

const SECRET: [u8; 32] = [7; 32];
const OTHER: [u8; 32] = [9; 32];
const NOW: u64 = 1_000_000;

fn trusted(secret: &[u8; 32]) -> TrustedKey {
    TrustedKey::from_base64(&public_key_of(secret).0).unwrap()
}

fn manifest(version: &str) -> Manifest {
    Manifest {
        product_key: "pk".into(),
        module: "default".into(),
        version: version.into(),
        size: 3,
        digest_method: "SHA256".into(),
        digest: "ab".repeat(32),
        is_diff: false,
        src_version: None,
        expires_at: NOW + 60_000,
        key_id: public_key_of(&SECRET).1,
        files: Vec::new(),
    }
}

#[test]
fn good_manifest_verifies() {
    let (text, sig) = manifest("1.2.0").sign(&SECRET);
    let m = verify(&text, &sig, &[trusted(&SECRET)], NOW, Some("1.1.9")).unwrap();
    assert_eq!(m.version, "1.2.0");
    m.check_file(3, "sha256", &"AB".repeat(32)).unwrap();
}

#[test]
fn tampered_byte_is_refused() {
    let (text, sig) = manifest("1.2.0").sign(&SECRET);
    let tampered = text.replace("\"size\":3", "\"size\":4");
    assert_ne!(tampered, text);
    let err = verify(&tampered, &sig, &[trusted(&SECRET)], NOW, None).unwrap_err();
    assert!(matches!(err, ManifestError::BadSignature(_)), "{err}");
    // A flipped bit in the signature too.
    let mut raw = B64.decode(&sig).unwrap();
    raw[10] ^= 1;
    let err = verify(&text, &B64.encode(raw), &[trusted(&SECRET)], NOW, None).unwrap_err();
    assert!(matches!(err, ManifestError::BadSignature(_)), "{err}");
}

#[test]
fn wrong_key_is_refused() {
    // Signed by another key that claims the trusted key's id.
    let (text, sig) = manifest("1.2.0").sign(&OTHER);
    let err = verify(&text, &sig, &[trusted(&SECRET)], NOW, None).unwrap_err();
    assert!(matches!(err, ManifestError::BadSignature(_)), "{err}");
    // A key id the device does not know.
    let mut m = manifest("1.2.0");
    m.key_id = public_key_of(&OTHER).1;
    let (text, sig) = m.sign(&OTHER);
    let err = verify(&text, &sig, &[trusted(&SECRET)], NOW, None).unwrap_err();
    assert!(matches!(err, ManifestError::UnknownKey(_)), "{err}");
}

#[test]
fn expired_metadata_is_refused() {
    let (text, sig) = manifest("1.2.0").sign(&SECRET);
    let err = verify(&text, &sig, &[trusted(&SECRET)], NOW + 60_001, None).unwrap_err();
    assert!(matches!(err, ManifestError::Expired { .. }), "{err}");
}

#[test]
fn rollback_is_refused() {
    let (text, sig) = manifest("1.9").sign(&SECRET);
    let err = verify(&text, &sig, &[trusted(&SECRET)], NOW, Some("1.10")).unwrap_err();
    assert!(matches!(err, ManifestError::Rollback { .. }), "{err}");
    // The same version (a retry) and newer ones pass.
    verify(&text, &sig, &[trusted(&SECRET)], NOW, Some("1.9")).unwrap();
    verify(&text, &sig, &[trusted(&SECRET)], NOW, Some("1.8.5")).unwrap();
}

#[test]
fn file_mismatch_is_reported() {
    let m = manifest("1");
    assert!(m.check_file(3, "SHA256", &"cd".repeat(32)).is_err());
    assert!(m.check_file(4, "SHA256", &"ab".repeat(32)).is_err());
    assert!(m.check_file(3, "Md5", &"ab".repeat(32)).is_err());
}

#[test]
fn versions_compare_numerically() {
    assert_eq!(compare_versions("1.10", "1.9"), Ordering::Greater);
    assert_eq!(compare_versions("v2", "v10"), Ordering::Less);
    assert_eq!(compare_versions("1.0", "1.0"), Ordering::Equal);
    assert_eq!(compare_versions("1.0.1", "1.0"), Ordering::Greater);
    assert_eq!(compare_versions("", "1"), Ordering::Less);
}
