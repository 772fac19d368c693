use super::*;

#[test]
fn a_subject_names_one_device() {
    use CertificateRefusal as R;
    let ok = |pk: &str, dn: &str| Ok(DeviceKey::new(pk, dn));
    type Case<'a> = (&'a [&'a str], &'a [&'a str], Result<DeviceKey, R>);
    let cases: &[Case] = &[
        (&["sensor-01"], &["a1B2c3"], ok("a1B2c3", "sensor-01")),
        (&["dev@site.1:x"], &["PK1"], ok("PK1", "dev@site.1:x")),
        (&[], &["PK1"], Err(R::CommonName)),
        (&["dev1", "dev2"], &["PK1"], Err(R::CommonName)),
        (&["sensor-01"], &[], Err(R::OrganizationalUnit)),
        (&["sensor-01"], &["PK1", "PK2"], Err(R::OrganizationalUnit)),
        (&["ab"], &["PK1"], Err(R::InvalidName)),
        (&["has space"], &["PK1"], Err(R::InvalidName)),
        (&["sensor-01"], &["pk.1"], Err(R::InvalidName)),
        (&["sensor-01"], &[""], Err(R::InvalidName)),
    ];
    for (cns, ous, want) in cases {
        assert_eq!(&device_of_subject(cns, ous), want, "CN {cns:?} OU {ous:?}");
    }
}

#[test]
fn validity_is_inclusive_at_both_ends() {
    use CertificateRefusal as R;
    for (now, want) in [
        (99, Err(R::NotYetValid)),
        (100, Ok(())),
        (150, Ok(())),
        (200, Ok(())),
        (201, Err(R::Expired)),
    ] {
        assert_eq!(check_validity(100, 200, now), want, "at {now}");
    }
}

#[test]
fn serials_take_one_form() {
    for (typed, stored) in [
        ("0A:1b:FF", "a1bff"),
        ("00ff", "ff"),
        ("0", "0"),
        ("00:00", "0"),
        ("7D3F", "7d3f"),
    ] {
        assert_eq!(serial(typed).unwrap(), stored, "{typed}");
    }
    for bad in ["", "xyz", ":ab", "ab:", "a::b", "0x12", &"f".repeat(81)] {
        let err = serial(bad).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("serial"), "{bad}");
    }
    assert_eq!(serial_of_bytes(&[0x00, 0x0a, 0x1b]), "a1b");
    assert_eq!(serial_of_bytes(&[0]), "0");
}
