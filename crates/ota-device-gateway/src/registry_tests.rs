use super::*;
use crate::conn_handle::{KeepAlive, Receiver};
use crate::encode::DisconnectReason;

fn device(dn: &str) -> Principal {
    Principal::Device(DeviceKey::new("pk", dn))
}

fn sub(filter: &str) -> SubFilter {
    SubFilter {
        filter: filter.into(),
        qos: QoS::AtLeastOnce,
        no_local: false,
    }
}

fn connect(reg: &Registry, who: &Principal) -> (Arc<ConnHandle>, Receiver) {
    let (conn, rx) = ConnHandle::new(reg.next_connection_id(), 8, KeepAlive::NONE);
    reg.attach(who, &conn, true, false, || {});
    (conn, rx)
}

#[test]
fn a_device_is_never_routed_another_devices_topic() {
    let reg = Registry::new();
    let (a, b) = (device("a"), device("b"));
    let (ca, mut rxa) = connect(&reg, &a);
    let (cb, mut rxb) = connect(&reg, &b);
    for f in ["#", "/ota/device/upgrade/+/+", "/sys/+/+/#"] {
        assert!(reg.subscribe(&b, cb.id, &sub(f), 32));
    }
    assert!(reg.subscribe(&a, ca.id, &sub("/ota/device/upgrade/+/+"), 32));
    let payload = Bytes::from_static(b"push");
    assert_eq!(
        reg.route(0, "/ota/device/upgrade/pk/a", &payload, QoS::AtLeastOnce),
        1
    );
    let got = rxa.try_recv().unwrap().into_delivery().unwrap();
    assert_eq!(&*got.message.topic, "/ota/device/upgrade/pk/a");
    assert!(rxb.try_recv().is_err(), "b must not see a's push");
    // Unowned topics reach no device at all.
    assert_eq!(
        reg.route(0, "/broadcast/pk/x", &payload, QoS::AtMostOnce),
        0
    );
}

#[test]
fn admins_see_everything_they_subscribe_to() {
    let reg = Registry::new();
    let admin = Principal::Admin("ops".into());
    let (c, mut rx) = connect(&reg, &admin);
    assert!(reg.subscribe(&admin, c.id, &sub("/ota/device/progress/#"), 8));
    let p = Bytes::from_static(b"{}");
    assert_eq!(
        reg.route(99, "/ota/device/progress/pk/a", &p, QoS::AtMostOnce),
        1
    );
    assert_eq!(
        rx.try_recv().unwrap().into_delivery().unwrap().qos,
        QoS::AtMostOnce,
        "min of publish and sub QoS"
    );
    assert_eq!(reg.online_count(), 0, "admins are not devices");
}

#[test]
fn no_local_skips_the_publisher() {
    let reg = Registry::new();
    let a = device("a");
    let (c, mut rx) = connect(&reg, &a);
    let f = SubFilter {
        filter: "/pk/a/#".into(),
        qos: QoS::AtMostOnce,
        no_local: true,
    };
    assert!(reg.subscribe(&a, c.id, &f, 8));
    let p = Bytes::new();
    assert_eq!(reg.route(c.id, "/pk/a/user/x", &p, QoS::AtMostOnce), 0);
    assert_eq!(reg.route(0, "/pk/a/user/x", &p, QoS::AtMostOnce), 1);
    assert!(rx.try_recv().is_ok());
}

#[test]
fn takeover_kicks_the_old_connection_and_keeps_online_once() {
    let reg = Registry::new();
    let a = device("a");
    let (old, _rx1) = connect(&reg, &a);
    let (new, _rx2) = connect(&reg, &a);
    assert_eq!(
        old.kicked_reason(),
        Some(DisconnectReason::SessionTakenOver)
    );
    assert_eq!(new.kicked_reason(), None);
    assert_eq!(reg.online_count(), 1);
    let mut offline = 0;
    reg.detach(&a, old.id, || offline += 1);
    assert_eq!(
        (offline, reg.online_count()),
        (0, 1),
        "stale detach is ignored"
    );
    assert!(
        !reg.subscribe(&a, old.id, &sub("#"), 8),
        "stale subscribe is ignored"
    );
    reg.detach(&a, new.id, || offline += 1);
    assert_eq!((offline, reg.online_count()), (1, 0));
    assert!(reg.device_conn(&DeviceKey::new("pk", "a")).is_none());
}

