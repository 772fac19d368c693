//! A connected device: the handle applications and the simulator talk to.
//!
//! One `rumqttc` client and event loop task per device, with small queues, so thousands fit
//! in one process. Publishing uses QoS 1; sessions are clean, so anything queued during an
//! outage may be lost, as with the official SDKs (which publish QoS 0) — except the version
//! reports, which the device states again after every reconnect.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ota_protocol::{DeviceMessage, ProgressStep, TopicKind, UpgradePush};
use rumqttc::{AsyncClient, MqttOptions, QoS};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::now_ms;
use crate::event_loop::{self, Backoff, Inbound, Shared};
use crate::{DeviceConfig, SdkError};

/// Largest MQTT packet accepted: a 5 KiB block reply with its header fits many times over,
/// and larger block sizes up to 64 KiB still work.
const MAX_INCOMING_PACKET: usize = 72 * 1024;
/// Pushes buffered until [`Device::next_push`] reads them.
const PUSH_QUEUE: usize = 4;

/// A device connected to the platform. Cheap to clone; the connection closes when
/// [`Device::close`] is called or the last clone is dropped.
pub struct Device<H> {
    pub(crate) inner: Arc<Inner>,
    pub(crate) handler: Arc<H>,
}

impl<H> Clone for Device<H> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            handler: Arc::clone(&self.handler),
        }
    }
}

pub(crate) struct Inner {
    pub config: DeviceConfig,
    mqtt_client_id: String,
    pub client: AsyncClient,
    pub shared: Arc<Shared>,
    pub http: reqwest::Client,
    pushes: tokio::sync::Mutex<mpsc::Receiver<UpgradePush>>,
    next_id: AtomicU64,
    pull_lock: tokio::sync::Mutex<()>,
    pub block_lock: tokio::sync::Mutex<()>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
            task.abort();
        }
    }
}

impl<H> Device<H> {
    /// Connects, subscribes to the push, pull-reply and block-reply topics, and returns once
    /// the broker acknowledged the subscriptions (within `config.connect_timeout`). The event
    /// loop keeps running in a task, reconnecting with backoff.
    pub async fn connect(config: DeviceConfig, handler: H) -> Result<Self, SdkError> {
        let http = Self::http_client(&config)?;
        Self::connect_with_http(config, handler, http).await
    }

