//! Set-based cancel of a batch's tasks: only the selected states, over every chunk, with
//! the fields the task machine writes.

use crate::creation::{spec, tasks_of};
use crate::support::*;
use ota_domain::job::{CancelOptions, cancel_selection};
use ota_domain::task::{CancelReason, QueuedReason, TaskStatus};
use ota_store::{Store, TaskTarget};

both!(cancels_the_selected_states_in_every_chunk);

/// More than one chunk of the cancel's walk.
const FLEET: usize = 6_000;

async fn cancels_the_selected_states_in_every_chunk(s: &Store) {
    fleet(s, "p", FLEET).await;
    let fw = firmware("f", "p", "default", "2.0");
    let j = job("a", &fw);
    setup_job(s, &fw, &j).await;
    s.create_tasks(&spec(&j, "default", TaskTarget::All))
        .await
        .unwrap();
    let mut tasks = tasks_of(s, "a").await;
    tasks.sort_by(|a, b| a.device_name.cmp(&b.device_name));
    // The first device is told, the last one done, one waits for its schedule.
    let mut changed = Vec::new();
    let mut before = Vec::new();
    for (i, status, reason) in [
        (0, TaskStatus::Notified, None),
        (FLEET - 1, TaskStatus::Succeeded, None),
        (FLEET / 2, TaskStatus::Queued, Some(QueuedReason::Scheduled)),
    ] {
        let mut t = tasks[i].clone();
        before.push((t.status, t.modified_at));
        t.status = status;
        t.queued_reason = reason;
        t.modified_at += 1;
        changed.push(t);
    }
    s.save_tasks_unchanged_since(&changed, &before)
        .await
        .unwrap();

    let queued_only = CancelOptions {
        cancel_queued: true,
        cancel_unconfirmed: Some(false),
        ..CancelOptions::default()
    };
    let n = s
        .cancel_job_tasks(
            &j.job_id,
            &cancel_selection(&queued_only),
            CancelReason::JobCanceled,
            T0 + 50,
        )
        .await
        .unwrap();
    assert_eq!(n, FLEET as u64 - 2, "every QUEUED task, scheduled or not");
    let after = tasks_of(s, "a").await;
    let status_of = |name: &str| {
        after
            .iter()
            .find(|t| t.device_name.as_str() == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        status_of(tasks[0].device_name.as_str()).status,
        TaskStatus::Notified
    );
    assert_eq!(
        status_of(tasks[FLEET - 1].device_name.as_str()).status,
        TaskStatus::Succeeded
    );
    let cancelled = status_of(tasks[FLEET / 2].device_name.as_str());
    assert_eq!(cancelled.status, TaskStatus::Canceled);
    assert_eq!(cancelled.cancel_reason, Some(CancelReason::JobCanceled));
    assert_eq!(cancelled.queued_reason, None);
    assert_eq!(cancelled.modified_at, T0 + 50);

    // Again with everything: only the told one is left to cancel.
    let n = s
        .cancel_job_tasks(
            &j.job_id,
            &cancel_selection(&CancelOptions::everything()),
            CancelReason::JobCanceled,
            T0 + 60,
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(s.count_unfinished(&j.job_id).await.unwrap(), 0);
}
