//! OTA messages from devices: parse once with `ota-protocol`, hand inform/progress to the
//! handler, and build the answers to firmware pulls and block downloads.
//!
//! Both device links go through here — the embedded broker for its own connections and the
//! external-broker client for what the broker forwards — so a message means the same thing
//! and gets the same answer whichever way it arrived. Answers run on a task of their own
//! (bounded by the caller), so a slow lookup never stalls a connection or another device.

use bytes::Bytes;
use std::sync::Arc;
use tracing::{debug, warn};

use ota_protocol::block::BlockReply;
use ota_protocol::push::empty_firmware_reply;
use ota_protocol::{
    DeviceId, DeviceMessage, DeviceTopic, Direction, FileBlockRequest, ProtocolError, TopicKind,
};

use crate::GatewayHandler;
use crate::codec::QoS;
use crate::conn_handle::{ConnHandle, Delivery, Message, PendingRequest};

/// The OTA topic `topic` is when a device publishes on it; `None` for anything else
/// (other topics, the platform's own cloud→device topics).
pub fn inbound_topic(topic: &str) -> Option<DeviceTopic> {
    DeviceTopic::parse(topic).filter(|t| t.kind.direction() == Direction::DeviceToCloud)
}

/// A device request the platform answers: a firmware pull or a block download.
#[derive(Debug, Clone)]
pub struct OtaRequest {
    device: DeviceId,
    reply_topic: String,
    ask: Ask,
}

#[derive(Debug, Clone)]
enum Ask {
    FirmwareGet(Option<String>),
    /// iotkit expects the upgrade payload on the request topic; with nothing pending it
    /// expects silence.
    LegacyRequest(Option<String>),
    Block(FileBlockRequest),
}

impl OtaRequest {
    /// The asking device.
    pub fn device(&self) -> &DeviceId {
        &self.device
    }

    /// Where the answer is published.
    pub fn reply_topic(&self) -> &str {
        &self.reply_topic
    }

    /// The answer's payload; `None` when the protocol wants no answer.
    pub async fn answer<H: GatewayHandler>(self, handler: &H) -> Option<Vec<u8>> {
        match self.ask {
            Ask::FirmwareGet(module) => Some(
                handler
                    .firmware_get(&self.device, module)
                    .await
                    .unwrap_or_else(empty_firmware_reply),
            ),
            Ask::LegacyRequest(module) => handler.firmware_get(&self.device, module).await,
            Ask::Block(request) => Some(block_reply(handler, &self.device, &request).await),
        }
    }
}

/// Handles a device's publish on an inbound OTA topic (see [`inbound_topic`]): inform and
/// progress reports go to the handler now; pulls and block downloads come back as a request
/// for the caller to answer. A payload that does not parse is an error and changes nothing.
pub fn handle_publish<H: GatewayHandler>(
    handler: &H,
    topic: &DeviceTopic,
    payload: &[u8],
) -> Result<Option<OtaRequest>, ProtocolError> {
    let device = &topic.device;
    let message = DeviceMessage::parse_kind(topic.kind, payload)?;
    let request = |kind: TopicKind, ask| OtaRequest {
        device: device.clone(),
        reply_topic: kind.topic(&device.product_key, &device.device_name),
        ask,
    };
    Ok(match message {
        DeviceMessage::Inform { .. } | DeviceMessage::Progress { .. } => {
            handler.on_device_message(device, message);
            None
        }
        DeviceMessage::FirmwareGet { module, .. } => Some(request(
            TopicKind::FirmwareGetReply,
            Ask::FirmwareGet(module),
        )),
        DeviceMessage::Request { module, .. } => {
            Some(request(TopicKind::Request, Ask::LegacyRequest(module)))
        }
        DeviceMessage::FileDownload(block) => {
            Some(request(TopicKind::FileDownloadReply, Ask::Block(block)))
        }
        DeviceMessage::Other => None,
    })
}

/// Handles a publish of a connected device on one of its own topics (the ACL has passed).
pub(crate) fn dispatch<H: GatewayHandler>(
    handler: &Arc<H>,
    conn: &Arc<ConnHandle>,
    topic: &str,
    payload: &Bytes,
    qos: QoS,
    max_pending: u32,
) {
    let Some(parsed) = inbound_topic(topic) else {
        return;
    };
    match handle_publish(&**handler, &parsed, payload) {
        Ok(Some(request)) => spawn_answer(handler, conn, max_pending, qos, request),
        Ok(None) => {}
        Err(e) => debug!(device = %parsed.device, topic, error = %e, "unparseable OTA message"),
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

/// Answers `request` on its own task and queues the payload, if any, to this connection.
fn spawn_answer<H: GatewayHandler>(
    handler: &Arc<H>,
    conn: &Arc<ConnHandle>,
    max_pending: u32,
    qos: QoS,
    request: OtaRequest,
) {
    let Some(pending) = PendingRequest::acquire(conn, max_pending) else {
        return warn!(device = %request.device, topic = request.reply_topic,
            "too many pending requests; dropped");
    };
    let handler = handler.clone();
    tokio::spawn(async move {
        let topic = request.reply_topic.clone();
        if let Some(payload) = request.answer(&*handler).await {
            let message = Arc::new(Message::new(&topic, Bytes::from(payload)));
            pending.conn().offer(Delivery { message, qos });
        }
    });
}
