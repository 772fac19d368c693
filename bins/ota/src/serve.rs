//! `ota serve`: the composition root. It reads like the start-up it performs: open the
//! store, build the core, join the other nodes, start the workers, the HTTP server and the
//! device endpoint, then wait for a signal and stop in reverse order.

use crate::bridge::DeviceBridge;
use crate::config::ServeConfig;
use crate::endpoint::DeviceEndpoint;
use crate::mqtt_auth::{self, MqttAuth};
use anyhow::Context;
use ota_api::AppState;
use ota_blob::{BlobStore, DirStore, S3Store, UrlSigner};
use ota_core::nodes::{JoinError, Node};
use ota_core::{Clock, Core, CoreConfig, OffsetClock, SystemClock};
use ota_device_gateway::AdminCredential;
use ota_store::Store;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Runs the platform until SIGINT or SIGTERM.
pub async fn run(config: ServeConfig) -> anyhow::Result<()> {
    tokio::fs::create_dir_all(&config.data_dir)
        .await
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let store = Store::connect(&config.database_url())
        .await
        .context("opening the store")?;
    tracing::info!(dialect = ?store.dialect(), "store opened");
    let signer = UrlSigner::new(url_signing_secret(&store).await?);
    let blobs = open_package_storage(&config).await?;
    // Bound first: with port 0 the download URLs must carry the port actually used.
    let listener = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("binding the HTTP server {}", config.http_addr))?;
    let http_addr = listener.local_addr()?;
    let https_listener = match config.https_addr {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding the HTTPS server {addr}"))?,
        ),
        None => None,
    };
    let https_addr = https_listener
        .as_ref()
        .map(|l| l.local_addr())
        .transpose()?;
    // One certificate for both TLS listeners, loaded before anything is ready, so a bad
    // file stops the start. The MQTT listener also asks devices for their certificates.
    let tls = config
        .https_addr
        .is_some()
        .then(|| config.tls_server_config(false))
        .transpose()?;
    let mqtt_tls = config
        .mqtt_tls_addr
        .is_some()
        .then(|| config.tls_server_config(true))
        .transpose()?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| match https_addr {
            Some(addr) => format!("https://{addr}"),
            None => format!("http://{http_addr}"),
        });

    let adjustable = config.adjustable_clock.then(OffsetClock::default);
    if adjustable.is_some() {
        tracing::warn!("the clock is adjustable through the API: for tests and demos only");
    }
    let clock: Arc<dyn Clock> = match &adjustable {
        Some(clock) => Arc::new(clock.clone()),
        None => Arc::new(SystemClock),
    };
    let core = Core::new(
        store.clone(),
        blobs,
        signer,
        clock,
        CoreConfig {
            public_url: public_url.clone(),
            firmware_quota: config.firmware_quota,
            max_file_size: config.max_file_mb * 1024 * 1024,
            download_url_ttl: config.download_url_ttl_minutes * 60_000,
            delta_from_latest: config.delta_from_latest(),
            nudge_after: (config.nudge_secs > 0).then(|| config.nudge_secs as i64 * 1000),
            creation_wait: std::time::Duration::from_millis(config.batch_creation_wait_ms),
            server_key: load_server_key(&config)?,
            audit_retention: config.audit_retention_days as i64 * 24 * 3_600_000,
            ..CoreConfig::default()
        },
    );
    prepare_teams(&core).await?;
    core.set_webhook_sender(Arc::new(crate::webhook_sender::HttpWebhookSender::new()?));
    // Among the nodes on this store: refused here, before anything is served, when its
    // download URLs would name this node beside others.
    let node = match Node::join(&core, config.node_settings(http_addr, &public_url)).await {
        Ok(node) => Arc::new(node),
        Err(JoinError::Refused(message)) => anyhow::bail!("{message}"),
        Err(JoinError::Core(err)) => return Err(err).context("registering this node"),
    };
    let shutdown = CancellationToken::new();
    // The heartbeat runs from now on, however long the device endpoint takes to come up;
    // claiming lost nodes waits for it.
    let liveness =
        ota_core::engine::worker::spawn(&core, ota_core::nodes::Heartbeat(node.clone()), &shutdown);
    let workers = core.start_workers(&shutdown);
    tracing::info!("engine workers started");

    let handler = Arc::new(DeviceBridge {
        core: core.clone(),
        connects_known: config.mqtt_broker.is_none(),
    });
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| tracing::warn!(%e, "metrics recorder not installed"))
        .ok();
    crate::heap::spawn_gauges(&shutdown);
    // Filled once the device endpoint is up; until then no device is connected.
    let started_endpoint: Arc<std::sync::OnceLock<DeviceEndpoint>> = Arc::default();
    let online_endpoint = started_endpoint.clone();
    let state = AppState {
        core: core.clone(),
        metrics,
        online: Arc::new(move || online_endpoint.get().map_or(0, |e| e.online_count())),
        clock: adjustable,
    };

    // HTTP is served before the device endpoint starts: behind an external broker that asks
    // the nodes themselves whether a client may connect (`/mqtt/auth`), this node's own
    // CONNECT must find them answering.
    let mut router = ota_api::router(state);
    if config.mqtt_broker.is_some() {
        router = router.merge(mqtt_auth::router(broker_auth(&config, handler.clone())));
    }
    // Made into a service once: served as a plain `Router`, axum prepares the whole route
    // table again for every connection (`with_state` per accepted socket): about 120 KiB
    // of heap and its CPU for each device's download connection.
    // With the peer address, which the audit log records as each call's source.
    let router = router.into_make_service_with_connect_info::<ota_api::PeerAddr>();
    let https = match https_listener.zip(tls.clone()) {
        Some((tcp, tls_config)) => {
            let tls = crate::https::TlsListener::new(tcp, tls_config, shutdown.clone())?;
            let (router, stop) = (router.clone(), shutdown.clone());
            Some(tokio::spawn(async move {
                axum::serve(tls, router)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await
            }))
        }
        None => None,
    };
    let http_shutdown = shutdown.clone();
    let http = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(http_shutdown.cancelled_owned())
            .await
    });

    let (endpoint, mqtt_addr, mqtt_tls_addr) =
        DeviceEndpoint::start(&config, mqtt_tls, handler, &shutdown).await?;
    let _ = started_endpoint.set(endpoint.clone());
    core.set_link(endpoint.link());
    node.start_recovering();
    tracing::info!(%http_addr, ?https_addr, %mqtt_addr, ?mqtt_tls_addr, %public_url, "ready");
    println!(
        "{}",
        serde_json::json!({"event": "ready", "http": http_addr.to_string(), "mqtt": mqtt_addr.to_string(),
                           "https": https_addr.map(|a| a.to_string()),
                           "mqtt_tls": mqtt_tls_addr.map(|a| a.to_string())})
    );

    wait_for_signal().await;
    tracing::info!("shutting down");
    shutdown.cancel();
    if let Ok(Err(err)) = http.await {
        tracing::warn!(%err, "HTTP server stopped with an error");
    }
    if let Some(Ok(Err(err))) = match https {
        Some(task) => Some(task.await),
        None => None,
    } {
        tracing::warn!(%err, "HTTPS server stopped with an error");
    }
    tracing::info!("HTTP server stopped");
    endpoint.closed().await;
    tracing::info!("device endpoint stopped");
    for worker in workers {
        let _ = worker.await;
    }
    let _ = liveness.await;
    if let Err(err) = node.leave().await {
        tracing::warn!(%err, "this node could not deregister; the others will find it lost");
    }
    store.close().await;
    tracing::info!("store closed; bye");
    Ok(())
}

