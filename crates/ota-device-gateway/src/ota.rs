//! OTA messages from devices, handled in-process: parse once with `ota-protocol`, hand
//! inform/progress to the handler, and answer firmware pulls and block downloads ourselves.
//!
//! Answers run on a task of their own (bounded per connection), so a slow lookup never
//! stalls the device's connection — and never any other device.

use bytes::Bytes;
use std::sync::Arc;
use tracing::{debug, warn};

use ota_protocol::block::BlockReply;
use ota_protocol::push::empty_firmware_reply;
use ota_protocol::{DeviceId, DeviceMessage, DeviceTopic, Direction, FileBlockRequest, TopicKind};

use crate::GatewayHandler;
use crate::codec::QoS;
use crate::conn_handle::{ConnHandle, Delivery, Message, PendingRequest};

/// Handles a publish of `device` on one of its own topics (the ACL has already passed).
pub(crate) fn dispatch<H: GatewayHandler>(
    handler: &Arc<H>,
    conn: &Arc<ConnHandle>,
    device: &DeviceId,
    topic: &str,
    payload: &Bytes,
    qos: QoS,
    max_pending: u32,
) {
    let Some(parsed) = DeviceTopic::parse(topic) else {
        return;
    };
    if parsed.kind.direction() != Direction::DeviceToCloud {
        return;
    }
    let message = match DeviceMessage::parse_kind(parsed.kind, payload) {
        Ok(message) => message,
        Err(e) => return debug!(%device, topic, error = %e, "unparseable OTA message"),
    };
    let reply_topic = |kind: TopicKind| kind.topic(&device.product_key, &device.device_name);
    match message {
        DeviceMessage::Inform { .. } | DeviceMessage::Progress { .. } => {
            handler.on_device_message(device, message);
        }
        DeviceMessage::FirmwareGet { module, .. } => {
            let topic = reply_topic(TopicKind::FirmwareGetReply);
            spawn_answer(
                handler,
                conn,
                device,
                max_pending,
                qos,
                topic,
                |h, d| async move {
                    Some(
                        h.firmware_get(&d, module)
                            .await
                            .unwrap_or_else(empty_firmware_reply),
                    )
                },
            );
        }
        DeviceMessage::Request { module, .. } => {
            // iotkit expects the upgrade payload on the request topic; with nothing pending
            // it expects silence.
            let topic = reply_topic(TopicKind::Request);
            spawn_answer(
                handler,
                conn,
                device,
                max_pending,
                qos,
                topic,
                |h, d| async move { h.firmware_get(&d, module).await },
            );
        }
        DeviceMessage::FileDownload(request) => {
            let topic = reply_topic(TopicKind::FileDownloadReply);
            spawn_answer(
                handler,
                conn,
                device,
                max_pending,
                qos,
                topic,
                |h, d| async move { Some(block_reply(&*h, &d, &request).await) },
            );
        }
        DeviceMessage::Other => {}
    }
}

/// Serves one block request into the binary reply.
async fn block_reply<H: GatewayHandler>(
    handler: &H,
    device: &DeviceId,
    request: &FileBlockRequest,
) -> Vec<u8> {
    let id = request.id.as_deref();
    let encoded = match handler.file_block(device, request).await {
        Ok(block) => {
            let wanted = usize::try_from(request.size).unwrap_or(usize::MAX);
            let data = &block.data[..block.data.len().min(wanted)];
            let token = request.file_token.as_deref();
            BlockReply::encode_ok(id, token, block.file_length, request.offset, data)
        }
        Err(msg) => BlockReply::encode_error(id, 400, &msg),
    };
    encoded.unwrap_or_else(|e| {
        warn!(%device, error = %e, "cannot encode block reply");
        BlockReply::encode_error(id, 500, "internal error").unwrap_or_default()
    })
}

/// Runs `answer` on its own task and queues its payload, if any, to this connection.
fn spawn_answer<H, F, Fut>(
    handler: &Arc<H>,
    conn: &Arc<ConnHandle>,
    device: &DeviceId,
    max_pending: u32,
    qos: QoS,
    topic: String,
    answer: F,
) where
    H: GatewayHandler,
    F: FnOnce(Arc<H>, DeviceId) -> Fut,
    Fut: Future<Output = Option<Vec<u8>>> + Send + 'static,
{
    let Some(pending) = PendingRequest::acquire(conn, max_pending) else {
        return warn!(%device, topic, "too many pending requests; dropped");
    };
    let fut = answer(handler.clone(), device.clone());
    tokio::spawn(async move {
        if let Some(payload) = fut.await {
            let message = Arc::new(Message::new(&topic, Bytes::from(payload)));
            pending.conn().offer(Delivery { message, qos });
        }
    });
}
