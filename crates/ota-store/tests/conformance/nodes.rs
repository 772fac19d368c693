//! What several nodes on one store share: the node registry and the claim of a lost node,
//! single-use request nonces, secrets created once, the tasks a recovery pushes again,
//! and change announcements for the nodes' caches.

use crate::support::*;
use ota_domain::task::TaskStatus;
use ota_store::{Announcement, Change, NodeRow, Page, Store, TaskCreation, TaskFilter, TaskTarget};

both!(
    node_registry,
    one_claimant_per_lost_node,
    nonces_are_single_use_until_they_expire,
    concurrent_nonce_use,
    a_secret_created_at_once_by_two_nodes_is_one,
    told_tasks_come_in_chunks,
    changes_are_announced_to_every_watcher,
);

fn node_row(id: &str, name: &str, at: i64) -> NodeRow {
    NodeRow {
        node_id: id.into(),
        name: name.into(),
        public_url: format!("http://{name}"),
        public_url_explicit: false,
        presigned_downloads: false,
        started_at: at,
        heartbeat_at: at,
        lost_at: None,
        recovered_by: None,
    }
}

async fn node_registry(s: &Store) {
    s.register_node(&node_row("a1", "host-a", T0))
        .await
        .unwrap();
    let mut b = node_row("b1", "host-b", T0 + 1);
    b.public_url_explicit = true;
    b.presigned_downloads = true;
    s.register_node(&b).await.unwrap();
    assert_eq!(s.node("b1").await.unwrap(), Some(b.clone()));
    assert!(
        s.register_node(&b).await.is_err(),
        "a node id is registered once"
    );

    // a1 beats, b1 goes silent.
    assert!(s.node_heartbeat("a1", T0 + 10_000).await.unwrap());
    let live: Vec<String> = s
        .live_nodes(T0 + 5_000)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.node_id)
        .collect();
    assert_eq!(live, ["a1"]);
    let lapsed = s.lapsed_nodes(T0 + 5_000).await.unwrap();
    assert_eq!(lapsed, vec![b.clone()]);

    // a1 declares b1 lost; b1's late heartbeat is refused and it is no longer live.
    assert!(
        s.claim_lost_node("b1", "a1", T0 + 10_000, Some(T0 + 5_000))
            .await
            .unwrap()
    );
    assert!(!s.node_heartbeat("b1", T0 + 11_000).await.unwrap());
    let got = s.node("b1").await.unwrap().unwrap();
    assert_eq!(
        (got.lost_at, got.recovered_by.as_deref()),
        (Some(T0 + 10_000), Some("a1"))
    );
    assert!(
        s.lapsed_nodes(i64::MAX)
            .await
            .unwrap()
            .iter()
            .all(|n| n.node_id == "a1")
    );
    assert!(
        s.live_nodes(0)
            .await
            .unwrap()
            .iter()
            .all(|n| n.node_id == "a1")
    );

    // A restart of host-a finds its earlier run, whatever its heartbeat.
    s.register_node(&node_row("a2", "host-a", T0 + 20_000))
        .await
        .unwrap();
    let earlier: Vec<String> = s
        .earlier_runs("host-a", "a2")
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.node_id)
        .collect();
    assert_eq!(earlier, ["a1"]);
    assert!(
        s.claim_lost_node("a1", "a2", T0 + 20_000, None)
            .await
            .unwrap()
    );
    assert!(s.earlier_runs("host-a", "a2").await.unwrap().is_empty());

    // Clean stop and forgetting old losses.
    s.deregister_node("a2").await.unwrap();
    assert_eq!(s.node("a2").await.unwrap(), None);
    assert_eq!(s.forget_lost_nodes(T0 + 15_000).await.unwrap(), 1);
    let left: Vec<String> = s
        .list_nodes()
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.node_id)
        .collect();
    assert_eq!(left, ["a1"]);
}

async fn one_claimant_per_lost_node(s: &Store) {
    s.register_node(&node_row("gone", "host-x", T0))
        .await
        .unwrap();
    // Not lapsed yet: nobody may claim it.
    assert!(
        !s.claim_lost_node("gone", "a", T0 + 1, Some(T0))
            .await
            .unwrap()
    );
    let mut claims = Vec::new();
    for claimant in 0..8 {
        let s = s.clone();
        claims.push(tokio::spawn(async move {
            s.claim_lost_node("gone", &format!("n{claimant}"), T0 + 30_000, Some(T0 + 1))
                .await
                .unwrap()
        }));
    }
    let mut won = 0;
    for c in claims {
        won += usize::from(c.await.unwrap());
    }
    assert_eq!(won, 1, "exactly one surviving node recovers a lost one");
}

async fn nonces_are_single_use_until_they_expire(s: &Store) {
    assert!(s.use_nonce("k1", "n1", T0, T0 + 100).await.unwrap());
    assert!(!s.use_nonce("k1", "n1", T0 + 1, T0 + 101).await.unwrap());
    // Scopes are apart.
    assert!(s.use_nonce("k2", "n1", T0, T0 + 100).await.unwrap());
    // Once expired, a nonce may be used again (its old request's time is refused anyway).
    assert!(s.use_nonce("k1", "n1", T0 + 100, T0 + 200).await.unwrap());
    assert!(!s.use_nonce("k1", "n1", T0 + 150, T0 + 250).await.unwrap());
    assert!(s.use_nonce("k1", "n2", T0, T0 + 50).await.unwrap());
    assert_eq!(s.purge_expired_nonces(T0 + 100).await.unwrap(), 2);
    assert!(!s.use_nonce("k1", "n1", T0 + 150, T0 + 250).await.unwrap());
    assert!(s.use_nonce("k1", "n2", T0 + 150, T0 + 250).await.unwrap());
}

