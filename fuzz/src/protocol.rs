//! The device wire contract (`ota-protocol`): topics, CONNECT credentials, device messages,
//! and what the device SDK decodes from the cloud (pushes, block replies, signed manifests).
//! Beyond "no panic", each target checks a property the platform relies on: topic
//! ownership agrees with parsing and with filter matching (device isolation), a decoded value
//! re-encodes to itself, a manifest that verifies is fresh, trusted and no rollback.

use ota_device_gateway::fuzzing::{matches, valid_filter, valid_topic};
use ota_device_gateway::{Action, device_may};
use ota_protocol::manifest::{self, Manifest, compare_versions};
use ota_protocol::{
    BlockReply, ConnectAuth, DeviceMessage, DeviceTopic, TopicKind, TrustedKey, UpgradePush,
    device_owns_topic, filter_may_match_foreign, filter_may_match_owned, parse_device_key,
    topic_owner,
};
use std::cmp::Ordering;

/// Splits `data` at `sep` into exactly `N` parts (missing ones empty, the last takes the rest).
pub(crate) fn fields<const N: usize>(data: &[u8], sep: u8) -> [&[u8]; N] {
    let mut out = [&data[..0]; N];
    let mut rest = data;
    for (i, slot) in out.iter_mut().enumerate() {
        if i + 1 == N {
            *slot = rest;
            break;
        }
        match rest.iter().position(|&b| b == sep) {
            Some(p) => {
                *slot = &rest[..p];
                rest = &rest[p + 1..];
            }
            None => {
                *slot = rest;
                rest = &rest[rest.len()..];
            }
        }
    }
    out
}

/// Input: `topic \n filter \n productKey \n deviceName` (UTF-8, lossily).
pub fn ota_topic(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let topic = lines.next().unwrap_or_default();
    let filter = lines.next().unwrap_or(topic);
    let pk = lines.next().unwrap_or("pk");
    let dn = lines.next().unwrap_or("dn");

    let owner = topic_owner(topic);
    if let Some(parsed) = DeviceTopic::parse(topic) {
        assert_eq!(parsed.topic(), topic, "OTA topic does not round-trip");
        let d = &parsed.device;
        assert_eq!(
            owner,
            Some((d.product_key.as_str(), d.device_name.as_str()))
        );
        assert_eq!(DeviceMessage::parse(topic, b"").is_ok(), {
            // Device→cloud kinds parse the payload (an empty one only for pulls); the others
            // are `Other` whatever the payload.
            !matches!(
                parsed.kind,
                TopicKind::Inform | TopicKind::Progress | TopicKind::FileDownload
            )
        });
    }
    if let Some((opk, odn)) = owner {
        // (Ownership is by shape; whether the broker accepts the topic at all, e.g. with a
        // NUL in another level, is `valid_topic`'s separate check.)
        assert!(device_owns_topic(opk, odn, topic));
        // A concrete topic used as a filter matches only itself.
        assert!(filter_may_match_owned(opk, odn, topic), "{topic}");
        assert!(!filter_may_match_foreign(opk, odn, topic), "{topic}");
    }

    // Device isolation: a filter that matches a topic owned by (opk, odn) may match that
    // device's topics, and may match a foreign topic for every other device.
    if valid_filter(filter) && valid_topic(topic) && matches(topic, filter) {
        if let Some((opk, odn)) = owner {
            assert!(
                filter_may_match_owned(opk, odn, filter),
                "{filter} matches {topic} of {opk}/{odn} but is said not to match its topics"
            );
            if (opk, odn) != (pk, dn) {
                assert!(
                    filter_may_match_foreign(pk, dn, filter),
                    "{filter} matches {topic} of {opk}/{odn}, foreign to {pk}/{dn}, \
                     but is said to match no foreign topic"
                );
            }
        }
        // The subscribe ACL of an external broker: an accepted filter never matches a topic
        // owned by another device.
        if let Ok(me) = parse_device_key(pk, dn)
            && device_may(&me, Action::Subscribe, filter)
        {
            assert!(
                owner.is_none() || owner == Some((pk, dn)),
                "{pk}/{dn} may subscribe {filter}, which matches {topic} of {owner:?}"
            );
        }
    }
    if let Ok(me) = parse_device_key(pk, dn)
        && device_may(&me, Action::Publish, topic)
    {
        assert_eq!(owner, Some((pk, dn)));
    }
}

