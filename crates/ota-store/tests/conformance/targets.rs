//! Task creation per target kind, and at scale.

use crate::creation::{created, names_of, spec, tasks_of};
use crate::support::*;
use ota_domain::job::Job;
use ota_domain::registry::{DeviceFilter, Group, GroupKind};
use ota_store::{Store, StoreError, TaskTarget};
use std::collections::BTreeMap;
use std::time::Instant;

both!(targets, bulk_20k);

async fn targets(s: &Store) {
    let n = fleet(s, "p", 6).await;
    fleet(s, "q", 2).await;
    let fw = firmware("f", "p", "default", "2.0");
    let jobs: Vec<Job> = (1..=5).map(|i| job(&format!("j{i}"), &fw)).collect();
    for j in &jobs {
        setup_job(s, &fw, j).await;
    }
    let names = vec![n[0].clone(), n[1].clone(), "ghost".into()];
    let r = s
        .create_tasks(&spec(&jobs[0], "m1", TaskTarget::Names(&names)))
        .await
        .unwrap();
    assert_eq!(r, created(2, 0, 0));
    let keys = [key("p", &n[2]), key("q", &n[0]), key("p", "ghost")];
    let r = s
        .create_tasks(&spec(&jobs[1], "m2", TaskTarget::Devices(&keys)))
        .await
        .unwrap();
    assert_eq!(
        (r, names_of(&tasks_of(s, "j2").await)),
        (created(1, 0, 0), vec![n[2].as_str()])
    );
    let g = Group {
        group_id: "g".into(),
        group_name: "g".into(),
        product_key: Some("p".into()),
        description: None,
        kind: GroupKind::Static,
        created_at: T0,
    };
    s.insert_group(&g).await.unwrap();
    s.add_group_members(&"g".into(), &[n[3].clone().into(), n[4].clone().into()])
        .await
        .unwrap();
    let r = s
        .create_tasks(&spec(&jobs[2], "m3", TaskTarget::Group(&g.group_id)))
        .await
        .unwrap();
    assert_eq!(r, created(2, 0, 0));
    let tags = BTreeMap::from([("env".into(), "x".into())]);
    s.set_device_tags(&key("p", &n[5]), &tags).await.unwrap();
    let filter = DeviceFilter {
        tags,
        ..Default::default()
    };
    let dg = Group {
        group_id: "dg".into(),
        kind: GroupKind::Dynamic {
            filter: filter.clone(),
        },
        ..g
    };
    s.insert_group(&dg).await.unwrap();
    let r = s
        .create_tasks(&spec(&jobs[3], "m4", TaskTarget::Group(&dg.group_id)))
        .await
        .unwrap();
    assert_eq!(
        (r, names_of(&tasks_of(s, "j4").await)),
        (created(1, 0, 0), vec![n[5].as_str()])
    );
    let prefix = DeviceFilter {
        name_prefix: Some("d0000".into()),
        ..Default::default()
    };
    let r = s
        .create_tasks(&spec(&jobs[4], "m5", TaskTarget::Filter(&prefix)))
        .await
        .unwrap();
    assert_eq!(
        r,
        created(6, 0, 0),
        "the filter never leaves the batch's product"
    );
    let missing = "missing".into();
    let r = s
        .create_tasks(&spec(&jobs[4], "m5", TaskTarget::Group(&missing)))
        .await;
    assert!(matches!(r, Err(StoreError::NotFound)));
}

async fn bulk_20k(s: &Store) {
    let started = Instant::now();
    fleet(s, "p", 20_000).await;
    let registered = started.elapsed();
    let fw = firmware("f", "p", "default", "2.0");
    let j = job("bulk", &fw);
    setup_job(s, &fw, &j).await;
    let started = Instant::now();
    let r = s
        .create_tasks(&spec(&j, "default", TaskTarget::All))
        .await
        .unwrap();
    let took = started.elapsed();
    eprintln!(
        "{:?}: 20,000 devices registered in {registered:?}, tasks created in {took:?}",
        s.dialect()
    );
    assert_eq!(r, created(20_000, 0, 0));
    assert!(took.as_secs() < 20, "create_tasks(All) took {took:?}");
    assert_eq!(
        s.job_task_counts(&"bulk".into()).await.unwrap().total,
        20_000
    );
}
