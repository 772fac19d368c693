//! The task that owns the broker connection: reconnects with backoff, subscribes after
//! every CONNACK (the session is clean, so the broker forgets subscriptions), and turns
//! each device message into reports for the handler and answers published back.
//!
//! Acknowledgements are manual: a report's delivery is acknowledged to the broker only once
//! the platform has stored it, a request's once it is answered, anything else at once.
//! Reports reach the handler through a bounded queue and a task of their own, in arrival
//! order, so the connection keeps being served while the platform commits.

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rumqttc::{
    AsyncClient, Event, EventLoop, Outgoing, Packet, Publish, QoS, SubscribeFilter,
    SubscribeReasonCode,
};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use ota_protocol::{TopicKind, UpgradePush};

use super::{ExternalBrokerConfig, Inner};
use crate::device_messages::{OtaPublish, inbound_topic, read_publish};
use crate::{DeviceKey, GatewayHandler, PubAck};
use ota_protocol::DeviceMessage;
use tokio::sync::mpsc;

/// Drives the connection until `shutdown`, then disconnects cleanly.
pub(super) async fn run<H: GatewayHandler>(
    mut eventloop: EventLoop,
    inner: Arc<Inner>,
    handler: Arc<H>,
    config: ExternalBrokerConfig,
    tracker: TaskTracker,
    shutdown: CancellationToken,
) {
    let broker = format!("{}:{}", config.host, config.port);
    let requests = Arc::new(Semaphore::new(config.max_pending_requests.max(1)));
    let (reports, queued) = mpsc::channel(config.report_queue.max(1));
    tracker.spawn(forward_reports(queued, handler.clone()));
    let mut attempt = 0u32;
    // Whether the connection was up before: a later subscription means it came back.
    let mut was_up = false;
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => break,
            event = eventloop.poll() => event,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                attempt = 0;
                info!(%broker, client_id = config.client_id, "connected to the MQTT broker");
                let mut filters = config.filters();
                filters.push(config.sessions_filter());
                let client = inner.client.clone();
                tokio::spawn(async move {
                    let filters = filters
                        .into_iter()
                        .map(|path| SubscribeFilter::new(path, QoS::AtLeastOnce));
                    if let Err(e) = client.subscribe_many(filters).await {
                        warn!(error = %e, "cannot subscribe to device topics");
                    }
                });
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                if ack
                    .return_codes
                    .iter()
                    .all(|c| matches!(c, SubscribeReasonCode::Success(_)))
                {
                    info!(%broker, "subscribed to device OTA topics");
                    inner.subscribed.send_replace(true);
                    if was_up {
                        handler.on_link_restored();
                    }
                    was_up = true;
                } else {
                    warn!(%broker, codes = ?ack.return_codes,
                        "the broker refused a subscription to device topics");
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let ack = PubAck::to_broker(&inner.client, &publish);
                let to = Routes {
                    config: &config,
                    inner: &inner,
                    handler: &handler,
                    requests: &requests,
                    tracker: &tracker,
                    reports: &reports,
                };
                if let Some(report) = on_publish(&to, publish, ack) {
                    // Room only when the platform keeps up; a QoS 1 report waits for it (the
                    // broker holds further deliveries back meanwhile).
                    let _ = reports.send(report).await;
                }
            }
            Ok(_) => {}
            Err(e) => {
                inner.subscribed.send_replace(false);
                let pause = backoff(&config, attempt);
                attempt = attempt.saturating_add(1);
                warn!(%broker, error = %e, retry_in_ms = pause.as_millis() as u64,
                    "MQTT broker connection lost");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(pause) => {}
                }
            }
        }
    }
    inner.subscribed.send_replace(false);
    if inner.client.try_disconnect().is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
    }
    info!(%broker, "disconnected from the MQTT broker");
}

/// Where a message from the broker goes.
struct Routes<'a, H> {
    config: &'a ExternalBrokerConfig,
    inner: &'a Arc<Inner>,
    handler: &'a Arc<H>,
    requests: &'a Arc<Semaphore>,
    tracker: &'a TaskTracker,
    reports: &'a mpsc::Sender<QueuedReport>,
}

/// A report on its way to the handler.
type QueuedReport = (DeviceKey, DeviceMessage, PubAck);

