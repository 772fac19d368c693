//! The embedded broker: its MQTT packet decoder (levels 4 and 5) and whole connections.
//!
//! `broker_session` feeds arbitrary client byte streams into real broker connections over
//! in-memory pipes; each client closes its side after its bytes, so a connection that does
//! not end by itself is a bug (caught by a timeout). A
//! CONNECT whose password is the placeholder `sign` gets the valid device signature, so the
//! fuzzer reaches the established-session code, not only the refusal.

use bytes::BytesMut;
use ota_device_gateway::fuzzing::{decode_stream, serve_connections};
use ota_device_gateway::{
    AdminCredential, ConnectionId, DeviceKey, DeviceMessage, FileBlock, FileBlockRequest,
    GatewayConfig, GatewayHandler, PubAck,
};
use ota_protocol::ConnectAuth;
use rumqttc::mqttbytes::v4;
use rumqttc::v5::mqttbytes::v5;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Input: one control byte, then the client's bytes. Control bits 0-1: protocol level from
/// the CONNECT (0, 3), forced 4 (1) or 5 (2); bit 2: a 256-byte packet size limit.
pub fn mqtt_codec(data: &[u8]) {
    let Some((&ctl, stream)) = data.split_first() else {
        return;
    };
    let level = match ctl & 3 {
        1 => Some(4),
        2 => Some(5),
        _ => None,
    };
    let max = if ctl & 4 != 0 { 256 } else { 1 << 20 };
    let d = decode_stream(stream, level, max);
    assert!(d.consumed <= stream.len());
    if d.error.is_some() || d.packets == 0 {
        return;
    }
    // Decoding is a pure function of the bytes: the packets already decoded decode again,
    // alone, to the same count.
    let again = decode_stream(&stream[..d.consumed], level.or(d.level), max);
    assert_eq!((again.packets, again.consumed), (d.packets, d.consumed));
}

/// Separates the byte streams of concurrent connections in a `broker_session` input.
pub const NEXT_CONNECTION: &[u8] = b"\xffNC\xff";
/// The CONNECT password the harness replaces with the device's valid signature.
pub const SIGN_PLACEHOLDER: &str = "sign";
const ADMIN: (&str, &str) = ("admin", "admin-pw");
const FILE: &[u8] = &[0x5A; 4096];

/// Device secrets for every device whose name does not start with `unknown`; records who is
/// online and checks that offline events match.
#[derive(Default)]
struct Handler {
    online: Mutex<HashMap<DeviceKey, ConnectionId>>,
}

fn secret_of(device: &DeviceKey) -> Option<String> {
    (!device.device_name.as_str().starts_with("unknown"))
        .then(|| format!("s-{}", device.device_name))
}

