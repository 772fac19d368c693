//! Everyday admin commands over the native API. Each prints the API's JSON answer, so the
//! output can be piped into `jq`.

use crate::client::{ApiClient, text};
use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Products.
    #[command(subcommand)]
    Product(ProductCommand),
    /// Devices.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Packages.
    #[command(subcommand)]
    Firmware(FirmwareCommand),
    /// Batches.
    #[command(subcommand)]
    Job(JobCommand),
    /// Tasks of a batch.
    #[command(subcommand)]
    Task(TaskCommand),
    /// Users, with their access keys and policies.
    #[command(subcommand)]
    User(crate::admin_teams::UserCommand),
    /// Access keys of users.
    #[command(subcommand)]
    AccessKey(crate::admin_teams::AccessKeyCommand),
    /// RAM policy documents.
    #[command(subcommand)]
    Policy(crate::admin_teams::PolicyCommand),
    /// Personal access tokens.
    #[command(subcommand)]
    Token(crate::admin_teams::TokenCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(crate::admin_teams::AuditCommand),
    /// Signed webhook endpoints and their delivery logs.
    #[command(subcommand)]
    Webhook(crate::admin_webhooks::WebhookCommand),
    /// Rollouts: a package delivered in waves.
    #[command(subcommand)]
    Rollout(crate::admin_rollouts::RolloutCommand),
}

