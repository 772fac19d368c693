//! Device identity rows: disabling (announced to every node), dynamic registration recorded
//! once, the regnwl quota, connection tokens and the reset.

use crate::support::*;
use ota_domain::identity::RegistrationMethod;
use ota_store::{Announcement, Change, ConnectionToken, RegistrationRecord, Store, StoreError};

both!(
    disabled_devices_have_no_secret,
    disabling_is_announced,
    a_registration_is_recorded_once,
    regnwl_creates_devices_within_the_quota
);

async fn disabled_devices_have_no_secret(s: &Store) {
    s.insert_product(&product("p")).await.unwrap();
    s.insert_devices(&[device("p", "d1")]).await.unwrap();
    let k = key("p", "d1");
    assert_eq!(
        s.device_secret(&k).await.unwrap().as_deref(),
        Some("secret-d1")
    );
    s.set_device_disabled(&k, true, T0 + 1).await.unwrap();
    assert_eq!(s.device_secret(&k).await.unwrap(), None);
    let d = s.get_device(&k).await.unwrap().unwrap();
    assert!(d.disabled);
    assert_eq!(d.modified_at, T0 + 1);
    // Recorded online while disabled (its CONNECT passed just before the disable): named.
    s.insert_devices(&[device("p", "d2")]).await.unwrap();
    let online = [(k.clone(), true, T0 + 2), (key("p", "d2"), true, T0 + 2)];
    assert_eq!(s.set_presence(&online).await.unwrap(), vec![k.clone()]);
    assert_eq!(
        s.set_presence(&[(k.clone(), false, T0 + 3)]).await.unwrap(),
        vec![]
    );
    s.set_device_disabled(&k, false, T0 + 2).await.unwrap();
    assert!(s.device_secret(&k).await.unwrap().is_some());
    assert_eq!(s.set_presence(&online).await.unwrap(), vec![]);
    assert!(!s.get_device(&k).await.unwrap().unwrap().disabled);
    assert!(matches!(
        s.set_device_disabled(&key("p", "ghost"), true, T0).await,
        Err(StoreError::NotFound)
    ));
}

async fn disabling_is_announced(s: &Store) {
    let Some(mut watcher) = s.watch_changes().await.unwrap() else {
        return;
    };
    s.insert_product(&product("p")).await.unwrap();
    s.insert_devices(&[device("p", "dev:1")]).await.unwrap();
    let k = key("p", "dev:1");
    // An enable is not announced: only a disable closes connections.
    s.set_device_disabled(&k, false, T0).await.unwrap();
    s.set_device_disabled(&k, true, T0).await.unwrap();
    let heard = tokio::time::timeout(std::time::Duration::from_secs(10), watcher.next())
        .await
        .expect("an announcement");
    assert_eq!(heard, Announcement::Changed(Change::DeviceDisabled(k)));
}

async fn a_registration_is_recorded_once(s: &Store) {
    s.insert_product(&product("p")).await.unwrap();
    let mut seen = device("p", "seen");
    seen.last_online_at = Some(T0);
    s.insert_devices(&[device("p", "d1"), device("p", "d2"), seen])
        .await
        .unwrap();
    let record = RegistrationRecord {
        method: RegistrationMethod::Mqtt,
        at: T0 + 10,
        token: None,
    };
    s.record_registration(&key("p", "d1"), record)
        .await
        .unwrap();
    let d = s.get_device(&key("p", "d1")).await.unwrap().unwrap();
    let r = d.registration.expect("recorded");
    assert_eq!(
        (r.method, r.registered_at, r.client_id),
        (RegistrationMethod::Mqtt, T0 + 10, None)
    );
    // Once: a second registration, a device that connected already and a disabled one
    // are refused; an unknown one is not found.
    for k in [key("p", "d1"), key("p", "seen")] {
        assert!(matches!(
            s.record_registration(&k, record).await,
            Err(StoreError::Stale)
        ));
    }
    s.set_device_disabled(&key("p", "d2"), true, T0)
        .await
        .unwrap();
    assert!(matches!(
        s.record_registration(&key("p", "d2"), record).await,
        Err(StoreError::Stale)
    ));
    assert!(matches!(
        s.record_registration(&key("p", "ghost"), record).await,
        Err(StoreError::NotFound)
    ));
    // A reset lets it register again and forgets that it connected.
    s.reset_registration(&key("p", "seen"), T0 + 20)
        .await
        .unwrap();
    let seen = s.get_device(&key("p", "seen")).await.unwrap().unwrap();
    assert_eq!((seen.last_online_at, seen.registration), (None, None));
    s.record_registration(&key("p", "seen"), record)
        .await
        .unwrap();
}

async fn regnwl_creates_devices_within_the_quota(s: &Store) {
    s.insert_product(&product("p")).await.unwrap();
    let token = |n: u8| ConnectionToken {
        client_id: format!("client-{n}"),
        token_sha256: format!("{n:064x}"),
    };
    let tokens = [token(1), token(2), token(3)];
    let record = |t| RegistrationRecord {
        method: RegistrationMethod::MqttNoPreregistration,
        at: T0 + 5,
        token: Some(t),
    };
    for (i, name) in ["n1", "n2"].into_iter().enumerate() {
        let created = s
            .create_registered_device(&device("p", name), record(&tokens[i]), 2)
            .await
            .unwrap();
        assert!(created, "{name} within the quota");
    }
    assert!(
        !s.create_registered_device(&device("p", "n3"), record(&tokens[2]), 2)
            .await
            .unwrap(),
        "the quota is full"
    );
    assert_eq!(s.get_device(&key("p", "n3")).await.unwrap(), None);
    assert!(matches!(
        s.create_registered_device(&device("p", "n1"), record(&tokens[2]), 9)
            .await,
        Err(StoreError::Conflict(_))
    ));
    let k = key("p", "n1");
    assert_eq!(
        s.connection_token(&k).await.unwrap(),
        Some(tokens[0].clone())
    );
    let d = s.get_device(&k).await.unwrap().unwrap();
    let r = d.registration.unwrap();
    assert_eq!(r.client_id.as_deref(), Some("client-1"));
    assert_eq!(r.method, RegistrationMethod::MqttNoPreregistration);
    // Disabled: no token; reset: the token is gone and the slot is free.
    s.set_device_disabled(&k, true, T0).await.unwrap();
    assert_eq!(s.connection_token(&k).await.unwrap(), None);
    s.set_device_disabled(&k, false, T0).await.unwrap();
    s.reset_registration(&k, T0).await.unwrap();
    assert_eq!(s.connection_token(&k).await.unwrap(), None);
    assert!(
        s.create_registered_device(&device("p", "n3"), record(&tokens[2]), 2)
            .await
            .unwrap()
    );
    assert!(matches!(
        s.create_registered_device(&device("ghost", "x"), record(&tokens[2]), 2)
            .await,
        Err(StoreError::NotFound)
    ));
}
