//! Rollout machine tests: one row per transition, the waves' devices, and the request rules.

use super::*;
use crate::firmware::{Firmware, FirmwareStatus, FirmwareType};
use crate::job::{GateAction, JobStatus, PauseReason};
use crate::task::{FailureReason, Rejection};
use crate::time::MINUTE;

const T0: Millis = 1_700_000_000_000;

fn plan(target: WaveTarget) -> WavePlan {
    WavePlan {
        name: None,
        target,
        success: SuccessCondition {
            succeeded_percent: 90,
            min_finished: 1,
        },
        errors: vec![ErrorCondition {
            causes: Vec::new(),
            max_failed_percent: None,
            max_failed: Some(2),
            min_finished: 1,
            action: GateAction::Pause,
        }],
        soak_minutes: 0,
        approval_required: false,
    }
}

/// Three waves of 10 % each; the first is running.
fn rollout() -> Rollout {
    let waves = (0..3)
        .map(|_| Wave {
            plan: plan(WaveTarget::Percent {
                milli_percent: 10_000,
            }),
            state: WaveState::default(),
        })
        .collect();
    let mut r = Rollout {
        rollout_id: RolloutId::from("r1"),
        firmware_id: "f1".into(),
        product_key: "pk".into(),
        name: None,
        description: None,
        src_versions: Vec::new(),
        policy: crate::job::JobPolicy::default(),
        tags: Default::default(),
        waves,
        current: 0,
        status: RolloutStatus::Running,
        pause: None,
        eligible: 100,
        created_at: T0,
        modified_at: T0,
        finished_at: None,
        version: 1,
    };
    r.waves[0].state.phase = WavePhase::Running;
    r.waves[0].state.job_id = Some(r.wave_job_id(0));
    r
}

fn at_wave(mut r: Rollout, index: usize, phase: WavePhase) -> Rollout {
    for i in 0..index {
        r.waves[i].state.phase = WavePhase::Succeeded;
    }
    r.current = index;
    r.waves[index].state.phase = phase;
    r.waves[index].state.job_id = phase.is_watched().then(|| r.wave_job_id(index));
    r
}

fn with(mut r: Rollout, f: impl FnOnce(&mut Rollout)) -> Rollout {
    f(&mut r);
    r
}

fn paused(r: Rollout, reason: RolloutPauseReason) -> Rollout {
    with(r, |r| {
        r.status = RolloutStatus::Paused;
        r.pause = Some(RolloutPause { reason, at: T0 });
    })
}

fn counts(total: u64, succeeded: u64, failed: u64) -> WaveCounts {
    WaveCounts {
        total,
        succeeded,
        failed,
        unfinished: total - succeeded - failed,
        failed_by: [(FailureReason::UpgradeFailed, failed)]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .collect(),
    }
}

fn seen(batch: JobStatus, c: WaveCounts) -> RolloutEvent {
    RolloutEvent::Observe(WaveObservation {
        batch,
        creating: false,
        counts: c,
    })
}

fn running(c: WaveCounts) -> RolloutEvent {
    seen(JobStatus::InProgress, c)
}

fn decision(approved: bool) -> crate::job::ApprovalDecision {
    crate::job::ApprovalDecision {
        approved,
        by: "lead".into(),
        remark: "ok".into(),
        at: T0,
    }
}

/// What a row expects: the rollout's status, current wave, the phases of the three waves
/// and the effects; or a rejection.
type Expect = Result<(RolloutStatus, usize, [WavePhase; 3], Vec<RolloutEffect>), Rejection>;

fn outcome(r: &Rollout, event: RolloutEvent, now: Millis) -> Expect {
    let t = r.apply(event, now)?;
    let phases = [0, 1, 2].map(|i| t.rollout.waves[i].state.phase);
    Ok((t.rollout.status, t.rollout.current, phases, t.effects))
}

