//! Rollouts: stored whole, written only over the version read; and the devices of their
//! waves: disjoint, drawn in the rollout's order, a group's members, never a device an
//! earlier wave took.

use crate::creation::{spec, tasks_of};
use crate::support::*;
use ota_domain::job::{Creation, Job, JobStatus};
use ota_domain::registry::{Group, GroupKind};
use ota_domain::rollout::{
    Rollout, RolloutStatus, SuccessCondition, Wave, WaveLink, WavePlan, WaveState, WaveTarget,
};
use ota_store::{NewEvent, Page, Store, TaskTarget, WebhookRow};
use std::collections::BTreeSet;

both!(
    rollouts_are_written_over_the_version_read,
    waves_draw_disjoint_devices
);

fn rollout(id: &str, targets: Vec<WaveTarget>) -> Rollout {
    Rollout {
        rollout_id: id.into(),
        firmware_id: "f".into(),
        product_key: "p".into(),
        name: Some("spring".into()),
        description: None,
        src_versions: Vec::new(),
        policy: Default::default(),
        tags: Default::default(),
        waves: targets
            .into_iter()
            .map(|target| Wave {
                plan: WavePlan {
                    name: None,
                    target,
                    success: SuccessCondition::default(),
                    errors: Vec::new(),
                    soak_minutes: 0,
                    approval_required: false,
                },
                state: WaveState::default(),
            })
            .collect(),
        current: 0,
        status: RolloutStatus::Running,
        pause: None,
        eligible: 0,
        created_at: T0,
        modified_at: T0,
        finished_at: None,
        version: 1,
    }
}

async fn rollouts_are_written_over_the_version_read(s: &Store) {
    let fw = firmware("f", "p", "default", "2.0");
    s.insert_firmware(&fw).await.unwrap();
    let r = rollout("r1", vec![WaveTarget::Count { devices: 5 }]);
    s.insert_rollout(&r, &[]).await.unwrap();
    assert_eq!(s.get_rollout(&r.rollout_id).await.unwrap(), Some(r.clone()));
    s.insert_webhook(&WebhookRow {
        webhook_id: "w".into(),
        url: "http://127.0.0.1:9/".into(),
        sealed_secret: "sealed".into(),
        events: "*".into(),
        description: None,
        enabled: true,
        created_at: T0,
        modified_at: T0,
    })
    .await
    .unwrap();
    let event = |id: &str| NewEvent {
        event_id: id.into(),
        event_type: "batch.wave_started".into(),
        time: T0,
        ordering_key: "r101".into(),
        data: "{}".into(),
    };
    let mut paused = r.clone();
    paused.status = RolloutStatus::Paused;
    paused.version = 2;
    assert!(
        s.update_rollout(&paused, 1, &[event("kept")])
            .await
            .unwrap()
    );
    // A second writer that read version 1 too writes nothing, its events neither.
    let mut other = r.clone();
    other.status = RolloutStatus::Canceled;
    other.version = 2;
    assert!(!s.update_rollout(&other, 1, &[event("lost")]).await.unwrap());
    let due: Vec<String> = s
        .due_deliveries(T0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.delivery.event_id)
        .collect();
    assert_eq!(due, ["kept"]);
    assert_eq!(s.get_rollout(&r.rollout_id).await.unwrap(), Some(paused));
    let mut later = rollout("r2", vec![WaveTarget::Count { devices: 1 }]);
    later.created_at = T0 + 1;
    s.insert_rollout(&later, &[]).await.unwrap();
    let active: Vec<String> = s
        .active_rollouts()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.rollout_id.0)
        .collect();
    assert_eq!(active, ["r1", "r2"]);
    let mut done = later.clone();
    done.status = RolloutStatus::Completed;
    done.version = 2;
    assert!(s.update_rollout(&done, 1, &[]).await.unwrap());
    assert_eq!(s.active_rollouts().await.unwrap().len(), 1);
    let (page, total) = s
        .list_rollouts_by_firmware(&"f".into(), Page::new(0, 10))
        .await
        .unwrap();
    assert_eq!(total, 2);
    assert_eq!(page[0].rollout_id.as_str(), "r2", "newest first");
    assert!(s.get_rollout(&"nope".into()).await.unwrap().is_none());
}

