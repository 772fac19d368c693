//! The delivery worker: sends due outbox events to their endpoints, signed, and records
//! each attempt. Exclusive (one node of several delivers at a time) and bounded: a round
//! holds at most [`ROUND`] deliveries whatever the endpoints do, so a slow or dead endpoint
//! costs time, never memory.
//!
//! Order: the store hands out a delivery only while no earlier event of its batch to its
//! endpoint waits for a retry; within a round the deliveries of one batch and endpoint are
//! sent one after the other and the first failure stops the rest until its retry.

use crate::engine::worker::{Pace, Worker};
use crate::{Core, CoreResult};
use futures::StreamExt;
use futures::future::BoxFuture;
use hmac::{Hmac, KeyInit, Mac};
use ota_domain::webhook;
use ota_store::{Attempt, AttemptThen, DueDelivery};
use rand::Rng;
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Most deliveries one round holds.
const ROUND: i64 = 64;
/// Endpoint-and-batch groups sent at once.
const PARALLEL: usize = 8;
/// How long an endpoint has to answer.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the outbox is looked at when nothing woke the worker.
const POLL: Duration = Duration::from_secs(1);
/// The worker's lease on a shared store.
const LEASE: Duration = Duration::from_secs(120);
/// How often deliveries past their retry window are given up, and old events forgotten.
const HOUSEKEEPING: Duration = Duration::from_secs(60);
/// How long the delivery log keeps an event whose deliveries all ended.
pub const KEEP_EVENTS: i64 = 7 * 24 * 3_600_000;

/// One POST to an endpoint.
#[derive(Debug, Clone)]
pub struct WebhookRequest {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    pub timeout: Duration,
}

/// The outbound HTTP port: the binary implements it with an HTTP client, so the core
/// imports none.
pub trait WebhookSender: Send + Sync + 'static {
    /// POSTs the request; the HTTP status of the answer, or why none came. Must not keep
    /// more of the answer than its status.
    fn post(&self, request: WebhookRequest) -> BoxFuture<'static, Result<u16, String>>;
}

/// A sender that reaches nobody: for tools that run the core without one.
#[derive(Debug, Default)]
pub struct NoWebhookSender;

