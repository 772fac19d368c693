//! OTA messages from devices: parse once with `ota-protocol` into a report for the handler
//! or a request to answer, and build the answers to firmware pulls and block downloads.
//!
//! Both device links go through here — the embedded broker for its own connections and the
//! external-broker client for what the broker forwards — so a message means the same thing
//! and gets the same answer whichever way it arrived. Answers run on a task of their own
//! (bounded by the caller), so a slow lookup never stalls a connection or another device;
//! a request is acknowledged to the device once its answer is queued.

use bytes::Bytes;
use std::sync::Arc;
use tracing::{debug, warn};

use ota_protocol::block::BlockReply;
use ota_protocol::push::empty_firmware_reply;
use ota_protocol::{
    DeviceKey, DeviceMessage, DeviceTopic, Direction, FileBlockRequest, ProtocolError, TopicKind,
};

use crate::codec::QoS;
use crate::conn_handle::{ConnHandle, Delivery, Message, PendingRequest};
use crate::{GatewayHandler, PubAck};

/// The OTA topic `topic` is when a device publishes on it; `None` for anything else
/// (other topics, the platform's own cloud→device topics).
pub fn inbound_topic(topic: &str) -> Option<DeviceTopic> {
    DeviceTopic::parse(topic).filter(|t| t.kind.direction() == Direction::DeviceToCloud)
}

/// A device request the platform answers: a firmware pull or a block download.
#[derive(Debug, Clone)]
pub struct OtaRequest {
    device: DeviceKey,
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
    pub fn device(&self) -> &DeviceKey {
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

/// What a device's publish on an inbound OTA topic is.
#[derive(Debug)]
pub enum OtaPublish {
    /// An inform or progress report, for [`GatewayHandler::on_device_message`].
    Report(DeviceMessage),
    /// A firmware pull or a block download, to answer on the device's reply topic.
    Request(OtaRequest),
    /// Nothing the platform acts on.
    Nothing,
}

/// Reads a device's publish on an inbound OTA topic (see [`inbound_topic`]). A payload that
/// does not parse is an error and changes nothing.
pub fn read_publish(topic: &DeviceTopic, payload: &[u8]) -> Result<OtaPublish, ProtocolError> {
    let device = &topic.device;
    let message = DeviceMessage::parse_kind(topic.kind, payload)?;
    let request = |kind: TopicKind, ask| {
        OtaPublish::Request(OtaRequest {
            device: device.clone(),
            reply_topic: kind.topic(device.product_key.as_str(), device.device_name.as_str()),
            ask,
        })
    };
    Ok(match message {
        DeviceMessage::Inform { .. } | DeviceMessage::Progress { .. } => {
            OtaPublish::Report(message)
        }
        DeviceMessage::FirmwareGet { module, .. } => {
            request(TopicKind::FirmwareGetReply, Ask::FirmwareGet(module))
        }
        DeviceMessage::Request { module, .. } => {
            request(TopicKind::Request, Ask::LegacyRequest(module))
        }
        DeviceMessage::FileDownload(block) => {
            request(TopicKind::FileDownloadReply, Ask::Block(block))
        }
        DeviceMessage::Other => OtaPublish::Nothing,
    })
}

/// Handles a publish of a connected device on one of its own topics (the ACL has passed):
/// a report goes to the handler, which sends `ack` once it is stored; a request is answered
/// on a task of its own and acknowledged after. Anything else gives `ack` back, for the
/// caller to send at once.
pub(crate) async fn dispatch<H: GatewayHandler>(
    handler: &Arc<H>,
    conn: &Arc<ConnHandle>,
    publish: (&str, &Bytes, QoS),
    max_pending: u32,
    ack: PubAck,
) -> Option<PubAck> {
    let (topic, payload, qos) = publish;
    let Some(parsed) = inbound_topic(topic) else {
        return Some(ack);
    };
    match read_publish(&parsed, payload) {
        Ok(OtaPublish::Report(message)) => {
            handler
                .on_device_message(&parsed.device, message, ack)
                .await;
            None
        }
        Ok(OtaPublish::Request(request)) => {
            spawn_answer(handler, conn, max_pending, qos, request, ack);
            None
        }
        Ok(OtaPublish::Nothing) => Some(ack),
        Err(e) => {
            debug!(device = %parsed.device, topic, error = %e, "unparseable OTA message");
            Some(ack)
        }
    }
}

/// Serves one block request into the binary reply.
async fn block_reply<H: GatewayHandler>(
    handler: &H,
    device: &DeviceKey,
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

/// Answers `request` on its own task, queues the payload, if any, to this connection and
/// then acknowledges the request. A request over the connection's limit is dropped and
/// acknowledged at once: the device's own request timeout asks again, rather than the
/// device retransmitting a request the broker will not take.
fn spawn_answer<H: GatewayHandler>(
    handler: &Arc<H>,
    conn: &Arc<ConnHandle>,
    max_pending: u32,
    qos: QoS,
    request: OtaRequest,
    ack: PubAck,
) {
    let Some(pending) = PendingRequest::acquire(conn, max_pending) else {
        ack.send();
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
        ack.send();
    });
}