/// Creates wave `index`'s batch of `r` and returns the names of its devices.
async fn create_wave(s: &Store, fw_job: &Job, r: &Rollout, index: usize) -> BTreeSet<String> {
    let mut j = fw_job.clone();
    j.job_id = r.wave_job_id(index);
    j.wave = Some(r.wave_link(index));
    j.creation = Some(Creation::start(T0));
    s.insert_job(&j).await.unwrap();
    let stored = s.get_job(&j.job_id).await.unwrap().unwrap();
    assert_eq!(stored.wave, j.wave, "the link is stored with the batch");
    let link: &WaveLink = stored.wave.as_ref().unwrap();
    let sp = spec(&stored, "default", TaskTarget::Wave(link));
    // Chunk by chunk, recorded, as the batch creator does.
    let mut progress = stored.creation.unwrap();
    while progress.is_running() {
        progress = s.create_task_chunk(&sp, &progress, true).await.unwrap();
    }
    tasks_of(s, j.job_id.as_str())
        .await
        .into_iter()
        .map(|t| t.device_name.0)
        .collect()
}

async fn waves_draw_disjoint_devices(s: &Store) {
    // More devices than one chunk of the walk by id.
    let names = fleet(s, "p", 5_000).await;
    let fw = firmware("f", "p", "default", "2.0");
    let template = job("template", &fw);
    setup_job(s, &fw, &template).await;
    let group = Group {
        group_id: "canaries".into(),
        group_name: "canaries".into(),
        product_key: Some("p".into()),
        description: None,
        kind: GroupKind::Static,
        created_at: T0,
    };
    s.insert_group(&group).await.unwrap();
    let canaries: Vec<_> = names[..30].iter().map(|n| n.clone().into()).collect();
    s.add_group_members(&group.group_id, &canaries)
        .await
        .unwrap();
    let mut r = rollout(
        "rollout0000000001",
        vec![
            WaveTarget::Group {
                group_id: group.group_id.clone(),
            },
            WaveTarget::Percent {
                milli_percent: 10_000,
            },
            WaveTarget::Count { devices: 1_000 },
            WaveTarget::Percent {
                milli_percent: 100_000,
            },
        ],
    );
    let probe = spec(&template, "default", TaskTarget::All);
    r.eligible = s.count_eligible(&probe).await.unwrap();
    assert_eq!(r.eligible, 5_000);
    let first = create_wave(s, &template, &r, 0).await;
    let expected: BTreeSet<String> = names[..30].iter().cloned().collect();
    assert_eq!(first, expected, "wave 1: the group's members");
    let second = create_wave(s, &template, &r, 1).await;
    assert_eq!(second.len(), 500, "10 % of the 5,000 eligible");
    let third = create_wave(s, &template, &r, 2).await;
    assert_eq!(third.len(), 1_000);
    // The rest: 100 % of the eligible is more than is left, so it takes what is left.
    let rest = create_wave(s, &template, &r, 3).await;
    assert_eq!(rest.len(), 5_000 - 30 - 500 - 1_000);
    let mut all = BTreeSet::new();
    for wave in [&first, &second, &third, &rest] {
        for name in wave {
            assert!(all.insert(name.clone()), "{name} is in two waves");
        }
    }
    assert_eq!(
        all.len(),
        5_000,
        "every eligible device in exactly one wave"
    );
    // Drawn in the rollout's pseudo-random order, not by id: the 10 % spreads over the fleet.
    let ids: Vec<usize> = second
        .iter()
        .map(|n| names.iter().position(|m| m == n).unwrap())
        .collect();
    assert!(ids.iter().any(|&i| i < 1_000) && ids.iter().any(|&i| i > 4_000));
    let wave_job = s.get_job(&r.wave_job_id(1)).await.unwrap().unwrap();
    assert_eq!(wave_job.status, JobStatus::InProgress);
    assert_eq!(wave_job.creation.unwrap().pick, Some(500));
}
