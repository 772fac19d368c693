//! Writes the seed inputs the corpora started from: real packets, payloads and requests
//! (from the protocol tests, the Aliyun spec's examples and the SDKs' shapes) and real delta
//! patches made with `ota-delta`. The committed corpora are these seeds plus what the
//! fuzzers added, minimised with `cargo fuzz cmin`. Run again with
//! `cargo test -p ota-fuzz --test seeds -- --ignored` (it only adds files).

use bytes::BytesMut;
use ota_delta::{DiffOptions, diff};
use ota_fuzz::{NEXT_CONNECTION, SIGN_PLACEHOLDER};
use ota_protocol::{BlockReply, Manifest, TopicKind};
use rumqttc::mqttbytes::{QoS, v4};
use rumqttc::v5::mqttbytes::{QoS as QoS5, v5};
use sha2::{Digest, Sha256};
use std::path::Path;

fn put(target: &str, seeds: Vec<Vec<u8>>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&dir).unwrap();
    for seed in seeds {
        let name = format!("seed-{}", &hex::encode(Sha256::digest(&seed))[..16]);
        std::fs::write(dir.join(name), seed).unwrap();
    }
}

/// Encodes packets, giving those that need one a packet id.
fn v4(packets: &[v4::Packet]) -> Vec<u8> {
    let mut b = BytesMut::new();
    for p in packets {
        let mut p = p.clone();
        match &mut p {
            v4::Packet::Subscribe(s) => s.pkid = 1,
            v4::Packet::Unsubscribe(u) => u.pkid = 2,
            v4::Packet::Publish(p) if p.pkid == 0 && p.qos != QoS::AtMostOnce => p.pkid = 3,
            _ => {}
        }
        p.write(&mut b, 1 << 20).unwrap();
    }
    b.to_vec()
}

fn v5(packets: &[v5::Packet]) -> Vec<u8> {
    let mut b = BytesMut::new();
    for p in packets {
        let mut p = p.clone();
        match &mut p {
            v5::Packet::Subscribe(s) => s.pkid = 1,
            v5::Packet::Unsubscribe(u) => u.pkid = 2,
            v5::Packet::Publish(p) if p.pkid == 0 && p.qos != QoS5::AtMostOnce => p.pkid = 3,
            _ => {}
        }
        p.write(&mut b, None).unwrap();
    }
    b.to_vec()
}

fn connect4(client_id: &str, user: &str, password: &str, clean: bool) -> v4::Packet {
    let mut c = v4::Connect::new(client_id);
    c.keep_alive = 60;
    c.clean_session = clean;
    c.set_login(user, password);
    v4::Packet::Connect(c)
}

fn connect5(client_id: &str, user: &str, password: &str) -> v5::Packet {
    let c = v5::Connect {
        keep_alive: 60,
        client_id: client_id.into(),
        clean_start: true,
        properties: Some(v5::ConnectProperties {
            session_expiry_interval: Some(60),
            max_packet_size: Some(4096),
            ..v5::ConnectProperties::new()
        }),
    };
    v5::Packet::Connect(c, None, Some(v5::Login::new(user, password)))
}

const PK: &str = "a1pk";
const DN: &str = "dev1";