#[test]
fn every_transition_of_the_rollout_machine() {
    use RolloutEffect as E;
    use RolloutStatus as S;
    use WavePhase::*;
    let soaking = |minutes| {
        with(at_wave(rollout(), 0, Soaking), |r| {
            r.waves[0].plan.soak_minutes = minutes;
            r.waves[0].state.succeeded_at = Some(T0);
        })
    };
    let soak_30 = with(rollout(), |r| r.waves[0].plan.soak_minutes = 30);
    let approval_next = with(rollout(), |r| r.waves[1].plan.approval_required = true);
    let cancelling = with(rollout(), |r| {
        r.waves[0].plan.errors[0].action = GateAction::Cancel
    });
    let last = at_wave(rollout(), 2, Running);
    let stale = |m| Err(Rejection::Stale(m));
    let invalid = |m| Err(Rejection::Invalid(m));
    let creating = RolloutEvent::Observe(WaveObservation {
        batch: JobStatus::InProgress,
        creating: true,
        counts: counts(10, 0, 0),
    });
    #[rustfmt::skip]
    let rows: Vec<(&str, Rollout, RolloutEvent, Millis, Expect)> = vec![
        // Observing the running wave.
        ("below the condition: counts only", rollout(), running(counts(10, 5, 0)), T0,
            Ok((S::Running, 0, [Running, Pending, Pending], vec![]))),
        ("nothing new is stale", with(rollout(), |r| r.waves[0].state.counts = counts(10, 5, 0)), running(counts(10, 5, 0)), T0,
            stale("nothing changed")),
        ("batch still being created", rollout(), creating, T0,
            stale("no wave batch to judge yet")),
        ("met, no soak: the next wave starts", rollout(), running(counts(10, 9, 0)), T0,
            Ok((S::Running, 1, [Succeeded, Starting, Pending], vec![E::CreateBatch(1)]))),
        ("met with a soak: it soaks", soak_30, running(counts(10, 9, 0)), T0,
            Ok((S::Running, 0, [Soaking, Pending, Pending], vec![]))),
        ("soaking, not yet over", soaking(30), running(counts(10, 10, 0)), T0 + 29 * MINUTE,
            Ok((S::Running, 0, [Soaking, Pending, Pending], vec![]))),
        ("soak over: the next wave starts", soaking(30), running(counts(10, 10, 0)), T0 + 30 * MINUTE,
            Ok((S::Running, 1, [Succeeded, Starting, Pending], vec![E::CreateBatch(1)]))),
        ("errors still watched while soaking", soaking(30), running(counts(10, 7, 3)), T0 + MINUTE,
            Ok((S::Paused, 0, [Soaking, Pending, Pending], vec![E::PauseBatch(PauseReason::FailureGate)]))),
        ("next wave needs approval", approval_next, running(counts(10, 9, 0)), T0,
            Ok((S::Running, 1, [Succeeded, AwaitingApproval, Pending], vec![]))),
        ("error condition pauses", rollout(), running(counts(10, 2, 3)), T0,
            Ok((S::Paused, 0, [Running, Pending, Pending], vec![E::PauseBatch(PauseReason::FailureGate)]))),
        ("error condition cancels", cancelling, running(counts(10, 2, 3)), T0,
            Ok((S::Canceled, 0, [Failed, Canceled, Canceled], vec![E::CancelBatch]))),
        ("error conditions before success", rollout(), running(counts(100, 95, 3)), T0,
            Ok((S::Paused, 0, [Running, Pending, Pending], vec![E::PauseBatch(PauseReason::FailureGate)]))),
        ("batch completed below success", rollout(), seen(JobStatus::Completed, counts(10, 8, 2)), T0,
            Ok((S::Paused, 0, [Failed, Pending, Pending], vec![]))),
        ("batch cancelled from outside", rollout(), seen(JobStatus::Canceled, counts(10, 1, 0)), T0,
            Ok((S::Canceled, 0, [Canceled, Canceled, Canceled], vec![]))),
        ("paused: counts kept, nothing judged", paused(rollout(), RolloutPauseReason::Operator), running(counts(10, 10, 0)), T0,
            Ok((S::Paused, 0, [Running, Pending, Pending], vec![]))),
        ("last wave met, batch still running", last.clone(), running(counts(10, 9, 0)), T0,
            Ok((S::Running, 2, [Succeeded, Succeeded, Running], vec![]))),
        ("last wave completes: rollout completed", last.clone(), seen(JobStatus::Completed, counts(10, 10, 0)), T0,
            Ok((S::Completed, 2, [Succeeded, Succeeded, Succeeded], vec![]))),
        ("last wave completes below success", last.clone(), seen(JobStatus::Completed, counts(10, 8, 2)), T0,
            Ok((S::Completed, 2, [Succeeded, Succeeded, Failed], vec![]))),
        ("no batch to watch while awaiting approval", at_wave(rollout(), 1, AwaitingApproval), running(counts(1, 1, 0)), T0,
            stale("no wave batch to judge yet")),
        ("ended rollouts observe nothing", with(rollout(), |r| r.status = S::Completed), running(counts(1, 1, 0)), T0,
            stale("the rollout has ended")),
        // The wave's batch was created.
        ("batch created: the wave runs", at_wave(rollout(), 1, Starting), RolloutEvent::BatchCreated, T0,
            Ok((S::Running, 1, [Succeeded, Running, Pending], vec![E::WaveStarted(1)]))),
        ("created while paused: it starts paused", paused(at_wave(rollout(), 1, Starting), RolloutPauseReason::Operator), RolloutEvent::BatchCreated, T0,
            Ok((S::Paused, 1, [Succeeded, Running, Pending], vec![E::WaveStarted(1), E::PauseBatch(PauseReason::Operator)]))),
        ("created twice", rollout(), RolloutEvent::BatchCreated, T0,
            stale("the wave's batch was already created")),
        // Starting the next wave by hand.
        ("by hand while running", rollout(), RolloutEvent::StartNextWave, T0,
            Ok((S::Running, 1, [Passed, Starting, Pending], vec![E::CreateBatch(1)]))),
        ("by hand while soaking", soaking(60), RolloutEvent::StartNextWave, T0,
            Ok((S::Running, 1, [Succeeded, Starting, Pending], vec![E::CreateBatch(1)]))),
        ("by hand after below success", paused(at_wave(rollout(), 0, Failed), RolloutPauseReason::BelowSuccess), RolloutEvent::StartNextWave, T0,
            Ok((S::Running, 1, [Failed, Starting, Pending], vec![E::CreateBatch(1)]))),
        ("by hand into an approval", approval_next_by_hand(), RolloutEvent::StartNextWave, T0,
            Ok((S::Running, 1, [Passed, AwaitingApproval, Pending], vec![]))),
        ("by hand while paused by an operator", paused(rollout(), RolloutPauseReason::Operator), RolloutEvent::StartNextWave, T0,
            invalid("the next wave can be started while the current one runs or soaks, or after it finished below its success condition; resume a paused rollout first")),
        ("by hand after an error condition", paused(rollout(), RolloutPauseReason::ErrorCondition), RolloutEvent::StartNextWave, T0,
            invalid("the next wave can be started while the current one runs or soaks, or after it finished below its success condition; resume a paused rollout first")),
        ("by hand at the last wave", last.clone(), RolloutEvent::StartNextWave, T0,
            invalid("the current wave is the last")),
        ("by hand while awaiting approval", at_wave(rollout(), 1, AwaitingApproval), RolloutEvent::StartNextWave, T0,
            invalid("the next wave can be started while the current one runs or soaks, or after it finished below its success condition; resume a paused rollout first")),
        // Approval.
        ("approved: the batch is created", at_wave(rollout(), 1, AwaitingApproval), RolloutEvent::Approve(decision(true)), T0,
            Ok((S::Running, 1, [Succeeded, Starting, Pending], vec![E::CreateBatch(1)]))),
        ("denied: the rollout ends", at_wave(rollout(), 1, AwaitingApproval), RolloutEvent::Deny(decision(false)), T0,
            Ok((S::Canceled, 1, [Succeeded, Canceled, Canceled], vec![]))),
        ("approve with nothing awaiting", rollout(), RolloutEvent::Approve(decision(true)), T0,
            invalid("no wave of the rollout awaits approval")),
        ("deny with nothing awaiting", rollout(), RolloutEvent::Deny(decision(false)), T0,
            invalid("no wave of the rollout awaits approval")),
        // Pause, resume, cancel.
        ("pause a running wave", rollout(), RolloutEvent::Pause, T0,
            Ok((S::Paused, 0, [Running, Pending, Pending], vec![E::PauseBatch(PauseReason::Operator)]))),
        ("pause while awaiting approval", at_wave(rollout(), 1, AwaitingApproval), RolloutEvent::Pause, T0,
            Ok((S::Paused, 1, [Succeeded, AwaitingApproval, Pending], vec![]))),
        ("pause twice", paused(rollout(), RolloutPauseReason::Operator), RolloutEvent::Pause, T0,
            invalid("the rollout is already paused")),
        ("resume an operator's pause", paused(rollout(), RolloutPauseReason::Operator), RolloutEvent::Resume(counts(10, 1, 1)), T0,
            Ok((S::Running, 0, [Running, Pending, Pending], vec![E::ResumeBatch]))),
        ("resume after an error condition", paused(rollout(), RolloutPauseReason::ErrorCondition), RolloutEvent::Resume(counts(10, 1, 3)), T0,
            Ok((S::Running, 0, [Running, Pending, Pending], vec![E::ResumeBatch]))),
        ("resume below success", paused(at_wave(rollout(), 0, Failed), RolloutPauseReason::BelowSuccess), RolloutEvent::Resume(counts(10, 8, 2)), T0,
            invalid("the wave finished below its success condition: start the next wave or cancel the rollout")),
        ("resume a running rollout", rollout(), RolloutEvent::Resume(counts(10, 1, 1)), T0,
            invalid("the rollout is not paused")),
        ("cancel a running wave", rollout(), RolloutEvent::Cancel, T0,
            Ok((S::Canceled, 0, [Canceled, Canceled, Canceled], vec![E::CancelBatch]))),
        ("cancel while awaiting approval", at_wave(rollout(), 1, AwaitingApproval), RolloutEvent::Cancel, T0,
            Ok((S::Canceled, 1, [Succeeded, Canceled, Canceled], vec![]))),
        ("cancel a paused rollout", paused(rollout(), RolloutPauseReason::ErrorCondition), RolloutEvent::Cancel, T0,
            Ok((S::Canceled, 0, [Canceled, Canceled, Canceled], vec![E::CancelBatch]))),
        ("cancel an ended rollout", with(rollout(), |r| r.status = S::Canceled), RolloutEvent::Cancel, T0,
            invalid("the rollout has ended")),
    ];
    for (name, r, event, now, expected) in rows {
        assert_eq!(outcome(&r, event, now), expected, "{name}");
    }
}

