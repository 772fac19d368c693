//! Batch machine tests: one row per transition (spec §3.1), the CancelOTATaskByJob
//! selection, verification math, and a property: finished batches stay finished.

use super::*;
use crate::firmware::FirmwareStatus;
use crate::stats::TaskCounts;
use crate::task::{NewTask, QueuedReason, Rejection, Task, TaskStart, TaskStatus};
use crate::time::{HOUR, MINUTE};
use proptest::prelude::*;

const T0: Millis = 1_700_000_000_000;
const NOW: Millis = T0 + HOUR;

fn job(status: JobStatus, selection: SelectionType) -> Job {
    Job {
        job_id: "j1".into(),
        firmware_id: "f1".into(),
        product_key: "pk".into(),
        job_type: JobType::UpgradeFirmware,
        selection_type: selection,
        target_selection: TargetSelection::All,
        src_versions: Vec::new(),
        policy: JobPolicy::default(),
        tags: BTreeMap::new(),
        name: None,
        description: None,
        status,
        created_at: T0,
        modified_at: T0,
        started_at: None,
        finished_at: None,
        control: JobControl::default(),
        creation: None,
        wave: None,
    }
}

fn decision(approved: bool) -> ApprovalDecision {
    ApprovalDecision {
        approved,
        by: "lead".into(),
        remark: "ok".into(),
        at: NOW,
    }
}

/// A batch that required approval and got it.
fn approved(mut j: Job) -> Job {
    j.control.approval = Some(decision(true));
    j
}

fn paused(mut j: Job, reason: PauseReason) -> Job {
    j.control.pause = Some(Pause { reason, at: T0 });
    j
}

/// A batch whose tasks are still being created.
fn creating(mut j: Job) -> Job {
    j.creation = Some(Creation::start(T0));
    j
}

/// A batch whose tasks were all created.
fn created(mut j: Job) -> Job {
    let mut c = Creation::start(T0);
    c.finish(T0);
    j.creation = Some(c);
    j
}

fn planned(at: Millis) -> Job {
    let mut j = job(JobStatus::Planned, SelectionType::Static);
    j.policy.schedule_time = Some(at);
    j
}

fn running(selection: SelectionType) -> Job {
    job(JobStatus::InProgress, selection)
}

fn with_finish(mut j: Job, at: Millis) -> Job {
    j.policy.schedule_finish_time = Some(at);
    j
}

enum Want {
    To(JobStatus, Vec<JobEffect>),
    Stale,
    Invalid,
}