#[test]
fn persistent_sessions_keep_subscriptions() {
    let reg = Registry::new();
    let a = device("a");
    let (c1, _rx) = ConnHandle::new(reg.next_connection_id(), 8, KeepAlive::NONE);
    assert!(!reg.attach(&a, &c1, false, true, || {}));
    assert!(reg.subscribe(&a, c1.id, &sub("/pk/a/#"), 8));
    reg.detach(&a, c1.id, || {});
    let (c2, mut rx) = ConnHandle::new(reg.next_connection_id(), 8, KeepAlive::NONE);
    assert!(reg.attach(&a, &c2, false, true, || {}), "session present");
    assert_eq!(reg.route(0, "/pk/a/x", &Bytes::new(), QoS::AtMostOnce), 1);
    assert!(rx.try_recv().is_ok());
    // A clean start drops them.
    let (c3, _rx3) = ConnHandle::new(reg.next_connection_id(), 8, KeepAlive::NONE);
    assert!(!reg.attach(&a, &c3, true, false, || {}));
    assert_eq!(reg.route(0, "/pk/a/x", &Bytes::new(), QoS::AtMostOnce), 0);
}

#[test]
fn subscription_limit_and_unsubscribe() {
    let reg = Registry::new();
    let a = device("a");
    let (c, _rx) = connect(&reg, &a);
    assert!(reg.subscribe(&a, c.id, &sub("/pk/a/1"), 2));
    assert!(reg.subscribe(&a, c.id, &sub("/pk/a/2"), 2));
    assert!(!reg.subscribe(&a, c.id, &sub("/pk/a/3"), 2));
    assert!(
        reg.subscribe(&a, c.id, &sub("/pk/a/2"), 2),
        "replacing is not adding"
    );
    reg.unsubscribe(&a, c.id, "/pk/a/1");
    assert!(reg.subscribe(&a, c.id, &sub("/pk/a/3"), 2));
}

#[test]
fn devices_share_one_template_of_the_same_filter_and_match_only_their_own_topics() {
    let reg = Registry::new();
    let (a, b) = (device("a"), device("b"));
    let (ca, mut rxa) = connect(&reg, &a);
    let (cb, mut rxb) = connect(&reg, &b);
    assert!(reg.subscribe(&a, ca.id, &sub("/ota/device/upgrade/pk/a"), 8));
    assert!(reg.subscribe(&b, cb.id, &sub("/ota/device/upgrade/pk/b"), 8));
    let stored = |who: &Principal| {
        reg.with_slot(who, false, |slot| slot.subs[0].filter.clone())
            .unwrap()
    };
    let (fa, fb) = (stored(&a), stored(&b));
    assert!(Arc::ptr_eq(&fa, &fb), "one shared template: {fa:?} {fb:?}");
    assert_eq!(&*fa, "/ota/device/upgrade/\u{1}/\u{2}");
    let payload = Bytes::from_static(b"push");
    assert_eq!(
        reg.route(0, "/ota/device/upgrade/pk/a", &payload, QoS::AtLeastOnce),
        1
    );
    assert!(rxa.try_recv().is_ok());
    assert!(rxb.try_recv().is_err());
    assert_eq!(
        reg.route(0, "/ota/device/upgrade/pk/b", &payload, QoS::AtLeastOnce),
        1
    );
    assert!(rxb.try_recv().is_ok());
    // Unsubscribing names the filter as the device wrote it.
    reg.unsubscribe(&a, ca.id, "/ota/device/upgrade/pk/a");
    assert_eq!(
        reg.route(0, "/ota/device/upgrade/pk/a", &payload, QoS::AtLeastOnce),
        0
    );
}

#[test]
fn a_filter_holding_a_marker_character_is_kept_as_written() {
    let reg = Registry::new();
    let a = device("a");
    let (ca, mut rxa) = connect(&reg, &a);
    // A literal marker level must not stand for the device's product key.
    assert!(reg.subscribe(&a, ca.id, &sub("/ota/device/upgrade/\u{1}/a"), 8));
    let payload = Bytes::from_static(b"push");
    assert_eq!(
        reg.route(0, "/ota/device/upgrade/pk/a", &payload, QoS::AtLeastOnce),
        0
    );
    assert!(rxa.try_recv().is_err());
    // A device named like a fixed level of its topics still matches exactly.
    let odd = device("device");
    let (co, mut rxo) = connect(&reg, &odd);
    assert!(reg.subscribe(&odd, co.id, &sub("/ota/device/upgrade/pk/device"), 8));
    assert_eq!(
        reg.route(
            0,
            "/ota/device/upgrade/pk/device",
            &payload,
            QoS::AtLeastOnce
        ),
        1
    );
    assert!(rxo.try_recv().is_ok());
    assert_eq!(
        reg.route(0, "/ota/x/upgrade/pk/device", &payload, QoS::AtLeastOnce),
        0
    );
}

#[test]
fn shared_templates_are_bounded() {
    let reg = Registry::new();
    let a = device("a");
    let (ca, _rx) = connect(&reg, &a);
    for i in 0..MAX_TEMPLATES + 10 {
        reg.subscribe(&a, ca.id, &sub(&format!("/pk/a/{i}")), 1);
    }
    assert_eq!(lock(&reg.templates).len(), MAX_TEMPLATES);
}