fn approval_next_by_hand() -> Rollout {
    with(rollout(), |r| r.waves[1].plan.approval_required = true)
}

#[test]
fn a_resume_forgives_the_failures_already_seen() {
    let r = paused(rollout(), RolloutPauseReason::ErrorCondition);
    let resumed = r
        .apply(RolloutEvent::Resume(counts(10, 2, 3)), T0)
        .unwrap()
        .rollout;
    // Two more failures are within the limit of two since the resume...
    let t = resumed.apply(running(counts(10, 2, 5)), T0).unwrap();
    assert_eq!(t.rollout.status, RolloutStatus::Running);
    // ...a third is not.
    let t = t.rollout.apply(running(counts(10, 2, 6)), T0).unwrap();
    assert_eq!(t.rollout.status, RolloutStatus::Paused);
}

#[test]
fn every_write_raises_the_version_and_records_what_happened() {
    let r = rollout();
    let t = r.apply(running(counts(10, 2, 3)), T0 + MINUTE).unwrap();
    assert_eq!(t.rollout.version, r.version + 1);
    assert_eq!(t.rollout.modified_at, T0 + MINUTE);
    assert_eq!(t.rollout.waves[0].state.counts, counts(10, 2, 3));
    let note = t.rollout.waves[0].state.note.clone().unwrap();
    assert!(note.starts_with("error condition tripped: failures above more than 2 devices"));
    let waiting = t.rollout.waiting(T0).unwrap();
    assert!(
        waiting.contains("an error condition of wave 1 tripped"),
        "{waiting}"
    );
    let approved = at_wave(rollout(), 1, WavePhase::AwaitingApproval)
        .apply(RolloutEvent::Approve(decision(true)), T0)
        .unwrap()
        .rollout;
    assert_eq!(approved.waves[1].state.approval, Some(decision(true)));
    let started = approved
        .apply(RolloutEvent::BatchCreated, T0 + 5)
        .unwrap()
        .rollout;
    assert_eq!(started.waves[1].state.started_at, Some(T0 + 5));
    assert_eq!(started.watched_job(), Some(&started.wave_job_id(1)));
}