#[test]
fn every_transition() {
    use JobEffect::*;
    use JobStatus::*;
    use SelectionType::{Dynamic, Static};
    let opts = CancelOptions {
        cancel_queued: true,
        ..CancelOptions::default()
    };
    let steps = vec![
        RateStep {
            at: NOW,
            per_minute: 100,
        },
        RateStep {
            at: NOW + HOUR,
            per_minute: 1000,
        },
    ];
    let bad_order = vec![
        RateStep {
            at: NOW,
            per_minute: 100,
        },
        RateStep {
            at: NOW,
            per_minute: 200,
        },
    ];
    let tags = BTreeMap::from([("k".to_owned(), "v".to_owned())]);
    #[rustfmt::skip]
    let rows: Vec<(&str, Job, JobEvent, Want)> = vec![
        ("start at schedule", planned(NOW), JobEvent::Start, Want::To(InProgress, vec![ReleaseScheduledTasks])),
        ("start late", planned(NOW - MINUTE), JobEvent::Start, Want::To(InProgress, vec![ReleaseScheduledTasks])),
        ("start early", planned(NOW + 1), JobEvent::Start, Want::Stale),
        ("start running", running(Static), JobEvent::Start, Want::Stale),
        ("start completed", job(Completed, Static), JobEvent::Start, Want::Stale),
        ("start canceled", job(Canceled, Static), JobEvent::Start, Want::Stale),
        ("static done", running(Static), JobEvent::AllTasksFinished, Want::To(Completed, vec![Finished(Completed)])),
        ("dynamic keeps running", running(Dynamic), JobEvent::AllTasksFinished, Want::Stale),
        ("planned not done", planned(NOW + HOUR), JobEvent::AllTasksFinished, Want::Stale),
        ("completed twice", job(Completed, Static), JobEvent::AllTasksFinished, Want::Stale),
        ("forced end", with_finish(running(Static), NOW), JobEvent::ScheduleFinished, Want::To(Completed, vec![FailUnfinishedTasks, Finished(Completed)])),
        ("forced end of planned", with_finish(planned(NOW - HOUR), NOW), JobEvent::ScheduleFinished, Want::To(Completed, vec![FailUnfinishedTasks, Finished(Completed)])),
        ("forced end early", with_finish(running(Static), NOW + 1), JobEvent::ScheduleFinished, Want::Stale),
        ("no finish time", running(Static), JobEvent::ScheduleFinished, Want::Invalid),
        ("forced end after completion", with_finish(job(Completed, Static), NOW), JobEvent::ScheduleFinished, Want::Stale),
        ("forced end after cancel", with_finish(job(Canceled, Static), NOW), JobEvent::ScheduleFinished, Want::Stale),
        ("cancel planned", planned(NOW + HOUR), JobEvent::Cancel(opts), Want::To(Canceled, vec![CancelTasks(opts), Finished(Canceled)])),
        ("cancel running", running(Static), JobEvent::Cancel(opts), Want::To(Canceled, vec![CancelTasks(opts), Finished(Canceled)])),
        ("cancel dynamic", running(Dynamic), JobEvent::Cancel(opts), Want::To(Canceled, vec![CancelTasks(opts), Finished(Canceled)])),
        ("cancel completed", job(Completed, Static), JobEvent::Cancel(opts), Want::Invalid),
        ("cancel canceled", job(Canceled, Static), JobEvent::Cancel(opts), Want::Invalid),
        ("stop policy", running(Dynamic), JobEvent::StrategyCanceled, Want::To(Canceled, vec![StopStrategy, Finished(Canceled)])),
        ("stop policy of static", running(Static), JobEvent::StrategyCanceled, Want::Invalid),
        ("stop policy twice", job(Canceled, Dynamic), JobEvent::StrategyCanceled, Want::Invalid),
        ("rate while running", running(Static), JobEvent::UpdateRate(RateUpdate::Fixed(500)), Want::To(InProgress, vec![RateChanged])),
        ("rate while planned", planned(NOW + HOUR), JobEvent::UpdateRate(RateUpdate::Fixed(10)), Want::To(Planned, vec![RateChanged])),
        ("rate max", running(Static), JobEvent::UpdateRate(RateUpdate::Fixed(10_000)), Want::To(InProgress, vec![RateChanged])),
        ("rate too low", running(Static), JobEvent::UpdateRate(RateUpdate::Fixed(9)), Want::Invalid),
        ("rate too high", running(Static), JobEvent::UpdateRate(RateUpdate::Fixed(10_001)), Want::Invalid),
        ("rate steps", running(Dynamic), JobEvent::UpdateRate(RateUpdate::Steps(steps.clone())), Want::To(InProgress, vec![RateChanged])),
        ("rate steps out of order", running(Static), JobEvent::UpdateRate(RateUpdate::Steps(bad_order)), Want::Invalid),
        ("rate step too low", running(Static), JobEvent::UpdateRate(RateUpdate::Steps(vec![RateStep { at: NOW, per_minute: 9 }])), Want::Invalid),
        ("rate after completion", job(Completed, Static), JobEvent::UpdateRate(RateUpdate::Fixed(500)), Want::Invalid),
        ("tags while running", running(Static), JobEvent::UpdateTags(tags.clone()), Want::To(InProgress, vec![])),
        ("tags cleared", planned(NOW + HOUR), JobEvent::UpdateTags(BTreeMap::new()), Want::To(Planned, vec![])),
        ("tags after cancel", job(Canceled, Static), JobEvent::UpdateTags(tags.clone()), Want::Invalid),
        ("timeout of dynamic", running(Dynamic), JobEvent::UpdateTimeout(60), Want::To(InProgress, vec![])),
        ("timeout of static", running(Static), JobEvent::UpdateTimeout(60), Want::Invalid),
        ("timeout zero", running(Dynamic), JobEvent::UpdateTimeout(0), Want::Invalid),
        ("timeout too long", running(Dynamic), JobEvent::UpdateTimeout(1441), Want::Invalid),
        ("timeout after cancel", job(Canceled, Dynamic), JobEvent::UpdateTimeout(60), Want::Invalid),
        ("pause running", running(Static), JobEvent::Pause(PauseReason::Operator), Want::To(InProgress, vec![])),
        ("pause planned", planned(NOW + HOUR), JobEvent::Pause(PauseReason::Operator), Want::To(Planned, vec![])),
        ("gate pauses running", running(Dynamic), JobEvent::Pause(PauseReason::FailureGate), Want::To(InProgress, vec![])),
        ("pause twice", paused(running(Static), PauseReason::Operator), JobEvent::Pause(PauseReason::Operator), Want::Invalid),
        ("gate finds it paused", paused(running(Static), PauseReason::Operator), JobEvent::Pause(PauseReason::FailureGate), Want::Stale),
        ("pause completed", job(Completed, Static), JobEvent::Pause(PauseReason::Operator), Want::Invalid),
        ("gate after cancel", job(Canceled, Static), JobEvent::Pause(PauseReason::FailureGate), Want::Stale),
        ("resume paused", paused(running(Static), PauseReason::FailureGate), JobEvent::Resume(FinishedCounts { failed: 3, finished: 10 }), Want::To(InProgress, vec![Resumed])),
        ("resume planned", paused(planned(NOW + HOUR), PauseReason::Operator), JobEvent::Resume(FinishedCounts::default()), Want::To(Planned, vec![Resumed])),
        ("resume running", running(Static), JobEvent::Resume(FinishedCounts::default()), Want::Invalid),
        ("resume completed", job(Completed, Static), JobEvent::Resume(FinishedCounts::default()), Want::Invalid),
        ("cancel paused", paused(running(Static), PauseReason::Operator), JobEvent::Cancel(opts), Want::To(Canceled, vec![CancelTasks(opts), Finished(Canceled)])),
        ("start while creating", creating(planned(NOW)), JobEvent::Start, Want::Stale),
        ("start once created", created(planned(NOW)), JobEvent::Start, Want::To(InProgress, vec![ReleaseScheduledTasks])),
        ("no completion while creating", creating(running(Static)), JobEvent::AllTasksFinished, Want::Stale),
        ("completion once created", created(running(Static)), JobEvent::AllTasksFinished, Want::To(Completed, vec![Finished(Completed)])),
        ("no forced end while creating", creating(with_finish(running(Static), NOW)), JobEvent::ScheduleFinished, Want::Stale),
        ("no cancel while creating", creating(running(Static)), JobEvent::Cancel(opts), Want::Invalid),
        ("cancel once created", created(running(Static)), JobEvent::Cancel(opts), Want::To(Canceled, vec![CancelTasks(opts), Finished(Canceled)])),
        ("no policy stop while creating", creating(running(Dynamic)), JobEvent::StrategyCanceled, Want::Invalid),
        ("pause while creating", creating(running(Static)), JobEvent::Pause(PauseReason::Operator), Want::To(InProgress, vec![])),
        ("rate while creating", creating(running(Static)), JobEvent::UpdateRate(RateUpdate::Fixed(500)), Want::To(InProgress, vec![RateChanged])),
        ("tags while creating", creating(running(Static)), JobEvent::UpdateTags(tags.clone()), Want::To(InProgress, vec![])),
        ("paused static done", paused(running(Static), PauseReason::Operator), JobEvent::AllTasksFinished, Want::To(Completed, vec![Finished(Completed)])),
        ("approve awaiting", paused(running(Static), PauseReason::AwaitingApproval), JobEvent::Approve(decision(true)), Want::To(InProgress, vec![Resumed])),
        ("approve awaiting planned", paused(planned(NOW + HOUR), PauseReason::AwaitingApproval), JobEvent::Approve(decision(true)), Want::To(Planned, vec![Resumed])),
        ("deny awaiting", paused(running(Static), PauseReason::AwaitingApproval), JobEvent::Deny(decision(false)), Want::To(Canceled, vec![CancelTasks(CancelOptions::everything()), Finished(Canceled)])),
        ("approve not awaiting", running(Static), JobEvent::Approve(decision(true)), Want::Invalid),
        ("approve operator pause", paused(running(Static), PauseReason::Operator), JobEvent::Approve(decision(true)), Want::Invalid),
        ("deny not awaiting", running(Static), JobEvent::Deny(decision(false)), Want::Invalid),
        ("approve twice", approved(running(Static)), JobEvent::Approve(decision(true)), Want::Invalid),
        ("deny after approval", approved(running(Static)), JobEvent::Deny(decision(false)), Want::Invalid),
        ("resume awaiting", paused(running(Static), PauseReason::AwaitingApproval), JobEvent::Resume(FinishedCounts::default()), Want::Invalid),
        ("pause awaiting", paused(running(Static), PauseReason::AwaitingApproval), JobEvent::Pause(PauseReason::Operator), Want::Invalid),
        ("deny while creating", creating(paused(running(Static), PauseReason::AwaitingApproval)), JobEvent::Deny(decision(false)), Want::Invalid),
        ("approve while creating", creating(paused(running(Static), PauseReason::AwaitingApproval)), JobEvent::Approve(decision(true)), Want::To(InProgress, vec![Resumed])),
        ("approve completed", job(Completed, Static), JobEvent::Approve(decision(true)), Want::Invalid),
    ];
    for (name, job, event, want) in rows {
        let pausing = matches!(event, JobEvent::Pause(_));
        let resuming = match &event {
            JobEvent::Resume(counts) => Some(*counts),
            _ => None,
        };
        let deciding = match &event {
            JobEvent::Approve(_) => Some(true),
            JobEvent::Deny(_) => Some(false),
            _ => None,
        };
        match (want, job.apply(event, NOW)) {
            (Want::Stale, Err(Rejection::Stale(_)))
            | (Want::Invalid, Err(Rejection::Invalid(_))) => {}
            (Want::To(status, effects), Ok(tr)) => {
                assert_eq!(tr.job.status, status, "{name}: status");
                // Paused exactly while running after a pause; never once ended.
                let should_pause = if status.is_terminal() {
                    false
                } else if pausing {
                    true
                } else if resuming.is_some() || deciding.is_some() {
                    false
                } else {
                    job.is_paused()
                };
                assert_eq!(tr.job.is_paused(), should_pause, "{name}: paused");
                if pausing {
                    assert_eq!(tr.job.control.pause.unwrap().at, NOW, "{name}: paused at");
                }
                if let Some(counts) = resuming {
                    assert_eq!(tr.job.control.gate_baseline, counts, "{name}: baseline");
                }
                if let Some(approved) = deciding {
                    let kept = tr.job.control.approval.as_ref().expect("decision kept");
                    assert_eq!(
                        (kept.approved, kept.by.as_str()),
                        (approved, "lead"),
                        "{name}"
                    );
                }
                assert_eq!(tr.effects, effects, "{name}: effects");
                assert_eq!(tr.job.modified_at, NOW, "{name}");
                assert_eq!(
                    tr.job.finished_at.is_some(),
                    status.is_terminal(),
                    "{name}: finished_at"
                );
                if job.status == JobStatus::Planned && status == JobStatus::InProgress {
                    assert_eq!(tr.job.started_at, Some(NOW), "{name}: started_at");
                }
            }
            (_, got) => panic!("{name}: unexpected {got:?}"),
        }
    }
}