/// Input: `clientId \0 username \0 password \0 deviceSecret`.
pub fn connect_auth(data: &[u8]) {
    let [cid, user, password, secret] = fields::<4>(data, 0).map(String::from_utf8_lossy);
    let Ok(auth) = ConnectAuth::parse(&cid, &user) else {
        return;
    };
    assert!(
        parse_device_key(
            auth.device.product_key.as_str(),
            auth.device.device_name.as_str()
        )
        .is_ok()
    );
    let expected = auth.expected_password(&secret);
    assert!(auth.verify(&secret, &expected), "own password refused");
    assert!(auth.verify(&secret, &expected.to_uppercase()));
    let accepted = auth.verify(&secret, &password);
    assert_eq!(
        accepted,
        password.trim().eq_ignore_ascii_case(&expected),
        "verify disagrees with the expected password"
    );
}

/// Input: one byte choosing the topic kind, then the payload.
pub fn device_message(data: &[u8]) {
    let Some((&k, payload)) = data.split_first() else {
        return;
    };
    let kind = TopicKind::ALL[usize::from(k) % TopicKind::ALL.len()];
    let topic = kind.topic("pk", "dn");
    let via_topic = DeviceMessage::parse(&topic, payload);
    let via_kind = DeviceMessage::parse_kind(kind, payload);
    assert_eq!(format!("{via_topic:?}"), format!("{via_kind:?}"));
    let Ok(message) = via_kind else {
        return;
    };
    if let Some(k) = message.topic_kind() {
        assert_eq!(k, kind);
        // What the SDK would send for this message means the same to the server.
        let again = DeviceMessage::parse_kind(kind, &message.to_payload())
            .expect("an encoded message parses");
        assert_eq!(again, message, "message does not round-trip");
    }
}

/// Input: a push or `firmware/get_reply` payload, as the device SDK receives it.
pub fn upgrade_push(data: &[u8]) {
    if let Ok(Some(push)) = UpgradePush::parse(data) {
        let again = UpgradePush::parse(&push.to_vec()).expect("an encoded push parses");
        assert_eq!(again.as_ref(), Some(&push), "push does not round-trip");
        let _ = push.data.is_mqtt_download();
    }
}

/// Input: a binary block-download reply, as the device SDK receives it.
pub fn block_reply(data: &[u8]) {
    let Ok(reply) = BlockReply::decode(data) else {
        return;
    };
    if reply.header.code != 200 {
        assert!(reply.block.is_empty());
        return;
    }
    let d = reply.header.data.as_ref().expect("success has data");
    assert_eq!(reply.block.len() as u64, d.b_size);
    let encoded = BlockReply::encode_ok(
        reply.header.id.as_deref(),
        d.file_token.as_deref(),
        d.file_length,
        d.b_offset,
        reply.block,
    )
    .expect("a decoded header re-encodes");
    let again = BlockReply::decode(&encoded).expect("an encoded reply decodes");
    assert_eq!(again.block, reply.block);
    assert_eq!(again.header.data, reply.header.data);
}

/// The fuzz targets' signing key; [`manifest`] trusts it.
const MANIFEST_SECRET: [u8; 32] = [7; 32];

/// Input: `flags text \0 signature \0 running \0 nowMs`. Flag bit 0: verify what the
/// server would send for the manifest `text` parses to, validly signed (this reaches the
/// checks after the signature); bit 1: no running version.
pub fn manifest(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let [text, signature, running, now] = fields::<4>(rest, 0);
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let (public, key_id) = manifest::public_key_of(&MANIFEST_SECRET);
    let trusted = [TrustedKey::from_base64(&public).expect("own key")];
    assert_eq!(trusted[0].key_id, key_id);
    let (text, signature) = match serde_json::from_str::<Manifest>(text) {
        Ok(m) if flags & 1 == 1 => m.sign(&MANIFEST_SECRET),
        _ => (
            text.to_owned(),
            String::from_utf8_lossy(signature).into_owned(),
        ),
    };
    let running = String::from_utf8_lossy(running);
    let running = (flags & 2 == 0).then_some(&*running);
    let now: u64 = String::from_utf8_lossy(now).trim().parse().unwrap_or(0);
    let _ = TrustedKey::from_base64(&String::from_utf8_lossy(rest));

    if let Ok(m) = manifest::verify(&text, &signature, &trusted, now, running) {
        assert_eq!(m.key_id, key_id);
        assert!(now <= m.expires_at, "expired manifest accepted");
        if let Some(running) = running {
            assert_ne!(compare_versions(&m.version, running), Ordering::Less);
        }
        m.check_file(m.size, &m.digest_method, &m.digest)
            .expect("a manifest agrees with itself");
    }
    if let Some(running) = running
        && let Ok(parsed) = serde_json::from_str::<Manifest>(&text)
    {
        let (a, b) = (parsed.version.as_str(), running);
        assert_eq!(
            compare_versions(a, b),
            compare_versions(b, a).reverse(),
            "version order is not antisymmetric: {a:?} {b:?}"
        );
    }
}