impl WebhookSender for NoWebhookSender {
    fn post(&self, _: WebhookRequest) -> BoxFuture<'static, Result<u16, String>> {
        Box::pin(async { Err("this process sends no webhooks".to_owned()) })
    }
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`, the `X-Ota-Signature` header.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The envelope an endpoint receives: `{"id", "type", "time", "data"}`.
pub fn envelope(event_id: &str, event_type: &str, time: i64, data: &str) -> String {
    let data: serde_json::Value =
        serde_json::from_str(data).unwrap_or(serde_json::Value::String(data.to_owned()));
    serde_json::json!({
        "id": event_id,
        "type": event_type,
        "time": webhook::rfc3339(time),
        "data": data,
    })
    .to_string()
}

/// Delivers the outbox.
#[derive(Debug)]
pub struct WebhookDelivery {
    /// When expiry and pruning last ran (`None`: not yet).
    housekept: Option<tokio::time::Instant>,
    /// How long an endpoint has to answer.
    timeout: Duration,
}

impl Default for WebhookDelivery {
    fn default() -> Self {
        WebhookDelivery {
            housekept: None,
            timeout: SEND_TIMEOUT,
        }
    }
}

impl Worker for WebhookDelivery {
    const NAME: &'static str = "webhooks";

    async fn round(&mut self, core: &Core, _shutdown: &CancellationToken) -> CoreResult<Pace> {
        let store = core.store();
        if self.housekept.is_none_or(|at| at.elapsed() >= HOUSEKEEPING) {
            let now = core.now();
            let expired = store.expire_deliveries(now).await?;
            metrics::counter!("ota_webhook_deliveries_total", "result" => "expired")
                .increment(expired);
            store.prune_webhook_events(now - KEEP_EVENTS).await?;
            self.housekept = Some(tokio::time::Instant::now());
        }
        let due = store.due_deliveries(core.now(), ROUND).await?;
        if due.is_empty() {
            return Ok(Pace::Idle);
        }
        let full = due.len() as i64 == ROUND;
        let sender = core.webhook_sender();
        let attempts: Vec<Vec<Attempt>> = futures::stream::iter(groups(due))
            .map(|group| send_group(core, sender.clone(), group, self.timeout))
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        let attempts: Vec<Attempt> = attempts.into_iter().flatten().collect();
        store.record_attempts(&attempts).await?;
        Ok(if full { Pace::More } else { Pace::Idle })
    }

    async fn until_next(&mut self, core: &Core) {
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            () = core.inner.webhook_wake.notified() => {}
        }
    }

    fn exclusive(&self) -> Option<Duration> {
        Some(LEASE)
    }
}

/// Due deliveries by endpoint and batch, in event order; unordered events alone.
fn groups(due: Vec<DueDelivery>) -> Vec<Vec<DueDelivery>> {
    let mut out: Vec<Vec<DueDelivery>> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    for d in due {
        if d.delivery.ordering_key.is_empty() {
            out.push(vec![d]);
            continue;
        }
        let key = (
            d.delivery.webhook_id.clone(),
            d.delivery.ordering_key.clone(),
        );
        match index.get(&key) {
            Some(&i) => out[i].push(d),
            None => {
                index.insert(key, out.len());
                out.push(vec![d]);
            }
        }
    }
    out
}

/// Sends one group in order, stopping at the first failure.
async fn send_group(
    core: &Core,
    sender: Arc<dyn WebhookSender>,
    group: Vec<DueDelivery>,
    timeout: Duration,
) -> Vec<Attempt> {
    let mut attempts = Vec::with_capacity(group.len());
    for due in group {
        let attempt = send_one(core, sender.as_ref(), &due, timeout).await;
        let failed = attempt.then != AttemptThen::Delivered;
        attempts.push(attempt);
        if failed {
            break;
        }
    }
    attempts
}

async fn send_one(
    core: &Core,
    sender: &dyn WebhookSender,
    due: &DueDelivery,
    timeout: Duration,
) -> Attempt {
    let d = &due.delivery;
    let result = match core
        .webhooks()
        .open_secret(&d.webhook_id, &due.sealed_secret)
    {
        None => Err("the secret does not open with this server key".to_owned()),
        Some(secret) => {
            let body = envelope(&d.event_id, &d.event_type, d.event_time, &d.data).into_bytes();
            let request = WebhookRequest {
                url: due.url.clone(),
                headers: vec![
                    ("content-type", "application/json".to_owned()),
                    ("x-ota-signature", signature(&secret, &body)),
                    ("x-ota-event", d.event_type.clone()),
                    ("x-ota-delivery", format!("{}-{}", d.webhook_id, d.seq)),
                ],
                body,
                timeout,
            };
            // The sender applies the timeout; this bounds a sender that does not.
            let backstop = timeout.saturating_add(timeout / 2);
            match tokio::time::timeout(backstop, sender.post(request)).await {
                Ok(result) => result,
                Err(_) => Err("timed out".to_owned()),
            }
        }
    };
    let at = core.now();
    let (http_status, error) = match result {
        Ok(status) if (200..300).contains(&status) => (Some(i64::from(status)), None),
        Ok(status) => (Some(i64::from(status)), Some(format!("HTTP {status}"))),
        Err(err) => (None, Some(err)),
    };
    let then = if error.is_none() {
        AttemptThen::Delivered
    } else {
        let tries = u32::try_from(d.attempts + 1).unwrap_or(u32::MAX);
        let jitter: f64 = rand::rng().random();
        match webhook::next_attempt(tries, at, d.expires_at, jitter) {
            Some(next) => AttemptThen::RetryAt(next),
            None => AttemptThen::GiveUp,
        }
    };
    let result = match then {
        AttemptThen::Delivered => "delivered",
        AttemptThen::RetryAt(_) => "retry",
        AttemptThen::GiveUp => "failed",
    };
    metrics::counter!("ota_webhook_deliveries_total", "result" => result).increment(1);
    if let Some(err) = &error {
        tracing::debug!(webhook = %d.webhook_id, seq = d.seq, err, "webhook delivery failed");
    }
    Attempt {
        webhook_id: d.webhook_id.clone(),
        seq: d.seq,
        at,
        http_status,
        error,
        then,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    fn due(webhook: &str, seq: i64, batch: &str) -> DueDelivery {
        DueDelivery {
            delivery: ota_store::DeliveryRow {
                webhook_id: webhook.to_owned(),
                seq,
                event_id: format!("e{seq}"),
                event_type: "batch.created".to_owned(),
                event_time: 0,
                ordering_key: batch.to_owned(),
                data: "{}".to_owned(),
                status: ota_store::DeliveryStatus::Pending,
                attempts: 0,
                next_attempt_at: 0,
                expires_at: 1,
                last_attempt_at: None,
                last_status: None,
                last_error: None,
                delivered_at: None,
            },
            url: String::new(),
            sealed_secret: String::new(),
        }
    }

    #[test]
    fn a_round_groups_deliveries_by_endpoint_and_batch_in_event_order() {
        // (endpoint, seq, batch) in the store's order -> the groups, as (endpoint, seqs).
        type Due<'a> = &'a [(&'a str, i64, &'a str)];
        type Groups<'a> = &'a [(&'a str, &'a [i64])];
        let cases: &[(Due, Groups)] = &[
            (&[], &[]),
            (
                &[
                    ("a", 1, "j1"),
                    ("b", 1, "j1"),
                    ("a", 2, "j2"),
                    ("a", 3, "j1"),
                ],
                &[("a", &[1, 3]), ("b", &[1]), ("a", &[2])],
            ),
            // Events of no batch are sent on their own, in parallel.
            (
                &[("a", 1, ""), ("a", 2, ""), ("a", 3, "j")],
                &[("a", &[1]), ("a", &[2]), ("a", &[3])],
            ),
        ];
        for (input, want) in cases {
            let got: Vec<(String, Vec<i64>)> = groups(
                input
                    .iter()
                    .map(|(w, seq, batch)| due(w, *seq, batch))
                    .collect(),
            )
            .into_iter()
            .map(|g| {
                let seqs = g.iter().map(|d| d.delivery.seq).collect();
                (g[0].delivery.webhook_id.clone(), seqs)
            })
            .collect();
            let want: Vec<(String, Vec<i64>)> = want
                .iter()
                .map(|(w, seqs)| ((*w).to_owned(), seqs.to_vec()))
                .collect();
            assert_eq!(got, want, "{input:?}");
        }
    }

    /// An endpoint that never answers: counts calls and how many wait at once.
    #[derive(Default)]
    struct Dead {
        calls: std::sync::atomic::AtomicUsize,
        waiting: Arc<std::sync::atomic::AtomicUsize>,
        most_waiting: Arc<std::sync::atomic::AtomicUsize>,
    }

    struct Waiting(Arc<std::sync::atomic::AtomicUsize>);

    impl Drop for Waiting {
        fn drop(&mut self) {
            self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    impl WebhookSender for Dead {
        fn post(&self, _: WebhookRequest) -> BoxFuture<'static, Result<u16, String>> {
            use std::sync::atomic::Ordering::SeqCst;
            self.calls.fetch_add(1, SeqCst);
            let now = self.waiting.fetch_add(1, SeqCst) + 1;
            self.most_waiting.fetch_max(now, SeqCst);
            let guard = Waiting(self.waiting.clone());
            Box::pin(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
                Ok(200)
            })
        }
    }

    #[tokio::test]
    async fn a_dead_endpoint_costs_one_bounded_round_and_a_retry() {
        use std::sync::atomic::Ordering::SeqCst;
        let dir = tempfile::tempdir().unwrap();
        let store =
            ota_store::Store::connect(&format!("sqlite://{}", dir.path().join("ota.db").display()))
                .await
                .unwrap();
        let blobs = ota_blob::DirStore::open(dir.path().join("packages"))
            .await
            .unwrap();
        let core = Core::new(
            store,
            blobs,
            ota_blob::UrlSigner::new("s".to_owned()),
            Arc::new(crate::SystemClock),
            crate::CoreConfig::default(),
        );
        let dead = Arc::new(Dead::default());
        core.set_webhook_sender(dead.clone());
        let hook = core
            .webhooks()
            .create(crate::NewWebhook {
                url: "http://127.0.0.1:9/dead".into(),
                secret: "0123456789abcdef".into(),
                events: vec![],
                description: None,
            })
            .await
            .unwrap();
        // 200 events of 40 batches: more than a round holds.
        let now = core.now();
        let events: Vec<_> = (0..200)
            .map(|i| {
                crate::webhooks::event(
                    ota_domain::webhook::EventType::BatchStarted,
                    now,
                    &format!("j{}", i % 40),
                    serde_json::json!({ "i": i }),
                )
            })
            .collect();
        core.store().enqueue_events(&events).await.unwrap();

        let mut worker = WebhookDelivery {
            timeout: Duration::from_millis(50),
            ..WebhookDelivery::default()
        };
        let pace = worker
            .round(&core, &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(pace, Pace::More, "a full round says more is waiting");
        // 64 deliveries claimed: the first of each of the 40 batches is tried, the rest of
        // each batch waits behind it; never more than PARALLEL at once.
        assert_eq!(dead.calls.load(SeqCst), 40);
        assert!(dead.most_waiting.load(SeqCst) <= PARALLEL);
        assert_eq!(dead.waiting.load(SeqCst), 0, "every request was dropped");
        let log = core
            .webhooks()
            .deliveries(&hook.webhook_id, None, 500)
            .await
            .unwrap();
        let tried: Vec<_> = log.iter().filter(|d| d.attempts == 1).collect();
        assert_eq!(tried.len(), 40);
        for d in tried {
            assert_eq!(d.last_error.as_deref(), Some("timed out"));
            assert!(d.next_attempt_at >= now + webhook::FIRST_RETRY, "{d:?}");
        }
        // Nothing more is due until the retries: the next round sends nothing.
        assert_eq!(
            worker
                .round(&core, &CancellationToken::new())
                .await
                .unwrap(),
            Pace::Idle
        );
        assert_eq!(dead.calls.load(SeqCst), 40);
    }

    #[test]
    fn the_envelope_is_stable() {
        let body = envelope("e1", "batch.created", 0, r#"{"job_id":"j"}"#);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "id": "e1", "type": "batch.created", "time": "1970-01-01T00:00:00.000Z",
                "data": {"job_id": "j"}
            })
        );
    }
}