#[test]
fn updates_change_the_policy() {
    let j = running(SelectionType::Dynamic);
    let steps = vec![RateStep {
        at: NOW + HOUR,
        per_minute: 50,
    }];
    let j = j
        .apply(JobEvent::UpdateRate(RateUpdate::Steps(steps.clone())), NOW)
        .unwrap()
        .job;
    assert_eq!(
        (j.policy.rate_steps.clone(), j.policy.rate_at(NOW + HOUR)),
        (steps, 50)
    );
    let j = j
        .apply(JobEvent::UpdateRate(RateUpdate::Fixed(300)), NOW)
        .unwrap()
        .job;
    assert_eq!(
        (j.policy.maximum_per_minute, j.policy.rate_steps.len()),
        (300, 0)
    );
    let j = j.apply(JobEvent::UpdateTimeout(45), NOW).unwrap().job;
    assert_eq!(j.policy.timeout_minutes, Some(45));
    let tags = BTreeMap::from([("a".to_owned(), "1".to_owned())]);
    let j = j
        .apply(JobEvent::UpdateTags(tags.clone()), NOW)
        .unwrap()
        .job;
    assert_eq!(j.tags, tags);
}

#[test]
fn tasks_follow_the_batch_policy() {
    let mut j = planned(NOW + HOUR);
    j.policy.need_confirm = true;
    j.policy.timeout_minutes = Some(30);
    assert_eq!(
        j.task_start(),
        TaskStart {
            need_confirm: true,
            need_push: true,
            scheduled_at: Some(NOW + HOUR)
        }
    );
    assert_eq!(j.task_rules().timeout_minutes, Some(30));
    let started = j.apply(JobEvent::Start, NOW + HOUR).unwrap().job;
    assert_eq!(started.task_start().scheduled_at, None);
}

