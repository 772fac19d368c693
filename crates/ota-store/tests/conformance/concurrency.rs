//! Many writers and claimers at once: no lock errors, no task claimed twice.

use crate::support::*;
use ota_domain::task::{QueuedReason, TaskStatus};
use ota_store::{Page, Store, TaskCreation, TaskFilter, TaskTarget};
use std::collections::HashSet;

both!(concurrent_writers, concurrent_claims);

async fn concurrent_writers(s: &Store) {
    let names = fleet(s, "p", 400).await;
    let fw = firmware("f", "p", "default", "2.0");
    s.insert_firmware(&fw).await.unwrap();
    let mut handles = Vec::new();
    for w in 0..8 {
        let s = s.clone();
        let fw = fw.clone();
        let names = names.clone();
        handles.push(tokio::spawn(async move {
            let j = job(&format!("j{w}"), &fw);
            s.insert_job(&j).await.unwrap();
            let spec = TaskCreation {
                job: &j,
                module_name: &format!("m{w}"),
                dest_version: "2.0",
                required_src_version: None,
                target: TaskTarget::All,
                now: T0,
            };
            assert_eq!(s.create_tasks(&spec).await.unwrap().created, 400);
            for chunk in names.chunks(50) {
                let reports: Vec<_> = chunk
                    .iter()
                    .map(|n| report("p", n, &format!("m{w}"), "1", T0))
                    .collect();
                s.upsert_module_versions(&reports).await.unwrap();
                let presence: Vec<_> = chunk
                    .iter()
                    .map(|n| (key("p", n), w % 2 == 0, T0 + w))
                    .collect();
                s.set_presence(&presence).await.unwrap();
            }
            let f = TaskFilter {
                job_id: Some(j.job_id.clone()),
                ..Default::default()
            };
            let mut tasks = s.list_tasks(&f, Page::new(0, 1000)).await.unwrap().0;
            for t in &mut tasks {
                t.status = TaskStatus::Notified;
                t.queued_reason = None;
            }
            for chunk in tasks.chunks(100) {
                s.save_tasks(chunk).await.unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    for w in 0..8 {
        let c = s.job_task_counts(&format!("j{w}").into()).await.unwrap();
        assert_eq!(c.status(TaskStatus::Notified), 400);
    }
}

async fn concurrent_claims(s: &Store) {
    fleet(s, "p", 200).await;
    let fw = firmware("f", "p", "default", "2.0");
    let j = job("a", &fw);
    setup_job(s, &fw, &j).await;
    let spec = TaskCreation {
        job: &j,
        module_name: "default",
        dest_version: "2.0",
        required_src_version: None,
        target: TaskTarget::All,
        now: T0,
    };
    s.create_tasks(&spec).await.unwrap();
    let f = TaskFilter {
        job_id: Some(j.job_id.clone()),
        ..Default::default()
    };
    let mut tasks = s.list_tasks(&f, Page::new(0, 1000)).await.unwrap().0;
    for t in &mut tasks {
        t.queued_reason = Some(QueuedReason::RetryScheduled);
        t.retry_at = Some(T0 + 1);
    }
    s.save_tasks(&tasks).await.unwrap();
    let mut handles = Vec::new();
    for _ in 0..6 {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = s.claim_due_retries(T0 + 10, 60_000, 15).await.unwrap();
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|t| t.task_id));
            }
        }));
    }
    let mut seen = HashSet::new();
    for h in handles {
        for id in h.await.unwrap() {
            assert!(seen.insert(id.clone()), "{id} claimed twice");
        }
    }
    assert_eq!(seen.len(), 200);
}
