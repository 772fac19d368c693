//! Webhooks: endpoints, the outbox written with its change, due deliveries in batch order,
//! retries, expiry and the delivery log.

use crate::support::*;
use ota_domain::job::{CancelOptions, cancel_selection};
use ota_domain::task::{CancelReason, Task, TaskStatus};
use ota_domain::webhook::RETRY_WINDOW;
use ota_store::{
    Announcement, Attempt, AttemptThen, Change, DeliveryStatus, NewEvent, Page, Store, StoreError,
    TaskCreation, TaskFilter, TaskTarget, WebhookRow,
};

both!(
    webhook_endpoints_are_added_changed_and_removed,
    webhook_events_reach_only_endpoints_that_take_them,
    webhook_deliveries_of_a_batch_go_in_order,
    webhook_retries_wait_and_expire,
    webhook_events_commit_with_their_change,
    webhook_test_events_and_the_delivery_log,
    webhook_events_of_a_set_based_cancel
);

fn hook(id: &str, events: &str) -> WebhookRow {
    WebhookRow {
        webhook_id: id.to_owned(),
        url: format!("http://127.0.0.1:9/{id}"),
        sealed_secret: format!("sealed-{id}"),
        events: events.to_owned(),
        description: None,
        enabled: true,
        created_at: T0,
        modified_at: T0,
    }
}

fn event(id: &str, t: &str, key: &str, at: i64) -> NewEvent {
    NewEvent {
        event_id: id.to_owned(),
        event_type: t.to_owned(),
        time: at,
        ordering_key: key.to_owned(),
        data: format!("{{\"n\":\"{id}\"}}"),
    }
}

/// (endpoint, event id) of the deliveries due at `now`, in order.
async fn due(s: &Store, now: i64) -> Vec<(String, String)> {
    s.due_deliveries(now, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.delivery.webhook_id, d.delivery.event_id))
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

fn attempt(hook: &str, seq: i64, at: i64, then: AttemptThen) -> Attempt {
    let ok = then == AttemptThen::Delivered;
    Attempt {
        webhook_id: hook.to_owned(),
        seq,
        at,
        http_status: Some(if ok { 204 } else { 503 }),
        error: (!ok).then(|| "HTTP 503".to_owned()),
        then,
    }
}