fn task(status: TaskStatus, reason: Option<QueuedReason>) -> Task {
    let new = NewTask {
        task_id: "t".into(),
        job_id: "j1".into(),
        firmware_id: "f1".into(),
        product_key: "pk".into(),
        device_name: "d".into(),
        module_name: "default".into(),
        src_version: None,
        dest_version: "2".into(),
    };
    let start = TaskStart {
        need_confirm: false,
        need_push: true,
        scheduled_at: None,
    };
    let mut t = Task::create(new, start, T0);
    t.status = status;
    t.queued_reason = reason;
    t
}

#[test]
fn cancel_selection() {
    use TaskStatus::*;
    let confirm = task(Confirm, None);
    let ready = task(Queued, Some(QueuedReason::Ready));
    let scheduled = task(Queued, Some(QueuedReason::Scheduled));
    let notified = task(Notified, None);
    let running = task(InProgress, None);
    let o = CancelOptions::default;
    #[rustfmt::skip]
    let rows: Vec<(&str, CancelOptions, [bool; 5])> = vec![
        //                                                    confirm ready  sched  notif  running
        ("nothing", o(), [false, false, false, false, false]),
        ("queued, unconfirmed unset", CancelOptions { cancel_queued: true, ..o() }, [true, true, true, false, false]),
        ("queued, unconfirmed false", CancelOptions { cancel_queued: true, cancel_unconfirmed: Some(false), ..o() }, [false, true, true, false, false]),
        ("unconfirmed only", CancelOptions { cancel_unconfirmed: Some(true), ..o() }, [true, false, false, false, false]),
        ("scheduled only", CancelOptions { cancel_scheduled: true, ..o() }, [false, false, true, false, false]),
        ("notified only", CancelOptions { cancel_notified: true, ..o() }, [false, false, false, true, false]),
        ("in progress only", CancelOptions { cancel_in_progress: true, ..o() }, [false, false, false, false, true]),
        ("everything", CancelOptions::everything(), [true, true, true, true, true]),
    ];
    for (name, options, want) in rows {
        let got = [&confirm, &ready, &scheduled, &notified, &running]
            .map(|t| task_selected_for_cancel(&options, t));
        assert_eq!(got, want, "{name}");
        for done in [Succeeded, Failed, Canceled] {
            assert!(
                !task_selected_for_cancel(&options, &task(done, None)),
                "{name}: {done:?}"
            );
        }
    }
}