/// The broker-facing auth and ACL: devices by their signature, and this platform's own
/// broker account (if any) as the one non-device client.
fn broker_auth(config: &ServeConfig, devices: Arc<DeviceBridge>) -> MqttAuth {
    let admins = config
        .mqtt_broker_username
        .iter()
        .map(|username| AdminCredential {
            username: username.clone(),
            password: config
                .mqtt_broker_password
                .as_ref()
                .map(|s| s.0.clone())
                .unwrap_or_default(),
        })
        .collect();
    MqttAuth {
        devices,
        admins,
        secret: config.mqtt_http_auth_secret.as_ref().map(|s| s.0.clone()),
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Users, policies and the bootstrap admin key: from `OTA_ACCESS_KEY_ID` /
/// `OTA_ACCESS_KEY_SECRET`, or generated on the first start and printed once.
async fn prepare_teams(core: &Core) -> anyhow::Result<()> {
    let id = std::env::var("OTA_ACCESS_KEY_ID")
        .ok()
        .filter(|v| !v.is_empty());
    let secret = std::env::var("OTA_ACCESS_KEY_SECRET")
        .ok()
        .filter(|v| !v.is_empty());
    let bootstrap = match (&id, &secret) {
        (Some(id), Some(secret)) => Some((id.as_str(), secret.as_str())),
        (None, None) => None,
        _ => anyhow::bail!("set both OTA_ACCESS_KEY_ID and OTA_ACCESS_KEY_SECRET, or neither"),
    };
    if let Some((id, secret)) = core.teams().prepare(bootstrap).await? {
        eprintln!(
            "Generated the admin access key (shown only now; keep it safe):\n  OTA_ACCESS_KEY_ID={id}\n  OTA_ACCESS_KEY_SECRET={secret}"
        );
    } else if let Some(id) = id {
        tracing::info!(key_id = %id, "admin access key from the environment");
    }
    Ok(())
}

/// The server key from `server_key_file` (default `<data_dir>/server.key`). A missing file
/// is made (mode 0600) with a new key; of nodes starting together on one file, all read
/// the one written first. A key that does not match the store's is refused at start
/// (`Teams::prepare`).
fn load_server_key(config: &ServeConfig) -> anyhow::Result<ota_core::sealing::ServerKey> {
    use ota_core::sealing::ServerKey;
    let path = config
        .server_key_file
        .clone()
        .unwrap_or_else(|| config.data_dir.join("server.key"));
    let read = |path: &std::path::Path| -> anyhow::Result<ServerKey> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the server key {}", path.display()))?;
        ServerKey::from_text(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    };
    if path.exists() {
        return read(&path);
    }
    let key = ServerKey::generate();
    match write_private(&path, &key.to_text()) {
        Ok(()) => {
            tracing::info!(path = %path.display(), "generated the server key");
            Ok(key)
        }
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => read(&path),
        Err(err) => Err(err).with_context(|| format!("writing the server key {}", path.display())),
    }
}

/// Writes a new file readable by its owner only, whole or not at all: the text goes to a
/// temporary file that is then linked into place, so a node starting beside another never
/// reads a half-written key. `AlreadyExists` when the file is there.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{}.tmp", random_hex(8)));
    let temporary = std::path::PathBuf::from(temporary);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temporary).and_then(|mut file| {
        file.write_all(text.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&temporary, path));
    let _ = std::fs::remove_file(&temporary);
    linked
}

/// The secret that signs download URLs, generated once and kept in the store so every node
/// and every restart accepts the URLs already handed out. Inserted only if absent, then
/// read back: of nodes starting at once, all use the first one written.
async fn url_signing_secret(store: &Store) -> anyhow::Result<String> {
    Ok(store
        .kv_get_or_insert("url_signing_secret", &random_hex(32))
        .await?)
}

fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// The package directory under `data_dir`, or the S3 bucket when one is configured (checked
/// with one listing, so a wrong bucket or credential stops the start).
async fn open_package_storage(config: &ServeConfig) -> anyhow::Result<BlobStore> {
    let Some(s3) = config.s3() else {
        let dir = config.data_dir.join("packages");
        return Ok(DirStore::open(&dir)
            .await
            .with_context(|| format!("opening the package directory {}", dir.display()))?
            .into());
    };
    let store = S3Store::connect(&s3).context("configuring the S3 package bucket")?;
    store
        .check()
        .await
        .with_context(|| format!("reaching the S3 package bucket {:?}", s3.bucket))?;
    tracing::info!(bucket = %s3.bucket, endpoint = ?s3.endpoint, "packages stored in S3");
    Ok(store.into())
}
