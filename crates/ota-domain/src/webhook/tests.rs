//! Webhook rules, one table per rule.

use super::*;
use crate::job::{JobControl, JobPolicy, JobType, Pause, SelectionType, TargetSelection};

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn event_filters_take_known_types_or_every_one() {
    use EventType::*;
    let cases: &[(&[&str], Result<EventFilter, &str>)] = &[
        (&[], Ok(EventFilter::All)),
        (&["*"], Ok(EventFilter::All)),
        (
            &["batch.created"],
            Ok(EventFilter::Only(vec![BatchCreated])),
        ),
        (
            &[
                "task.status_changed",
                "batch.completed",
                "task.status_changed",
            ],
            Ok(EventFilter::Only(vec![TaskStatusChanged, BatchCompleted])),
        ),
        (&["*", "batch.created"], Err("cannot be combined")),
        (
            &["batch.exploded"],
            Err("\"batch.exploded\" is not an event type"),
        ),
        (&["Batch.Created"], Err("is not an event type")),
    ];
    for (input, want) in cases {
        let got = EventFilter::parse(&names(input));
        match (got, want) {
            (Ok(got), Ok(want)) => assert_eq!(&got, want, "{input:?}"),
            (Err(err), Err(why)) => {
                assert_eq!(err.field.as_deref(), Some("events"), "{input:?}");
                assert!(err.message.contains(why), "{input:?}: {}", err.message);
            }
            (got, _) => panic!("{input:?}: {got:?}"),
        }
    }
}

#[test]
fn a_filter_matches_its_types_and_reads_back_from_the_store() {
    use EventType::*;
    let only = EventFilter::Only(vec![BatchCreated, TaskStatusChanged]);
    let cases = [
        (EventFilter::All, BatchCreated, true),
        (EventFilter::All, Test, true),
        (only.clone(), BatchCreated, true),
        (only.clone(), TaskStatusChanged, true),
        (only.clone(), BatchStarted, false),
        (EventFilter::Only(vec![]), BatchCreated, false),
    ];
    for (filter, t, want) in cases {
        assert_eq!(filter.matches(t), want, "{filter:?} {t:?}");
        let stored = filter.to_stored();
        assert_eq!(EventFilter::from_stored(&stored), filter);
        // The store matches with LIKE '%,type,%' (or '*').
        let by_store = stored == "*" || stored.contains(&format!(",{},", t.as_str()));
        assert_eq!(by_store, want, "{stored}");
    }
    for t in EventType::ALL {
        assert_eq!(EventType::parse(t.as_str()), Some(t));
    }
}

#[test]
fn urls_are_http_or_https_with_a_host() {
    let cases = [
        ("https://hooks.example.com/ota", None),
        ("http://127.0.0.1:8080/x?y=1", None),
        ("http://[::1]:9/", None),
        ("https://user:pw@example.com", None),
        (
            "ftp://example.com/",
            Some("must start with http:// or https://"),
        ),
        (
            "example.com/hook",
            Some("must start with http:// or https://"),
        ),
        ("https:///path", Some("must name a host")),
        ("http://:80/", Some("must name a host")),
        (
            "https://exa mple.com/",
            Some("must not contain white space"),
        ),
    ];
    for (url, want) in cases {
        match (validate_url(url), want) {
            (Ok(()), None) => {}
            (Err(err), Some(why)) => {
                assert_eq!(err.field.as_deref(), Some("url"));
                assert_eq!(err.message, why, "{url}");
            }
            (got, _) => panic!("{url}: {got:?}"),
        }
    }
    assert!(validate_url(&format!("https://h/{}", "a".repeat(MAX_URL_LEN))).is_err());
    assert!(validate_secret("short").is_err());
    assert!(validate_secret(&"s".repeat(16)).is_ok());
}

#[test]
fn retries_double_from_ten_seconds_to_an_hour_and_stop_after_a_day() {
    const T: Millis = 1_000_000;
    let far = T + RETRY_WINDOW;
    // (attempts, jitter, expires_at) -> next attempt
    let cases = [
        (1, 0.0, far, Some(T + 10_000)),
        (2, 0.0, far, Some(T + 20_000)),
        (3, 0.0, far, Some(T + 40_000)),
        (9, 0.0, far, Some(T + 2_560_000)),
        (10, 0.0, far, Some(T + LONGEST_RETRY)),
        (40, 0.0, far, Some(T + LONGEST_RETRY)),
        (1, 1.0, far, Some(T + 12_500)),
        (1, 7.0, far, Some(T + 12_500)),
        (1, 0.5, far, Some(T + 11_250)),
        (1, 0.0, T + 10_001, Some(T + 10_000)),
        (1, 0.0, T + 10_000, None),
        (10, 0.0, T + 1_000, None),
    ];
    for (attempts, jitter, expires_at, want) in cases {
        assert_eq!(
            next_attempt(attempts, T, expires_at, jitter),
            want,
            "{attempts} {jitter} {expires_at}"
        );
    }
}

fn job(status: JobStatus) -> Job {
    Job {
        job_id: "j1".into(),
        firmware_id: "f1".into(),
        product_key: "pk".into(),
        job_type: JobType::UpgradeFirmware,
        selection_type: SelectionType::Static,
        target_selection: TargetSelection::All,
        src_versions: Vec::new(),
        policy: JobPolicy::default(),
        tags: Default::default(),
        name: None,
        description: None,
        status,
        created_at: 0,
        modified_at: 0,
        started_at: None,
        finished_at: None,
        control: JobControl::default(),
        creation: None,
        wave: None,
    }
}

fn paused(mut j: Job, reason: PauseReason) -> Job {
    j.control.pause = Some(Pause { reason, at: 1 });
    j
}

#[test]
fn batch_changes_name_their_events() {
    use EventType::*;
    use JobStatus::*;
    let running = job(InProgress);
    let cases = [
        (job(Planned), job(InProgress), vec![BatchStarted]),
        (running.clone(), job(Completed), vec![BatchCompleted]),
        (running.clone(), job(Canceled), vec![BatchCancelled]),
        (
            running.clone(),
            paused(running.clone(), PauseReason::Operator),
            vec![BatchPaused],
        ),
        (
            running.clone(),
            paused(running.clone(), PauseReason::FailureGate),
            vec![BatchPaused, GateFired],
        ),
        (
            paused(running.clone(), PauseReason::FailureGate),
            running.clone(),
            vec![BatchResumed],
        ),
        (
            paused(running.clone(), PauseReason::Operator),
            job(Canceled),
            vec![BatchCancelled],
        ),
        (running.clone(), running.clone(), vec![]),
    ];
    for (before, after, want) in cases {
        assert_eq!(
            batch_events(&before, &after),
            want,
            "{:?} -> {:?}",
            before.status,
            after.status
        );
    }
}

#[test]
fn envelope_times_are_rfc3339_utc() {
    let cases = [
        (0, "1970-01-01T00:00:00.000Z"),
        (1_700_000_000_123, "2023-11-14T22:13:20.123Z"),
        (951_782_400_000, "2000-02-29T00:00:00.000Z"),
        (1_796_659_923_000, "2026-12-07T16:12:03.000Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
    ];
    for (ms, want) in cases {
        assert_eq!(rfc3339(ms), want, "{ms}");
    }
}
