//! Task reads, saves, timers, claims and counts.

use crate::support::*;
use ota_domain::job::Job;
use ota_domain::task::{CancelReason, FailureReason, QueuedReason, Task, TaskStatus};
use ota_domain::{DeviceKey, TaskId};
use ota_store::{Page, QueuedCounts, Store, StoreError, TaskCreation, TaskFilter, TaskTarget};

both!(
    reads,
    job_lists,
    ready_and_timers,
    nudges,
    claims,
    counts,
    stale_writes
);

/// `n` devices of product `p` with one task each in batch `a` (module `default`).
async fn with_tasks(s: &Store, n: usize) -> (Job, Vec<Task>) {
    fleet(s, "p", n).await;
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
        job_id: Some("a".into()),
        ..Default::default()
    };
    let mut tasks = s.list_tasks(&f, Page::new(0, 10_000)).await.unwrap().0;
    tasks.sort_by(|x, y| x.device_name.cmp(&y.device_name));
    (j, tasks)
}

fn set(t: &Task, status: TaskStatus, reason: Option<QueuedReason>) -> Task {
    let mut t = t.clone();
    t.status = status;
    t.queued_reason = reason;
    t.modified_at = T0 + 1;
    t
}

fn ids(v: &[Task]) -> Vec<&str> {
    let mut v: Vec<&str> = v.iter().map(|t| t.device_name.as_str()).collect();
    v.sort();
    v
}