#[test]
fn cancel_needs_an_option() {
    let err = CancelOptions::from_params(None, None, None, None, None).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("CancelQueuedTask"));
    assert!(CancelOptions::from_params(None, Some(false), None, None, Some(false)).is_err());
    let o = CancelOptions::from_params(None, Some(true), None, None, None).unwrap();
    assert!(o.cancels_unconfirmed());
    let o = CancelOptions::from_params(Some(true), None, None, None, None).unwrap();
    assert!(o.cancel_in_progress && !o.cancels_unconfirmed());
}

#[test]
fn verification_outcome() {
    let c = |succeeded, failed, canceled, running| TaskCounts {
        succeeded,
        failed,
        canceled,
        in_progress: running,
        ..TaskCounts::default()
    };
    let rows = [
        (c(0, 0, 0, 0), FirmwareStatus::Verifying, 0),
        (c(0, 0, 0, 3), FirmwareStatus::Verifying, 0),
        (c(2, 0, 0, 1), FirmwareStatus::Verifying, 66),
        (c(2, 1, 0, 1), FirmwareStatus::Verifying, 50),
        (c(3, 0, 0, 0), FirmwareStatus::Verified, 100),
        (c(2, 1, 0, 0), FirmwareStatus::VerifyFailed, 66),
        (c(9, 0, 1, 0), FirmwareStatus::VerifyFailed, 90),
        (c(0, 10, 0, 0), FirmwareStatus::VerifyFailed, 0),
    ];
    for (counts, status, progress) in rows {
        assert_eq!(
            (verify_outcome(&counts), verify_progress(&counts)),
            (status, progress),
            "{counts:?}"
        );
    }
}

