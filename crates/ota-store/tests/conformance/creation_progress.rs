//! Recorded creation: each chunk stores the batch's progress with its tasks, a creation
//! resumes from what is stored, and a chunk over progress that moved meanwhile writes
//! nothing.

use crate::creation::{spec, tasks_of};
use crate::support::*;
use ota_domain::job::{Creation, Job};
use ota_store::{Store, StoreError, TaskTarget};

both!(chunks_record_progress, gray_resumes_the_same_draw);

/// Devices in the fleet: more than one chunk of the walk by id.
const FLEET: usize = 6_000;

/// A stored batch whose creation is about to start.
async fn creating_job(s: &Store, id: &str) -> Job {
    let fw = firmware("f", "p", "default", "2.0");
    let mut j = job(id, &fw);
    j.creation = Some(Creation::start(T0));
    setup_job(s, &fw, &j).await;
    j
}

async fn stored_creation(s: &Store, j: &Job) -> Creation {
    s.get_job(&j.job_id)
        .await
        .unwrap()
        .unwrap()
        .creation
        .unwrap()
}

async fn chunks_record_progress(s: &Store) {
    fleet(s, "p", FLEET).await;
    let j = creating_job(s, "a").await;
    assert_eq!(s.jobs_being_created().await.unwrap().len(), 1);
    let sp = spec(&j, "default", TaskTarget::All);
    let first = j.creation.unwrap();
    let mut progress = first;
    let mut calls = 0;
    while progress.is_running() {
        progress = s.create_task_chunk(&sp, &progress, true).await.unwrap();
        calls += 1;
        assert_eq!(
            stored_creation(s, &j).await,
            progress,
            "stored with each chunk"
        );
        if calls == 1 {
            assert!(progress.is_running());
            assert!(progress.created > 0 && progress.created < FLEET as u64);
            // The same chunk again, over the progress it started from: refused, and it
            // created nothing.
            let again = s.create_task_chunk(&sp, &first, true).await;
            assert!(matches!(again, Err(StoreError::Stale)), "{again:?}");
            assert_eq!(tasks_of(s, "a").await.len() as u64, progress.created);
        }
    }
    assert!(calls >= 3, "several chunks of ids, then the end: {calls}");
    assert_eq!(progress.created, FLEET as u64);
    assert_eq!(progress.finished_at, Some(sp.now));
    assert_eq!(tasks_of(s, "a").await.len(), FLEET);
    assert!(s.jobs_being_created().await.unwrap().is_empty());
    assert!(!s.get_job(&j.job_id).await.unwrap().unwrap().is_creating());

    // Ending a creation early (its target went away) keeps what was created.
    let k = creating_job(s, "b").await;
    let start = k.creation.unwrap();
    s.end_creation(&k.job_id, &start, T0 + 9).await.unwrap();
    let ended = stored_creation(s, &k).await;
    assert_eq!((ended.created, ended.finished_at), (0, Some(T0 + 9)));
    assert!(matches!(
        s.end_creation(&k.job_id, &start, T0 + 10).await,
        Err(StoreError::Stale)
    ));
}

async fn gray_resumes_the_same_draw(s: &Store) {
    let names = fleet(s, "p", FLEET).await;
    let half = TaskTarget::Gray {
        milli_percent: 50_000,
    };
    // Chunk by chunk, the progress read back from the store before each chunk as a
    // restarted node would: the share is fixed by the first chunk, and the draw by rank
    // takes exactly it across both chunks of the walk.
    let j = creating_job(s, "a").await;
    let sp = spec(&j, "default", half);
    let mut progress = stored_creation(s, &j).await;
    while progress.is_running() {
        s.create_task_chunk(&sp, &progress, true).await.unwrap();
        progress = stored_creation(s, &j).await;
    }
    assert_eq!(progress.pick, Some(FLEET as u64 / 2));
    assert_eq!(progress.created, FLEET as u64 / 2);
    let tasks = tasks_of(s, "a").await;
    assert_eq!(tasks.len(), FLEET / 2);
    let (first_half, second_half) = names.split_at(FLEET / 2);
    for part in [first_half, second_half] {
        let drawn = tasks
            .iter()
            .filter(|t| part.contains(&t.device_name.as_str().to_owned()))
            .count();
        assert!(
            (FLEET / 8..FLEET * 3 / 8).contains(&drawn),
            "the draw is spread over the fleet: {drawn} of {}",
            part.len()
        );
    }
    // Another batch of the module draws by a rank of its own: about half of its share
    // falls on devices the first one holds (busy), not all of it.
    let k = creating_job(s, "b").await;
    let other = s.create_tasks(&spec(&k, "default", half)).await.unwrap();
    assert_eq!(other.created + other.skipped_busy, FLEET as u64 / 2);
    assert!(
        (FLEET as u64 / 8..FLEET as u64 * 3 / 8).contains(&other.skipped_busy),
        "{other:?}"
    );
}