#[derive(Subcommand)]
pub enum ProductCommand {
    /// Create a product.
    Create {
        name: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// List products.
    List,
    /// Allow or refuse dynamic registration of a product's devices, and set how many
    /// devices registration without pre-registration (regnwl) may create.
    Registration {
        product_key: String,
        /// on or off.
        #[arg(long, value_parser = ["on", "off"])]
        dynamic_register: Option<String>,
        #[arg(long)]
        regnwl_quota: Option<i64>,
    },
    /// A product's CA certificates for X.509 device logins on the MQTT TLS listener.
    Ca {
        #[command(subcommand)]
        command: crate::admin_certs::CaCommand,
    },
    /// A product's revoked device certificate serials.
    Revocation {
        #[command(subcommand)]
        command: crate::admin_certs::RevocationCommand,
    },
    /// Whether a device with a certificate from one of the product's CAs is created on its
    /// first connect when it does not exist.
    Certificates {
        product_key: String,
        /// on or off.
        #[arg(long, value_parser = ["on", "off"])]
        auto_create: String,
    },
}

#[derive(Subcommand)]
pub enum DeviceCommand {
    /// Register devices: give names, or --count for generated names.
    Register {
        product_key: String,
        names: Vec<String>,
        #[arg(long)]
        count: Option<usize>,
        /// Also write `productKey,deviceName,deviceSecret` lines to this CSV file.
        #[arg(long)]
        csv: Option<PathBuf>,
    },
    /// List a product's devices.
    List {
        product_key: String,
        #[arg(long)]
        prefix: Option<String>,
    },
    /// Show a device with its reported versions.
    Show {
        product_key: String,
        device_name: String,
    },
    /// Disable a device: refused at CONNECT and disconnected at once.
    Disable {
        product_key: String,
        device_name: String,
        /// Also cancel its unfinished tasks (otherwise they wait until it is enabled).
        #[arg(long)]
        cancel_tasks: bool,
    },
    /// Enable a disabled device.
    Enable {
        product_key: String,
        device_name: String,
    },
    /// Reset a device's dynamic registration, so it may register again.
    Reset {
        product_key: String,
        device_name: String,
    },
}

#[derive(Subcommand)]
pub enum FirmwareCommand {
    /// Upload a file (with a progress bar) and create a package from it.
    Upload(UploadArgs),
    /// List packages.
    List {
        #[arg(long)]
        product_key: Option<String>,
    },
    /// Show a package.
    Show { firmware_id: String },
}

#[derive(Args)]
pub struct UploadArgs {
    pub product_key: String,
    pub file: PathBuf,
    /// DestVersion.
    #[arg(long)]
    pub version: String,
    /// FirmwareName (default: the file name without suffix and the version).
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub module: Option<String>,
    /// SrcVersion: makes this a differential package.
    #[arg(long)]
    pub src_version: Option<String>,
    /// MD5 (default) or SHA256.
    #[arg(long, default_value = "MD5")]
    pub sign_method: String,
    /// Allow batches without a verification batch first.
    #[arg(long)]
    pub no_verify: bool,
    #[arg(long)]
    pub description: Option<String>,
}

#[derive(Subcommand)]
pub enum JobCommand {
    /// Create a batch. Options are the native API's fields, e.g.
    /// `--set target_selection=GRAY --set gray_percent=10 --set maximum_per_minute=1000`.
    Create {
        firmware_id: String,
        /// verify, static or dynamic.
        #[arg(long, default_value = "static")]
        kind: String,
        /// Devices (for verify and SPECIFIC batches).
        #[arg(long = "device")]
        devices: Vec<String>,
        /// Extra fields as key=value; values that parse as JSON are sent as JSON.
        #[arg(long = "set")]
        fields: Vec<String>,
        /// A maintenance window `CRON,MINUTES[,TIME_ZONE]`, e.g. `"0 2 * * *,120,Europe/Berlin"`;
        /// devices are started only inside one. May be repeated.
        #[arg(long = "window")]
        windows: Vec<String>,
        /// An exponential ramp `BASE,FACTOR,notified=N` or `BASE,FACTOR,succeeded=N`: start
        /// at BASE a minute and multiply by FACTOR every N devices notified (or succeeded).
        #[arg(long)]
        ramp: Option<String>,
    },
    /// Show a batch with its counts.
    Show { job_id: String },
    /// Follow a batch live until it ends (bars per task state on a terminal, a line per
    /// change elsewhere), then print it with its final counts.
    Watch {
        job_id: String,
        /// Seconds between looks.
        #[arg(long, default_value_t = 1.0)]
        every: f64,
        /// Also end once every task has finished and nothing changed for this many seconds
        /// (a dynamic batch keeps running for devices still to come).
        #[arg(long)]
        settle: Option<f64>,
    },
    /// Cancel a batch and all its unfinished tasks.
    Cancel { job_id: String },
    /// Pause a batch: no new device is pushed; devices already told go on.
    Pause { job_id: String },
    /// Resume a paused batch.
    Resume { job_id: String },
    /// Approve a batch created requiring approval: it starts pushing.
    Approve {
        job_id: String,
        #[arg(long, default_value = "")]
        remark: String,
    },
    /// Deny a batch created requiring approval: it is cancelled with every task.
    Deny {
        job_id: String,
        #[arg(long, default_value = "")]
        remark: String,
    },
}

#[derive(Subcommand)]
pub enum TaskCommand {
    /// List a batch's tasks.
    List {
        job_id: String,
        #[arg(long)]
        status: Option<String>,
    },
}

/// `CRON,MINUTES[,TIME_ZONE]` as the API's maintenance window.
fn window_field(text: &str) -> anyhow::Result<Value> {
    let mut parts = text.split(',').map(str::trim);
    let (Some(cron), Some(minutes)) = (parts.next(), parts.next()) else {
        anyhow::bail!("--window wants CRON,MINUTES[,TIME_ZONE], got {text:?}");
    };
    let minutes: i64 = minutes
        .parse()
        .map_err(|_| anyhow::anyhow!("--window {text:?}: MINUTES must be a whole number"))?;
    let mut window = json!({"cron": cron, "duration_minutes": minutes});
    if let Some(zone) = parts.next() {
        window["time_zone"] = json!(zone);
    }
    Ok(window)
}

/// `BASE,FACTOR,notified=N|succeeded=N` as the API's exponential rate.
fn ramp_field(text: &str) -> anyhow::Result<Value> {
    let bad = || {
        anyhow::anyhow!(
            "--ramp wants BASE,FACTOR,notified=N or BASE,FACTOR,succeeded=N, got {text:?}"
        )
    };
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let [base, factor, criterion] = parts[..] else {
        return Err(bad());
    };
    let base: i64 = base.parse().map_err(|_| bad())?;
    let factor: f64 = factor.parse().map_err(|_| bad())?;
    let (kind, n) = criterion.split_once('=').ok_or_else(bad)?;
    let n: i64 = n.parse().map_err(|_| bad())?;
    let key = match kind {
        "notified" => "notified_devices",
        "succeeded" => "succeeded_devices",
        _ => return Err(bad()),
    };
    Ok(
        json!({"base_rate_per_minute": base, "increment_factor": factor,
              "increase_criteria": {key: n}}),
    )
}

fn print(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

impl AdminCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        let api = ApiClient::from_env()?;
        let out = match self {
            AdminCommand::Product(ProductCommand::Create { name, description }) => {
                api.post(
                    "/products",
                    &json!({"name": name, "description": description}),
                )
                .await?
            }
            AdminCommand::Product(ProductCommand::List) => {
                api.get("/products?page_size=200").await?
            }
            AdminCommand::Product(ProductCommand::Registration {
                product_key,
                dynamic_register,
                regnwl_quota,
            }) => {
                let mut body = json!({});
                if let Some(switch) = dynamic_register {
                    body["dynamic_register"] = json!(switch == "on");
                }
                if let Some(quota) = regnwl_quota {
                    body["regnwl_quota"] = json!(quota);
                }
                api.patch(&format!("/products/{product_key}"), &body)
                    .await?
            }
            AdminCommand::Product(ProductCommand::Ca { command }) => command.run(&api).await?,
            AdminCommand::Product(ProductCommand::Revocation { command }) => {
                command.run(&api).await?
            }
            AdminCommand::Product(ProductCommand::Certificates {
                product_key,
                auto_create,
            }) => {
                crate::admin_certs::set_auto_create(&api, &product_key, auto_create == "on").await?
            }
            AdminCommand::Device(DeviceCommand::Register {
                product_key,
                names,
                count,
                csv,
            }) => {
                let body = if let Some(count) = count {
                    json!({"count": count})
                } else {
                    json!({"names": names})
                };
                let out = api
                    .post(&format!("/products/{product_key}/devices"), &body)
                    .await?;
                if let Some(path) = csv {
                    write_credentials(&path, &out)?;
                }
                out
            }
            AdminCommand::Device(DeviceCommand::List {
                product_key,
                prefix,
            }) => {
                let q = prefix.map(|p| format!("&prefix={p}")).unwrap_or_default();
                api.get(&format!("/products/{product_key}/devices?page_size=200{q}"))
                    .await?
            }
            AdminCommand::Device(DeviceCommand::Show {
                product_key,
                device_name,
            }) => {
                api.get(&format!("/products/{product_key}/devices/{device_name}"))
                    .await?
            }
            AdminCommand::Device(DeviceCommand::Disable {
                product_key,
                device_name,
                cancel_tasks,
            }) => {
                let path = format!("/products/{product_key}/devices/{device_name}/disable");
                api.post(&path, &json!({"cancel_tasks": cancel_tasks}))
                    .await?
            }
            AdminCommand::Device(DeviceCommand::Enable {
                product_key,
                device_name,
            }) => {
                let path = format!("/products/{product_key}/devices/{device_name}/enable");
                api.post(&path, &json!({})).await?
            }
            AdminCommand::Device(DeviceCommand::Reset {
                product_key,
                device_name,
            }) => {
                let path = format!("/products/{product_key}/devices/{device_name}/reset");
                api.post(&path, &json!({})).await?
            }
            AdminCommand::Firmware(FirmwareCommand::Upload(args)) => upload(&api, args).await?,
            AdminCommand::Firmware(FirmwareCommand::List { product_key }) => {
                let q = product_key
                    .map(|p| format!("&product_key={p}"))
                    .unwrap_or_default();
                api.get(&format!("/firmwares?page_size=100{q}")).await?
            }
            AdminCommand::Firmware(FirmwareCommand::Show { firmware_id }) => {
                api.get(&format!("/firmwares/{firmware_id}")).await?
            }
            AdminCommand::Job(JobCommand::Create {
                firmware_id,
                kind,
                devices,
                fields,
                windows,
                ramp,
            }) => {
                let mut body = json!({"kind": kind});
                if !devices.is_empty() {
                    body["device_names"] = json!(devices);
                }
                if !windows.is_empty() {
                    body["maintenance_windows"] = windows
                        .iter()
                        .map(|w| window_field(w))
                        .collect::<anyhow::Result<Value>>()?;
                }
                if let Some(ramp) = ramp {
                    body["exponential_rate"] = ramp_field(&ramp)?;
                }
                for field in fields {
                    let (k, v) = field
                        .split_once('=')
                        .ok_or_else(|| anyhow::anyhow!("--set wants key=value, got {field:?}"))?;
                    body[k] = serde_json::from_str(v).unwrap_or_else(|_| json!(v));
                }
                api.post(&format!("/firmwares/{firmware_id}/jobs"), &body)
                    .await?
            }
            AdminCommand::Job(JobCommand::Show { job_id }) => {
                api.get(&format!("/jobs/{job_id}")).await?
            }
            AdminCommand::Job(JobCommand::Watch {
                job_id,
                every,
                settle,
            }) => {
                let seconds = |s: f64| Duration::from_secs_f64(s.clamp(0.05, 3600.0));
                crate::job_watch::watch(&api, &job_id, seconds(every), settle.map(seconds)).await?
            }
            AdminCommand::Job(JobCommand::Cancel { job_id }) => {
                api.post(&format!("/jobs/{job_id}/cancel"), &json!({"all": true}))
                    .await?
            }
            AdminCommand::Job(JobCommand::Pause { job_id }) => {
                api.post(&format!("/jobs/{job_id}/pause"), &json!({}))
                    .await?
            }
            AdminCommand::Job(JobCommand::Resume { job_id }) => {
                api.post(&format!("/jobs/{job_id}/resume"), &json!({}))
                    .await?
            }
            AdminCommand::User(command) => command.run(&api).await?,
            AdminCommand::AccessKey(command) => command.run(&api).await?,
            AdminCommand::Policy(command) => command.run(&api).await?,
            AdminCommand::Token(command) => command.run(&api).await?,
            AdminCommand::Webhook(command) => command.run(&api).await?,
            AdminCommand::Rollout(command) => command.run(&api).await?,
            AdminCommand::Audit(command) => match command.run(&api).await? {
                Some(events) => events,
                None => return Ok(()),
            },
            AdminCommand::Job(JobCommand::Approve { job_id, remark }) => {
                api.post(
                    &format!("/jobs/{job_id}/approve"),
                    &json!({"remark": remark}),
                )
                .await?
            }
            AdminCommand::Job(JobCommand::Deny { job_id, remark }) => {
                api.post(&format!("/jobs/{job_id}/deny"), &json!({"remark": remark}))
                    .await?
            }
            AdminCommand::Task(TaskCommand::List { job_id, status }) => {
                let q = status.map(|s| format!("&status={s}")).unwrap_or_default();
                api.get(&format!("/jobs/{job_id}/tasks?page_size=200{q}"))
                    .await?
            }
        };
        print(&out);
        Ok(())
    }
}

