//! The OTA service, played by a test: a plain MQTT client on Mosquitto that records what
//! devices of one product publish and answers pulls and block requests from a script.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ota_protocol::{
    BlockReply, DeviceMessage, DeviceTopic, Direction, TopicKind, UpgradePush, empty_firmware_reply,
};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, SubscribeFilter};
use tokio::sync::{mpsc, oneshot};

use super::broker;

/// One message a device published.
#[derive(Debug, Clone)]
pub struct Seen {
    pub dn: String,
    pub msg: DeviceMessage,
}

/// How the platform answers.
#[derive(Default)]
pub struct Script {
    /// Reply to `firmware/get`; `None` sends the empty reply.
    pub get_reply: Option<UpgradePush>,
    /// Don't answer `firmware/get` at all.
    pub ignore_gets: bool,
    /// When a device reports this version, push it this package.
    pub push_on_inform: Option<(String, UpgradePush)>,
    /// The MQTT stream served by block download: `(streamId, bytes)`.
    pub stream: Option<(u64, Vec<u8>)>,
    /// Flip one byte of the next block reply (the CRC then fails).
    pub corrupt_next_block: bool,
}

pub struct Platform {
    pub pk: String,
    client: AsyncClient,
    script: Arc<Mutex<Script>>,
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<Seen>>,
}

impl Platform {
    /// Connects and subscribes to everything devices of `pk` publish.
    pub async fn start(pk: &str) -> Platform {
        let (host, port) = broker();
        let mut opts = MqttOptions::new(format!("platform-{pk}"), host, port);
        opts.set_max_packet_size(128 * 1024, 128 * 1024)
            .set_request_channel_capacity(1024);
        let (client, mut el) = AsyncClient::new(opts, 1024);
        let filters = [
            format!("/ota/device/+/{pk}/+"),
            format!("/sys/{pk}/+/thing/ota/firmware/get"),
            format!("/sys/{pk}/+/thing/file/download"),
        ]
        .map(|f| SubscribeFilter::new(f, QoS::AtLeastOnce));
        client.subscribe_many(filters).await.unwrap();
        let script = Arc::new(Mutex::new(Script::default()));
        let (tx, rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        let (c, s) = (client.clone(), Arc::clone(&script));
        tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            loop {
                match el.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        if let Some(r) = ready.take() {
                            let _ = r.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if let Some(seen) = handle(&c, &s, &p.topic, &p.payload) {
                            let _ = tx.send(seen);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => panic!("platform connection failed: {e}"),
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), ready_rx)
            .await
            .expect("platform subscribed")
            .unwrap();
        Platform {
            pk: pk.to_owned(),
            client,
            script,
            events: tokio::sync::Mutex::new(rx),
        }
    }

    pub fn script(&self) -> MutexGuard<'_, Script> {
        self.script.lock().unwrap()
    }

    /// Pushes a package to device `dn`.
    pub async fn push(&self, dn: &str, push: &UpgradePush) {
        let topic = TopicKind::Upgrade.topic(&self.pk, dn);
        self.client
            .publish(topic, QoS::AtLeastOnce, false, push.to_vec())
            .await
            .unwrap();
    }

    /// The next device message (panics after 15 s).
    pub async fn next(&self) -> Seen {
        let mut rx = self.events.lock().await;
        tokio::time::timeout(Duration::from_secs(15), rx.recv())
            .await
            .expect("a device message within 15 s")
            .expect("platform running")
    }

    /// Every message up to and including `dn`'s inform of `version`.
    pub async fn until_inform(&self, dn: &str, version: &str) -> Vec<Seen> {
        let mut seen = Vec::new();
        loop {
            let s = self.next().await;
            let done = s.dn == dn
                && matches!(&s.msg, DeviceMessage::Inform { version: v, .. } if v == version);
            seen.push(s);
            if done {
                return seen;
            }
        }
    }

    /// Every message up to and including `dn`'s first progress report with `step`.
    pub async fn until_step(&self, dn: &str, step: i64) -> Vec<Seen> {
        let mut seen = Vec::new();
        loop {
            let s = self.next().await;
            let done = s.dn == dn
                && matches!(&s.msg, DeviceMessage::Progress { step: st, .. } if st.code() == step);
            seen.push(s);
            if done {
                return seen;
            }
        }
    }
}

fn handle(
    client: &AsyncClient,
    script: &Mutex<Script>,
    topic: &str,
    payload: &[u8],
) -> Option<Seen> {
    // The upgrade filter also matches our own pushes.
    let t = DeviceTopic::parse(topic).filter(|t| t.kind.direction() == Direction::DeviceToCloud)?;
    let msg = DeviceMessage::parse_kind(t.kind, payload).expect("device payload parses");
    let (pk, dn) = (t.device.product_key.as_str(), t.device.device_name.as_str());
    let reply = |kind: TopicKind, body: Vec<u8>| {
        client
            .try_publish(kind.topic(pk, dn), QoS::AtLeastOnce, false, body)
            .unwrap();
    };
    let mut s = script.lock().unwrap();
    match &msg {
        DeviceMessage::Inform { version, .. } => {
            if let Some((from, push)) = &s.push_on_inform
                && from == version
            {
                reply(TopicKind::Upgrade, push.to_vec());
            }
        }
        DeviceMessage::FirmwareGet { .. } if !s.ignore_gets => {
            let body = s
                .get_reply
                .as_ref()
                .map_or_else(empty_firmware_reply, UpgradePush::to_vec);
            reply(TopicKind::FirmwareGetReply, body);
        }
        DeviceMessage::FileDownload(req) => {
            let (stream_id, data) = s.stream.as_ref().expect("a stream is scripted");
            assert_eq!(req.stream_id, *stream_id);
            let start = (req.offset as usize).min(data.len());
            let end = (start + req.size as usize).min(data.len());
            let mut body = BlockReply::encode_ok(
                req.id.as_deref(),
                req.file_token.as_deref(),
                data.len() as u64,
                req.offset,
                &data[start..end],
            )
            .unwrap();
            if std::mem::take(&mut s.corrupt_next_block) {
                let n = body.len();
                body[n - 3] ^= 0xFF;
            }
            reply(TopicKind::FileDownloadReply, body);
        }
        _ => {}
    }
    Some(Seen {
        dn: dn.to_owned(),
        msg,
    })
}
