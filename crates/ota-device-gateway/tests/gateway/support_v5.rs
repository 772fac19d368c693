//! MQTT 5 clients (`rumqttc::v5`) for the tests.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;

use ota_protocol::MqttCredentials;
use rumqttc::v5::mqttbytes::v5::{ConnAck, DisconnectReasonCode, Packet, Publish};
use rumqttc::v5::{AsyncClient, ConnectionError, Event, MqttOptions, StateError};

use crate::support::WAIT;

pub struct V5 {
    pub client: AsyncClient,
    pub rx: mpsc::UnboundedReceiver<Result<Packet, ConnectionError>>,
    pub task: JoinHandle<()>,
}

impl Drop for V5 {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn v5(addr: SocketAddr, c: &MqttCredentials) -> V5 {
    let mut opts = MqttOptions::new(c.client_id.clone(), addr.ip().to_string(), addr.port());
    opts.set_credentials(c.username.clone(), c.password.clone());
    opts.set_keep_alive(Duration::from_secs(30));
    let (client, mut el) = AsyncClient::new(opts, 64);
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        loop {
            match el.poll().await {
                Ok(Event::Incoming(p)) => {
                    if tx.send(Ok(p)).is_err() {
                        return;
                    }
                }
                Ok(Event::Outgoing(_)) => {}
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
    });
    V5 { client, rx, task }
}

impl V5 {
    pub async fn next(&mut self) -> Option<Result<Packet, ConnectionError>> {
        timeout(WAIT, self.rx.recv()).await.ok().flatten()
    }

    pub async fn connack(&mut self) -> Result<ConnAck, ConnectionError> {
        match self.next().await.expect("no CONNACK") {
            Ok(Packet::ConnAck(ack)) => Ok(ack),
            Ok(other) => panic!("expected CONNACK, got {other:?}"),
            Err(e) => Err(e),
        }
    }

    /// Waits for a packet matching `want`, skipping others; `None` on error or timeout.
    pub async fn wait_packet(&mut self, mut want: impl FnMut(&Packet) -> bool) -> Option<Packet> {
        loop {
            match self.next().await? {
                Ok(p) if want(&p) => return Some(p),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// The reason of the server's DISCONNECT (rumqttc reports it as a state error).
    pub async fn server_disconnect(&mut self) -> Option<DisconnectReasonCode> {
        loop {
            match self.next().await? {
                Ok(_) => {}
                Err(ConnectionError::MqttState(StateError::ServerDisconnect {
                    reason_code,
                    ..
                })) => return Some(reason_code),
                Err(_) => return None,
            }
        }
    }

    pub async fn subscribe(&mut self, filter: &str) {
        self.client
            .subscribe(filter, rumqttc::v5::mqttbytes::QoS::AtLeastOnce)
            .await
            .unwrap();
        self.wait_packet(|p| matches!(p, Packet::SubAck(_)))
            .await
            .expect("no SUBACK");
    }

    pub async fn publish_within(&mut self, within: Duration) -> Option<Publish> {
        match timeout(
            within,
            self.wait_packet(|p| matches!(p, Packet::Publish(_))),
        )
        .await
        {
            Ok(Some(Packet::Publish(p))) => Some(p),
            _ => None,
        }
    }
}

pub async fn connect_v5(addr: SocketAddr, c: &MqttCredentials) -> V5 {
    let mut client = v5(addr, c);
    client.connack().await.expect("refused");
    client
}