fn event() -> impl Strategy<Value = JobEvent> {
    prop_oneof![
        Just(JobEvent::Start),
        Just(JobEvent::AllTasksFinished),
        Just(JobEvent::ScheduleFinished),
        Just(JobEvent::Cancel(CancelOptions::everything())),
        Just(JobEvent::StrategyCanceled),
        (0u32..20_000).prop_map(|r| JobEvent::UpdateRate(RateUpdate::Fixed(r))),
        Just(JobEvent::UpdateTags(BTreeMap::new())),
        (0u32..2000).prop_map(JobEvent::UpdateTimeout),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn finished_batches_stay_finished(
        dynamic in any::<bool>(),
        scheduled in any::<bool>(),
        events in prop::collection::vec((0i64..120, event()), 1..30),
    ) {
        let selection = if dynamic { SelectionType::Dynamic } else { SelectionType::Static };
        let mut j = if scheduled && !dynamic { planned(T0 + 30 * MINUTE) } else { running(selection) };
        j.policy.schedule_finish_time = scheduled.then_some(T0 + 3 * HOUR);
        let mut now = T0;
        for (minutes, event) in events {
            now += minutes * MINUTE;
            let before = j.status;
            if let Ok(tr) = j.apply(event, now) {
                prop_assert!(!before.is_terminal(), "left {:?}", before);
                prop_assert_eq!(tr.job.finished_at.is_some(), tr.job.status.is_terminal());
                prop_assert!(tr.job.status != JobStatus::Planned || before == JobStatus::Planned);
                prop_assert!(tr.job.policy.maximum_per_minute >= 10);
                j = tr.job;
            }
        }
    }
}

#[test]
fn the_failure_gate_calls_for_a_pause_or_a_cancel() {
    let gate = |action| FailureGate {
        max_failed_percent: 20,
        min_finished: 5,
        action,
    };
    let counts = |succeeded, failed| TaskCounts {
        succeeded,
        failed,
        in_progress: 4,
        queued: 10,
        ..TaskCounts::default()
    };
    let with_gate = |mut j: Job, action| {
        j.policy.failure_gate = Some(gate(action));
        j
    };
    let resumed_at = |mut j: Job, failed, finished| {
        j.control.gate_baseline = FinishedCounts { failed, finished };
        j
    };
    let pause = Some(JobEvent::Pause(PauseReason::FailureGate));
    let cancel = Some(JobEvent::Cancel(gate_cancel_options()));
    #[rustfmt::skip]
    let rows: Vec<(&str, Job, TaskCounts, Option<JobEvent>)> = vec![
        ("no gate", running(SelectionType::Static), counts(0, 9), None),
        ("holds", with_gate(running(SelectionType::Static), GateAction::Pause), counts(8, 2), None),
        ("too few finished", with_gate(running(SelectionType::Static), GateAction::Pause), counts(0, 4), None),
        ("trips: pause", with_gate(running(SelectionType::Static), GateAction::Pause), counts(3, 2), pause.clone()),
        ("trips: cancel", with_gate(running(SelectionType::Dynamic), GateAction::Cancel), counts(3, 2), cancel),
        ("already paused", paused(with_gate(running(SelectionType::Static), GateAction::Pause), PauseReason::Operator), counts(0, 9), None),
        ("planned", with_gate(planned(NOW + HOUR), GateAction::Pause), counts(0, 9), None),
        ("still being created", creating(with_gate(running(SelectionType::Static), GateAction::Pause)), counts(0, 9), None),
        ("trips once created", created(with_gate(running(SelectionType::Static), GateAction::Pause)), counts(3, 2), pause.clone()),
        ("ended", with_gate(job(JobStatus::Completed, SelectionType::Static), GateAction::Pause), counts(0, 9), None),
        ("forgiven at resume", resumed_at(with_gate(running(SelectionType::Static), GateAction::Pause), 2, 5), counts(3, 2), None),
        ("new failures after resume", resumed_at(with_gate(running(SelectionType::Static), GateAction::Pause), 2, 5), counts(6, 4), pause),
    ];
    for (name, job, counts, want) in rows {
        assert_eq!(job.gate_verdict(&counts), want, "{name}");
    }
    // A cancelling gate leaves started devices to finish.
    let options = gate_cancel_options();
    assert!(!options.cancel_in_progress && options.cancel_queued && options.cancel_notified);
}