#[test]
fn waiting_reasons_name_the_wave_and_what_it_waits_for() {
    let r = with(rollout(), |r| r.waves[0].state.counts = counts(10, 3, 0));
    assert_eq!(
        r.waiting(T0).unwrap(),
        "wave 1: 3 of 10 devices updated; wave 2 starts at 90 % updated once 1 have finished"
    );
    let soaking = with(at_wave(rollout(), 0, WavePhase::Soaking), |r| {
        r.waves[0].plan.soak_minutes = 60;
        r.waves[0].state.succeeded_at = Some(T0);
    });
    assert!(
        soaking
            .waiting(T0)
            .unwrap()
            .ends_with("soaks until 2023-11-14T23:13:20.000Z")
    );
    let awaiting = at_wave(rollout(), 1, WavePhase::AwaitingApproval);
    assert_eq!(awaiting.waiting(T0).unwrap(), "wave 2 awaits approval");
    let below = paused(rollout(), RolloutPauseReason::BelowSuccess);
    assert!(
        below
            .waiting(T0)
            .unwrap()
            .contains("below its success condition")
    );
    assert_eq!(
        with(rollout(), |r| r.status = RolloutStatus::Completed).waiting(T0),
        None
    );
}

#[test]
fn waves_draw_disjoint_devices() {
    let mut r = rollout();
    r.waves[1].plan.target = WaveTarget::Count { devices: 7 };
    r.waves[2].plan.target = WaveTarget::Group {
        group_id: "g1".into(),
    };
    r.eligible = 1_234;
    let first = r.wave_link(0);
    assert_eq!(
        (first.wave, first.pick, first.exclude.len()),
        (1, Some(123), 0)
    );
    let second = r.wave_link(1);
    assert_eq!(second.pick, Some(7));
    assert_eq!(second.exclude, vec![r.wave_job_id(0)]);
    let third = r.wave_link(2);
    assert_eq!(
        (third.pick, third.group_id.clone()),
        (None, Some("g1".into()))
    );
    assert_eq!(third.exclude, vec![r.wave_job_id(0), r.wave_job_id(1)]);
    assert_eq!(r.wave_job_id(2).as_str(), "r103");
    // A share of few devices still takes one.
    r.eligible = 3;
    assert_eq!(r.wave_link(0).pick, Some(1));
}

