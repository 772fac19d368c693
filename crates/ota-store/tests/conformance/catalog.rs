//! Packages and batches.

use crate::support::*;
use ota_domain::FirmwareId;
use ota_domain::firmware::{FirmwareStatus, FirmwareType, SignMethod};
use ota_domain::job::{
    DynamicMode, JobStatus, OverwriteMode, RateStep, RetryPolicy, SelectionType, TargetSelection,
};
use ota_store::{Page, Store, StoreError, TaskCreation, TaskTarget};
use std::collections::BTreeMap;

both!(firmwares, jobs, job_queries);

async fn firmwares(s: &Store) {
    let mut a = firmware("fa", "p", "default", "2.0");
    a.firmware_type = FirmwareType::Differential;
    a.src_version = Some("1.0".into());
    a.sign_method = SignMethod::Md5;
    a.status = FirmwareStatus::VerifyFailed;
    a.multi_file = true;
    a.udi = Some("udi".into());
    let mut b = firmware("fb", "p", "default", "3.0");
    b.created_at = T0 + 1;
    let c = firmware("fc", "q", "default", "2.0");
    for f in [&a, &b, &c] {
        s.insert_firmware(f).await.unwrap();
    }
    assert!(matches!(
        s.insert_firmware(&a).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.get_firmware(&"fa".into()).await.unwrap(), Some(a.clone()));
    assert_eq!(s.get_firmware(&"none".into()).await.unwrap(), None);
    let ids = |v: Vec<ota_domain::firmware::Firmware>| {
        v.into_iter().map(|f| f.firmware_id.0).collect::<Vec<_>>()
    };
    let (v, n) = s
        .list_firmwares(None, None, Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(n, 3);
    assert_eq!(v[0].firmware_id.as_str(), "fb", "newest first");
    let (v, n) = s
        .list_firmwares(Some(&"p".into()), None, Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!((ids(v), n), (vec!["fb".to_owned(), "fa".to_owned()], 2));
    let (v, n) = s
        .list_firmwares(None, Some("2.0"), Page::new(1, 10))
        .await
        .unwrap();
    assert_eq!((v.len(), n), (1, 2));
    let mut a2 = a.clone();
    a2.status = FirmwareStatus::Verified;
    a2.verify_progress = 100;
    a2.firmware_desc = None;
    a2.modified_at = T0 + 9;
    s.update_firmware(&a2).await.unwrap();
    assert_eq!(s.get_firmware(&"fa".into()).await.unwrap(), Some(a2));
    assert_eq!(s.count_firmwares().await.unwrap(), 3);
    assert!(s.firmware_name_exists("fw fa").await.unwrap());
    assert!(!s.firmware_name_exists("fw zz").await.unwrap());
    s.delete_firmware(&"fa".into()).await.unwrap();
    assert!(matches!(
        s.delete_firmware(&"fa".into()).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.update_firmware(&a).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(s.count_firmwares().await.unwrap(), 2);
}

async fn jobs(s: &Store) {
    let fw = firmware("f1", "p", "mcu", "2.0");
    let mut j = job("j1", &fw);
    j.selection_type = SelectionType::Dynamic;
    j.target_selection = TargetSelection::Gray {
        milli_percent: 33_333,
    };
    j.src_versions = vec!["1.0".into(), "1.1".into()];
    j.policy.rate_steps = vec![RateStep {
        at: T0,
        per_minute: 50,
    }];
    j.policy.retry = Some(RetryPolicy {
        interval_minutes: 5,
        count: 2,
    });
    j.policy.timeout_minutes = Some(30);
    j.policy.overwrite_mode = OverwriteMode::Overwrite;
    j.policy.dynamic_mode = Some(DynamicMode::OnlyNewReports);
    j.policy.schedule_time = Some(T0 + 100);
    j.policy.failure_gate = Some(ota_domain::job::FailureGate {
        max_failed_percent: 5,
        min_finished: 20,
        action: ota_domain::job::GateAction::Cancel,
    });
    j.tags = BTreeMap::from([("k".into(), "v".into())]);
    j.status = JobStatus::Planned;
    j.started_at = None;
    setup_job(s, &fw, &j).await;
    assert!(matches!(
        s.insert_job(&j).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.get_job(&"j1".into()).await.unwrap(), Some(j.clone()));
    assert_eq!(s.get_job(&"none".into()).await.unwrap(), None);
    let mut j2 = j.clone();
    j2.status = JobStatus::InProgress;
    j2.started_at = Some(T0 + 100);
    j2.policy.schedule_finish_time = Some(T0 + 1000);
    j2.target_selection = TargetSelection::Specific {
        device_names: vec!["a".into()],
    };
    j2.description = Some("d".into());
    j2.modified_at = T0 + 100;
    j2.control = ota_domain::job::JobControl {
        pause: Some(ota_domain::job::Pause {
            reason: ota_domain::job::PauseReason::FailureGate,
            at: T0 + 90,
        }),
        gate_baseline: ota_domain::job::FinishedCounts {
            failed: 3,
            finished: 40,
        },
        approval: Some(ota_domain::job::ApprovalDecision {
            approved: true,
            by: "release-lead".into(),
            remark: "canary looked good".into(),
            at: T0 + 80,
        }),
    };
    s.update_job(&j2).await.unwrap();
    assert_eq!(s.get_job(&"j1".into()).await.unwrap(), Some(j2.clone()));
    // A conditional write from a stale read changes nothing; from a fresh one it writes.
    let mut late = j2.clone();
    late.status = JobStatus::Completed;
    late.modified_at = T0 + 200;
    let mut stale_read = j2.clone();
    stale_read.modified_at = T0 + 1;
    assert!(
        !s.update_job_if_unchanged(&late, &[], &stale_read)
            .await
            .unwrap()
    );
    assert_eq!(s.get_job(&"j1".into()).await.unwrap(), Some(j2.clone()));
    assert!(s.update_job_if_unchanged(&late, &[], &j2).await.unwrap());
    assert_eq!(s.get_job(&"j1".into()).await.unwrap(), Some(late.clone()));
    s.update_job(&j2).await.unwrap();
    let mut ghost = j2.clone();
    ghost.job_id = "ghost".into();
    assert!(matches!(
        s.update_job(&ghost).await,
        Err(StoreError::NotFound)
    ));
}

async fn job_queries(s: &Store) {
    let names = fleet(s, "p", 2).await;
    let fw = firmware("f1", "p", "mcu", "2.0");
    let other = firmware("f2", "p", "default", "2.0");
    let mk = |id: &str, fw, status, created| {
        let mut j = job(id, fw);
        j.status = status;
        j.created_at = created;
        j
    };
    let mut planned = mk("planned", &fw, JobStatus::Planned, T0);
    planned.policy.schedule_time = Some(T0 + 50);
    let mut later = mk("later", &fw, JobStatus::Planned, T0 + 1);
    later.policy.schedule_time = Some(T0 + 500);
    let mut running = mk("running", &fw, JobStatus::InProgress, T0 + 2);
    running.policy.schedule_finish_time = Some(T0 + 60);
    running.selection_type = SelectionType::Dynamic;
    let mut dyn2 = mk("dyn2", &fw, JobStatus::InProgress, T0 + 3);
    dyn2.selection_type = SelectionType::Dynamic;
    let mut dyn_other = mk("dyn3", &other, JobStatus::InProgress, T0 + 4);
    dyn_other.selection_type = SelectionType::Dynamic;
    let done = mk("done", &fw, JobStatus::Completed, T0 + 5);
    for j in [&planned, &later, &running, &dyn2, &dyn_other, &done] {
        let f = if j.firmware_id == fw.firmware_id {
            &fw
        } else {
            &other
        };
        setup_job(s, f, j).await;
    }
    let ids = |v: Vec<ota_domain::job::Job>| v.into_iter().map(|j| j.job_id.0).collect::<Vec<_>>();
    let (v, n) = s
        .list_jobs_by_firmware(&FirmwareId::from("f1"), Page::new(0, 2))
        .await
        .unwrap();
    assert_eq!((ids(v), n), (vec!["done".to_owned(), "dyn2".to_owned()], 5));
    let v = s
        .list_jobs_by_status(&[JobStatus::InProgress, JobStatus::Planned])
        .await
        .unwrap();
    assert_eq!(ids(v), ["planned", "later", "running", "dyn2", "dyn3"]);
    assert!(s.list_jobs_by_status(&[]).await.unwrap().is_empty());
    assert_eq!(ids(s.due_planned_jobs(T0 + 50).await.unwrap()), ["planned"]);
    assert_eq!(
        ids(s.due_planned_jobs(T0 + 49).await.unwrap()),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(s.due_finishing_jobs(T0 + 60).await.unwrap()),
        ["running"]
    );
    assert!(s.due_finishing_jobs(T0 + 59).await.unwrap().is_empty());
    let v = s.active_dynamic_jobs(&"p".into(), "mcu").await.unwrap();
    assert_eq!(
        ids(v),
        ["dyn2", "running"],
        "newest first, this module only"
    );

    let spec = TaskCreation {
        job: &running,
        module_name: "mcu",
        dest_version: "2.0",
        required_src_version: None,
        target: TaskTarget::Names(&names[..1]),
        now: T0,
    };
    s.create_tasks(&spec).await.unwrap();
    // Another module, so d00000's unfinished mcu task does not make it busy.
    let spec = TaskCreation {
        job: &done,
        module_name: "other",
        target: TaskTarget::All,
        ..spec
    };
    s.create_tasks(&spec).await.unwrap();
    let (v, n) = s
        .jobs_by_device(&key("p", &names[0]), Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(
        (ids(v), n),
        (vec!["done".to_owned(), "running".to_owned()], 2)
    );
    let (v, n) = s
        .jobs_by_device(&key("p", &names[1]), Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!((ids(v), n), (vec!["done".to_owned()], 1));
}