async fn reads(s: &Store) {
    let (_, ts) = with_tasks(s, 600).await;
    let mut t0 = set(&ts[0], TaskStatus::InProgress, None);
    t0.progress = 40;
    t0.desc = Some("flashing".into());
    t0.started_at = Some(T0 + 1);
    t0.timeout_at = Some(T0 + 100);
    let t1 = set(&ts[1], TaskStatus::Succeeded, None);
    let t2 = set(&ts[2], TaskStatus::Notified, None);
    // A task twice in one batch: the later copy wins.
    let stale = set(&ts[2], TaskStatus::Queued, Some(QueuedReason::Offline));
    s.save_tasks(&[t0.clone(), stale, t1.clone(), t2.clone()])
        .await
        .unwrap();
    assert_eq!(s.get_task(&t0.task_id).await.unwrap(), Some(t0.clone()));
    assert_eq!(s.get_task(&"nope".into()).await.unwrap(), None);
    let mut ghost = t0.clone();
    ghost.task_id = "ghost".into();
    assert!(matches!(
        s.save_tasks(&[ghost]).await,
        Err(StoreError::NotFound)
    ));
    let want: Vec<TaskId> = vec![t0.task_id.clone(), t1.task_id.clone(), "nope".into()];
    assert_eq!(
        ids(&s.tasks_by_ids(&want).await.unwrap()),
        ["d00000", "d00001"]
    );

    // 600 keys span two IN-list chunks; SUCCEEDED tasks are not active.
    let mut keys: Vec<DeviceKey> = ts
        .iter()
        .map(|t| key("p", t.device_name.as_str()))
        .collect();
    keys.push(key("q", "d00000"));
    let active = s.active_tasks_for_devices(&keys).await.unwrap();
    assert_eq!(active.len(), 599);
    assert!(active.contains(&t0) && !active.iter().any(|t| t.task_id == t1.task_id));

    let f = TaskFilter {
        statuses: vec![TaskStatus::Succeeded, TaskStatus::InProgress],
        ..Default::default()
    };
    assert_eq!(
        ids(&s.list_tasks(&f, Page::new(0, 10)).await.unwrap().0),
        ["d00000", "d00001"]
    );
    let f = TaskFilter {
        device: Some(key("p", "d00002")),
        firmware_id: Some("f".into()),
        ..Default::default()
    };
    assert_eq!(
        s.list_tasks(&f, Page::new(0, 10)).await.unwrap(),
        (vec![t2.clone()], 1)
    );
    let f = TaskFilter {
        job_id: Some("a".into()),
        device_names: vec!["d00003".into(), "d00004".into(), "d00005".into()],
        ..Default::default()
    };
    let (page, total) = s.list_tasks(&f, Page::new(1, 1)).await.unwrap();
    assert_eq!((page.len(), total), (1, 3));
    let f = TaskFilter {
        firmware_id: Some("other".into()),
        ..Default::default()
    };
    assert_eq!(s.list_tasks(&f, Page::new(0, 10)).await.unwrap().1, 0);
    assert_eq!(
        s.tasks_to_repush_for(&key("p", "d00002")).await.unwrap(),
        vec![t2]
    );
    assert!(
        s.tasks_to_repush_for(&key("p", "d00000"))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn ready_and_timers(s: &Store) {
    let (j, ts) = with_tasks(s, 8).await;
    let mut saved = vec![
        set(&ts[0], TaskStatus::Queued, Some(QueuedReason::Ready)),
        set(&ts[1], TaskStatus::Queued, Some(QueuedReason::Offline)),
        set(&ts[2], TaskStatus::Queued, Some(QueuedReason::RateLimited)),
        set(&ts[3], TaskStatus::Queued, Some(QueuedReason::Scheduled)),
        set(&ts[4], TaskStatus::Queued, Some(QueuedReason::AwaitingPull)),
        set(
            &ts[5],
            TaskStatus::Queued,
            Some(QueuedReason::RetryScheduled),
        ),
        set(&ts[6], TaskStatus::InProgress, None),
        set(&ts[7], TaskStatus::Queued, Some(QueuedReason::Ready)),
    ];
    saved[5].retry_at = Some(T0 + 50);
    saved[5].failure = Some(FailureReason::DownloadFailed);
    saved[6].timeout_at = Some(T0 + 60);
    s.save_tasks(&saved).await.unwrap();
    let online: Vec<_> = (0..7)
        .map(|i| (key("p", &format!("d{i:05}")), true, T0))
        .collect();
    s.set_presence(&online).await.unwrap();
    let ready = s.ready_tasks(&j.job_id, 10).await.unwrap();
    assert_eq!(
        ids(&ready),
        ["d00000", "d00001", "d00002"],
        "d00007 is offline"
    );
    assert_eq!(s.ready_tasks(&j.job_id, 2).await.unwrap().len(), 2);
    assert!(s.due_retries(T0 + 49, 10).await.unwrap().is_empty());
    assert_eq!(
        s.due_retries(T0 + 50, 10).await.unwrap(),
        vec![saved[5].clone()]
    );
    assert!(s.due_timeouts(T0 + 59, 10).await.unwrap().is_empty());
    assert_eq!(
        s.due_timeouts(T0 + 61, 10).await.unwrap(),
        vec![saved[6].clone()]
    );
    assert_eq!(s.count_unfinished(&j.job_id).await.unwrap(), 8);
    let first = s.unfinished_tasks_of_job(&j.job_id, 5).await.unwrap();
    assert_eq!(first.len(), 5);
    let done: Vec<Task> = first
        .iter()
        .map(|t| set(t, TaskStatus::Canceled, None))
        .collect();
    s.save_tasks(&done).await.unwrap();
    assert_eq!(s.count_unfinished(&j.job_id).await.unwrap(), 3);
    assert_eq!(
        s.unfinished_tasks_of_job(&j.job_id, 5).await.unwrap().len(),
        3
    );
}

async fn claims(s: &Store) {
    let (j, ts) = with_tasks(s, 3).await;
    let mut r = set(
        &ts[0],
        TaskStatus::Queued,
        Some(QueuedReason::RetryScheduled),
    );
    r.retry_at = Some(T0 + 10);
    let mut t = set(&ts[1], TaskStatus::InProgress, None);
    t.timeout_at = Some(T0 + 10);
    s.save_tasks(&[r.clone(), t.clone()]).await.unwrap();
    s.set_presence(&[(key("p", "d00002"), true, T0)])
        .await
        .unwrap();
    let now = T0 + 20;
    assert_eq!(
        s.claim_due_retries(now, 1000, 10).await.unwrap(),
        vec![r.clone()]
    );
    assert!(
        s.claim_due_retries(now, 1000, 10).await.unwrap().is_empty(),
        "leased"
    );
    assert_eq!(
        s.claim_due_retries(now + 1000, 1000, 10)
            .await
            .unwrap()
            .len(),
        1,
        "lease over"
    );
    assert_eq!(
        s.claim_due_timeouts(now, 1000, 10).await.unwrap(),
        vec![t.clone()]
    );
    assert!(
        s.claim_due_timeouts(now, 1000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.claim_ready_tasks(&j.job_id, now, 1000, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        s.claim_ready_tasks(&j.job_id, now, 1000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // A released lease makes the task claimable again at once.
    let ready = s.ready_tasks(&j.job_id, 10).await.unwrap();
    let ids: Vec<_> = ready.iter().map(|t| t.task_id.clone()).collect();
    s.release_leases(&ids).await.unwrap();
    assert_eq!(
        s.claim_ready_tasks(&j.job_id, now, 1000, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // Saving a claimed task ends its lease.
    s.save_tasks(&[t.clone()]).await.unwrap();
    assert_eq!(s.claim_due_timeouts(now, 1000, 10).await.unwrap(), vec![t]);
    // Plain reads ignore leases.
    assert_eq!(s.due_retries(now, 10).await.unwrap().len(), 1);
}

/// A save conditioned on the state a task was read in lands only while the row is still in
/// that state; a late writer gets `Stale` and writes nothing, not even its other tasks.
async fn stale_writes(s: &Store) {
    let (_, ts) = with_tasks(s, 2).await;
    let (a, b) = (&ts[0], &ts[1]);
    let read_as = |t: &Task| (t.status, t.modified_at);

    // One writer moves `a` on from the state both read.
    let mut first = set(a, TaskStatus::Succeeded, None);
    first.progress = 100;
    s.save_tasks_unchanged_since(std::slice::from_ref(&first), &[read_as(a)])
        .await
        .unwrap();

    // A second writer, still holding the old read of `a`, changes `a` and `b` together.
    let mut late = set(a, TaskStatus::InProgress, None);
    late.progress = 40;
    late.modified_at = T0 + 2;
    let b_next = set(b, TaskStatus::Notified, None);
    let err = s
        .save_tasks_unchanged_since(&[late, b_next.clone()], &[read_as(a), read_as(b)])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Stale), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(s.get_task(&a.task_id).await.unwrap(), Some(first.clone()));
    assert_eq!(
        s.get_task(&b.task_id).await.unwrap(),
        Some(b.clone()),
        "all or nothing"
    );

    // Read again, the same change of `b` lands.
    s.save_tasks_unchanged_since(std::slice::from_ref(&b_next), &[read_as(b)])
        .await
        .unwrap();
    assert_eq!(s.get_task(&b.task_id).await.unwrap(), Some(b_next));
}

/// A batch's list goes in device order; keyset pages (`after`) and numbered pages give the
/// same tasks, with or without a state filter; names select through the devices.
async fn job_lists(s: &Store) {
    let (_, ts) = with_tasks(s, 30).await;
    let v: Vec<Task> = ts
        .iter()
        .enumerate()
        .map(|(i, t)| match i % 3 {
            0 => set(t, TaskStatus::Succeeded, None),
            _ => t.clone(),
        })
        .collect();
    s.save_tasks(&v).await.unwrap();
    for statuses in [
        vec![],
        vec![TaskStatus::Queued],
        vec![TaskStatus::Succeeded],
    ] {
        let all = TaskFilter {
            job_id: Some("a".into()),
            statuses: statuses.clone(),
            ..Default::default()
        };
        let (whole, total) = s.list_tasks(&all, Page::new(0, 100)).await.unwrap();
        assert_eq!(whole.len() as i64, total);
        assert!(
            whole
                .windows(2)
                .all(|w| w[0].device_name < w[1].device_name),
            "device order (names are registered in order)"
        );
        let mut by_key = Vec::new();
        let mut after = None;
        loop {
            let f = TaskFilter {
                after: after.clone(),
                ..all.clone()
            };
            let (page, n) = s.list_tasks(&f, Page::new(0, 7)).await.unwrap();
            assert_eq!(n, total, "the total ignores `after`");
            let Some(last) = page.last() else { break };
            after = Some(last.task_id.clone());
            by_key.extend(page);
        }
        assert_eq!(by_key, whole, "{statuses:?} by keyset");
        // Every numbered page, those past the middle read from the end.
        for offset in 0..=whole.len() + 1 {
            let (page, _) = s
                .list_tasks(&all, Page::new(offset as i64, 7))
                .await
                .unwrap();
            let from = offset.min(whole.len());
            let to = (offset + 7).min(whole.len());
            assert_eq!(
                page,
                whole[from..to.max(from)],
                "{statuses:?} from {offset}"
            );
        }
    }
    let f = TaskFilter {
        job_id: Some("a".into()),
        statuses: vec![TaskStatus::Queued],
        device_names: vec!["d00000".into(), "d00001".into(), "nobody".into()],
        ..Default::default()
    };
    let (page, total) = s.list_tasks(&f, Page::new(0, 10)).await.unwrap();
    assert_eq!((ids(&page), total), (vec!["d00001"], 1));
    let f = TaskFilter {
        job_id: Some("a".into()),
        after: Some(TaskId("no such task".into())),
        ..Default::default()
    };
    assert!(
        s.list_tasks(&f, Page::new(0, 10))
            .await
            .unwrap()
            .0
            .is_empty()
    );
}

async fn counts(s: &Store) {
    let (j, ts) = with_tasks(s, 12).await;
    assert!(
        s.finished_unsettled_jobs().await.unwrap().is_empty(),
        "its tasks are QUEUED"
    );
    let mut v = vec![
        set(&ts[0], TaskStatus::Confirm, None),
        set(&ts[1], TaskStatus::Queued, Some(QueuedReason::Ready)),
        set(&ts[2], TaskStatus::Queued, Some(QueuedReason::RateLimited)),
        set(&ts[3], TaskStatus::Queued, Some(QueuedReason::Offline)),
        set(&ts[4], TaskStatus::Queued, Some(QueuedReason::Scheduled)),
        set(
            &ts[5],
            TaskStatus::Queued,
            Some(QueuedReason::RetryScheduled),
        ),
        set(&ts[6], TaskStatus::Queued, Some(QueuedReason::AwaitingPull)),
        set(&ts[7], TaskStatus::Notified, None),
        set(&ts[8], TaskStatus::InProgress, None),
        set(&ts[9], TaskStatus::Succeeded, None),
        set(&ts[10], TaskStatus::Failed, None),
        set(&ts[11], TaskStatus::Canceled, None),
    ];
    v[10].failure = Some(FailureReason::Timeout);
    v[11].cancel_reason = Some(CancelReason::Operator);
    s.save_tasks(&v).await.unwrap();
    // d00001 and d00002 online: rate limited; d00003 offline whatever its stored reason;
    // d00004 online but its task waits for the batch's start.
    s.set_presence(&[
        (key("p", "d00001"), true, T0),
        (key("p", "d00002"), true, T0),
        (key("p", "d00004"), true, T0),
    ])
    .await
    .unwrap();
    let c = s.job_task_counts(&j.job_id).await.unwrap();
    assert_eq!(c.total, 12);
    assert_eq!(c.by_status.values().sum::<i64>(), 12);
    assert_eq!(c.status(TaskStatus::Queued), 6);
    assert_eq!(c.unfinished(), 9);
    assert_eq!(
        c.queued,
        QueuedCounts {
            rate_limited: 2,
            offline: 1,
            scheduled: 1,
            retry_scheduled: 1,
            awaiting_pull: 1
        }
    );
    let q = c.queued;
    let split = q.rate_limited + q.offline + q.scheduled + q.retry_scheduled + q.awaiting_pull;
    assert_eq!(split, c.status(TaskStatus::Queued));
    assert_eq!(c.failures.get(&FailureReason::Timeout), Some(&1));
    assert_eq!(c.cancels.get(&CancelReason::Operator), Some(&1));
    assert_eq!(c.status(TaskStatus::Confirm), 1);
    let by_batch = s.firmware_status_counts(&"f".into()).await.unwrap();
    assert_eq!(by_batch.len(), 1);
    assert_eq!(by_batch[&j.job_id], c.by_status);
    assert!(
        s.firmware_status_counts(&"none".into())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.job_task_counts(&"none".into()).await.unwrap().total, 0);

    // Every task finished while the batch is still IN_PROGRESS: a completion missed.
    assert!(s.finished_unsettled_jobs().await.unwrap().is_empty());
    let done: Vec<Task> = v
        .iter()
        .filter(|t| !t.status.is_terminal())
        .map(|t| set(t, TaskStatus::Succeeded, None))
        .collect();
    s.save_tasks(&done).await.unwrap();
    assert_eq!(
        s.finished_unsettled_jobs().await.unwrap(),
        vec![j.job_id.clone()]
    );
}

/// Told tasks whose device stays silent come back when their nudge time has come; a
/// claim keeps them from other nodes until it lapses or the task is saved.
async fn nudges(s: &Store) {
    let (_, ts) = with_tasks(s, 4).await;
    let mut saved = vec![
        set(&ts[0], TaskStatus::Notified, None),
        set(&ts[1], TaskStatus::InProgress, None),
        set(&ts[2], TaskStatus::Notified, None),
        set(&ts[3], TaskStatus::Succeeded, None),
    ];
    saved[0].nudge_at = Some(T0 + 10);
    saved[1].nudge_at = Some(T0 + 20);
    saved[2].nudge_at = Some(T0 + 99);
    s.save_tasks(&saved).await.unwrap();
    assert_eq!(
        s.get_task(&saved[0].task_id).await.unwrap(),
        Some(saved[0].clone())
    );
    assert!(s.due_nudges(T0 + 9, 10).await.unwrap().is_empty());
    assert_eq!(
        s.due_nudges(T0 + 50, 10).await.unwrap(),
        vec![saved[0].clone(), saved[1].clone()]
    );
    let claimed = s.claim_due_nudges(T0 + 50, 1000, 10).await.unwrap();
    assert_eq!(ids(&claimed), ["d00000", "d00001"]);
    assert!(
        s.claim_due_nudges(T0 + 60, 1000, 10)
            .await
            .unwrap()
            .is_empty(),
        "claimed by another"
    );
    let mut next = claimed[0].clone();
    next.nudge_at = Some(T0 + 5_000);
    s.save_tasks(&[next]).await.unwrap();
    assert_eq!(
        ids(&s.claim_due_nudges(T0 + 2_000, 1000, 10).await.unwrap()),
        ["d00001", "d00002"],
        "a saved task's claim ends; a lapsed claim is taken over"
    );
}