fn firmware() -> Firmware {
    Firmware {
        firmware_id: "f1".into(),
        product_key: "pk".into(),
        firmware_name: "fw".into(),
        firmware_desc: None,
        module_name: "default".into(),
        firmware_type: FirmwareType::Full,
        src_version: None,
        dest_version: "2.0".into(),
        sign_method: crate::firmware::SignMethod::Md5,
        status: FirmwareStatus::Verified,
        verify_progress: 100,
        udi: None,
        multi_file: false,
        files: Vec::new(),
        created_at: 0,
        modified_at: 0,
    }
}

fn wave(percent: &str) -> WaveInput {
    WaveInput {
        percent: Some(percent.to_owned()),
        ..WaveInput::default()
    }
}

/// The field and message a request must be refused with; `None`: accepted.
type FieldError = Option<(&'static str, &'static str)>;

#[test]
fn requests_are_checked_field_by_field() {
    let request = |waves: Vec<WaveInput>| RolloutRequest {
        waves,
        ..RolloutRequest::default()
    };
    let error = |e: ErrorConditionInput| WaveInput {
        errors: vec![e],
        ..wave("10")
    };
    let both = WaveInput {
        devices: Some(5),
        ..wave("10")
    };
    let group = |id: &str| WaveInput {
        group_id: Some(id.to_owned()),
        ..WaveInput::default()
    };
    let too_many: Vec<WaveInput> = (0..21).map(|_| wave("1")).collect();
    #[rustfmt::skip]
    let rows: Vec<(&str, RolloutRequest, FieldError)> = vec![
        ("three waves", request(vec![wave("1"), wave("10"), wave("89")]), None),
        ("no wave", request(vec![]), Some(("Waves", "must have 1-20 waves"))),
        ("21 waves", request(too_many), Some(("Waves", "must have 1-20 waves"))),
        ("two targets", request(vec![both]), Some(("Waves.1", "a wave takes exactly one of Percent, Devices and GroupId"))),
        ("no target", request(vec![WaveInput::default()]), Some(("Waves.1", "a wave takes exactly one of Percent, Devices and GroupId"))),
        ("bad percent", request(vec![wave("1"), wave("101")]), Some(("Waves.2.Percent", "must be a percentage above 0 and at most 100 with at most 3 decimals"))),
        ("over 100 % in all", request(vec![wave("60"), wave("50")]), Some(("Waves", "the wave percentages add up to more than 100"))),
        ("zero devices", request(vec![WaveInput { devices: Some(0), ..WaveInput::default() }]), Some(("Waves.1.Devices", "must be 1-10000000"))),
        ("one group twice", request(vec![group("g1"), group("g1")]), Some(("Waves.2.GroupId", "a group may be the target of one wave only"))),
        ("success percent 0", request(vec![WaveInput { success: Some(SuccessConditionInput { succeeded_percent: Some(0), min_finished: None }), ..wave("5") }]),
            Some(("Waves.1.SuccessCondition.SucceededPercent", "must be 1-100"))),
        ("soak too long", request(vec![WaveInput { soak_minutes: Some(43_201), ..wave("5") }]), Some(("Waves.1.SoakMinutes", "must be 0-43200"))),
        ("both limits", request(vec![error(ErrorConditionInput { max_failed_percent: Some(5), max_failed: Some(5), ..Default::default() })]),
            Some(("Waves.1.ErrorConditions.1", "an error condition takes exactly one of MaxFailedPercent and MaxFailed"))),
        ("unknown cause", request(vec![error(ErrorConditionInput { causes: vec!["TIMEOUT".into(), "LATE".into()], max_failed: Some(1), ..Default::default() })]),
            Some(("Waves.1.ErrorConditions.1.Causes.2", "\"LATE\" is not a failure cause; use one of [\"UPGRADE_FAILED\", \"DOWNLOAD_FAILED\", \"VERIFY_FAILED\", \"BURN_FAILED\", \"TIMEOUT\", \"WRONG_VERSION\", \"SCHEDULE_FINISHED\"]"))),
        ("bad action", request(vec![error(ErrorConditionInput { max_failed: Some(1), action: Some("STOP".into()), ..Default::default() })]),
            Some(("Waves.1.ErrorConditions.1.Action", "must be PAUSE or CANCEL"))),
        ("percent limit over 100", request(vec![error(ErrorConditionInput { max_failed_percent: Some(101), ..Default::default() })]),
            Some(("Waves.1.ErrorConditions.1.MaxFailedPercent", "must be 0-100"))),
    ];
    for (name, request, expected) in rows {
        let result = request.validate(&firmware());
        match (result, expected) {
            (Ok(_), None) => {}
            (Err(e), Some((field, message))) => {
                assert_eq!(
                    (e.field.as_deref(), e.message.as_str()),
                    (Some(field), message),
                    "{name}"
                );
            }
            (other, expected) => panic!("{name}: {other:?} where {expected:?} was expected"),
        }
    }
}

