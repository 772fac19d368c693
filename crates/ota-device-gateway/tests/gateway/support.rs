//! A gateway on 127.0.0.1:0 with an in-memory handler, and real `rumqttc` clients.

use bytes::{Bytes, BytesMut};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;

use ota_device_gateway::{
    AdminCredential, CancellationToken, ConnectionId, DeviceKey, DeviceMessage, FileBlock,
    FileBlockRequest, Gateway, GatewayConfig, GatewayHandler, PubAck,
};
use ota_protocol::{HmacMethod, MqttCredentials, SignRequest};

pub const PK: &str = "a1TestPk";
pub const ADMIN: (&str, &str) = ("ops", "ops-secret");
/// How long to wait for something that must happen. Generous: other crates' builds share
/// the machine's two cores; passing tests never wait this long.
pub const WAIT: Duration = Duration::from_secs(10);
/// How long to wait for something that must *not* arrive.
pub const QUIET: Duration = Duration::from_millis(300);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Online(DeviceKey, ConnectionId),
    Offline(DeviceKey, ConnectionId),
    Message(DeviceKey, DeviceMessage),
}

pub struct TestHandler {
    secrets: Mutex<HashMap<DeviceKey, String>>,
    pub firmware: Mutex<HashMap<DeviceKey, Vec<u8>>>,
    pub file: Bytes,
    events: mpsc::UnboundedSender<Event>,
    /// While `Some`, acknowledgements are kept here instead of sent (the platform has not
    /// stored the reports yet).
    pub held_acks: Mutex<Option<Vec<PubAck>>>,
    /// Devices whose reports the platform has no room for: `on_device_message` waits while
    /// the device is in the set.
    pub full_for: tokio::sync::watch::Sender<Vec<String>>,
}

impl TestHandler {
    /// Keeps acknowledgements from now on, until [`TestHandler::release_acks`].
    pub fn hold_acks(&self) {
        *self.held_acks.lock().unwrap() = Some(Vec::new());
    }

    /// Sends the acknowledgements kept so far and stops keeping them.
    pub fn release_acks(&self) -> usize {
        let held = self.held_acks.lock().unwrap().take().unwrap_or_default();
        let count = held.len();
        for ack in held {
            ack.send();
        }
        count
    }
}

impl GatewayHandler for TestHandler {
    async fn device_secret(&self, device: &DeviceKey) -> Option<String> {
        let known = self.secrets.lock().unwrap().get(device).cloned();
        // `m…` devices exist for load tests without registering each.
        known.or_else(|| {
            device
                .device_name
                .as_str()
                .starts_with('m')
                .then(|| secret_of(device.device_name.as_str()))
        })
    }
    fn on_online(&self, device: &DeviceKey, connection: ConnectionId) {
        let _ = self.events.send(Event::Online(device.clone(), connection));
    }
    fn on_offline(&self, device: &DeviceKey, connection: ConnectionId) {
        let _ = self.events.send(Event::Offline(device.clone(), connection));
    }
    async fn on_device_message(&self, device: &DeviceKey, message: DeviceMessage, ack: PubAck) {
        let mut full = self.full_for.subscribe();
        let _ = full
            .wait_for(|names| !names.iter().any(|n| n == device.device_name.as_str()))
            .await;
        let _ = self.events.send(Event::Message(device.clone(), message));
        let mut held = self.held_acks.lock().unwrap();
        match held.as_mut() {
            Some(held) => held.push(ack),
            None => ack.send(),
        }
    }
    async fn firmware_get(&self, device: &DeviceKey, _module: Option<String>) -> Option<Vec<u8>> {
        self.firmware.lock().unwrap().get(device).cloned()
    }
    async fn file_block(
        &self,
        _device: &DeviceKey,
        request: &FileBlockRequest,
    ) -> Result<FileBlock, String> {
        if request.stream_id != 7 {
            return Err("no such stream".into());
        }
        let start = usize::try_from(request.offset).map_err(|e| e.to_string())?;
        let start = start.min(self.file.len());
        let end = start
            .saturating_add(request.size as usize)
            .min(self.file.len());
        Ok(FileBlock {
            file_length: self.file.len() as u64,
            data: self.file.slice(start..end),
        })
    }
}

pub struct Harness {
    pub gateway: Gateway,
    pub addr: SocketAddr,
    pub handler: Arc<TestHandler>,
    pub events: mpsc::UnboundedReceiver<Event>,
    pub shutdown: CancellationToken,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub fn device(dn: &str) -> DeviceKey {
    DeviceKey::new(PK, dn)
}

pub fn secret_of(dn: &str) -> String {
    format!("secret-of-{dn}")
}

impl Harness {
    pub async fn start() -> Harness {
        Self::start_with(GatewayConfig::default()).await
    }

