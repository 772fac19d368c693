//! Property tests: whatever the devices, timers and operators do, in any order, a task's
//! fields stay consistent with its status, and finished tasks stay finished unless
//! re-upgraded.

use super::*;
use crate::task::{ProgressStep, TaskEvent};
use crate::time::MINUTE;
use proptest::prelude::*;

fn event(with_reupgrade: bool) -> impl Strategy<Value = TaskEvent> {
    let versions = prop::sample::select(vec![SRC, DEST, "9.9"]);
    prop_oneof![
        1 => Just(TaskEvent::Confirm),
        1 => Just(TaskEvent::JobStarted),
        3 => Just(TaskEvent::Delivered),
        1 => prop::sample::select(QueuedReason::ALL.to_vec()).prop_map(TaskEvent::Held),
        6 => prop_oneof![-6i64..=102, Just(i64::MIN), Just(i64::MAX)]
            .prop_map(|code| TaskEvent::Progress { step: ProgressStep::from_code(code), desc: None }),
        2 => versions.prop_map(|v| TaskEvent::VersionReported { version: v.to_owned() }),
        2 => Just(TaskEvent::RetryDue),
        1 => Just(TaskEvent::TimeoutElapsed),
        1 => Just(TaskEvent::NudgeDue),
        1 => Just(TaskEvent::ScheduleFinished),
        1 => prop::sample::select(CancelReason::ALL.to_vec()).prop_map(TaskEvent::Cancel),
        1 => Just(TaskEvent::Reupgrade),
    ]
    .prop_filter("re-upgrade excluded", move |e| {
        with_reupgrade || *e != TaskEvent::Reupgrade
    })
}

fn rules() -> impl Strategy<Value = TaskRules> {
    let retry = prop::option::of((
        prop::sample::select(vec![0u32, 10, 30, 60, 1440]),
        prop::sample::select(vec![1u32, 2, 5]),
    ));
    let nudge = prop::option::of(prop::sample::select(vec![MINUTE, 5 * MINUTE]));
    (retry, prop::option::of(1u32..=120), any::<bool>(), nudge).prop_map(
        |(retry, timeout_minutes, need_push, nudge_after)| TaskRules {
            retry: retry.map(|(interval_minutes, count)| RetryPolicy {
                interval_minutes,
                count,
            }),
            timeout_minutes,
            need_push,
            nudge_after,
        },
    )
}

fn start() -> impl Strategy<Value = TaskStart> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(need_confirm, need_push, scheduled)| TaskStart {
            need_confirm,
            need_push,
            scheduled_at: scheduled.then_some(NOW),
        },
    )
}

/// Events with the minutes that pass before each.
fn history(with_reupgrade: bool) -> impl Strategy<Value = Vec<(u32, TaskEvent)>> {
    prop::collection::vec((0u32..=90, event(with_reupgrade)), 1..60)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn fields_agree_with_status(start in start(), rules in rules(), history in history(true)) {
        let mut task = Task::create(new_task(), start, T0);
        let mut now = T0;
        for (minutes, event) in history {
            now += i64::from(minutes) * MINUTE;
            if let Ok(tr) = task.apply(event, &rules, now) {
                task = tr.task;
                assert_consistent(&task);
                let max = rules.retry.map_or(0, |r| r.count);
                prop_assert!(task.retries_used <= max, "retries within RetryCount");
                if task.status == TaskStatus::InProgress {
                    prop_assert_eq!(task.timeout_at.is_some(), rules.timeout_minutes.is_some());
                }
            }
        }
    }

    #[test]
    fn terminal_states_stay_terminal(start in start(), rules in rules(), history in history(false)) {
        let mut task = Task::create(new_task(), start, T0);
        let mut now = T0;
        for (minutes, event) in history {
            now += i64::from(minutes) * MINUTE;
            let before = task.status;
            if let Ok(tr) = task.apply(event.clone(), &rules, now) {
                prop_assert!(!before.is_terminal(), "{:?} left {:?}", event, before);
                task = tr.task;
            }
        }
    }

    /// A timeout failure never turns into a retry, whatever the rules.
    #[test]
    fn timeouts_are_never_retried(rules in rules(), history in history(true)) {
        let mut task = Task::create(new_task(), TaskStart { need_confirm: false, need_push: true, scheduled_at: None }, T0);
        let mut now = T0;
        for (minutes, event) in history {
            now += i64::from(minutes) * MINUTE;
            let is_timeout = event == TaskEvent::TimeoutElapsed;
            if let Ok(tr) = task.apply(event, &rules, now) {
                if is_timeout {
                    prop_assert_eq!(tr.task.status, TaskStatus::Failed);
                    prop_assert_eq!(tr.task.retries_used, task.retries_used);
                }
                task = tr.task;
            }
        }
    }
}