fn device_publishes4() -> Vec<v4::Packet> {
    let topic = |k: TopicKind| k.topic(PK, DN);
    let mut p = vec![v4::Packet::Subscribe(v4::Subscribe::new_many([
        v4::SubscribeFilter::new(format!("/sys/{PK}/{DN}/#"), QoS::AtLeastOnce),
        v4::SubscribeFilter::new("/ota/device/upgrade/+/+".into(), QoS::AtMostOnce),
    ]))];
    for (kind, payload) in [
        (
            TopicKind::Inform,
            r#"{"id":"1","params":{"version":"1.0.0","module":"MCU"}}"#,
        ),
        (
            TopicKind::Progress,
            r#"{"id":"2","params":{"step":"50","desc":"half"}}"#,
        ),
        (TopicKind::FirmwareGet, r#"{"id":"3","params":{}}"#),
        (TopicKind::Request, r#"{"id":3,"params":{"version":"1.0"}}"#),
        (
            TopicKind::FileDownload,
            r#"{"id":"4","params":{"fileToken":"t","fileInfo":{"streamId":7,"fileId":1,},"fileBlock":{"size":256,"offset":0}}}"#,
        ),
    ] {
        let mut publish = v4::Publish::new(topic(kind), QoS::AtLeastOnce, payload);
        publish.pkid = 10;
        p.push(v4::Packet::Publish(publish));
    }
    p.push(v4::Packet::Unsubscribe(v4::Unsubscribe::new(format!(
        "/sys/{PK}/{DN}/#"
    ))));
    p.push(v4::Packet::PingReq);
    p.push(v4::Packet::PubRel(v4::PubRel::new(10)));
    p
}

#[test]
#[ignore = "writes the seed corpora; run by hand"]
fn write_seeds() {
    // MQTT packet decoder.
    let mut session4 = vec![connect4(
        &format!("{PK}&{DN}|securemode=3,signmethod=hmacsha1|"),
        &format!("{DN}&{PK}"),
        "pw",
        true,
    )];
    session4.extend(device_publishes4());
    session4.push(v4::Packet::Disconnect);
    let stream4 = v4(&session4);
    let publish5 = v5::Publish::new(
        TopicKind::Inform.topic(PK, DN),
        QoS5::AtLeastOnce,
        r#"{"params":{"version":"2"}}"#,
        Some(v5::PublishProperties {
            payload_format_indicator: Some(1),
            message_expiry_interval: Some(10),
            topic_alias: None,
            response_topic: Some("r".into()),
            correlation_data: Some(bytes::Bytes::from_static(b"c")),
            user_properties: vec![("k".into(), "v".into())],
            subscription_identifiers: vec![],
            content_type: Some("json".into()),
        }),
    );
    let session5 = vec![
        connect5(PK, &format!("{DN}&{PK}"), "pw"),
        v5::Packet::Subscribe(v5::Subscribe::new(
            v5::Filter::new(format!("/sys/{PK}/{DN}/#"), QoS5::AtLeastOnce),
            None,
        )),
        v5::Packet::Publish(publish5.clone()),
        v5::Packet::PingReq(v5::PingReq),
        v5::Packet::Unsubscribe(v5::Unsubscribe::new(format!("/sys/{PK}/{DN}/#"), None)),
        v5::Packet::Disconnect(v5::Disconnect::new(
            v5::DisconnectReasonCode::NormalDisconnection,
        )),
    ];
    let stream5 = v5(&session5);
    let mut codec = vec![
        [&[0u8][..], &stream4].concat(),
        [&[0u8][..], &stream5].concat(),
    ];
    codec.push([&[4u8][..], &stream4].concat());
    for p in device_publishes4() {
        codec.push([&[1u8][..], &v4(&[p])].concat());
    }
    for p in &session5[1..] {
        codec.push([&[2u8][..], &v5(std::slice::from_ref(p))].concat());
    }
    codec.push(vec![2, 0xE0, 0x00]);
    put("mqtt_codec", codec);

    // Broker sessions: signed device sessions (v4, v5), an admin, a takeover, refusals.
    let user = format!("{DN}&{PK}");
    let mut signed4 = vec![connect4(
        &format!("{PK}&{DN}|securemode=3,signmethod=hmacsha256,timestamp=1|"),
        &user,
        SIGN_PLACEHOLDER,
        true,
    )];
    signed4.extend(device_publishes4());
    let signed4 = v4(&signed4);
    let mut persistent = vec![connect4(
        "c1|signmethod=hmacmd5|",
        &user,
        SIGN_PLACEHOLDER,
        false,
    )];
    persistent.extend(device_publishes4());
    persistent.push(v4::Packet::Disconnect);
    let persistent = v4(&persistent);
    let signed5 = v5(&[
        connect5(
            &format!("{PK}&{DN}|signmethod=hmacsha1|"),
            &user,
            SIGN_PLACEHOLDER,
        ),
        session5[1].clone(),
        session5[2].clone(),
        v5::Packet::Publish(v5::Publish::new(
            TopicKind::FirmwareGet.topic(PK, DN),
            QoS5::AtLeastOnce,
            "",
            None,
        )),
        session5[3].clone(),
    ]);
    let admin = v4(&[
        connect4("ops", "admin", "admin-pw", true),
        v4::Packet::Subscribe(v4::Subscribe::new("#", QoS::AtLeastOnce)),
        v4::Packet::Publish(v4::Publish::new(
            TopicKind::Upgrade.topic(PK, DN),
            QoS::AtLeastOnce,
            r#"{"code":"1000","data":{"version":"2"}}"#,
        )),
    ]);
    let refused = [
        v4(&[connect4("x", "unknown1&pk", SIGN_PLACEHOLDER, true)]),
        v4(&[connect4("x", &user, "00", true)]),
        v4(&[connect4("", &user, SIGN_PLACEHOLDER, false)]),
    ];
    let mut sessions = vec![
        [&[0u8][..], &signed4].concat(),
        [&[3u8][..], &signed4].concat(),
        [&[0u8][..], &signed5].concat(),
        [&[0u8][..], &persistent].concat(),
        [&[0u8][..], &admin, NEXT_CONNECTION, &signed4].concat(),
        [
            &[0u8][..],
            &signed4,
            NEXT_CONNECTION,
            &signed4,
            NEXT_CONNECTION,
            &persistent,
        ]
        .concat(),
    ];
    for r in refused {
        sessions.push([&[0u8][..], &r].concat());
    }
    put("broker_session", sessions);

    // Topics: `topic \n filter \n pk \n dn`.
    let mut topics = Vec::new();
    for kind in TopicKind::ALL {
        let t = kind.topic(PK, DN);
        topics.push(format!("{t}\n{t}\n{PK}\n{DN}"));
        topics.push(format!("{t}\n/ota/device/+/+/+\n{PK}\nother"));
    }
    for (t, f) in [
        ("/sys/a1pk/dev1/thing/event/post", "/sys/+/dev1/#"),
        ("/a1pk/dev1/user/get", "/a1pk/+/user/#"),
        ("/shadow/update/a1pk/dev1", "/shadow/#"),
        ("/ext/ntp/a1pk/dev1/request", "/ext/ntp/+/+/#"),
        ("/broadcast/a1pk/x", "#"),
        ("$SYS/x", "+/x"),
        ("/sys/a1pk/dev1", "/sys/a1pk/dev1/#"),
    ] {
        topics.push(format!("{t}\n{f}\n{PK}\n{DN}"));
    }
    put(
        "ota_topic",
        topics.into_iter().map(String::into_bytes).collect(),
    );

    // CONNECT credentials: `clientId \0 username \0 password \0 secret`.
    put(
        "connect_auth",
        [
            format!("{PK}&{DN}|securemode=3,signmethod=hmacsha1,timestamp=1524448722000|\0{DN}&{PK}\0ABCDEF\0secret"),
            format!("c1|signmethod=hmacsha256|\0{DN}&{PK}\0\0s"),
            format!("c1|signmethod=hmacmd5,ext=1|x\0{DN}&{PK}\00a\0s"),
            format!("c1\0{DN}&{PK}&x\0\0"),
        ]
        .into_iter()
        .map(String::into_bytes)
        .collect(),
    );

    // Device messages: kind byte, payload (the protocol tests' payloads).
    let payloads: [(TopicKind, &str); 12] = [
        (
            TopicKind::Inform,
            r#"{"id":"123","params":{"version":"1.0.1","module":"MCU"}}"#,
        ),
        (
            TopicKind::Inform,
            r#"{"params":{"version":"2","deltaFormats":[2,"3"],"deltaMemory":"262144"}}"#,
        ),
        (
            TopicKind::Progress,
            r#"{"id":"1","params":{"step":"95","desc":"ok","module":"MCU"}}"#,
        ),
        (TopicKind::Progress, r#"{"id":2,"params":{"step":-3}}"#),
        (TopicKind::Progress, r#"{"params":{"step":"1e3"}}"#),
        (
            TopicKind::Progress,
            r#"{"params":{"step":99999999999999999999999}}"#,
        ),
        (
            TopicKind::FirmwareGet,
            r#"{"id":"9","version":"1.0","params":{"module":"default"},"method":"thing.ota.firmware.get"}"#,
        ),
        (TopicKind::FirmwareGet, " "),
        (TopicKind::Request, r#"{"id":3,"params":{"version":"1.0"}}"#),
        (
            TopicKind::FileDownload,
            r#"{"id":"1","version":"1.0","params":{"fileToken":"default","fileInfo":{"streamId":1397345,"fileId":1,},"fileBlock":{"size":5120,"offset":0}}}"#,
        ),
        (
            TopicKind::FileDownload,
            r#"{"id":22,"params":{"fileToken":"1bb8","fileInfo":{"streamId":"7","fileId":"2"},"fileBlock":{"size":"256","offset":2}}}"#,
        ),
        (
            TopicKind::Inform,
            r#"{"params":{"version":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}"#,
        ),
    ];
    put(
        "device_message",
        payloads
            .iter()
            .map(|(k, p)| {
                let i = TopicKind::ALL.iter().position(|x| x == k).unwrap() as u8;
                [&[i][..], p.as_bytes()].concat()
            })
            .collect(),
    );

    // Pushes and pull replies as the SDK receives them.
    put(
        "upgrade_push",
        [
            r#"{"code":"1000","data":{"size":432945,"version":"2.0.0","url":"https://example.test/fw.bin?Expires=1&Signature=x","md5":"93230c3bde425a9d93230c3bde425a9d","sign":"93230c3bde425a9d93230c3bde425a9d","signMethod":"Md5","module":"MCU","isDiff":1,"extData":{"key1":"value1","_package_udi":"{\"ota_notice\":\"hi\"}"},"digestsign":"A4WOP"},"id":1626969597470,"message":"success"}"#,
            r#"{"code":"1000","data":{"size":4252,"version":"1.1","md5":"2e78","sign":"2e78","signMethod":"Md5","dProtocol":"mqtt","streamId":12332,"streamFileId":1},"id":1695281536874,"message":"success"}"#,
            r#"{"code":"1000","data":{"version":"3","signMethod":"SHA256","files":[{"fileName":"a.bin","fileSize":1,"fileUrl":"u","fileSign":"s","fileMd5":"m"}]},"id":"1","message":"success"}"#,
            r#"{"code":200,"data":{}}"#,
        ]
        .into_iter()
        .map(|s| s.as_bytes().to_vec())
        .collect(),
    );

    // Block replies.
    put(
        "block_reply",
        vec![
            BlockReply::encode_ok(Some("1"), Some("default"), 4096, 0, &[0x5A; 64]).unwrap(),
            BlockReply::encode_ok(None, None, 10, 9, b"x").unwrap(),
            BlockReply::encode_error(Some("2"), 400, "no such stream").unwrap(),
        ],
    );

    // Manifests: `flags text \0 signature \0 running \0 now`.
    let m = Manifest {
        product_key: PK.into(),
        module: "default".into(),
        version: "1.2.10".into(),
        size: 1024,
        digest_method: "SHA256".into(),
        digest: "ab".repeat(32),
        is_diff: true,
        src_version: Some("1.2.9".into()),
        expires_at: 1_900_000_000_000,
        key_id: ota_protocol::manifest::public_key_of(&[7; 32]).1,
        files: vec![],
    };
    let (text, sig) = m.sign(&[7; 32]);
    put(
        "manifest",
        [
            format!("\x00{text}\0{sig}\01.2.9\01800000000000"),
            format!("\x01{text}\0\0v1.2.11\01800000000000"),
            format!("\x03{text}\0\0\01950000000000"),
            format!("\x00{text}\0AAAA\01.2\00"),
        ]
        .into_iter()
        .map(String::into_bytes)
        .collect(),
    );

    // Aliyun parameters: `query \n form \n Authorization`.
    put(
        "aliyun_params",
        [
            "Action=CreateOTAStaticUpgradeJob&TargetDeviceName.10=j&TargetDeviceName.2=b&TargetDeviceName.1=a&Tag.1.Key=k&Tag.1.Value=v+w&Tag.2.Value=x\nNeedPush=True&Type=1&Bad=%ZZ&Name=%E4%B8%AD\nACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host;x-acs-date,Signature=ABC",
            "AccessKeyId=testid&Action=DescribeRegions&Format=XML&SignatureMethod=HMAC-SHA1&SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf&SignatureVersion=1.0&Timestamp=2016-02-23T12%3A46%3A24Z&Version=2014-05-26&Signature=OLeaidS1JvxuMvnyHOwuJ%2Buws5qY%3D\n\n",
            "SrcVersion.1=1.0&SrcVersion.2=1.1&DeviceName.1=a&DeviceName.x=b\nPageSize=-1&CurrentPage=99999999999999999999\nACS3-HMAC-SHA256 Credential=,SignedHeaders=,Signature=",
        ]
        .into_iter()
        .map(|s| s.as_bytes().to_vec())
        .collect(),
    );

    // Aliyun RPC requests, signed by the harness (v1 or ACS3) or as written.
    let rpc = |mode: &str, query: &str, form: &str| {
        let ct = if form.is_empty() {
            ""
        } else {
            "content-type: application/x-www-form-urlencoded\n"
        };
        let method = if form.is_empty() { "GET" } else { "POST" };
        format!("{method} /?{query} HTTP/1.1\nx-fuzz-sign: {mode}\n{ct}\n{form}").into_bytes()
    };
    let v = "Version=2018-01-20";
    put(
        "aliyun_rpc",
        vec![
            rpc("v1", &format!("Action=QueryOTAFirmware&{v}&FirmwareId={{{{FW}}}}"), ""),
            rpc("v1", &format!("Action=ListOTAFirmware&{v}&PageSize=10&CurrentPage=1"), ""),
            rpc("acs3", &format!("Action=CreateOTAModule&{v}"), "ProductKey={{PK}}&ModuleName=mcu&AliasName=a&Desc=d"),
            rpc("v1", &format!("Action=CreateOTAStaticUpgradeJob&{v}"), "FirmwareId={{FW}}&TargetSelection=SPECIFIC&TargetDeviceName.1={{DN}}&RetryInterval=60&RetryCount=1&TimeoutInMinutes=60&MaximumPerMinute=100&Tag.1.Key=k&Tag.1.Value=v&NeedPush=true"),
            rpc("v1", &format!("Action=CreateOTAVerifyJob&{v}"), "FirmwareId={{FW}}&TargetDeviceName.1={{DN}}&TimeoutInMinutes=5"),
            rpc("v1", &format!("Action=CreateOTADynamicUpgradeJob&{v}"), "FirmwareId={{FW}}&SrcVersion.1=1.0&DynamicMode=1&GrayPercent=33.333"),
            rpc("acs3", &format!("Action=CreateOTAFirmware&{v}"), "ProductKey={{PK}}&FirmwareName=f2&DestVersion=2.0&FirmwareUrl=http%3A%2F%2Fx%2Foss%2Fuploads%2Fa.bin&FirmwareSize=10&SignMethod=MD5&FirmwareSign=00"),
            rpc("v1", &format!("Action=RegisterDevice&{v}"), "ProductKey={{PK}}&DeviceName=d2&Nickname=n"),
            rpc("v1", &format!("Action=BatchCheckDeviceNames&{v}"), "ProductKey={{PK}}&DeviceName.1=a&DeviceName.2=b"),
            rpc("v1", &format!("Action=QueryDeviceDetail&{v}&ProductKey={{{{PK}}}}&DeviceName={{{{DN}}}}"), ""),
            rpc("v1", &format!("Action=GenerateOTAUploadURL&{v}&FileSuffix=bin"), ""),
            rpc("v1", &format!("Action=ListOTATaskByJob&{v}&JobId=x&TaskStatus=QUEUED&PageSize=10"), ""),
            rpc("v1", &format!("Action=CreateDeviceGroup&{v}"), "GroupName=g1&GroupDesc=d&ProductKey={{PK}}"),
            rpc("none", &format!("Action=QueryOTAFirmware&{v}&AccessKeyId=FUZZKEY&SignatureNonce=1&Timestamp=2026-01-01T00:00:00Z&Signature=abc"), ""),
            b"POST /?Action=QueryProduct HTTP/1.1\nauthorization: ACS3-HMAC-SHA256 Credential=FUZZKEY,SignedHeaders=x-acs-date;x-acs-signature-nonce;x-acs-content-sha256,Signature=00\nx-acs-date: 2026-01-01T00:00:00Z\nx-acs-signature-nonce: n\nx-acs-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\nx-acs-action: QueryProduct\nx-acs-version: 2018-01-20\n\n".to_vec(),
        ],
    );

    // Native API requests (signed by the harness).
    let req = |method: &str, path: &str, body: &str| {
        format!("{method} {path} HTTP/1.1\ncontent-type: application/json\n\n{body}").into_bytes()
    };
    put(
        "native_api",
        vec![
            req(
                "POST",
                "/api/v1/products",
                r#"{"name":"product-2","description":"d"}"#,
            ),
            req(
                "PATCH",
                "/api/v1/products/{{PK}}",
                r#"{"name":"product-3"}"#,
            ),
            req(
                "POST",
                "/api/v1/products/{{PK}}/devices",
                r#"{"names":["d2",null,"d3"]}"#,
            ),
            req("POST", "/api/v1/products/{{PK}}/devices", r#"{"count":3}"#),
            req(
                "PUT",
                "/api/v1/products/{{PK}}/devices/{{DN}}/tags",
                r#"{"k":"v","room":"1"}"#,
            ),
            req(
                "POST",
                "/api/v1/products/{{PK}}/modules",
                r#"{"module_name":"mcu","alias_name":"a","description":"d"}"#,
            ),
            req(
                "PATCH",
                "/api/v1/products/{{PK}}/modules/default",
                r#"{"alias_name":"b"}"#,
            ),
            req(
                "POST",
                "/api/v1/groups",
                r#"{"name":"g","product_key":"{{PK}}","description":"d"}"#,
            ),
            req(
                "POST",
                "/api/v1/groups",
                r#"{"name":"dyn","product_key":"{{PK}}","filter":{"name_prefix":"d"}}"#,
            ),
            req(
                "POST",
                "/api/v1/firmwares/{{FW}}/jobs",
                r#"{"kind":"static","product_key":"{{PK}}","target_selection":"SPECIFIC","device_names":["{{DN}}"],"retry_interval":60,"retry_count":2,"timeout_minutes":60,"maximum_per_minute":100,"rate_steps":[{"at":10,"per_minute":50}],"need_push":true,"need_confirm":false,"overwrite_mode":1,"tags":[{"key":"k","value":"v"}],"failure_gate":{"max_failed_percent":10,"min_finished":5,"action":"pause"}}"#,
            ),
            req(
                "POST",
                "/api/v1/firmwares/{{FW}}/jobs",
                r#"{"kind":"verify","device_names":["{{DN}}"],"timeout_minutes":5}"#,
            ),
            req(
                "POST",
                "/api/v1/firmwares/{{FW}}/jobs",
                r#"{"kind":"dynamic","src_versions":["1.0"],"dynamic_mode":1,"maximum_per_minute":10}"#,
            ),
            req(
                "POST",
                "/api/v1/firmwares/{{FW}}/jobs",
                r#"{"kind":"static","target_selection":"GRAY","gray_percent":"33.333","schedule_time":99999999999999}"#,
            ),
            req(
                "PATCH",
                "/api/v1/firmwares/{{FW}}",
                r#"{"name":"renamed","description":"d"}"#,
            ),
            req(
                "POST",
                "/api/v1/firmwares/{{FW}}/deltas",
                r#"{"src_versions":["1.0"]}"#,
            ),
            req(
                "POST",
                "/api/v1/firmwares",
                r#"{"product_key":"{{PK}}","name":"fw-2","dest_version":"2.0","url":"uploads/x.bin","size":10,"sign":"00","sign_method":"Md5","delta_from_latest":1}"#,
            ),
            req("POST", "/api/v1/tasks/confirm", r#"{"task_ids":["t1"]}"#),
            req(
                "POST",
                "/api/v1/tasks/cancel",
                r#"{"task_ids":["t1","t2"]}"#,
            ),
            req("POST", "/api/v1/jobs/x/cancel", r#"{"all":true}"#),
            req(
                "PATCH",
                "/api/v1/jobs/x",
                r#"{"maximum_per_minute":5,"tags":[{"key":"a","value":"b"}],"timeout_minutes":10}"#,
            ),
            req(
                "POST",
                "/api/v1/products/{{PK}}/signing-keys/rotate",
                r#"{"overlapSeconds":60}"#,
            ),
            req(
                "GET",
                "/api/v1/products/{{PK}}/devices?prefix=d&page=1&page_size=10",
                "",
            ),
            req(
                "GET",
                "/api/v1/jobs/x/tasks?status=QUEUED,FAILED&page=2",
                "",
            ),
            req("POST", "/api/v1/products", r#"{"name":"#),
        ],
    );

    // Device-list CSV files.
    put(
        "device_list_csv",
        [
            "DeviceName\ndev1\ndev2\n",
            "\u{FEFF}\"dev1\"\r\n\"dev2\"\r\n",
            "a,b\n",
            "dev1\ndev1\n",
            "\n\n  x  \n",
        ]
        .into_iter()
        .map(|s| s.as_bytes().to_vec())
        .collect(),
    );

    // OSS PostObject forms: the content-type line, then the multipart body.
    let form = |fields: &[(&str, &str)], file: &str| {
        let mut body = String::from("multipart/form-data; boundary=XyZ\r\n");
        for (name, value) in fields {
            body.push_str(&format!(
                "--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        body.push_str(&format!("--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"list.csv\"\r\nContent-Type: text/csv\r\n\r\n{file}\r\n--XyZ--\r\n"));
        body.into_bytes()
    };
    let full = [
        ("key", "{{KEY}}"),
        ("OSSAccessKeyId", "{{KEYID}}"),
        ("policy", "{{POLICY}}"),
        ("Signature", "{{SIGNATURE}}"),
        ("success_action_status", "201"),
    ];
    put(
        "oss_post_object",
        vec![
            form(&full, "dev1\ndev2\n"),
            form(&full[..4], ""),
            form(
                &[
                    ("key", "{{KEY}}"),
                    ("OSSAccessKeyId", "{{KEYID}}"),
                    (
                        "policy",
                        "eyJleHBpcmF0aW9uIjoiMjAwMC0wMS0wMVQwMDowMDowMFoiLCJjb25kaXRpb25zIjpbXX0=",
                    ),
                    ("Signature", "{{SIGNATURE}}"),
                ],
                "x",
            ),
            form(&[("key", "k")], "x"),
        ],
    );

    // Delta patches: real ones made with ota-delta, as header-only inputs and as apply
    // inputs in both forms (verbatim, and header fields plus body for the harness to fix up).
    let old: Vec<u8> = (0..6000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut new = old.clone();
    new.splice(1000..1000, b"inserted bytes".iter().copied());
    for i in (2000..5000).step_by(50) {
        new[i] ^= 0x21;
    }
    let streaming = DiffOptions {
        allow_full_old: false,
        ..DiffOptions::default()
    };
    let zstd_only = DiffOptions {
        max_lzma_ref: 0,
        ..DiffOptions::default()
    };
    let mut patches = vec![
        diff(&old, &new, &streaming).unwrap(),
        diff(&old, &new, &DiffOptions::default()).unwrap(),
        diff(&old, &new, &zstd_only).unwrap(),
        diff(&old, &old[..100], &streaming).unwrap(),
        diff(&old[..50], &new, &streaming).unwrap(),
    ];
    let mut olds = vec![
        old.clone(),
        old.clone(),
        old.clone(),
        old.clone(),
        old[..50].to_vec(),
    ];
    // Small random images favour the streaming methods; text-like images with a moved block
    // make the full-old methods (zstd and LZMA with the old image as reference) win, so
    // their decoders get seeds too.
    let text: Vec<u8> = (0..12_000u32)
        .flat_map(|i| {
            format!("line {} of the firmware image {}\n", i % 97, i * 31 % 1009).into_bytes()
        })
        .take(12_000)
        .collect();
    let mut moved = text[6000..].to_vec();
    moved.extend_from_slice(&text[..6000]);
    moved.splice(100..100, b"a new block".iter().copied());
    for opts in [DiffOptions::default(), zstd_only.clone()] {
        let p = diff(&text, &moved, &opts).unwrap();
        let method = ota_delta::inspect(&p[..]).unwrap().method;
        eprintln!("text pair: {method:?}, {} bytes", p.len());
        patches.push(p);
        olds.push(text.clone());
    }
    put(
        "delta_header",
        patches
            .iter()
            .map(|p| p[..p.len().min(120)].to_vec())
            .collect(),
    );
    let mut apply = Vec::new();
    for (p, o) in patches.iter().zip(&olds) {
        let h = ota_delta::inspect(&p[..]).unwrap();
        apply.push([&[0x80u8][..], &(o.len() as u32).to_le_bytes(), o, p].concat());
        let ctl = h.method as u8 | (h.flags & 1) << 3 | u8::from(h.version == 5) << 4;
        let memory = ota_delta::header::encode_memory(h.apply_memory);
        apply.push(
            [
                &[ctl, memory][..],
                &(h.new_size as u32).to_le_bytes(),
                &h.new_sha256,
                &(o.len() as u32).to_le_bytes(),
                o,
                &p[h.header_len..],
            ]
            .concat(),
        );
    }
    // Bodies of the full-old methods, which the encoder does not pick for inputs this small:
    // written directly with the zstd and LZMA reference coders, as fix-up inputs.
    for (method, coder) in [
        (2u8, ota_delta::zref::RefCoder::Zstd(19)),
        (3u8, ota_delta::zref::RefCoder::Lzma(19)),
    ] {
        let identity = ota_delta::transform::Transform::identity();
        let body =
            ota_delta::zref::encode_ref(&text, &identity, &moved, coder, &[], None, &[]).unwrap();
        let ctl = method | 1 << 3 | u8::from(method == 3) << 4;
        let memory = ota_delta::header::encode_memory(moved.len() as u64 + (4 << 20));
        apply.push(
            [
                &[ctl, memory][..],
                &(moved.len() as u32).to_le_bytes(),
                &Sha256::digest(&moved)[..],
                &(text.len() as u32).to_le_bytes(),
                &text,
                &body,
            ]
            .concat(),
        );
    }
    put("delta_apply", apply);

    // RAM policy documents: the built-in ones, a product scope, and near misses.
    let mut policies: Vec<Vec<u8>> = ota_domain::access::BUILTIN_POLICIES
        .iter()
        .map(|p| p.document.as_bytes().to_vec())
        .collect();
    for doc in [
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["iot:*"],"Resource":["acs:iot:*:*:product/a1pk"]},{"Effect":"Deny","Action":"iot:CancelOTA*","Resource":"*"}]}"#,
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"iot:Query?TA*","Resource":"acs:iot:*:*:group/g*"}]}"#,
        r#"{"Version":"1","Statement":[{"Effect":"allow","Action":"*","Resource":"*"}]}"#,
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{}}]}"#,
        r#"{"Version":"1","Statement":[]}"#,
    ] {
        policies.push(doc.as_bytes().to_vec());
    }
    put("access_policy", policies);
}
