//! Hot-path timings, run by hand in release mode:
//! `cargo test -p ota-store --release --test conformance perf -- --ignored --nocapture`.

use crate::support::*;
use ota_domain::DeviceKey;
use ota_domain::task::TaskStatus;
use ota_store::{Page, Store, TaskCreation, TaskFilter, TaskTarget};
use std::time::Instant;

#[tokio::test]
#[ignore]
async fn perf_sqlite() {
    let b = Backend::sqlite().await;
    hot_paths(&b.store).await;
    b.finish().await;
}

#[tokio::test]
#[ignore]
async fn perf_postgres() {
    let Some(b) = Backend::postgres().await else {
        return;
    };
    hot_paths(&b.store).await;
    b.finish().await;
}

async fn hot_paths(s: &Store) {
    const N: usize = 20_000;
    const BATCH: usize = 1_000;
    let t = Instant::now();
    let names = fleet(s, "p", N).await;
    report_rate(s, "insert_devices", N, t);
    let fw = firmware("f", "p", "default", "2.0");
    let j = job("a", &fw);
    setup_job(s, &fw, &j).await;
    let t = Instant::now();
    let spec = TaskCreation {
        job: &j,
        module_name: "default",
        dest_version: "2.0",
        required_src_version: None,
        target: TaskTarget::All,
        now: T0,
    };
    s.create_tasks(&spec).await.unwrap();
    report_rate(s, "create_tasks(All)", N, t);
    let keys: Vec<DeviceKey> = names.iter().map(|n| key("p", n)).collect();

    let t = Instant::now();
    for chunk in keys.chunks(BATCH) {
        let changes: Vec<_> = chunk.iter().map(|k| (k.clone(), true, T0)).collect();
        s.set_presence(&changes).await.unwrap();
    }
    report_rate(s, "set_presence", N, t);

    let t = Instant::now();
    for chunk in names.chunks(BATCH) {
        let reports: Vec<_> = chunk
            .iter()
            .map(|n| report("p", n, "default", "1.0", T0))
            .collect();
        s.upsert_module_versions(&reports).await.unwrap();
    }
    report_rate(s, "upsert_module_versions", N, t);

    let t = Instant::now();
    let mut tasks = Vec::with_capacity(N);
    for chunk in keys.chunks(BATCH) {
        tasks.extend(s.active_tasks_for_devices(chunk).await.unwrap());
    }
    report_rate(s, "active_tasks_for_devices", N, t);
    assert_eq!(tasks.len(), N);

    let t = Instant::now();
    for chunk in tasks.chunks_mut(BATCH) {
        for task in chunk.iter_mut() {
            task.status = TaskStatus::Notified;
            task.queued_reason = None;
        }
        s.save_tasks(chunk).await.unwrap();
    }
    report_rate(s, "save_tasks", N, t);

    let t = Instant::now();
    let c = s.job_task_counts(&j.job_id).await.unwrap();
    assert_eq!(c.status(TaskStatus::Notified), N as i64);
    eprintln!(
        "{:?} job_task_counts over {N}: {:?}",
        s.dialect(),
        t.elapsed()
    );
    let f = TaskFilter {
        job_id: Some(j.job_id.clone()),
        ..Default::default()
    };
    let t = Instant::now();
    s.list_tasks(&f, Page::new(N as i64 - 50, 50))
        .await
        .unwrap();
    eprintln!("{:?} list_tasks last page: {:?}", s.dialect(), t.elapsed());
}

fn report_rate(s: &Store, what: &str, n: usize, started: Instant) {
    let took = started.elapsed();
    let rate = n as f64 / took.as_secs_f64();
    eprintln!(
        "{:?} {what}: {n} rows in {took:?} ({rate:.0}/s)",
        s.dialect()
    );
}