async fn upload(api: &ApiClient, args: UploadArgs) -> anyhow::Result<Value> {
    let size = std::fs::metadata(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?
        .len();
    let bar = indicatif::ProgressBar::new(size).with_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message("uploading");
    let progress = bar.clone();
    let uploaded = api
        .upload(&args.file, move |sent| progress.set_position(sent))
        .await?;
    bar.finish_with_message("uploaded");
    let stem = args
        .file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("firmware");
    let name = args
        .name
        .unwrap_or_else(|| default_name(stem, &args.version));
    let mut body = json!({
        "product_key": args.product_key,
        "name": name,
        "dest_version": args.version,
        "url": text(&uploaded, "url")?,
        "sign_method": args.sign_method,
        "need_to_verify": !args.no_verify,
        "description": args.description,
        "module_name": args.module,
    });
    if let Some(src) = args.src_version {
        body["type"] = json!(1);
        body["src_version"] = json!(src);
    }
    api.post("/firmwares", &body).await
}

/// A package name from the file name and version: the characters a name may not hold
/// become `_`, so a bad version is reported as a bad version, not as a bad name.
fn default_name(stem: &str, version: &str) -> String {
    let name: String = format!("{stem}-{version}")
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    match name.chars().next() {
        Some(c) if c.is_alphanumeric() => name,
        _ => format!("fw{name}").chars().take(40).collect(),
    }
}

/// Writes `productKey,deviceName,deviceSecret` for each registered device.
fn write_credentials(path: &std::path::Path, registered: &Value) -> anyhow::Result<()> {
    use std::io::Write;
    let file =
        std::fs::File::create(path).with_context(|| format!("writing {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    for d in registered["items"].as_array().into_iter().flatten() {
        writeln!(
            out,
            "{},{},{}",
            text(d, "product_key")?,
            text(d, "device_name")?,
            text(d, "device_secret")?
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_and_ramp_options_become_the_api_fields() {
        assert_eq!(
            window_field("0 2 * * *,120,Europe/Berlin").unwrap(),
            json!({"cron": "0 2 * * *", "duration_minutes": 120, "time_zone": "Europe/Berlin"})
        );
        assert_eq!(
            window_field("30 1 * * 1-5, 45").unwrap(),
            json!({"cron": "30 1 * * 1-5", "duration_minutes": 45})
        );
        assert_eq!(
            ramp_field("100,1.5,succeeded=20").unwrap(),
            json!({"base_rate_per_minute": 100, "increment_factor": 1.5,
                   "increase_criteria": {"succeeded_devices": 20}})
        );
        for bad in ["0 2 * * *", "0 2 * * *,two"] {
            assert!(window_field(bad).is_err(), "{bad}");
        }
        for bad in [
            "100,1.5",
            "100,x,notified=5",
            "100,2,pushed=5",
            "100,2,notified=x",
        ] {
            assert!(ramp_field(bad).is_err(), "{bad}");
        }
    }
}