/// One message from the broker. Never fails: anything unexpected is logged, acknowledged
/// and dropped. Returns a QoS 1 report that found the report queue full, for the caller to
/// wait for room.
fn on_publish<H: GatewayHandler>(
    to: &Routes<'_, H>,
    message: Publish,
    ack: PubAck,
) -> Option<QueuedReport> {
    let topic = message.topic.as_str();
    if let Some(peer) = to.config.peer_of(topic) {
        ack.send();
        // Our own will comes back after we lost the broker ourselves: the link recovery
        // (`on_link_restored`) covers that.
        if peer != to.config.client_id {
            metrics::counter!("ota_broker_peers_lost_total").increment(1);
            warn!(
                peer,
                "another node's broker session ended without a goodbye"
            );
            to.handler.on_peer_lost(peer);
        }
        return None;
    }
    let Some(parsed) = inbound_topic(topic) else {
        ack.send();
        debug!(topic, "message on a topic that is not a device OTA topic");
        return None;
    };
    // The legacy request topic carries our own answers too, and the broker delivers them
    // back to the group: a payload with a package in it is an answer, not a request.
    if parsed.kind == TopicKind::Request
        && matches!(UpgradePush::parse(&message.payload), Ok(Some(_)))
    {
        ack.send();
        return None;
    }
    metrics::counter!("ota_broker_messages_total", "kind" => kind_label(parsed.kind)).increment(1);
    to.inner
        .presence
        .touch(&parsed.device, &**to.handler, Instant::now());
    let request = match read_publish(&parsed, &message.payload) {
        Ok(OtaPublish::Report(report)) => {
            return match to.reports.try_send((parsed.device, report, ack)) {
                Ok(()) => None,
                Err(mpsc::error::TrySendError::Full(report)) if report.2.is_owed() => Some(report),
                Err(mpsc::error::TrySendError::Full(report)) => {
                    metrics::counter!("ota_broker_dropped_total", "what" => "report").increment(1);
                    debug!(device = %report.0, "report queue full; QoS 0 report dropped");
                    None
                }
                Err(mpsc::error::TrySendError::Closed(_)) => None,
            };
        }
        Ok(OtaPublish::Request(request)) => request,
        Ok(OtaPublish::Nothing) => {
            ack.send();
            return None;
        }
        Err(e) => {
            ack.send();
            metrics::counter!("ota_broker_malformed_total").increment(1);
            debug!(device = %parsed.device, topic, error = %e, "unparseable OTA message");
            return None;
        }
    };
    let Ok(permit) = to.requests.clone().try_acquire_owned() else {
        ack.send();
        metrics::counter!("ota_broker_dropped_total", "what" => "request").increment(1);
        warn!(device = %parsed.device, topic, "too many pending requests; dropped");
        return None;
    };
    let (inner, handler) = (to.inner.clone(), to.handler.clone());
    to.tracker.spawn(async move {
        let _permit = permit;
        answer(&inner, &*handler, request).await;
        ack.send();
    });
    None
}

/// Answers a pull or block download on the device's reply topic.
async fn answer<H: GatewayHandler>(inner: &Inner, handler: &H, request: crate::OtaRequest) {
    let device = request.device().clone();
    // A broker may carry devices of other platforms (staging, another tenant): answer
    // only our own, or their pulls and block downloads would get a second, wrong reply.
    if !inner.presence.is_known(&device) {
        if handler.device_secret(&device).await.is_none() {
            return debug!(%device, "request from a device this platform does not know");
        }
        inner.presence.mark_known(&device);
    }
    let topic = request.reply_topic().to_owned();
    if let Some(payload) = request.answer(handler).await {
        publish(&inner.client, "reply", topic, payload);
    }
}

/// Hands reports to the handler in arrival order; each one's acknowledgement goes with it.
async fn forward_reports<H: GatewayHandler>(
    mut queued: mpsc::Receiver<QueuedReport>,
    handler: Arc<H>,
) {
    while let Some((device, message, ack)) = queued.recv().await {
        handler.on_device_message(&device, message, ack).await;
    }
}

fn kind_label(kind: TopicKind) -> &'static str {
    match kind {
        TopicKind::Inform => "inform",
        TopicKind::Progress => "progress",
        TopicKind::Request | TopicKind::FirmwareGet => "firmware_get",
        TopicKind::FileDownload => "file_download",
        _ => "other",
    }
}

/// Queues a QoS 1 publish without waiting; a full queue drops it (logged and counted).
pub(super) fn publish(
    client: &AsyncClient,
    what: &'static str,
    topic: String,
    payload: Vec<u8>,
) -> bool {
    match client.try_publish(topic.as_str(), QoS::AtLeastOnce, false, payload) {
        Ok(()) => true,
        Err(e) => {
            metrics::counter!("ota_broker_dropped_total", "what" => what).increment(1);
            warn!(topic, error = %e, "MQTT publish queue full or closed; dropped");
            false
        }
    }
}

/// Reports devices offline after the presence window, until `shutdown`.
pub(super) async fn expire_presence<H: GatewayHandler>(
    inner: Arc<Inner>,
    handler: Arc<H>,
    timeout: Duration,
    shutdown: CancellationToken,
) {
    let every = (timeout / 4).clamp(Duration::from_millis(250), Duration::from_secs(60));
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let gone = inner.presence.expire(&*handler, timeout, Instant::now());
        if gone > 0 {
            debug!(gone, "devices silent past the presence window are offline");
        }
    }
}

/// `min * 2^attempt`, capped at `max`, scaled by a random factor in [0.5, 1) so nodes that
/// lost the broker together do not return in lockstep.
fn backoff(config: &ExternalBrokerConfig, attempt: u32) -> Duration {
    let base = config
        .min_backoff
        .saturating_mul(1u32 << attempt.min(16))
        .min(config.max_backoff);
    let r = RandomState::new().hash_one(attempt) % 1000;
    base.mul_f64(0.5 + r as f64 / 2000.0)
}