    /// As [`Device::connect`], sharing an HTTP client (and its connection pool) between
    /// devices, which is what the simulator does.
    pub async fn connect_with_http(
        config: DeviceConfig,
        handler: H,
        http: reqwest::Client,
    ) -> Result<Self, SdkError> {
        let creds = config.credentials(now_ms());
        let mqtt_client_id = creds.client_id.clone();
        let mut opts = MqttOptions::new(creds.client_id, &config.mqtt_host, config.mqtt_port);
        opts.set_credentials(creds.username, creds.password)
            .set_keep_alive(config.keep_alive)
            .set_clean_session(true)
            .set_max_packet_size(MAX_INCOMING_PACKET, 16 * 1024)
            .set_request_channel_capacity(16)
            .set_inflight(16);
        if let Some(ca) = &config.tls_ca_pem {
            let client_auth = config
                .tls_client_cert
                .as_ref()
                .map(|c| (c.chain_pem.clone(), c.key_pem.clone()));
            opts.set_transport(rumqttc::Transport::tls(ca.clone(), client_auth, None));
        }
        let (client, mut el) = AsyncClient::new(opts, 16);
        let mut net = el.network_options();
        net.set_connection_timeout(config.connect_timeout.as_secs().max(1));
        el.set_network_options(net);

        let (pk, dn) = (&config.product_key, &config.device_name);
        let inbound = Inbound {
            upgrade: TopicKind::Upgrade.topic(pk, dn),
            get_reply: TopicKind::FirmwareGetReply.topic(pk, dn),
            download_reply: TopicKind::FileDownloadReply.topic(pk, dn),
        };
        let (push_tx, push_rx) = mpsc::channel(PUSH_QUEUE);
        let shared = Arc::new(Shared {
            pull: Mutex::new(None),
            blocks: Mutex::new(None),
            connected: watch::Sender::new(false),
            informs: Mutex::new(Default::default()),
        });
        let backoff = Backoff {
            min: config.min_backoff,
            max: config.max_backoff,
        };
        let (ready_tx, ready_rx) = oneshot::channel();
        let task = tokio::spawn(event_loop::drive(
            el,
            Arc::clone(&shared),
            inbound,
            push_tx,
            backoff,
            ready_tx,
        ));
        let ready = tokio::time::timeout(config.connect_timeout, ready_rx).await;
        let outcome = match ready {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(e),
            Ok(Err(_)) => Err(SdkError::Closed),
            Err(_) => Err(SdkError::Timeout("connect")),
        };
        if let Err(e) = outcome {
            task.abort();
            return Err(e);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                mqtt_client_id,
                client,
                shared,
                http,
                pushes: tokio::sync::Mutex::new(push_rx),
                next_id: AtomicU64::new(1),
                pull_lock: tokio::sync::Mutex::new(()),
                block_lock: tokio::sync::Mutex::new(()),
                task: Mutex::new(Some(task)),
            }),
            handler: Arc::new(handler),
        })
    }

    /// The HTTP client [`Device::connect`] builds: HTTP or HTTPS (trusting the system's
    /// authorities and `tls_ca_pem`'s), bound to `bind_ip` if set, 10 s connect and 30 s
    /// read timeouts.
    pub fn http_client(config: &DeviceConfig) -> Result<reqwest::Client, SdkError> {
        let mut builder = reqwest::Client::builder()
            .local_address(config.bind_ip)
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(4);
        if let Some(pem) = &config.tls_ca_pem {
            builder = builder.tls_certs_merge(reqwest::Certificate::from_pem_bundle(pem)?);
        }
        Ok(builder.build()?)
    }

    /// The configuration this device connected with.
    pub fn config(&self) -> &DeviceConfig {
        &self.inner.config
    }

    /// The full MQTT client id sent in CONNECT (`clientId|securemode=..,timestamp=..|`).
    pub fn mqtt_client_id(&self) -> &str {
        &self.inner.mqtt_client_id
    }

    /// The injected update handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// True while the connection is up and subscribed.
    pub fn is_connected(&self) -> bool {
        *self.inner.shared.connected.borrow()
    }

    /// Next message id (a decimal string, unique per device connection).
    pub(crate) fn next_id(&self) -> String {
        self.inner
            .next_id
            .fetch_add(1, Ordering::Relaxed)
            .to_string()
    }

    pub(crate) fn topic(&self, kind: TopicKind) -> String {
        kind.topic(
            &self.inner.config.product_key,
            &self.inner.config.device_name,
        )
    }

    pub(crate) async fn publish(
        &self,
        kind: TopicKind,
        msg: &DeviceMessage,
        qos: QoS,
    ) -> Result<(), SdkError> {
        self.inner
            .client
            .publish(self.topic(kind), qos, false, msg.to_payload())
            .await?;
        Ok(())
    }

    /// Reports the running `version` of `module` (`None`: the default module) on `inform`.
    /// Do it at boot and right after an update; the platform decides success by it. The
    /// report also says which delta formats the device applies (`DeviceConfig::apply_deltas`)
    /// and with how much memory (`DeviceConfig::delta_memory_limit`). The last report of
    /// each module is sent again after every reconnect, so one lost with a broken
    /// connection (or a server that stopped before storing it) is not lost for good.
    pub async fn report_version(
        &self,
        module: Option<&str>,
        version: &str,
    ) -> Result<(), SdkError> {
        let msg = DeviceMessage::Inform {
            id: Some(self.next_id()),
            version: version.to_owned(),
            module: module.map(str::to_owned),
            delta_formats: if self.config().apply_deltas {
                ota_delta::header::readable_versions()
            } else {
                Vec::new()
            },
            delta_memory: self
                .config()
                .delta_memory_limit
                .filter(|_| self.config().apply_deltas),
        };
        let inform = rumqttc::Publish::new(
            self.topic(TopicKind::Inform),
            QoS::AtLeastOnce,
            msg.to_payload(),
        );
        self.inner
            .shared
            .informs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(module.map(str::to_owned), inform);
        self.publish(TopicKind::Inform, &msg, QoS::AtLeastOnce)
            .await
    }

    /// Stops restating `module`'s version after reconnects until the next version report.
    pub(crate) fn forget_version(&self, module: Option<&str>) {
        self.inner
            .shared
            .informs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&module.map(str::to_owned));
    }

    /// Reports progress: `step` 0..=100 percent, or -1 (failed), -2 (download failed),
    /// -3 (verification failed), -4 (burning failed).
    pub async fn report_progress(
        &self,
        module: Option<&str>,
        step: i32,
        desc: &str,
    ) -> Result<(), SdkError> {
        let msg = DeviceMessage::Progress {
            id: Some(self.next_id()),
            step: ProgressStep::from_code(i64::from(step)),
            desc: desc.to_owned(),
            module: module.map(str::to_owned),
        };
        self.publish(TopicKind::Progress, &msg, QoS::AtLeastOnce)
            .await
    }

    /// Pulls the pending package of `module` on `thing/ota/firmware/get`. `Ok(None)` when the
    /// platform has nothing for this device; [`SdkError::Timeout`] after
    /// `config.request_timeout` without a reply. Pulls are serialised per device.
    pub async fn request_firmware(
        &self,
        module: Option<&str>,
    ) -> Result<Option<UpgradePush>, SdkError> {
        let _one_at_a_time = self.inner.pull_lock.lock().await;
        let (tx, rx) = oneshot::channel();
        *self
            .inner
            .shared
            .pull
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(tx);
        let msg = DeviceMessage::FirmwareGet {
            id: Some(self.next_id()),
            module: module.map(str::to_owned),
        };
        self.publish(TopicKind::FirmwareGet, &msg, QoS::AtLeastOnce)
            .await?;
        match tokio::time::timeout(self.inner.config.request_timeout, rx).await {
            Ok(Ok(reply)) => Ok(reply?),
            Ok(Err(_)) => Err(SdkError::Closed),
            Err(_) => {
                self.inner
                    .shared
                    .pull
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take();
                Err(SdkError::Timeout("firmware get_reply"))
            }
        }
    }

    /// The next pushed package (or unsolicited pull reply); `None` once the device is closed.
    /// Up to four unread pushes are kept; later ones are dropped.
    pub async fn next_push(&self) -> Option<UpgradePush> {
        self.inner.pushes.lock().await.recv().await
    }

    /// The pushes as a stream (see [`Device::next_push`]).
    pub fn pushes(&self) -> impl futures::Stream<Item = UpgradePush> + '_ {
        futures::stream::unfold(self, |d| async move { d.next_push().await.map(|p| (p, d)) })
    }

    /// Sends DISCONNECT and stops the event loop (waiting at most two seconds for it).
    pub async fn close(&self) {
        let _ = self.inner.client.try_disconnect();
        let task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(mut task) = task
            && tokio::time::timeout(Duration::from_secs(2), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
        self.inner.shared.connected.send_replace(false);
    }
}