    /// Registers devices `d0`..`d299`, `a`, `b`, `c` with [`secret_of`] secrets.
    pub async fn start_with(mut config: GatewayConfig) -> Harness {
        let (tx, events) = mpsc::unbounded_channel();
        let mut secrets = HashMap::new();
        let names = (0..300)
            .map(|i| format!("d{i}"))
            .chain(["a", "b", "c"].map(String::from));
        for dn in names {
            secrets.insert(device(&dn), secret_of(&dn));
        }
        let file: Bytes = (0..20_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let handler = Arc::new(TestHandler {
            secrets: Mutex::new(secrets),
            firmware: Mutex::new(HashMap::new()),
            file,
            events: tx,
            held_acks: Mutex::new(None),
            full_for: tokio::sync::watch::Sender::new(Vec::new()),
        });
        config.admins.push(AdminCredential {
            username: ADMIN.0.into(),
            password: ADMIN.1.into(),
        });
        let shutdown = CancellationToken::new();
        let (addr, gateway) =
            Gateway::bind("127.0.0.1:0", config, handler.clone(), shutdown.clone())
                .await
                .unwrap();
        Harness {
            gateway,
            addr,
            handler,
            events,
            shutdown,
        }
    }

    pub async fn next_event(&mut self) -> Event {
        timeout(WAIT, self.events.recv())
            .await
            .expect("no event in time")
            .expect("closed")
    }

    /// Skips events until one matches.
    pub async fn wait_for(&mut self, mut want: impl FnMut(&Event) -> bool) -> Event {
        loop {
            let e = self.next_event().await;
            if want(&e) {
                return e;
            }
        }
    }

    pub async fn wait_online(&mut self, dn: &str) -> ConnectionId {
        let d = device(dn);
        match self
            .wait_for(|e| matches!(e, Event::Online(x, _) if *x == d))
            .await
        {
            Event::Online(_, id) => id,
            _ => unreachable!(),
        }
    }
}

pub fn creds(dn: &str, method: HmacMethod) -> MqttCredentials {
    let secret = secret_of(dn);
    let cid = format!("{PK}&{dn}");
    SignRequest {
        product_key: PK,
        device_name: dn,
        device_secret: &secret,
        client_id: &cid,
        timestamp: Some("1700000000000"),
        method,
        secure_mode: 3,
    }
    .sign()
}

/// A v3.1.1 client whose event loop runs on its own task.
pub struct V4 {
    pub client: rumqttc::AsyncClient,
    pub rx: mpsc::UnboundedReceiver<Result<rumqttc::Packet, rumqttc::ConnectionError>>,
    pub task: JoinHandle<()>,
}

impl Drop for V4 {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn v4(addr: SocketAddr, c: &MqttCredentials) -> V4 {
    let mut opts =
        rumqttc::MqttOptions::new(c.client_id.clone(), addr.ip().to_string(), addr.port());
    opts.set_credentials(c.username.clone(), c.password.clone());
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut el) = rumqttc::AsyncClient::new(opts, 64);
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        loop {
            match el.poll().await {
                Ok(rumqttc::Event::Incoming(p)) => {
                    if tx.send(Ok(p)).is_err() {
                        return;
                    }
                }
                Ok(rumqttc::Event::Outgoing(_)) => {}
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
    });
    V4 { client, rx, task }
}

impl V4 {
    pub async fn next(&mut self) -> Option<Result<rumqttc::Packet, rumqttc::ConnectionError>> {
        timeout(WAIT, self.rx.recv()).await.ok().flatten()
    }

    pub async fn connack(&mut self) -> Result<rumqttc::ConnAck, rumqttc::ConnectionError> {
        match self.next().await.expect("no CONNACK") {
            Ok(rumqttc::Packet::ConnAck(ack)) => Ok(ack),
            Ok(other) => panic!("expected CONNACK, got {other:?}"),
            Err(e) => Err(e),
        }
    }

    pub async fn subscribe(&mut self, filter: &str) -> rumqttc::SubAck {
        self.client
            .subscribe(filter, rumqttc::QoS::AtLeastOnce)
            .await
            .unwrap();
        loop {
            match self.next().await.expect("no SUBACK") {
                Ok(rumqttc::Packet::SubAck(ack)) => return ack,
                Ok(_) => {}
                Err(e) => panic!("connection error: {e}"),
            }
        }
    }

    /// The next PUBLISH within `within`, skipping other packets.
    pub async fn publish_within(&mut self, within: Duration) -> Option<rumqttc::Publish> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match timeout(left, self.rx.recv()).await {
                Ok(Some(Ok(rumqttc::Packet::Publish(p)))) => return Some(p),
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_)) | None) | Err(_) => return None,
            }
        }
    }

    pub async fn publish(&mut self) -> rumqttc::Publish {
        self.publish_within(WAIT).await.expect("no PUBLISH")
    }
}

/// A hand-driven v3.1.1 connection: CONNECT sent and CONNACK checked.
pub async fn raw_connect(h: &Harness, dn: &str, keep_alive: u16) -> TcpStream {
    let c = creds(dn, HmacMethod::HmacSha1);
    let mut connect = rumqttc::Connect::new(c.client_id);
    connect.keep_alive = keep_alive;
    connect.set_login(c.username, c.password);
    let mut buf = BytesMut::new();
    rumqttc::Packet::Connect(connect)
        .write(&mut buf, 1 << 20)
        .unwrap();
    let mut s = TcpStream::connect(h.addr).await.unwrap();
    s.write_all(&buf).await.unwrap();
    let mut ack = [0u8; 4];
    s.read_exact(&mut ack).await.unwrap();
    assert_eq!(ack, [0x20, 2, 0, 0]);
    s
}

pub async fn connect_v4(addr: SocketAddr, c: &MqttCredentials) -> V4 {
    let mut client = v4(addr, c);
    client.connack().await.expect("refused");
    client
}

pub async fn admin_v4(addr: SocketAddr, id: &str) -> V4 {
    let c = MqttCredentials {
        client_id: id.into(),
        username: ADMIN.0.into(),
        password: ADMIN.1.into(),
    };
    connect_v4(addr, &c).await
}
