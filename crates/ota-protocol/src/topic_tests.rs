use super::*;

fn dev() -> DeviceKey {
    DeviceKey::new("a1pk", "dev-1")
}

#[test]
fn every_kind_formats_the_spec_topic() {
    let expected = [
        (TopicKind::Inform, "/ota/device/inform/a1pk/dev-1"),
        (TopicKind::Upgrade, "/ota/device/upgrade/a1pk/dev-1"),
        (TopicKind::Progress, "/ota/device/progress/a1pk/dev-1"),
        (TopicKind::Request, "/ota/device/request/a1pk/dev-1"),
        (
            TopicKind::FirmwareGet,
            "/sys/a1pk/dev-1/thing/ota/firmware/get",
        ),
        (
            TopicKind::FirmwareGetReply,
            "/sys/a1pk/dev-1/thing/ota/firmware/get_reply",
        ),
        (
            TopicKind::FileDownload,
            "/sys/a1pk/dev-1/thing/file/download",
        ),
        (
            TopicKind::FileDownloadReply,
            "/sys/a1pk/dev-1/thing/file/download_reply",
        ),
    ];
    assert_eq!(expected.len(), TopicKind::ALL.len());
    for (kind, topic) in expected {
        assert_eq!(kind.topic("a1pk", "dev-1"), topic);
        let parsed = DeviceTopic::parse(topic).expect(topic);
        assert_eq!(parsed, DeviceTopic::new(kind, dev()));
        assert_eq!(parsed.to_string(), topic);
        assert!(device_owns_topic("a1pk", "dev-1", topic), "{topic}");
        assert!(!device_owns_topic("a1pk", "dev-2", topic), "{topic}");
    }
}

#[test]
fn directions_and_replies() {
    assert_eq!(TopicKind::Inform.direction(), Direction::DeviceToCloud);
    assert_eq!(TopicKind::Upgrade.direction(), Direction::CloudToDevice);
    assert_eq!(
        TopicKind::FirmwareGet.reply_kind(),
        Some(TopicKind::FirmwareGetReply)
    );
    assert_eq!(
        TopicKind::FileDownload.reply_kind(),
        Some(TopicKind::FileDownloadReply)
    );
    assert_eq!(TopicKind::Request.reply_kind(), Some(TopicKind::Request));
    assert_eq!(TopicKind::Progress.reply_kind(), None);
}

#[test]
fn parse_rejects_non_ota_and_wildcards() {
    for topic in [
        "",
        "/",
        "/ota/device/upgrade/+/+",
        "/ota/device/upgrade/pk",
        "/ota/device/upgrade/pk/dn/extra",
        "/ota/device/unknown/pk/dn",
        "ota/device/upgrade/pk/dn",
        "/sys/pk/dn/thing/ota/firmware/get/x",
        "/sys/pk/dn/thing/event/property/post",
        "/sys/pk/#",
        "/ota/device/inform//dn",
    ] {
        assert_eq!(DeviceTopic::parse(topic), None, "{topic:?}");
    }
}

#[test]
fn owner_of_each_shape() {
    let owned = [
        "/sys/pk/dn/thing/event/property/post",
        "/sys/pk/dn/x",
        "/ota/device/inform/pk/dn",
        "/ota/device/anything/pk/dn",
        "/shadow/update/pk/dn",
        "/ext/ntp/pk/dn/request",
        "/pk/dn/user/get",
        "/pk/dn/",
    ];
    for topic in owned {
        assert_eq!(topic_owner(topic), Some(("pk", "dn")), "{topic}");
    }
    let unowned = [
        "",
        "pk/dn/user",
        "/sys/pk/dn",
        "/sys/pk",
        "/ota/device/inform/pk/dn/more",
        "/ota/other/inform/pk/dn",
        "/shadow/update/pk/dn/more",
        "/ext/ntp/pk/dn",
        "/pk/dn",
        "/broadcast/pk/all",
        "/pk/+/user",
        "/pk/dn/#",
        "//dn/user",
        "$SYS/broker",
    ];
    for topic in unowned {
        assert_eq!(topic_owner(topic), None, "{topic:?}");
    }
    // Reserved first levels never read as a product key.
    assert_eq!(topic_owner("/sys/a/b/c"), Some(("a", "b")));
    assert!(!device_owns_topic("sys", "a", "/sys/a/b/c"));
}

#[test]
fn filters_that_may_reach_other_devices() {
    let (pk, dn) = ("pk", "dn");
    let foreign = [
        "#",
        "/#",
        "+/#",
        "/ota/device/upgrade/+/+",
        "/ota/device/+/pk/+",
        "/ota/device/upgrade/other/dn",
        "/sys/+/dn/thing/#",
        "/sys/pk/+/#",
        "/+/+/user/get",
        "/+/dn/#",
    ];
    for filter in foreign {
        assert!(filter_may_match_foreign(pk, dn, filter), "{filter}");
    }
    let own_only = [
        "/sys/pk/dn/#",
        "/sys/pk/dn/thing/ota/firmware/get_reply",
        "/ota/device/upgrade/pk/dn",
        "/ota/device/+/pk/dn",
        "/pk/dn/user/+",
        "/shadow/+/pk/dn",
        "/nothing",
        "a/b/c",
    ];
    for filter in own_only {
        assert!(!filter_may_match_foreign(pk, dn, filter), "{filter}");
    }
}

#[test]
fn filters_that_may_reach_this_device() {
    let (pk, dn) = ("pk", "dn");
    for filter in [
        "#",
        "/#",
        "/ota/device/upgrade/+/+",
        "/ota/device/upgrade/pk/dn",
        "/sys/pk/dn/#",
        "/sys/+/+/thing/file/download_reply",
        "/pk/dn/user/+",
        "/+/dn/user",
    ] {
        assert!(filter_may_match_owned(pk, dn, filter), "{filter}");
    }
    for filter in [
        "/ota/device/upgrade/other/dn",
        "/ota/device/upgrade/pk/dn/x",
        "/sys/pk/other/#",
        "/sys/pk/dn",
        "/broadcast/pk/#",
        "a/b",
    ] {
        assert!(!filter_may_match_owned(pk, dn, filter), "{filter}");
    }
}