impl GatewayHandler for Handler {
    async fn device_secret(&self, device: &DeviceKey) -> Option<String> {
        secret_of(device)
    }
    fn on_online(&self, device: &DeviceKey, connection: ConnectionId) {
        let mut online = self.online.lock().unwrap();
        online.insert(device.clone(), connection);
    }
    fn on_offline(&self, device: &DeviceKey, connection: ConnectionId) {
        let mut online = self.online.lock().unwrap();
        let was = online.remove(device);
        assert_eq!(
            was,
            Some(connection),
            "offline for a connection that is not the device's current one"
        );
    }
    async fn on_device_message(&self, _device: &DeviceKey, message: DeviceMessage, ack: PubAck) {
        assert!(matches!(
            message,
            DeviceMessage::Inform { .. } | DeviceMessage::Progress { .. }
        ));
        ack.send();
    }
    async fn firmware_get(&self, device: &DeviceKey, module: Option<String>) -> Option<Vec<u8>> {
        device
            .device_name
            .as_str()
            .len()
            .is_multiple_of(2)
            .then(|| format!(r#"{{"code":"1000","data":{{"version":"{module:?}"}}}}"#).into())
    }
    async fn file_block(
        &self,
        _device: &DeviceKey,
        request: &FileBlockRequest,
    ) -> Result<FileBlock, String> {
        if request.stream_id != 7 {
            return Err("no such stream".into());
        }
        let start = usize::try_from(request.offset)
            .unwrap_or(usize::MAX)
            .min(FILE.len());
        let end = start
            .saturating_add(usize::try_from(request.size).unwrap_or(usize::MAX))
            .min(FILE.len());
        Ok(FileBlock {
            file_length: FILE.len() as u64,
            data: bytes::Bytes::from_static(&FILE[start..end]),
        })
    }
}

/// Replaces the placeholder password of the CONNECT at the head of `stream` with the valid
/// signature for its client id and username; anything else is left as it is.
fn sign_connect(stream: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    let mut buf = BytesMut::from(stream);
    let v4_signed = match v4::Packet::read(&mut buf, 1 << 20) {
        Ok(v4::Packet::Connect(mut c)) => match &mut c.login {
            Some(login) if login.password == SIGN_PLACEHOLDER => {
                login.password = password(&c.client_id, &login.username);
                v4::Packet::Connect(c).write(&mut out, 1 << 20).is_ok()
            }
            _ => false,
        },
        _ => false,
    };
    if !v4_signed {
        out.clear();
        buf = BytesMut::from(stream);
        let v5_signed = match v5::Packet::read(&mut buf, None) {
            Ok(v5::Packet::Connect(c, will, Some(mut login)))
                if login.password == SIGN_PLACEHOLDER =>
            {
                login.password = password(&c.client_id, &login.username);
                v5::Packet::Connect(c, will, Some(login))
                    .write(&mut out, None)
                    .is_ok()
            }
            _ => false,
        };
        if !v5_signed {
            return stream.to_vec();
        }
    }
    out.extend_from_slice(&buf);
    out.to_vec()
}

fn password(client_id: &str, username: &str) -> String {
    ConnectAuth::parse(client_id, username)
        .ok()
        .and_then(|auth| Some(auth.expected_password(&secret_of(&auth.device)?)))
        .unwrap_or_default()
}

fn split_connections(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while out.len() < 3 {
        match rest
            .windows(NEXT_CONNECTION.len())
            .position(|w| w == NEXT_CONNECTION)
        {
            Some(p) => {
                out.push(&rest[..p]);
                rest = &rest[p + NEXT_CONNECTION.len()..];
            }
            None => break,
        }
    }
    out.push(rest);
    out
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
}

/// Input: one byte choosing the write chunk size (0: all at once), then up to four client
/// byte streams separated by [`NEXT_CONNECTION`], served concurrently by one broker.
pub fn broker_session(data: &[u8]) {
    let Some((&chunk, rest)) = data.split_first() else {
        return;
    };
    let chunk = if chunk == 0 {
        usize::MAX
    } else {
        usize::from(chunk) * 7
    };
    let inputs: Vec<Vec<u8>> = split_connections(rest)
        .into_iter()
        .map(sign_connect)
        .collect();
    let config = GatewayConfig {
        max_packet_size: 64 * 1024,
        device_queue: 4,
        admin_queue: 8,
        max_device_subscriptions: 4,
        max_admin_subscriptions: 8,
        max_pending_requests: 2,
        admins: vec![AdminCredential {
            username: ADMIN.0.into(),
            password: ADMIN.1.into(),
        }],
        ..GatewayConfig::default()
    };
    let handler = Arc::new(Handler::default());
    let input_len: usize = inputs.iter().map(Vec::len).sum();
    RUNTIME.with(|rt| {
        rt.block_on(async {
            let mut servers = Vec::new();
            let mut clients = Vec::new();
            for input in inputs {
                let (client, server) = tokio::io::duplex(16 * 1024);
                servers.push(server);
                clients.push(tokio::spawn(client_side(client, input, chunk)));
            }
            let run = serve_connections(servers, config, handler.clone());
            // Every client closes its side after its bytes, so every connection ends promptly
            // whatever it was sent; the broker's own timeouts are seconds long.
            let online = tokio::time::timeout(Duration::from_secs(30), run)
                .await
                .expect("the connections did not end");
            assert_eq!(online, 0, "the broker still counts devices online");
            let mut received = 0;
            for client in clients {
                received += client.await.expect("client task");
            }
            assert!(
                received <= 1024 * input_len + (1 << 20),
                "{received} bytes sent for {input_len} bytes received"
            );
        });
    });
    assert!(
        handler.online.lock().unwrap().is_empty(),
        "a device is online after its connections ended"
    );
}

/// Writes `input` in chunks, closes its side, and reads everything the broker sends.
async fn client_side(client: tokio::io::DuplexStream, input: Vec<u8>, chunk: usize) -> usize {
    let (mut rx, mut tx) = tokio::io::split(client);
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        let mut total = 0;
        while let Ok(n) = rx.read(&mut buf).await {
            if n == 0 {
                break;
            }
            total += n;
        }
        total
    });
    for part in input.chunks(chunk.max(1)) {
        if tx.write_all(part).await.is_err() {
            break;
        }
        tokio::task::yield_now().await;
    }
    let _ = tx.shutdown().await;
    reader.await.unwrap_or(0)
}
