use super::*;

fn https_data() -> UpgradeData {
    UpgradeData {
        size: Some(432945),
        version: "2.0.0".into(),
        url: Some("https://example.test/fw.bin?Expires=1&Signature=x".into()),
        md5: Some("93230c3bde425a9d93230c3bde425a9d".into()),
        sign: Some("93230c3bde425a9d93230c3bde425a9d".into()),
        sign_method: SignMethod::Md5,
        module: Some("MCU".into()),
        is_diff: true,
        ext_data: Some(ExtData {
            tags: BTreeMap::from([("key1".into(), "value1".into())]),
            package_udi: Some("{\"ota_notice\":\"hi\"}".into()),
            manifest: None,
        }),
        digestsign: Some("A4WOP".into()),
        ..UpgradeData::default()
    }
}

#[test]
fn https_push_has_the_exact_wire_form() {
    let push = UpgradePush::new(https_data(), 1626969597470);
    let text = String::from_utf8(push.to_vec()).unwrap();
    let want = concat!(
        r#"{"code":"1000","data":{"size":432945,"version":"2.0.0","#,
        r#""url":"https://example.test/fw.bin?Expires=1&Signature=x","#,
        r#""md5":"93230c3bde425a9d93230c3bde425a9d","sign":"93230c3bde425a9d93230c3bde425a9d","#,
        r#""signMethod":"Md5","module":"MCU","isDiff":1,"#,
        r#""extData":{"key1":"value1","_package_udi":"{\"ota_notice\":\"hi\"}"},"#,
        r#""digestsign":"A4WOP"},"id":1626969597470,"message":"success"}"#
    );
    assert_eq!(text, want);
    assert_eq!(UpgradePush::parse(text.as_bytes()), Ok(Some(push)));
}

#[test]
fn mqtt_push_has_no_url_and_stream_ids() {
    let data = UpgradeData {
        size: Some(4252),
        version: "1.1".into(),
        md5: Some("2e78".into()),
        sign: Some("2e78".into()),
        sign_method: SignMethod::Md5,
        d_protocol: Some("mqtt".into()),
        stream_id: Some(12332),
        stream_file_id: Some(1),
        ..UpgradeData::default()
    };
    assert!(data.is_mqtt_download());
    let text = String::from_utf8(UpgradePush::new(data, 1695281536874).to_vec()).unwrap();
    assert_eq!(
        text,
        concat!(
            r#"{"code":"1000","data":{"size":4252,"version":"1.1","md5":"2e78","sign":"2e78","#,
            r#""signMethod":"Md5","dProtocol":"mqtt","streamId":12332,"streamFileId":1},"#,
            r#""id":1695281536874,"message":"success"}"#
        )
    );
}

#[test]
fn multi_file_push() {
    let data = UpgradeData {
        version: "3.0".into(),
        sign_method: SignMethod::Sha256,
        files: Some(vec![FileEntry {
            file_name: "a.bin".into(),
            file_size: 10,
            file_url: "https://x/a".into(),
            file_sign: "ab".repeat(32),
            file_md5: Some("cd".repeat(16)),
        }]),
        ..UpgradeData::default()
    };
    let push = UpgradePush::new(data, 5);
    let text = String::from_utf8(push.to_vec()).unwrap();
    assert!(text.contains(r#""signMethod":"SHA256""#), "{text}");
    assert!(text.contains(
        r#""files":[{"fileName":"a.bin","fileSize":10,"fileUrl":"https://x/a","fileSign":""#
    ));
    assert!(text.contains(r#""fileMd5":""#));
    assert!(!text.contains("isDiff") && !text.contains(r#""url""#));
    assert_eq!(UpgradePush::parse(text.as_bytes()), Ok(Some(push)));
}

#[test]
fn parse_accepts_older_server_forms() {
    let old = r#"{"id":1,"code":200,"data":{"size":"12","version":1.5,"url":"u","md5":"m","sign":"s","signMethod":"MD5","isDiff":"0","extData":{"k":"v"}},"message":"success",}"#;
    let push = UpgradePush::parse(old.as_bytes()).unwrap().unwrap();
    assert_eq!(push.code, "200");
    assert_eq!(push.data.size, Some(12));
    assert_eq!(push.data.version, "1.5");
    assert_eq!(push.data.sign_method, SignMethod::Md5);
    assert!(!push.data.is_diff);
    assert_eq!(push.data.ext_data.unwrap().tags["k"], "v");
    for (wire, method) in [
        ("Sha256", SignMethod::Sha256),
        ("sha256", SignMethod::Sha256),
        ("md5", SignMethod::Md5),
    ] {
        assert_eq!(SignMethod::parse(wire), Some(method));
    }
    assert_eq!(SignMethod::parse("crc32"), None);
}

#[test]
fn empty_reply_means_no_package() {
    assert_eq!(empty_firmware_reply(), br#"{"code":200,"data":{}}"#);
    assert_eq!(UpgradePush::parse(&empty_firmware_reply()), Ok(None));
    assert_eq!(UpgradePush::parse(br#"{"code":200}"#), Ok(None));
    assert!(UpgradePush::parse(b"garbage").is_err());
    assert!(
        UpgradePush::parse(br#"{"code":"1000","data":{"version":"1"},"id":1,"message":"success"}"#)
            .is_err()
    );
}
