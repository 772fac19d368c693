use super::*;

fn leaf(subject: &[(rcgen::DnType, &str)], not_after_year: i32) -> Vec<u8> {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    for (kind, value) in subject {
        params.distinguished_name.push(kind.clone(), *value);
    }
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(not_after_year, 1, 1);
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x00, 0x7f, 0x01]));
    params.self_signed(&key).unwrap().der().to_vec()
}

#[test]
fn the_leaf_names_its_device_and_serial() {
    use rcgen::DnType::{CommonName, OrganizationalUnitName};
    let now = 1_800_000_000_000; // 2027
    let der = leaf(
        &[(OrganizationalUnitName, "a1pk"), (CommonName, "sensor-01")],
        2040,
    );
    assert_eq!(
        read_leaf(&der, now).unwrap(),
        (DeviceKey::new("a1pk", "sensor-01"), "7f01".to_owned())
    );
    let expired = leaf(
        &[(OrganizationalUnitName, "a1pk"), (CommonName, "sensor-01")],
        2021,
    );
    assert_eq!(
        read_leaf(&expired, now),
        Err(CertificateRefused::Rule(CertificateRefusal::Expired))
    );
    let no_product = leaf(&[(CommonName, "sensor-01")], 2040);
    assert_eq!(
        read_leaf(&no_product, now),
        Err(CertificateRefused::Rule(
            CertificateRefusal::OrganizationalUnit
        ))
    );
    assert_eq!(read_leaf(b"junk", now), Err(CertificateRefused::Unreadable));
}
