//! The audit log: appended in order, read newest first with filters and a keyset cursor,
//! trimmed only by retention.

use crate::support::*;
use ota_store::{AuditEventRow, AuditFilter, Store};

both!(
    events_read_back_newest_first_with_every_filter,
    pages_follow_the_cursor_without_gaps,
    retention_deletes_only_old_events_and_their_resources
);

fn event(n: i64, name: &str, user: &str, resources: &[&str]) -> AuditEventRow {
    AuditEventRow {
        seq: 0,
        event_id: format!("ev-{n}"),
        event_time: T0 + n * 1000,
        event_name: name.to_owned(),
        face: "api".to_owned(),
        user_name: Some(user.to_owned()),
        access_key_id: Some(format!("AK-{user}")),
        session_id: None,
        source_ip: Some("127.0.0.1".to_owned()),
        user_agent: Some("test".to_owned()),
        request_parameters: format!(r#"{{"n":{n}}}"#),
        result: if n % 3 == 0 {
            "Forbidden.RAM"
        } else {
            "Success"
        }
        .to_owned(),
        error_message: None,
        resources: resources.iter().map(|r| (*r).to_owned()).collect(),
    }
}

async fn fill(s: &Store) -> Vec<i64> {
    let mut seqs = Vec::new();
    let rows = [
        event(1, "CreateOTAFirmware", "alice", &["pk1", "fw1"]),
        event(
            2,
            "CreateOTAStaticUpgradeJob",
            "bob",
            &["pk1", "fw1", "job1"],
        ),
        event(3, "CreateOTAFirmware", "bob", &["pk2"]),
        event(4, "CancelOTATaskByJob", "alice", &["job1", "job1"]),
        event(5, "CreateOTAFirmware", "alice", &[]),
    ];
    for row in &rows {
        seqs.push(s.append_audit_event(row).await.unwrap());
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    seqs
}

fn ids(rows: Vec<AuditEventRow>) -> Vec<String> {
    rows.into_iter().map(|r| r.event_id).collect()
}

async fn events_read_back_newest_first_with_every_filter(s: &Store) {
    let seqs = fill(s).await;
    let all = AuditFilter {
        limit: 100,
        ..AuditFilter::default()
    };
    let every = s.list_audit_events(&all).await.unwrap();
    assert_eq!(every[0].seq, seqs[4]);
    let mut second = event(4, "CancelOTATaskByJob", "alice", &["job1", "job1"]);
    second.seq = seqs[3];
    assert_eq!(every[1], second, "a row reads back as it was appended");
    assert_eq!(ids(every), ["ev-5", "ev-4", "ev-3", "ev-2", "ev-1"]);

    let cases: Vec<(AuditFilter, Vec<&str>)> = vec![
        (
            AuditFilter {
                user_name: Some("alice".into()),
                ..all.clone()
            },
            vec!["ev-5", "ev-4", "ev-1"],
        ),
        (
            AuditFilter {
                access_key_id: Some("AK-bob".into()),
                ..all.clone()
            },
            vec!["ev-3", "ev-2"],
        ),
        (
            AuditFilter {
                event_name: Some("CreateOTAFirmware".into()),
                ..all.clone()
            },
            vec!["ev-5", "ev-3", "ev-1"],
        ),
        (
            AuditFilter {
                resource_id: Some("job1".into()),
                ..all.clone()
            },
            vec!["ev-4", "ev-2"],
        ),
        (
            AuditFilter {
                from: Some(T0 + 2000),
                to: Some(T0 + 4000),
                ..all.clone()
            },
            vec!["ev-3", "ev-2"],
        ),
        (
            AuditFilter {
                user_name: Some("alice".into()),
                resource_id: Some("fw1".into()),
                ..all.clone()
            },
            vec!["ev-1"],
        ),
        (
            AuditFilter {
                user_name: Some("nobody".into()),
                ..all.clone()
            },
            vec![],
        ),
    ];
    for (filter, want) in cases {
        assert_eq!(
            ids(s.list_audit_events(&filter).await.unwrap()),
            want,
            "{filter:?}"
        );
    }
}

async fn pages_follow_the_cursor_without_gaps(s: &Store) {
    fill(s).await;
    let mut filter = AuditFilter {
        limit: 2,
        ..AuditFilter::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = s.list_audit_events(&filter).await.unwrap();
        let Some(last) = page.last() else { break };
        filter.before_seq = Some(last.seq);
        seen.extend(ids(page));
    }
    assert_eq!(seen, ["ev-5", "ev-4", "ev-3", "ev-2", "ev-1"]);
}

async fn retention_deletes_only_old_events_and_their_resources(s: &Store) {
    fill(s).await;
    assert_eq!(s.delete_audit_events_before(T0 + 3000).await.unwrap(), 2);
    assert_eq!(s.delete_audit_events_before(T0 + 3000).await.unwrap(), 0);
    let all = AuditFilter {
        limit: 100,
        ..AuditFilter::default()
    };
    assert_eq!(
        ids(s.list_audit_events(&all).await.unwrap()),
        ["ev-5", "ev-4", "ev-3"]
    );
    let by_fw = AuditFilter {
        resource_id: Some("fw1".into()),
        ..all.clone()
    };
    assert!(s.list_audit_events(&by_fw).await.unwrap().is_empty());
    let by_job = AuditFilter {
        resource_id: Some("job1".into()),
        ..all
    };
    assert_eq!(ids(s.list_audit_events(&by_job).await.unwrap()), ["ev-4"]);
}
