//! A batch whose tasks take a while to create is held until they all exist, and a server
//! killed while creating them finishes the creation when it starts again: never a partial
//! batch that looks running. The creation is caught midway: the server answers without
//! waiting (`batch_creation_wait_ms` 0) and is killed right after the answer, long before
//! tens of thousands of tasks exist; its database shows how far it got. The dead server's
//! claim on the creation outlives it by a few seconds, in which the restarted server shows
//! the batch held as it was left.

use crate::fixtures::{self, failure, lock_store, package, unlock_store};
use crate::harness::{Server, count};
use serde_json::json;

/// Devices in the batch: thirty chunks of the creator's walk, hundreds of milliseconds of
/// creating, so the lock taken right after the answer lands midway.
const DEVICES: i64 = 60_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_held_while_created_and_a_killed_server_finishes_it() {
    let mut server = Server::start_with_env(&[("OTA_BATCH_CREATION_WAIT_MS", "0")]).await;
    let api = server.api.clone();
    let product = api
        .post("/products", &json!({"name": fixtures::unique("Creation")}))
        .await
        .unwrap();
    let pk = product["product_key"].as_str().unwrap().to_owned();
    for _ in 0..6 {
        api.post(
            &format!("/products/{pk}/devices"),
            &json!({"count": DEVICES / 6}),
        )
        .await
        .unwrap();
    }
    let pkg = package(&server, &pk, "2.0.0", 1024).await;

    let created = fixtures::job(&server, &pkg, json!({"target_selection": "ALL"})).await;
    server.kill().await;
    let id = fixtures::id(&created);
    assert_eq!(created["creation"]["creating"], true, "{created:#}");
    // Read straight from the dead server's database.
    let mut db = lock_store(&server).await;
    let (creating, so_far, claimed): (i64, i64, i64) = sqlx::query_as(
        "SELECT creating, (SELECT COUNT(*) FROM tasks WHERE job_id = $1), \
         (SELECT COUNT(*) FROM leases WHERE name = 'batch-creation/' || $1) FROM jobs \
         WHERE job_id = $1",
    )
    .bind(&id)
    .fetch_one(&mut db)
    .await
    .unwrap();
    unlock_store(db).await;
    assert!(
        creating == 1 && so_far < DEVICES,
        "killed midway: {so_far} tasks"
    );
    server.start_again().await;
    // The dead server's claim on the creation holds for a few seconds more: meanwhile the
    // batch is held as it was left. Killed before it claimed the creation (its first chunk
    // not begun), it left nothing to hold: the restarted server takes the creation at once.
    if claimed == 1 {
        let held = server.job(&id).await;
        assert_eq!(held["creation"]["creating"], true, "{held:#}");
        let left = held["creation"]["tasks_created"].as_i64().unwrap();
        assert_eq!(left, so_far, "{held:#}");
        assert_eq!(count(&held, "QUEUED"), left, "nothing pushed: {held:#}");
        let refused = api
            .post(&format!("/jobs/{id}/cancel"), &json!({"all": true}))
            .await
            .unwrap_err();
        let (status, body) = failure(&refused);
        assert_eq!(status, 409, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("still being created"),
            "{body}"
        );
    } else {
        assert_eq!(so_far, 0, "tasks created without a claim");
        eprintln!("killed before it claimed the creation: the restarted server took it over");
    }

    let done = server
        .wait_job(&id, "its tasks all created after the restart", |j| {
            j["creation"]["creating"] == false
        })
        .await;
    assert_eq!(done["creation"]["tasks_created"], DEVICES, "{done:#}");
    assert_eq!(done["counts"]["total"], DEVICES, "one task per device");
    assert_eq!(done["status"], "IN_PROGRESS");
    // Released: it can be cancelled now.
    let cancelled = api
        .post(&format!("/jobs/{id}/cancel"), &json!({"all": true}))
        .await
        .unwrap();
    assert_eq!(cancelled["status"], "CANCELED", "{cancelled:#}");
}