#[test]
fn a_valid_request_becomes_a_rollout_at_its_first_wave() {
    let request = RolloutRequest {
        name: Some(" spring ".into()),
        params: crate::validate::UpgradeParams {
            approval_required: Some(true),
            ..Default::default()
        },
        waves: vec![
            WaveInput {
                errors: vec![ErrorConditionInput {
                    causes: vec!["TIMEOUT".into()],
                    max_failed_percent: Some(5),
                    ..Default::default()
                }],
                soak_minutes: Some(30),
                ..wave("1")
            },
            WaveInput {
                devices: Some(500),
                ..WaveInput::default()
            },
        ],
        ..RolloutRequest::default()
    };
    let validated = request.validate(&firmware()).unwrap();
    assert!(
        !validated.policy.approval_required,
        "approval is the rollout's"
    );
    assert!(validated.waves[0].approval_required);
    let cond = &validated.waves[0].errors[0];
    assert_eq!(
        (cond.causes.clone(), cond.min_finished, cond.action),
        (vec![FailureReason::Timeout], 10, GateAction::Pause)
    );
    let r = validated.into_rollout("r9".into(), &firmware(), 1_000, T0);
    assert_eq!(r.name.as_deref(), Some("spring"));
    assert_eq!(r.waves[0].state.phase, WavePhase::AwaitingApproval);
    assert_eq!(r.waves[1].state.phase, WavePhase::Pending);
    assert_eq!(r.wave_link(0).pick, Some(10));
    assert_eq!((r.status, r.version), (RolloutStatus::Running, 1));
}
