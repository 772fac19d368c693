//! Set-based task creation.

use crate::support::*;
use ota_domain::job::{CreatedTasks, Job, JobStatus, OverwriteMode};
use ota_domain::task::{CancelReason, NewTask, Task, TaskStart, TaskStatus};
use ota_store::{Page, Store, StoreError, TaskCreation, TaskFilter, TaskTarget};

both!(
    matches_domain,
    one_unfinished_per_module,
    overwrite,
    gray,
    version_rules
);

pub fn spec<'a>(job: &'a Job, module: &'a str, target: TaskTarget<'a>) -> TaskCreation<'a> {
    TaskCreation {
        job,
        module_name: module,
        dest_version: "2.0",
        required_src_version: None,
        target,
        now: T0 + 7,
    }
}

pub async fn tasks_of(s: &Store, job: &str) -> Vec<Task> {
    let f = TaskFilter {
        job_id: Some(job.into()),
        ..Default::default()
    };
    s.list_tasks(&f, Page::new(0, 100_000)).await.unwrap().0
}

pub fn names_of(tasks: &[Task]) -> Vec<&str> {
    let mut v: Vec<&str> = tasks.iter().map(|t| t.device_name.as_str()).collect();
    v.sort();
    v
}

pub fn created(created: u64, skipped_busy: u64, overwritten: u64) -> CreatedTasks {
    CreatedTasks {
        created,
        skipped_busy,
        overwritten,
    }
}

async fn matches_domain(s: &Store) {
    let names = fleet(s, "p", 2).await;
    s.upsert_module_versions(&[report("p", &names[0], "default", "1.0", T0)])
        .await
        .unwrap();
    let fw = firmware("f", "p", "default", "2.0");
    let cases = [
        (false, true, false),
        (true, true, false),
        (false, false, false),
        (false, true, true),
        (true, false, true),
    ];
    for (i, (need_confirm, need_push, planned)) in cases.into_iter().enumerate() {
        let mut j = job(&format!("j{i}"), &fw);
        j.policy.need_confirm = need_confirm;
        j.policy.need_push = need_push;
        j.policy.schedule_time = planned.then_some(T0 + 1000);
        j.status = if planned {
            JobStatus::Planned
        } else {
            JobStatus::InProgress
        };
        setup_job(s, &fw, &j).await;
        let sp = spec(&j, "default", TaskTarget::All);
        assert_eq!(s.create_tasks(&sp).await.unwrap(), created(2, 0, 0));
        for t in tasks_of(s, j.job_id.as_str()).await {
            let d = s
                .get_device_by_iot_id(&format!("iot-p-{}", t.device_name).into())
                .await;
            assert!(d.unwrap().is_some());
            let expected = Task::create(
                NewTask {
                    task_id: t.task_id.clone(),
                    job_id: j.job_id.clone(),
                    firmware_id: fw.firmware_id.clone(),
                    product_key: "p".into(),
                    device_name: t.device_name.clone(),
                    module_name: "default".into(),
                    src_version: (t.device_name.as_str() == names[0]).then(|| "1.0".into()),
                    dest_version: "2.0".into(),
                },
                TaskStart {
                    need_confirm,
                    need_push,
                    scheduled_at: j.policy.schedule_time,
                },
                sp.now,
            );
            assert_eq!(t, expected, "case {i}");
            let suffix = t
                .task_id
                .as_str()
                .strip_prefix(&format!("{}-", j.job_id))
                .unwrap();
            assert!(
                suffix.parse::<i64>().is_ok(),
                "task id is job id - device id"
            );
            // Finish it so the next case's batch may take the device.
            let mut done = t.clone();
            done.status = TaskStatus::Succeeded;
            done.queued_reason = None;
            s.save_tasks(&[done]).await.unwrap();
        }
    }
}

async fn one_unfinished_per_module(s: &Store) {
    let names = fleet(s, "p", 3).await;
    let fw = firmware("f", "p", "default", "2.0");
    let [a, b, c, d] = ["a", "b", "c", "d"].map(|id| job(id, &fw));
    for j in [&a, &b, &c, &d] {
        setup_job(s, &fw, j).await;
    }
    assert_eq!(
        s.create_tasks(&spec(&a, "default", TaskTarget::All))
            .await
            .unwrap(),
        created(3, 0, 0)
    );
    // Keep mode: every device is busy with a's task.
    assert_eq!(
        s.create_tasks(&spec(&b, "default", TaskTarget::All))
            .await
            .unwrap(),
        created(0, 3, 0)
    );
    // Another module is independent.
    assert_eq!(
        s.create_tasks(&spec(&c, "mcu", TaskTarget::All))
            .await
            .unwrap(),
        created(3, 0, 0)
    );
    let mut first = tasks_of(s, "a")
        .await
        .into_iter()
        .find(|t| t.device_name.as_str() == names[0])
        .unwrap();
    first.status = TaskStatus::Failed;
    first.queued_reason = None;
    s.save_tasks(&[first.clone()]).await.unwrap();
    assert_eq!(
        s.create_tasks(&spec(&d, "default", TaskTarget::All))
            .await
            .unwrap(),
        created(1, 2, 0)
    );
    // Re-running a's failed task would make a second unfinished task: refused, atomically.
    let mut rerun = first.clone();
    rerun.status = TaskStatus::Queued;
    let mut other = tasks_of(s, "a")
        .await
        .into_iter()
        .find(|t| t.device_name.as_str() == names[1])
        .unwrap();
    other.progress = 50;
    let res = s.save_tasks(&[other.clone(), rerun]).await;
    assert!(matches!(res, Err(StoreError::Conflict(_))), "{res:?}");
    assert_eq!(
        s.get_task(&other.task_id).await.unwrap().unwrap().progress,
        0
    );
}