async fn concurrent_nonce_use(s: &Store) {
    let mut uses = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        uses.push(tokio::spawn(async move {
            s.use_nonce("key", "same", T0, T0 + 1_000).await.unwrap()
        }));
    }
    let mut accepted = 0;
    for u in uses {
        accepted += usize::from(u.await.unwrap());
    }
    assert_eq!(accepted, 1, "one of the simultaneous uses wins");
}

async fn a_secret_created_at_once_by_two_nodes_is_one(s: &Store) {
    let mut starts = Vec::new();
    for n in 0..8 {
        let s = s.clone();
        starts.push(tokio::spawn(async move {
            s.kv_get_or_insert("secret", &format!("candidate-{n}"))
                .await
                .unwrap()
        }));
    }
    let mut seen = Vec::new();
    for st in starts {
        seen.push(st.await.unwrap());
    }
    assert!(seen.iter().all(|v| v == &seen[0]), "{seen:?}");
    assert_eq!(s.kv_get("secret").await.unwrap().as_ref(), Some(&seen[0]));
    assert_eq!(
        s.kv_get_or_insert("secret", "later").await.unwrap(),
        seen[0],
        "an existing secret is kept"
    );
}

async fn told_tasks_come_in_chunks(s: &Store) {
    fleet(s, "p", 30).await;
    let fw = firmware("f", "p", "default", "2.0");
    let (ja, jb) = (job("ja", &fw), job("jb", &fw));
    setup_job(s, &fw, &ja).await;
    setup_job(s, &fw, &jb).await;
    s.create_tasks(&TaskCreation {
        job: &ja,
        module_name: "default",
        dest_version: "2.0",
        required_src_version: None,
        target: TaskTarget::All,
        now: T0,
    })
    .await
    .unwrap();
    let filter = TaskFilter {
        job_id: Some(ja.job_id.clone()),
        ..Default::default()
    };
    let mut tasks = s.list_tasks(&filter, Page::new(0, 100)).await.unwrap().0;
    // 10 NOTIFIED, 10 IN_PROGRESS, 10 left as created.
    for (i, t) in tasks.iter_mut().enumerate().take(20) {
        t.status = if i < 10 {
            TaskStatus::Notified
        } else {
            TaskStatus::InProgress
        };
        t.queued_reason = None;
    }
    s.save_tasks(&tasks[..20]).await.unwrap();

    let jobs: Vec<String> = s
        .jobs_with_told_tasks()
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.job_id.to_string())
        .collect();
    assert_eq!(jobs, ["ja"], "a batch without told tasks is skipped");
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let chunk = s
            .told_tasks_of_job(&ja.job_id, after.as_ref(), 7)
            .await
            .unwrap();
        if chunk.is_empty() {
            break;
        }
        assert!(chunk.len() <= 7);
        after = chunk.last().map(|t| t.task_id.clone());
        seen.extend(chunk);
    }
    assert_eq!(seen.len(), 20);
    assert!(seen.windows(2).all(|w| w[0].task_id < w[1].task_id));
    assert!(
        seen.iter()
            .all(|t| matches!(t.status, TaskStatus::Notified | TaskStatus::InProgress))
    );
}

async fn changes_are_announced_to_every_watcher(s: &Store) {
    let Some(mut watcher) = s.watch_changes().await.unwrap() else {
        // SQLite: one server, nothing to tell.
        return;
    };
    let mut other = s.watch_changes().await.unwrap().expect("a second watcher");
    let fw = firmware("f", "p", "default", "2.0");
    let mut j = job("j", &fw);
    setup_job(s, &fw, &j).await;
    j.tags.insert("k".into(), "v".into());
    s.update_job(&j).await.unwrap();
    let mut changed = fw.clone();
    changed.firmware_desc = Some("new".into());
    s.update_firmware(&changed).await.unwrap();
    for w in [&mut watcher, &mut other] {
        assert_eq!(
            next(w).await,
            Announcement::Changed(Change::Job("j".into()))
        );
        assert_eq!(
            next(w).await,
            Announcement::Changed(Change::Firmware("f".into()))
        );
    }
    // A write that touched nothing announces nothing; a deletion does.
    let mut missing = j.clone();
    missing.job_id = "nope".into();
    assert!(s.update_job(&missing).await.is_err());
    s.delete_firmware(&"f2".into()).await.ok();
    s.insert_firmware(&firmware("f3", "p", "default", "3.0"))
        .await
        .unwrap();
    s.delete_firmware(&"f3".into()).await.unwrap();
    assert_eq!(
        next(&mut watcher).await,
        Announcement::Changed(Change::Firmware("f3".into()))
    );
}

async fn next(w: &mut ota_store::ChangeWatcher) -> Announcement {
    tokio::time::timeout(std::time::Duration::from_secs(10), w.next())
        .await
        .expect("an announcement within 10 s")
}