async fn webhook_endpoints_are_added_changed_and_removed(s: &Store) {
    let mut watcher = s.watch_changes().await.unwrap();
    s.insert_webhook(&hook("w1", "*")).await.unwrap();
    if let Some(watcher) = watcher.as_mut() {
        // Other nodes hear of it (they cache whether task events are wanted).
        let heard = tokio::time::timeout(std::time::Duration::from_secs(10), watcher.next())
            .await
            .expect("an announcement");
        assert_eq!(heard, Announcement::Changed(Change::Webhooks));
    }
    s.insert_webhook(&hook("w2", ",batch.created,"))
        .await
        .unwrap();
    assert!(matches!(
        s.insert_webhook(&hook("w1", "*")).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.get_webhook("w1").await.unwrap(), Some(hook("w1", "*")));
    let mut w2 = hook("w2", ",task.status_changed,");
    w2.enabled = false;
    w2.description = Some("ops".into());
    w2.modified_at = T0 + 5;
    s.update_webhook(&w2).await.unwrap();
    assert_eq!(s.list_webhooks().await.unwrap(), vec![hook("w1", "*"), w2]);
    assert!(
        s.webhook_wants("task.status_changed").await.unwrap(),
        "w1 takes all"
    );
    s.delete_webhook("w1").await.unwrap();
    assert!(
        !s.webhook_wants("task.status_changed").await.unwrap(),
        "w2 is off"
    );
    assert!(matches!(
        s.delete_webhook("w1").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.update_webhook(&hook("w9", "*")).await,
        Err(StoreError::NotFound)
    ));
}

async fn webhook_events_reach_only_endpoints_that_take_them(s: &Store) {
    // Nobody listens: the event is not even stored.
    s.enqueue_events(&[event("e0", "batch.created", "j", T0)])
        .await
        .unwrap();
    s.insert_webhook(&hook("all", "*")).await.unwrap();
    s.insert_webhook(&hook("tasks", ",task.status_changed,"))
        .await
        .unwrap();
    let mut off = hook("off", "*");
    off.enabled = false;
    s.insert_webhook(&off).await.unwrap();
    assert!(s.webhook_wants("task.status_changed").await.unwrap());
    assert!(s.webhook_wants("batch.created").await.unwrap());
    s.enqueue_events(&[
        event("e1", "batch.created", "j", T0),
        event("e2", "task.status_changed", "j", T0),
        event("e3", "delta.ready", "", T0),
    ])
    .await
    .unwrap();
    assert_eq!(
        due(s, T0).await,
        pairs(&[("all", "e1"), ("all", "e2"), ("tasks", "e2"), ("all", "e3")])
    );
    assert!(s.list_deliveries("off", None, 10).await.unwrap().is_empty());
    let d = &s.due_deliveries(T0, 1).await.unwrap()[0];
    assert_eq!(d.url, "http://127.0.0.1:9/all");
    assert_eq!(d.sealed_secret, "sealed-all");
    assert_eq!(d.delivery.data, "{\"n\":\"e1\"}");
    assert_eq!(d.delivery.expires_at, T0 + RETRY_WINDOW);
    assert_eq!(d.delivery.status, DeliveryStatus::Pending);
    // Nothing is due before its time.
    assert!(due(s, T0 - 1).await.is_empty());
}

async fn webhook_deliveries_of_a_batch_go_in_order(s: &Store) {
    s.insert_webhook(&hook("a", "*")).await.unwrap();
    s.insert_webhook(&hook("b", "*")).await.unwrap();
    s.enqueue_events(&[
        event("j1-1", "batch.created", "j1", T0),
        event("j2-1", "batch.created", "j2", T0),
        event("j1-2", "batch.started", "j1", T0),
        event("free", "delta.ready", "", T0),
    ])
    .await
    .unwrap();
    let seq = |id: &str, all: &[ota_store::DueDelivery]| {
        all.iter()
            .find(|d| d.delivery.event_id == id)
            .unwrap()
            .delivery
            .seq
    };
    let all = s.due_deliveries(T0, 100).await.unwrap();
    assert_eq!(
        all.len(),
        8,
        "every delivery is due at once, in event order"
    );
    let (j1_1, j2_1) = (seq("j1-1", &all), seq("j2-1", &all));
    // `a` fails j1-1: j1-2 waits for it (to `a` only); j2 and the unordered event do not.
    s.record_attempts(&[attempt("a", j1_1, T0, AttemptThen::RetryAt(T0 + 10_000))])
        .await
        .unwrap();
    assert_eq!(
        due(s, T0 + 1).await,
        pairs(&[
            ("b", "j1-1"),
            ("a", "j2-1"),
            ("b", "j2-1"),
            ("b", "j1-2"),
            ("a", "free"),
            ("b", "free")
        ])
    );
    // A limit takes a prefix in event order, so an earlier event of a batch is never left
    // behind a later one.
    assert_eq!(
        due(s, T0 + 1).await[..2],
        pairs(&[("b", "j1-1"), ("a", "j2-1")])[..]
    );
    s.record_attempts(&[attempt("a", j2_1, T0 + 1, AttemptThen::Delivered)])
        .await
        .unwrap();
    // At its retry time j1-1 is due again and j1-2 follows it in the same claim.
    let again: Vec<_> = due(s, T0 + 10_000)
        .await
        .into_iter()
        .filter(|(w, _)| w == "a")
        .collect();
    assert_eq!(again, pairs(&[("a", "j1-1"), ("a", "j1-2"), ("a", "free")]));
    // A disabled endpoint gets nothing.
    let mut b = hook("b", "*");
    b.enabled = false;
    s.update_webhook(&b).await.unwrap();
    assert!(due(s, T0 + 10_000).await.iter().all(|(w, _)| w == "a"));
}

async fn webhook_retries_wait_and_expire(s: &Store) {
    s.insert_webhook(&hook("a", "*")).await.unwrap();
    s.enqueue_events(&[
        event("x", "batch.created", "j1", T0),
        event("y", "batch.started", "j1", T0),
        event("z", "batch.created", "j2", T0),
    ])
    .await
    .unwrap();
    let seqs: Vec<i64> = s
        .due_deliveries(T0, 10)
        .await
        .unwrap()
        .iter()
        .map(|d| d.delivery.seq)
        .collect();
    let (x, z) = (seqs[0], seqs[2]);
    s.record_attempts(&[
        attempt("a", x, T0, AttemptThen::RetryAt(T0 + 10_000)),
        attempt("a", z, T0, AttemptThen::RetryAt(T0 + 10_000)),
    ])
    .await
    .unwrap();
    s.record_attempts(&[attempt(
        "a",
        x,
        T0 + 10_000,
        AttemptThen::RetryAt(T0 + 30_000),
    )])
    .await
    .unwrap();
    let log = s.list_deliveries("a", None, 10).await.unwrap();
    let x_row = log.iter().find(|d| d.seq == x).unwrap();
    assert_eq!(
        (x_row.attempts, x_row.next_attempt_at, x_row.last_status),
        (2, T0 + 30_000, Some(503))
    );
    assert_eq!(x_row.last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(x_row.last_attempt_at, Some(T0 + 10_000));
    // Giving up one frees its batch's next event.
    s.record_attempts(&[attempt("a", x, T0 + 30_000, AttemptThen::GiveUp)])
        .await
        .unwrap();
    assert_eq!(due(s, T0 + 30_000).await, pairs(&[("a", "y"), ("a", "z")]));
    // The day ends: what is still pending is given up, once.
    assert_eq!(s.expire_deliveries(T0 + RETRY_WINDOW - 1).await.unwrap(), 0);
    assert_eq!(s.expire_deliveries(T0 + RETRY_WINDOW).await.unwrap(), 2);
    assert_eq!(s.expire_deliveries(T0 + RETRY_WINDOW).await.unwrap(), 0);
    assert!(due(s, T0 + RETRY_WINDOW).await.is_empty());
    let log = s.list_deliveries("a", None, 10).await.unwrap();
    assert!(
        log.iter().all(|d| d.status == DeliveryStatus::Failed),
        "{log:?}"
    );
    let z_row = log.iter().find(|d| d.seq == z).unwrap();
    assert_eq!(
        z_row.last_error.as_deref(),
        Some("HTTP 503"),
        "kept the last cause"
    );
    // Old events whose deliveries all ended are forgotten; the pending one stays.
    s.enqueue_events(&[event("late", "batch.created", "j3", T0 + 5)])
        .await
        .unwrap();
    assert_eq!(s.prune_webhook_events(T0 + 1).await.unwrap(), 3);
    let log = s.list_deliveries("a", None, 10).await.unwrap();
    let ids: Vec<&str> = log.iter().map(|d| d.event_id.as_str()).collect();
    assert_eq!(ids, ["late"]);
    assert_eq!(
        s.prune_webhook_events(T0 + 6).await.unwrap(),
        0,
        "still pending"
    );
    assert_eq!(log[0].status, DeliveryStatus::Pending);
    let late = log[0].seq;
    // A late result of an attempt does not bring a finished delivery back.
    s.expire_deliveries(T0 + 5 + RETRY_WINDOW).await.unwrap();
    s.record_attempts(&[attempt(
        "a",
        late,
        T0 + RETRY_WINDOW,
        AttemptThen::Delivered,
    )])
    .await
    .unwrap();
    let log = s.list_deliveries("a", None, 10).await.unwrap();
    assert_eq!(log[0].status, DeliveryStatus::Failed);
}

async fn webhook_events_commit_with_their_change(s: &Store) {
    s.insert_webhook(&hook("a", "*")).await.unwrap();
    fleet(s, "p", 2).await;
    let fw = firmware("f", "p", "default", "2.0");
    let mut j = job("j", &fw);
    s.insert_firmware(&fw).await.unwrap();
    s.insert_job_with_events(&j, &[event("created", "batch.created", "j", T0)])
        .await
        .unwrap();
    // A batch that does not exist: no change, no event.
    let ghost = job("ghost", &fw);
    let err = s
        .update_job_with_events(&ghost, &[event("g", "batch.started", "ghost", T0)])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    j.name = Some("renamed".into());
    s.update_job_with_events(&j, &[event("renamed", "batch.paused", "j", T0)])
        .await
        .unwrap();
    assert_eq!(s.get_job(&j.job_id).await.unwrap().unwrap().name, j.name);
    // Task saves: a stale save stores neither its tasks nor their events.
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
        job_id: Some("j".into()),
        ..Default::default()
    };
    let tasks = s.list_tasks(&f, Page::new(0, 10)).await.unwrap().0;
    let t = &tasks[0];
    let mut next = t.clone();
    next.status = TaskStatus::Notified;
    next.modified_at = T0 + 1;
    let stale = (TaskStatus::Succeeded, T0);
    assert!(matches!(
        s.save_tasks_with_events(
            std::slice::from_ref(&next),
            &[stale],
            &[event("lost", "task.status_changed", "j", T0 + 1)]
        )
        .await,
        Err(StoreError::Stale)
    ));
    s.save_tasks_with_events(
        std::slice::from_ref(&next),
        &[(t.status, t.modified_at)],
        &[event("notified", "task.status_changed", "j", T0 + 1)],
    )
    .await
    .unwrap();
    assert_eq!(
        due(s, T0 + 1).await,
        pairs(&[("a", "created"), ("a", "renamed"), ("a", "notified")])
    );
    // A package's verdict commits with its event; a package that is gone writes neither.
    let mut verified = fw.clone();
    verified.modified_at = T0 + 2;
    s.update_firmware_with_events(
        &verified,
        &[event("verified", "package.verified", "j", T0 + 2)],
    )
    .await
    .unwrap();
    let gone = firmware("gone", "p", "default", "2.0");
    assert!(
        s.update_firmware_with_events(&gone, &[event("lost-1", "package.verified", "", T0)])
            .await
            .is_err()
    );
    // So does a delta's outcome; a late one for a deleted package writes no event.
    let mut d = crate::deltas::request("1.0");
    d.firmware_id = "f".into();
    assert!(s.request_delta(&d).await.unwrap());
    d.status = "READY".into();
    assert!(
        s.finish_delta(&d, &[event("ready", "delta.ready", "", T0 + 3)])
            .await
            .unwrap()
    );
    s.delete_deltas_of("f").await.unwrap();
    assert!(
        !s.finish_delta(&d, &[event("lost-2", "delta.ready", "", T0 + 3)])
            .await
            .unwrap()
    );
    assert_eq!(
        due(s, T0 + 3).await,
        pairs(&[
            ("a", "created"),
            ("a", "renamed"),
            ("a", "notified"),
            ("a", "verified"),
            ("a", "ready")
        ])
    );
}

async fn webhook_test_events_and_the_delivery_log(s: &Store) {
    s.insert_webhook(&hook("a", ",batch.created,"))
        .await
        .unwrap();
    let mut off = hook("off", ",batch.created,");
    off.enabled = false;
    s.insert_webhook(&off).await.unwrap();
    // A test event goes to the endpoint named, whatever its filter.
    s.enqueue_event_to("a", &event("t1", "webhook.test", "", T0))
        .await
        .unwrap();
    assert!(matches!(
        s.enqueue_event_to("nope", &event("t2", "webhook.test", "", T0))
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(due(s, T0).await, pairs(&[("a", "t1")]));
    for i in 0..5 {
        s.enqueue_events(&[event(&format!("e{i}"), "batch.created", "", T0 + i)])
            .await
            .unwrap();
    }
    // Newest first, in keyset pages.
    let first = s.list_deliveries("a", None, 4).await.unwrap();
    let ids: Vec<&str> = first.iter().map(|d| d.event_id.as_str()).collect();
    assert_eq!(ids, ["e4", "e3", "e2", "e1"]);
    let rest = s.list_deliveries("a", Some(first[3].seq), 4).await.unwrap();
    let ids: Vec<&str> = rest.iter().map(|d| d.event_id.as_str()).collect();
    assert_eq!(ids, ["e0", "t1"]);
    // Removing an endpoint removes its log.
    s.delete_webhook("a").await.unwrap();
    assert!(s.list_deliveries("a", None, 10).await.unwrap().is_empty());
}

async fn webhook_events_of_a_set_based_cancel(s: &Store) {
    s.insert_webhook(&hook("a", ",task.status_changed,"))
        .await
        .unwrap();
    let names = fleet(s, "p", 3).await;
    let fw = firmware("f", "p", "default", "2.0");
    let j = job("j", &fw);
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
    let all = cancel_selection(&CancelOptions {
        cancel_in_progress: true,
        cancel_queued: true,
        cancel_notified: true,
        cancel_scheduled: true,
        cancel_unconfirmed: Some(true),
    });
    let event = |t: &Task, was: TaskStatus| {
        event(
            &format!("{}-{}", t.device_name, t.status.as_str()),
            "task.status_changed",
            t.job_id.as_str(),
            t.modified_at,
        )
        .with_data(&format!("{{\"was\":\"{}\"}}", was.as_str()))
    };
    let n = s
        .cancel_job_tasks_with_events(
            &j.job_id,
            &all,
            CancelReason::JobCanceled,
            T0 + 7,
            Some(&event),
        )
        .await
        .unwrap();
    assert_eq!(n, 3);
    let log = s.list_deliveries("a", None, 10).await.unwrap();
    let mut ids: Vec<&str> = log.iter().map(|d| d.event_id.as_str()).collect();
    ids.sort();
    let mut want: Vec<String> = names.iter().map(|n| format!("{n}-CANCELED")).collect();
    want.sort();
    assert_eq!(ids, want);
    assert!(
        log.iter()
            .all(|d| d.event_time == T0 + 7 && d.data.contains("QUEUED"))
    );
    // Nothing left to cancel: no events either.
    let again = s
        .cancel_job_tasks_with_events(
            &j.job_id,
            &all,
            CancelReason::JobCanceled,
            T0 + 8,
            Some(&event),
        )
        .await
        .unwrap();
    assert_eq!(again, 0);
    assert_eq!(s.list_deliveries("a", None, 10).await.unwrap().len(), 3);
}

trait WithData {
    fn with_data(self, data: &str) -> NewEvent;
}

impl WithData for NewEvent {
    fn with_data(mut self, data: &str) -> NewEvent {
        self.data = data.to_owned();
        self
    }
}