async fn overwrite(s: &Store) {
    let names = fleet(s, "p", 4).await;
    let fw = firmware("f", "p", "default", "2.0");
    let a = job("a", &fw);
    let mut b = job("b", &fw);
    b.policy.overwrite_mode = OverwriteMode::Overwrite;
    setup_job(s, &fw, &a).await;
    setup_job(s, &fw, &b).await;
    s.create_tasks(&spec(&a, "default", TaskTarget::All))
        .await
        .unwrap();
    let mut ts = tasks_of(s, "a").await;
    ts.sort_by(|x, y| x.device_name.cmp(&y.device_name));
    let states = [
        TaskStatus::Queued,
        TaskStatus::Notified,
        TaskStatus::InProgress,
        TaskStatus::Confirm,
    ];
    for (t, st) in ts.iter_mut().zip(states) {
        t.status = st;
        if st != TaskStatus::Queued {
            t.queued_reason = None;
        }
    }
    s.save_tasks(&ts).await.unwrap();
    assert_eq!(
        s.create_tasks(&spec(&b, "default", TaskTarget::All))
            .await
            .unwrap(),
        created(3, 1, 3)
    );
    for t in tasks_of(s, "a").await {
        if t.device_name.as_str() == names[2] {
            assert_eq!(
                t.status,
                TaskStatus::InProgress,
                "IN_PROGRESS is never overwritten"
            );
        } else {
            assert_eq!(
                (t.status, t.cancel_reason, t.queued_reason),
                (TaskStatus::Canceled, Some(CancelReason::Overwritten), None)
            );
            assert_eq!(t.modified_at, T0 + 7);
        }
    }
    let bt = tasks_of(s, "b").await;
    assert_eq!(names_of(&bt), [&names[0], &names[1], &names[3]]);
}

async fn gray(s: &Store) {
    fleet(s, "p", 100).await;
    fleet(s, "q", 10).await;
    let fw = firmware("f", "p", "default", "2.0");
    let j = job("a", &fw);
    setup_job(s, &fw, &j).await;
    let t = TaskTarget::Gray {
        milli_percent: 33_333,
    };
    assert_eq!(
        s.create_tasks(&spec(&j, "default", t)).await.unwrap(),
        created(33, 0, 0)
    );
    let fq = firmware("fq", "q", "default", "2.0");
    let jq = job("b", &fq);
    setup_job(s, &fq, &jq).await;
    let tiny = TaskTarget::Gray { milli_percent: 1 };
    assert_eq!(
        s.create_tasks(&spec(&jq, "default", tiny)).await.unwrap(),
        created(1, 0, 0)
    );
    // Nobody eligible: nothing, not "at least one".
    let all: Vec<_> = (0..10)
        .map(|i| report("q", &format!("d{i:05}"), "m", "2.0", T0))
        .collect();
    s.upsert_module_versions(&all).await.unwrap();
    assert_eq!(
        s.create_tasks(&spec(&jq, "m", tiny)).await.unwrap(),
        created(0, 0, 0)
    );
    let full = TaskTarget::Gray {
        milli_percent: 100_000,
    };
    assert_eq!(
        s.create_tasks(&spec(&jq, "default", full)).await.unwrap(),
        created(9, 0, 0)
    );
}

async fn version_rules(s: &Store) {
    let n = fleet(s, "p", 4).await;
    let mut reports = Vec::new();
    for m in ["m1", "m2", "m3"] {
        for (i, v) in ["1.0", "1.1", "2.0"].into_iter().enumerate() {
            reports.push(report("p", &n[i], m, v, T0));
        }
    }
    s.upsert_module_versions(&reports).await.unwrap();
    let fw = firmware("f", "p", "m1", "2.0");
    let mut a = job("a", &fw);
    a.src_versions = vec!["1.0".into(), "1.1".into()];
    let b = job("b", &fw);
    let c = job("c", &fw);
    for j in [&a, &b, &c] {
        setup_job(s, &fw, j).await;
    }
    assert_eq!(
        s.create_tasks(&spec(&a, "m1", TaskTarget::All))
            .await
            .unwrap(),
        created(2, 0, 0)
    );
    assert_eq!(names_of(&tasks_of(s, "a").await), [&n[0], &n[1]]);
    let delta = TaskCreation {
        required_src_version: Some("1.0"),
        ..spec(&b, "m2", TaskTarget::All)
    };
    assert_eq!(s.create_tasks(&delta).await.unwrap(), created(1, 0, 0));
    assert_eq!(
        tasks_of(s, "b").await[0].src_version.as_deref(),
        Some("1.0")
    );
    // No filter: everyone but the device already at 2.0, including one that never reported.
    assert_eq!(
        s.create_tasks(&spec(&c, "m3", TaskTarget::All))
            .await
            .unwrap(),
        created(3, 0, 0)
    );
    let ct = tasks_of(s, "c").await;
    assert_eq!(names_of(&ct), [&n[0], &n[1], &n[3]]);
    assert_eq!(
        ct.iter()
            .find(|t| t.device_name.as_str() == n[3])
            .unwrap()
            .src_version,
        None
    );
    // Devices already in the batch are skipped, so a repeat creates nothing.
    assert_eq!(
        s.create_tasks(&spec(&c, "m3", TaskTarget::All))
            .await
            .unwrap(),
        created(0, 0, 0)
    );
}
