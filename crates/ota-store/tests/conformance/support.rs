//! Backends and fixtures shared by the conformance tests.

use ota_domain::firmware::{Firmware, FirmwareFile, FirmwareStatus, FirmwareType, SignMethod};
use ota_domain::job::{Job, JobPolicy, JobStatus, JobType, SelectionType, TargetSelection};
use ota_domain::registry::{Device, ModuleVersion, Product};
use ota_domain::{DeviceKey, Millis};
use ota_store::{Dialect, Store};
use rand::Rng;
use std::collections::BTreeMap;

pub const T0: Millis = 1_700_000_000_000;

/// Declares a test that runs `$body(&Store)` once per backend.
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let b = $crate::support::Backend::sqlite().await;
                super::$name(&b.store).await;
                b.finish().await;
            }
            #[tokio::test]
            async fn postgres() {
                let Some(b) = $crate::support::Backend::postgres().await else { return };
                super::$name(&b.store).await;
                b.finish().await;
            }
        }
    )*};
}

/// A store on a fresh database, removed by `finish`.
pub struct Backend {
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl Backend {
    pub async fn sqlite() -> Backend {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("ota.db").display());
        let store = Store::connect(&url).await.expect("connect sqlite");
        assert_eq!(store.dialect(), Dialect::Sqlite);
        Backend {
            store,
            _dir: Some(dir),
            pg: None,
        }
    }

    pub async fn postgres() -> Option<Backend> {
        if std::env::var("OTA_TEST_SKIP_PG").as_deref() == Ok("1") {
            return None;
        }
        let base = std::env::var("OTA_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let schema = format!("t_{:016x}", rand::rng().random::<u64>());
        admin(&base, &format!("CREATE SCHEMA {schema}")).await;
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
        let store = Store::connect(&url).await.expect("connect postgres");
        assert_eq!(store.dialect(), Dialect::Postgres);
        Some(Backend {
            store,
            _dir: None,
            pg: Some((base, schema)),
        })
    }

    pub async fn finish(self) {
        self.store.close().await;
        if let Some((base, schema)) = self.pg {
            admin(&base, &format!("DROP SCHEMA {schema} CASCADE")).await;
        }
    }
}

async fn admin(url: &str, sql: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url)
        .await
        .expect("connect admin");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await
        .expect(sql);
    conn.close().await.ok();
}

pub fn product(pk: &str) -> Product {
    Product {
        product_key: pk.into(),
        product_name: format!("{pk} name"),
        product_secret: format!("{pk}-secret"),
        description: None,
        dynamic_register: false,
        regnwl_quota: ota_domain::registry::DEFAULT_REGNWL_QUOTA,
        certificate_auto_create: false,
        created_at: T0,
        modified_at: T0,
    }
}

pub fn device(pk: &str, name: &str) -> Device {
    Device::registered(
        format!("iot-{pk}-{name}").into(),
        pk.into(),
        name.into(),
        format!("secret-{name}"),
        T0,
    )
}

pub fn key(pk: &str, name: &str) -> DeviceKey {
    DeviceKey::new(pk, name)
}

/// A product with devices `d000..` (none online).
pub async fn fleet(store: &Store, pk: &str, n: usize) -> Vec<String> {
    store.insert_product(&product(pk)).await.ok();
    let names: Vec<String> = (0..n).map(|i| format!("d{i:05}")).collect();
    let devices: Vec<Device> = names.iter().map(|n| device(pk, n)).collect();
    store.insert_devices(&devices).await.unwrap();
    names
}

pub fn report(pk: &str, name: &str, module: &str, version: &str, at: Millis) -> ModuleVersion {
    ModuleVersion {
        delta_formats: Vec::new(),
        delta_memory: None,
        product_key: pk.into(),
        device_name: name.into(),
        module_name: module.into(),
        version: version.into(),
        reported_at: at,
    }
}

pub fn firmware(id: &str, pk: &str, module: &str, dest: &str) -> Firmware {
    Firmware {
        firmware_id: id.into(),
        product_key: pk.into(),
        firmware_name: format!("fw {id}"),
        firmware_desc: Some("desc".into()),
        module_name: module.into(),
        firmware_type: FirmwareType::Full,
        src_version: None,
        dest_version: dest.into(),
        sign_method: SignMethod::Sha256,
        status: FirmwareStatus::NotRequired,
        verify_progress: 0,
        udi: None,
        multi_file: false,
        files: vec![FirmwareFile {
            name: format!("{id}.bin"),
            blob_key: format!("blobs/{id}"),
            size: 1234,
            md5: "m".into(),
            sha256: "s".into(),
            sign_value: "s".into(),
        }],
        created_at: T0,
        modified_at: T0,
    }
}

pub fn job(id: &str, fw: &Firmware) -> Job {
    Job {
        job_id: id.into(),
        firmware_id: fw.firmware_id.clone(),
        product_key: fw.product_key.clone(),
        job_type: JobType::UpgradeFirmware,
        selection_type: SelectionType::Static,
        target_selection: TargetSelection::All,
        src_versions: Vec::new(),
        policy: JobPolicy::default(),
        tags: BTreeMap::new(),
        name: Some(format!("job {id}")),
        description: None,
        status: JobStatus::InProgress,
        created_at: T0,
        modified_at: T0,
        started_at: Some(T0),
        finished_at: None,
        control: Default::default(),
        creation: None,
        wave: None,
    }
}

/// Stores the package and the batch.
pub async fn setup_job(store: &Store, fw: &Firmware, job: &Job) {
    if store.get_firmware(&fw.firmware_id).await.unwrap().is_none() {
        store.insert_firmware(fw).await.unwrap();
    }
    store.insert_job(job).await.unwrap();
}
