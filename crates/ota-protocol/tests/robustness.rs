//! Property tests: no decoder of device input panics, and encoders round-trip.

use ota_protocol::{
    BlockReply, ConnectAuth, DeviceMessage, DeviceTopic, FileBlockRequest, HmacMethod,
    ProgressStep, SignRequest, TopicKind, UpgradePush, device_owns_topic, filter_may_match_foreign,
    filter_may_match_owned, topic_owner,
};
use proptest::prelude::*;

fn segment() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.:@-]{1,12}"
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parsing_arbitrary_bytes_never_panics(topic_idx in 0usize..9, payload in proptest::collection::vec(any::<u8>(), 0..256)) {
        let topic = TopicKind::ALL.get(topic_idx).map_or_else(|| "/x".to_string(), |k| k.topic("pk", "dn"));
        let _ = DeviceMessage::parse(&topic, &payload);
        let _ = UpgradePush::parse(&payload);
        let _ = BlockReply::decode(&payload);
    }

    #[test]
    fn parsing_json_like_text_never_panics(topic_idx in 0usize..8, payload in r#"[{}\[\]",:0-9a-zA-Z \-.]{0,200}"#) {
        let topic = TopicKind::ALL[topic_idx].topic("pk", "dn");
        let _ = DeviceMessage::parse(&topic, payload.as_bytes());
        let _ = UpgradePush::parse(payload.as_bytes());
    }

    #[test]
    fn topic_functions_never_panic(topic in "[/a-z+#$]{0,40}", pk in segment(), dn in segment()) {
        let _ = DeviceTopic::parse(&topic);
        let _ = topic_owner(&topic);
        let _ = device_owns_topic(&pk, &dn, &topic);
        let _ = filter_may_match_foreign(&pk, &dn, &topic);
        let _ = filter_may_match_owned(&pk, &dn, &topic);
    }

    #[test]
    fn every_topic_round_trips_and_is_owned(kind_idx in 0usize..8, pk in segment(), dn in segment()) {
        let kind = TopicKind::ALL[kind_idx];
        let topic = kind.topic(&pk, &dn);
        let parsed = DeviceTopic::parse(&topic).unwrap();
        prop_assert_eq!(parsed.kind, kind);
        prop_assert_eq!(parsed.topic(), topic.clone());
        prop_assert!(device_owns_topic(&pk, &dn, &topic));
        prop_assert!(filter_may_match_owned(&pk, &dn, &topic));
        prop_assert!(!filter_may_match_foreign(&pk, &dn, &topic));
        let other = format!("{dn}x");
        prop_assert!(!device_owns_topic(&pk, &other, &topic));
    }

    #[test]
    fn auth_parsing_never_panics(cid in "[a-z0-9|=,&.]{0,60}", user in "[a-z0-9&/]{0,30}", pw in "[0-9a-fA-F]{0,70}") {
        if let Ok(auth) = ConnectAuth::parse(&cid, &user) {
            let _ = auth.verify("secret", &pw);
        }
    }

    #[test]
    fn sign_verify_round_trip(pk in segment(), dn in "[A-Za-z0-9_.:@-]{1,12}", secret in ".{0,40}", ts in proptest::option::of("[0-9]{1,13}"), m in 0usize..3) {
        let method = [HmacMethod::HmacMd5, HmacMethod::HmacSha1, HmacMethod::HmacSha256][m];
        let cid = format!("{pk}&{dn}");
        let creds = SignRequest { product_key: &pk, device_name: &dn, device_secret: &secret, client_id: &cid, timestamp: ts.as_deref(), method, secure_mode: 3 }.sign();
        let auth = ConnectAuth::parse(&creds.client_id, &creds.username).unwrap();
        prop_assert!(auth.verify(&secret, &creds.password));
        prop_assert!(auth.verify(&secret, &creds.password.to_uppercase()));
    }

    #[test]
    fn block_reply_round_trip(block in proptest::collection::vec(any::<u8>(), 0..2048), offset in any::<u32>(), id in proptest::option::of("[0-9]{1,8}")) {
        let bytes = BlockReply::encode_ok(id.as_deref(), Some("default"), 1 << 20, u64::from(offset), &block).unwrap();
        let reply = BlockReply::decode(&bytes).unwrap();
        prop_assert_eq!(reply.block, &block[..]);
        prop_assert_eq!(reply.header.id, id);
        prop_assert_eq!(reply.header.data.unwrap().b_offset, u64::from(offset));
    }

    #[test]
    fn device_messages_round_trip(version in "[0-9.]{1,10}", step in -10i64..=110, stream in any::<u64>(), size in any::<u32>()) {
        let messages = [
            DeviceMessage::Inform { id: Some("1".into()), version, module: None, delta_formats: vec![], delta_memory: None },
            DeviceMessage::Progress { id: Some("2".into()), step: ProgressStep::from_code(step), desc: "d".into(), module: Some("m".into()) },
            DeviceMessage::FileDownload(FileBlockRequest { id: Some("3".into()), stream_id: stream, file_id: 1, offset: 0, size: u64::from(size), file_token: Some("t".into()) }),
        ];
        for m in messages {
            let topic = m.topic_kind().unwrap().topic("pk", "dn");
            prop_assert_eq!(DeviceMessage::parse(&topic, &m.to_payload()), Ok(m));
        }
    }
}
