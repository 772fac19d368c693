//! Products, devices, versions, groups, modules and housekeeping rows.

use crate::support::*;
use ota_domain::registry::{DeviceFilter, Group, GroupKind};
use ota_domain::{DeviceName, GroupId, ProductKey};
use ota_store::{Page, Store, StoreError};
use std::collections::BTreeMap;

both!(products, devices, presence, module_versions, groups);

const ALL: Page = Page::new(0, 1000);

async fn products(s: &Store) {
    let a = product("pa");
    s.insert_product(&a).await.unwrap();
    s.insert_product(&product("pb")).await.unwrap();
    assert!(matches!(
        s.insert_product(&a).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.get_product(&"pa".into()).await.unwrap(), Some(a.clone()));
    assert_eq!(s.get_product(&"nope".into()).await.unwrap(), None);
    let (page, total) = s.list_products(Page::new(1, 10)).await.unwrap();
    assert_eq!((page.len(), total), (1, 2));
    let mut b = a.clone();
    b.product_name = "renamed".into();
    b.description = Some("d".into());
    b.modified_at = T0 + 5;
    s.update_product(&b).await.unwrap();
    assert_eq!(s.get_product(&"pa".into()).await.unwrap(), Some(b));
    s.insert_devices(&[device("pa", "x")]).await.unwrap();
    assert!(matches!(
        s.delete_product(&"pa".into()).await,
        Err(StoreError::Conflict(_))
    ));
    s.delete_device(&key("pa", "x")).await.unwrap();
    s.delete_product(&"pa".into()).await.unwrap();
    assert!(matches!(
        s.delete_product(&"pa".into()).await,
        Err(StoreError::NotFound)
    ));
    let mut ghost = product("ghost");
    ghost.product_name = "x".into();
    assert!(matches!(
        s.update_product(&ghost).await,
        Err(StoreError::NotFound)
    ));
}

async fn devices(s: &Store) {
    s.insert_product(&product("p")).await.unwrap();
    s.insert_product(&product("q")).await.unwrap();
    let mut a = device("p", "Alpha_1");
    a.tags = BTreeMap::from([("env".into(), "prod".into()), ("hw".into(), "v2".into())]);
    a.nickname = Some("nick".into());
    let b = device("p", "alpha%2");
    let c = device("q", "Alpha_3");
    s.insert_devices(&[a.clone(), b.clone(), c.clone()])
        .await
        .unwrap();
    // A duplicate anywhere in the batch stores nothing of it.
    let dup = s
        .insert_devices(&[device("p", "new"), device("p", "Alpha_1")])
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    assert_eq!(s.get_device(&key("p", "new")).await.unwrap(), None);
    // Unknown product.
    assert!(s.insert_devices(&[device("zz", "x")]).await.is_err());

    assert_eq!(
        s.get_device(&key("p", "Alpha_1")).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        s.get_device_by_iot_id(&c.iot_id).await.unwrap(),
        Some(c.clone())
    );
    assert_eq!(
        s.device_secret(&key("p", "alpha%2")).await.unwrap(),
        Some(b.device_secret.clone())
    );
    assert_eq!(s.device_secret(&key("p", "none")).await.unwrap(), None);

    let names = |v: Vec<ota_domain::registry::Device>| {
        v.into_iter().map(|d| d.device_name.0).collect::<Vec<_>>()
    };
    let (all, total) = s.list_devices(None, None, ALL).await.unwrap();
    assert_eq!((all.len(), total), (3, 3));
    assert_eq!(all[0], a, "tags are loaded in lists too");
    // Numbered pages past the middle are read from the end: every page is the same slice.
    for limit in 1..=2 {
        for offset in 0..=4 {
            let (page, _) = s
                .list_devices(None, None, Page::new(offset, limit))
                .await
                .unwrap();
            let from = (offset as usize).min(all.len());
            let to = (offset + limit).min(3) as usize;
            assert_eq!(
                page,
                all[from..to.max(from)],
                "offset {offset}, limit {limit}"
            );
        }
    }
    let (pp, total) = s
        .list_devices(Some(&"p".into()), None, Page::new(1, 1))
        .await
        .unwrap();
    assert_eq!((names(pp), total), (vec!["alpha%2".to_owned()], 2));
    // Prefixes are exact: case-sensitive, and % and _ are not wildcards.
    let (v, n) = s.list_devices(None, Some("Alpha"), ALL).await.unwrap();
    assert_eq!(
        (names(v), n),
        (vec!["Alpha_1".to_owned(), "Alpha_3".to_owned()], 2)
    );
    let (v, _) = s
        .list_devices(Some(&"p".into()), Some("alpha%"), ALL)
        .await
        .unwrap();
    assert_eq!(names(v), vec!["alpha%2".to_owned()]);
    let (v, _) = s.list_devices(None, Some("Alpha%"), ALL).await.unwrap();
    assert!(v.is_empty());
    // Keyset pages: after a device, in registration order, the total unchanged.
    let (v, n) = s
        .list_devices_after(&"p".into(), None, "Alpha_1", 10)
        .await
        .unwrap();
    assert_eq!((names(v), n), (vec!["alpha%2".to_owned()], 2));
    let (v, _) = s
        .list_devices_after(&"p".into(), None, "alpha%2", 10)
        .await
        .unwrap();
    assert!(v.is_empty(), "after the last");
    let (v, _) = s
        .list_devices_after(&"p".into(), Some("Alpha"), "nobody", 10)
        .await
        .unwrap();
    assert!(v.is_empty(), "after an unknown device");

    let tags = BTreeMap::from([("env".into(), "dev".into())]);
    s.set_device_tags(&key("p", "Alpha_1"), &tags)
        .await
        .unwrap();
    assert_eq!(
        s.get_device(&key("p", "Alpha_1"))
            .await
            .unwrap()
            .unwrap()
            .tags,
        tags
    );
    assert!(matches!(
        s.set_device_tags(&key("p", "none"), &tags).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(s.count_devices(&"p".into()).await.unwrap(), 2);

    s.delete_device(&key("p", "Alpha_1")).await.unwrap();
    assert_eq!(s.get_device(&key("p", "Alpha_1")).await.unwrap(), None);
    assert!(matches!(
        s.delete_device(&key("p", "Alpha_1")).await,
        Err(StoreError::NotFound)
    ));
    // The name is free again.
    s.insert_devices(&[device("p", "Alpha_1")]).await.unwrap();
}

async fn presence(s: &Store) {
    fleet(s, "p", 3).await;
    fleet(s, "q", 1).await;
    assert_eq!(s.count_online(None).await.unwrap(), 0);
    s.set_presence(&[
        (key("p", "d00000"), true, T0 + 1),
        (key("p", "d00001"), true, T0 + 2),
        (key("q", "d00000"), true, T0 + 3),
        (key("p", "unknown"), true, T0 + 3),
    ])
    .await
    .unwrap();
    // The same device twice in a batch: the later change wins.
    let twice = [
        (key("p", "d00001"), true, T0 + 8),
        (key("p", "d00001"), false, T0 + 9),
    ];
    s.set_presence(&twice).await.unwrap();
    assert_eq!(s.count_online(Some(&"p".into())).await.unwrap(), 1);
    assert_eq!(s.count_online(None).await.unwrap(), 2);
    let d = s.get_device(&key("p", "d00001")).await.unwrap().unwrap();
    assert_eq!((d.online, d.last_online_at), (false, Some(T0 + 9)));
    let d = s.get_device(&key("p", "d00000")).await.unwrap().unwrap();
    assert_eq!((d.online, d.last_online_at), (true, Some(T0 + 1)));
}

async fn module_versions(s: &Store) {
    fleet(s, "p", 3).await;
    s.upsert_module_versions(&[
        report("p", "d00000", "default", "1.0", T0),
        report("p", "d00001", "default", "1.0", T0),
        report("p", "d00002", "default", "2.0", T0),
        report("p", "d00000", "mcu", "7", T0),
        report("p", "ghost", "default", "9", T0),
    ])
    .await
    .unwrap();
    // Newer report wins, an older one is ignored.
    s.upsert_module_versions(&[report("p", "d00001", "default", "2.0", T0 + 10)])
        .await
        .unwrap();
    s.upsert_module_versions(&[report("p", "d00001", "default", "0.1", T0 + 5)])
        .await
        .unwrap();
    // Twice in one batch: the newest report wins whatever the order.
    let twice = [
        report("p", "d00002", "mcu", "9", T0 + 20),
        report("p", "d00002", "mcu", "8", T0 + 19),
    ];
    s.upsert_module_versions(&twice).await.unwrap();
    let mcu = s.module_versions(&key("p", "d00002")).await.unwrap();
    assert_eq!(mcu[1], twice[0]);
    // The delta formats a device applies travel with its report, and a later report
    // without them clears them.
    let mut capable = report("p", "d00002", "default", "2.0", T0 + 30);
    capable.delta_formats = vec![3, 4];
    s.upsert_module_versions(std::slice::from_ref(&capable))
        .await
        .unwrap();
    assert_eq!(
        s.module_versions(&key("p", "d00002")).await.unwrap()[0],
        capable
    );
    s.upsert_module_versions(&[report("p", "d00002", "default", "2.0", T0 + 40)])
        .await
        .unwrap();
    let cleared = &s.module_versions(&key("p", "d00002")).await.unwrap()[0];
    assert!(cleared.delta_formats.is_empty(), "{cleared:?}");
    // So does the memory limit: one batch mixing a limit, none and one beyond BIGINT
    // (kept as the largest), then a later report without one clears it.
    let mut small = report("p", "d00002", "default", "2.0", T0 + 50);
    small.delta_memory = Some(256 * 1024);
    let mut huge = report("p", "d00002", "mcu", "9", T0 + 50);
    huge.delta_memory = Some(u64::MAX);
    let unlimited = report("p", "d00001", "default", "2.0", T0 + 50);
    s.upsert_module_versions(&[small.clone(), huge.clone(), unlimited.clone()])
        .await
        .unwrap();
    let stored = s.module_versions(&key("p", "d00002")).await.unwrap();
    assert_eq!(stored[0], small);
    assert_eq!(stored[1].delta_memory, Some(i64::MAX as u64));
    assert_eq!(
        s.module_versions(&key("p", "d00001")).await.unwrap()[0],
        unlimited
    );
    s.upsert_module_versions(&[report("p", "d00002", "default", "2.0", T0 + 60)])
        .await
        .unwrap();
    let cleared = &s.module_versions(&key("p", "d00002")).await.unwrap()[0];
    assert_eq!(cleared.delta_memory, None, "{cleared:?}");
    let mv = s.module_versions(&key("p", "d00000")).await.unwrap();
    assert_eq!(
        mv,
        vec![
            report("p", "d00000", "default", "1.0", T0),
            report("p", "d00000", "mcu", "7", T0)
        ]
    );
    let (list, total) = s
        .list_module_versions(&"p".into(), None, Page::new(0, 2))
        .await
        .unwrap();
    assert_eq!((list.len(), total), (2, 5));
    let one = DeviceName::from("d00001");
    let (list, total) = s
        .list_module_versions(&"p".into(), Some(&one), ALL)
        .await
        .unwrap();
    assert_eq!((list, total), (vec![unlimited], 1));
    let dist = s
        .version_distribution(&"p".into(), "default")
        .await
        .unwrap();
    assert_eq!(dist, vec![("2.0".to_owned(), 2), ("1.0".to_owned(), 1)]);
}

async fn groups(s: &Store) {
    let names = fleet(s, "p", 5).await;
    fleet(s, "q", 1).await;
    let g = |id: &str, kind: GroupKind| Group {
        group_id: id.into(),
        group_name: format!("group {id}"),
        product_key: Some("p".into()),
        description: None,
        kind,
        created_at: T0,
    };
    let st = g("g1", GroupKind::Static);
    s.insert_group(&st).await.unwrap();
    assert!(matches!(
        s.insert_group(&st).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.get_group(&"g1".into()).await.unwrap(), Some(st.clone()));
    let gid = GroupId::from("g1");
    let add: Vec<DeviceName> = ["d00001", "d00003", "d00001", "ghost"]
        .map(Into::into)
        .to_vec();
    assert_eq!(s.add_group_members(&gid, &add).await.unwrap(), 2);
    assert_eq!(s.add_group_members(&gid, &add).await.unwrap(), 0);
    let (m, total) = s.list_group_members(&gid, ALL).await.unwrap();
    assert_eq!(total, 2);
    assert_eq!(m[0].device_name.as_str(), "d00001");
    assert_eq!(
        s.remove_group_members(&gid, &["d00001".into()])
            .await
            .unwrap(),
        1
    );
    assert_eq!(s.list_group_members(&gid, ALL).await.unwrap().1, 1);

    s.set_device_tags(
        &key("p", &names[2]),
        &BTreeMap::from([("env".into(), "x".into())]),
    )
    .await
    .unwrap();
    s.set_device_tags(
        &key("p", &names[4]),
        &BTreeMap::from([("env".into(), "x".into())]),
    )
    .await
    .unwrap();
    s.upsert_module_versions(&[
        report("p", &names[2], "default", "1", T0),
        report("p", &names[4], "default", "2", T0),
    ])
    .await
    .unwrap();
    let filter = DeviceFilter {
        product_key: None,
        name_prefix: Some("d0000".into()),
        tags: BTreeMap::from([("env".into(), "x".into())]),
        module_versions: vec![("default".into(), vec!["2".into(), "3".into()])],
    };
    let dy = g("g2", GroupKind::Dynamic { filter });
    s.insert_group(&dy).await.unwrap();
    assert_eq!(s.get_group(&"g2".into()).await.unwrap(), Some(dy.clone()));
    let (m, total) = s.list_group_members(&"g2".into(), ALL).await.unwrap();
    assert_eq!((m.len(), total), (1, 1));
    assert_eq!(m[0].device_name.as_str(), names[4]);
    assert!(matches!(
        s.add_group_members(&"g2".into(), &["d00000".into()]).await,
        Err(StoreError::Conflict(_))
    ));
    let mut other = g("g3", GroupKind::Static);
    other.product_key = Some("q".into());
    s.insert_group(&other).await.unwrap();
    assert_eq!(s.list_groups(None, ALL).await.unwrap().1, 3);
    let (gs, n) = s
        .list_groups(Some(&ProductKey::from("p")), Page::new(0, 1))
        .await
        .unwrap();
    assert_eq!((gs, n), (vec![st], 2));
    s.delete_group(&gid).await.unwrap();
    assert!(matches!(
        s.delete_group(&gid).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.list_group_members(&gid, ALL).await,
        Err(StoreError::NotFound)
    ));
}
