use super::*;

const PK: &str = "a1pk";
const DN: &str = "dev";

fn parse(kind: TopicKind, payload: &str) -> Result<DeviceMessage, ProtocolError> {
    DeviceMessage::parse(&kind.topic(PK, DN), payload.as_bytes())
}

#[test]
fn inform_with_string_or_numeric_id() {
    let m = parse(
        TopicKind::Inform,
        r#"{"id":"123","params":{"version":"1.0.1","module":"MCU"}}"#,
    );
    assert_eq!(
        m,
        Ok(DeviceMessage::Inform {
            id: Some("123".into()),
            version: "1.0.1".into(),
            module: Some("MCU".into()),
            delta_formats: vec![],
            delta_memory: None,
        })
    );
    let m = parse(TopicKind::Inform, r#"{"id":7,"params":{"version":"2.0"}}"#);
    assert_eq!(
        m,
        Ok(DeviceMessage::Inform {
            id: Some("7".into()),
            version: "2.0".into(),
            module: None,
            delta_formats: vec![],
            delta_memory: None,
        })
    );
    // An empty module is the default module.
    let m = parse(
        TopicKind::Inform,
        r#"{"params":{"version":"2.0","module":""}}"#,
    );
    assert_eq!(
        m,
        Ok(DeviceMessage::Inform {
            id: None,
            version: "2.0".into(),
            module: None,
            delta_formats: vec![],
            delta_memory: None,
        })
    );
}

#[test]
fn inform_delta_formats_are_read_leniently() {
    let rows = [
        (r#"{"params":{"version":"2","deltaFormats":[3]}}"#, vec![3]),
        (
            r#"{"params":{"version":"2","deltaFormats":[2,"3"]}}"#,
            vec![2, 3],
        ),
        // Malformed capability data never makes the report invalid.
        (
            r#"{"params":{"version":"2","deltaFormats":[300,-1,"x",3]}}"#,
            vec![3],
        ),
        (r#"{"params":{"version":"2","deltaFormats":"3"}}"#, vec![]),
        (r#"{"params":{"version":"2","deltaFormats":null}}"#, vec![]),
        (r#"{"params":{"version":"2"}}"#, vec![]),
    ];
    for (payload, want) in rows {
        match parse(TopicKind::Inform, payload) {
            Ok(DeviceMessage::Inform { delta_formats, .. }) => {
                assert_eq!(delta_formats, want, "{payload}")
            }
            other => panic!("{payload}: {other:?}"),
        }
    }
}

#[test]
fn inform_delta_memory_is_read_leniently() {
    let rows = [
        (
            r#"{"params":{"version":"2","deltaMemory":262144}}"#,
            Some(262_144),
        ),
        (
            r#"{"params":{"version":"2","deltaMemory":"262144"}}"#,
            Some(262_144),
        ),
        (r#"{"params":{"version":"2","deltaMemory":0}}"#, Some(0)),
        (
            r#"{"params":{"version":"2","deltaMemory":18446744073709551615}}"#,
            Some(u64::MAX),
        ),
        // Malformed capability data never makes the report invalid: it reads as no limit.
        (r#"{"params":{"version":"2","deltaMemory":-1}}"#, None),
        (r#"{"params":{"version":"2","deltaMemory":1.5}}"#, None),
        (r#"{"params":{"version":"2","deltaMemory":"lots"}}"#, None),
        (r#"{"params":{"version":"2","deltaMemory":[1]}}"#, None),
        (r#"{"params":{"version":"2","deltaMemory":{}}}"#, None),
        (r#"{"params":{"version":"2","deltaMemory":null}}"#, None),
        (r#"{"params":{"version":"2"}}"#, None),
    ];
    for (payload, want) in rows {
        match parse(TopicKind::Inform, payload) {
            Ok(DeviceMessage::Inform { delta_memory, .. }) => {
                assert_eq!(delta_memory, want, "{payload}")
            }
            other => panic!("{payload}: {other:?}"),
        }
    }
}

#[test]
fn inform_without_version_is_an_error() {
    for payload in [
        r#"{"id":"1","params":{}}"#,
        r#"{"id":"1"}"#,
        r#"{"params":{"version":""}}"#,
        "",
        "[]",
    ] {
        let err = parse(TopicKind::Inform, payload).unwrap_err();
        assert_eq!(err.code(), "InvalidPayload", "{payload}");
    }
}

#[test]
fn progress_step_as_string_or_number() {
    let m = parse(
        TopicKind::Progress,
        r#"{"id":"1","params":{"step":"95","desc":"ok","module":"MCU"}}"#,
    );
    assert_eq!(
        m,
        Ok(DeviceMessage::Progress {
            id: Some("1".into()),
            step: ProgressStep::Percent(95),
            desc: "ok".into(),
            module: Some("MCU".into())
        })
    );
    let m = parse(TopicKind::Progress, r#"{"id":2,"params":{"step":-3}}"#).unwrap();
    assert_eq!(
        m,
        DeviceMessage::Progress {
            id: Some("2".into()),
            step: ProgressStep::VerifyFailed,
            desc: String::new(),
            module: None
        }
    );
    assert!(parse(TopicKind::Progress, r#"{"params":{"step":"x"}}"#).is_err());
    assert!(parse(TopicKind::Progress, r#"{"params":{"desc":"no step"}}"#).is_err());
}

#[test]
fn progress_step_codes() {
    let table = [
        (0, ProgressStep::Percent(0)),
        (1, ProgressStep::Percent(1)),
        (100, ProgressStep::Percent(100)),
        (-1, ProgressStep::UpgradeFailed),
        (-2, ProgressStep::DownloadFailed),
        (-3, ProgressStep::VerifyFailed),
        (-4, ProgressStep::BurnFailed),
        (-5, ProgressStep::Other(-5)),
        (101, ProgressStep::Other(101)),
    ];
    for (code, step) in table {
        assert_eq!(ProgressStep::from_code(code), step);
        assert_eq!(step.code(), code);
        assert_eq!(step.is_failure(), code < 0);
    }
}

#[test]
fn firmware_get_forms() {
    let want = |id: Option<&str>, module: Option<&str>| DeviceMessage::FirmwareGet {
        id: id.map(Into::into),
        module: module.map(Into::into),
    };
    let cases = [
        (
            r#"{"id":1, "params":{"module":"MCU"}}"#,
            want(Some("1"), Some("MCU")),
        ),
        (r#"{"id":1, "params":{}}"#, want(Some("1"), None)),
        (
            r#"{"id":"9","version":"1.0","params":{"module":"default"},"method":"thing.ota.firmware.get"}"#,
            want(Some("9"), Some("default")),
        ),
        (r#"{"id":"9"}"#, want(Some("9"), None)),
        ("", want(None, None)),
        (" \n", want(None, None)),
    ];
    for (payload, expected) in cases {
        assert_eq!(
            parse(TopicKind::FirmwareGet, payload),
            Ok(expected),
            "{payload:?}"
        );
    }
    assert!(parse(TopicKind::FirmwareGet, "not json").is_err());
}

#[test]
fn legacy_request() {
    let m = parse(TopicKind::Request, r#"{"id":3,"params":{"version":"1.0"}}"#);
    assert_eq!(
        m,
        Ok(DeviceMessage::Request {
            id: Some("3".into()),
            version: Some("1.0".into()),
            module: None
        })
    );
}

#[test]
fn file_download_exact_link_sdk_form_with_trailing_comma() {
    let payload = r#"{"id":"1","version":"1.0","params":{"fileToken":"default","fileInfo":{"streamId":1397345,"fileId":1,},"fileBlock":{"size":5120,"offset":0}}}"#;
    let want = DeviceMessage::FileDownload(FileBlockRequest {
        id: Some("1".into()),
        stream_id: 1397345,
        file_id: 1,
        offset: 0,
        size: 5120,
        file_token: Some("default".into()),
    });
    assert_eq!(parse(TopicKind::FileDownload, payload), Ok(want));
}

#[test]
fn file_download_doc_form_and_string_numbers() {
    let payload = r#"{"id":22,"params":{"fileToken":"1bb8","fileInfo":{"streamId":"7","fileId":"2"},"fileBlock":{"size":"256","offset":2}}}"#;
    let Ok(DeviceMessage::FileDownload(r)) = parse(TopicKind::FileDownload, payload) else {
        panic!("not parsed");
    };
    assert_eq!((r.stream_id, r.file_id, r.offset, r.size), (7, 2, 2, 256));
    assert_eq!(r.file_token.as_deref(), Some("1bb8"));
    assert_eq!(r.id.as_deref(), Some("22"));
}

#[test]
fn file_download_missing_or_negative_fields_are_errors() {
    for payload in [
        r#"{"params":{"fileInfo":{"fileId":1},"fileBlock":{"size":1}}}"#,
        r#"{"params":{"fileInfo":{"streamId":1,"fileId":1},"fileBlock":{}}}"#,
        r#"{"params":{"fileInfo":{"streamId":1,"fileId":1},"fileBlock":{"size":-1}}}"#,
        r#"{"params":{"fileBlock":{"size":1}}}"#,
        r#"{"id":"1"}"#,
    ] {
        assert!(
            parse(TopicKind::FileDownload, payload).is_err(),
            "{payload}"
        );
    }
}

#[test]
fn non_ota_and_cloud_topics_are_other() {
    let other = Ok(DeviceMessage::Other);
    assert_eq!(
        DeviceMessage::parse("/sys/pk/dn/thing/event/property/post", b"{"),
        other
    );
    assert_eq!(
        DeviceMessage::parse(&TopicKind::Upgrade.topic(PK, DN), b"\xff"),
        other
    );
    assert_eq!(DeviceMessage::parse("", b""), other);
}

#[test]
fn encoded_messages_parse_back() {
    let messages = [
        DeviceMessage::Inform {
            id: Some("1".into()),
            version: "1.2.3".into(),
            module: Some("MCU".into()),
            delta_formats: vec![2, 3],
            delta_memory: Some(256 * 1024),
        },
        DeviceMessage::Inform {
            id: Some("5".into()),
            version: "1.2.4".into(),
            module: None,
            delta_formats: vec![4, 5],
            delta_memory: Some(u64::MAX),
        },
        DeviceMessage::Progress {
            id: Some("2".into()),
            step: ProgressStep::BurnFailed,
            desc: "flash \"write\" error".into(),
            module: None,
        },
        DeviceMessage::FirmwareGet {
            id: Some("3".into()),
            module: None,
        },
        DeviceMessage::Request {
            id: None,
            version: Some("0.9".into()),
            module: Some("wifi".into()),
        },
        DeviceMessage::FileDownload(FileBlockRequest {
            id: Some("4".into()),
            stream_id: u64::from(u32::MAX) + 5,
            file_id: 1,
            offset: 10240,
            size: 5120,
            file_token: None,
        }),
    ];
    for m in messages {
        let kind = m.topic_kind().unwrap();
        let payload = m.to_payload();
        assert_eq!(
            DeviceMessage::parse(&kind.topic(PK, DN), &payload),
            Ok(m.clone()),
            "{m:?}"
        );
    }
    assert_eq!(DeviceMessage::Other.topic_kind(), None);
    assert!(DeviceMessage::Other.to_payload().is_empty());
}
