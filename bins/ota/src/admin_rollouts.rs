//! `ota rollout`: packages delivered in waves, through the native API. A rollout is given
//! as the API's JSON (`--file`) or with one `--wave` option per wave.

use crate::client::ApiClient;
use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::{Map, Value, json};

/// Rollouts: an ordered list of waves, each a batch started when the one before met its
/// success condition.
#[derive(Subcommand)]
pub enum RolloutCommand {
    /// Create a rollout of a package. Give the waves with `--wave` (in order) or the whole
    /// request as JSON with `--file` (as `POST /api/v1/firmwares/{id}/rollouts`).
    Create {
        firmware_id: String,
        /// A wave, as comma-separated settings: one of `percent=P`, `devices=N`, `group=ID`,
        /// then any of `name=TEXT`, `success=PERCENT[/MIN_FINISHED]`, `soak=MINUTES`,
        /// `approval`, and one error condition: `max-failed=N` or `max-failed-percent=P`,
        /// `min-finished=N`, `causes=TIMEOUT/DOWNLOAD_FAILED`, `action=PAUSE|CANCEL`.
        /// Example: `percent=1,success=100/5,soak=60,max-failed=0,action=CANCEL`.
        #[arg(long = "wave")]
        waves: Vec<String>,
        /// The request as a JSON file; `--wave` and the other options are not allowed then.
        #[arg(long, conflicts_with_all = ["waves", "name", "rate", "timeout", "approval"])]
        file: Option<std::path::PathBuf>,
        #[arg(long)]
        name: Option<String>,
        /// Pushes per minute of every wave's batch.
        #[arg(long)]
        rate: Option<u32>,
        /// Minutes a device has to finish once it started.
        #[arg(long)]
        timeout: Option<u32>,
        /// The first wave waits for an approval.
        #[arg(long)]
        approval: bool,
    },
    /// A package's rollouts, newest first.
    List { firmware_id: String },
    /// A rollout with its waves.
    Get { rollout_id: String },
    /// Pause a rollout and its running wave.
    Pause { rollout_id: String },
    /// Resume a paused rollout.
    Resume { rollout_id: String },
    /// Cancel a rollout: its running wave's devices not yet started are cancelled.
    Cancel { rollout_id: String },
    /// Start the next wave now.
    NextWave { rollout_id: String },
    /// Approve the wave awaiting approval.
    Approve {
        rollout_id: String,
        #[arg(long, default_value = "")]
        remark: String,
    },
    /// Deny the wave awaiting approval: the rollout is cancelled.
    Deny {
        rollout_id: String,
        #[arg(long, default_value = "")]
        remark: String,
    },
}

impl RolloutCommand {
    pub async fn run(self, api: &ApiClient) -> anyhow::Result<Value> {
        let command = |id: &str, what: &str| format!("/rollouts/{id}/{what}");
        Ok(match self {
            RolloutCommand::Create {
                firmware_id,
                waves,
                file,
                name,
                rate,
                timeout,
                approval,
            } => {
                let body = match file {
                    Some(path) => {
                        let text = std::fs::read_to_string(&path)
                            .with_context(|| format!("--file {}", path.display()))?;
                        serde_json::from_str(&text)
                            .with_context(|| format!("--file {}: not JSON", path.display()))?
                    }
                    None => request(waves, name, rate, timeout, approval)?,
                };
                api.post(&format!("/firmwares/{firmware_id}/rollouts"), &body)
                    .await?
            }
            RolloutCommand::List { firmware_id } => {
                api.get(&format!("/firmwares/{firmware_id}/rollouts"))
                    .await?
            }
            RolloutCommand::Get { rollout_id } => {
                api.get(&format!("/rollouts/{rollout_id}")).await?
            }
            RolloutCommand::Pause { rollout_id } => {
                api.post(&command(&rollout_id, "pause"), &json!({})).await?
            }
            RolloutCommand::Resume { rollout_id } => {
                api.post(&command(&rollout_id, "resume"), &json!({}))
                    .await?
            }
            RolloutCommand::Cancel { rollout_id } => {
                api.post(&command(&rollout_id, "cancel"), &json!({}))
                    .await?
            }
            RolloutCommand::NextWave { rollout_id } => {
                api.post(&command(&rollout_id, "next-wave"), &json!({}))
                    .await?
            }
            RolloutCommand::Approve { rollout_id, remark } => {
                api.post(&command(&rollout_id, "approve"), &json!({"remark": remark}))
                    .await?
            }
            RolloutCommand::Deny { rollout_id, remark } => {
                api.post(&command(&rollout_id, "deny"), &json!({"remark": remark}))
                    .await?
            }
        })
    }
}

/// The API request the options describe.
fn request(
    waves: Vec<String>,
    name: Option<String>,
    rate: Option<u32>,
    timeout: Option<u32>,
    approval: bool,
) -> anyhow::Result<Value> {
    if waves.is_empty() {
        bail!("give the waves with --wave (one per wave, in order) or the request with --file");
    }
    let mut policy = Map::new();
    if let Some(rate) = rate {
        policy.insert("maximum_per_minute".into(), json!(rate));
    }
    if let Some(timeout) = timeout {
        policy.insert("timeout_minutes".into(), json!(timeout));
    }
    if approval {
        policy.insert("approval_required".into(), json!(true));
    }
    let waves = waves
        .iter()
        .enumerate()
        .map(|(i, w)| wave(w).with_context(|| format!("--wave {} ({w:?})", i + 1)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut body = json!({"policy": policy, "waves": waves});
    if let Some(name) = name {
        body["name"] = json!(name);
    }
    Ok(body)
}

/// One `--wave` option as the API's wave.
fn wave(text: &str) -> anyhow::Result<Value> {
    let mut wave = Map::new();
    let mut error = Map::new();
    for setting in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (key, value) = setting.split_once('=').unwrap_or((setting, ""));
        let number = |what: &str| -> anyhow::Result<Value> {
            value
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| anyhow::anyhow!("{what} must be a whole number, got {value:?}"))
        };
        match key {
            "percent" => {
                wave.insert("percent".into(), json!(value));
            }
            "devices" => {
                wave.insert("devices".into(), number("devices")?);
            }
            "group" => {
                wave.insert("group_id".into(), json!(value));
            }
            "name" => {
                wave.insert("name".into(), json!(value));
            }
            "soak" => {
                wave.insert("soak_minutes".into(), number("soak")?);
            }
            "approval" if value.is_empty() => {
                wave.insert("approval_required".into(), json!(true));
            }
            "success" => {
                let (percent, min) = value.split_once('/').unwrap_or((value, ""));
                let percent: i64 = percent.parse().map_err(|_| {
                    anyhow::anyhow!("success wants PERCENT[/MIN_FINISHED], got {value:?}")
                })?;
                let mut cond = json!({"succeeded_percent": percent});
                if !min.is_empty() {
                    let min: i64 = min.parse().map_err(|_| {
                        anyhow::anyhow!("success wants PERCENT[/MIN_FINISHED], got {value:?}")
                    })?;
                    cond["min_finished"] = json!(min);
                }
                wave.insert("success_condition".into(), cond);
            }
            "max-failed" => {
                error.insert("max_failed".into(), number("max-failed")?);
            }
            "max-failed-percent" => {
                error.insert("max_failed_percent".into(), number("max-failed-percent")?);
            }
            "min-finished" => {
                error.insert("min_finished".into(), number("min-finished")?);
            }
            "causes" => {
                error.insert("causes".into(), json!(value.split('/').collect::<Vec<_>>()));
            }
            "action" => {
                error.insert("action".into(), json!(value.to_ascii_uppercase()));
            }
            _ => bail!(
                "unknown setting {key:?}: use percent, devices, group, name, success, soak, \
                 approval, max-failed, max-failed-percent, min-finished, causes, action"
            ),
        }
    }
    if !error.is_empty() {
        wave.insert("error_conditions".into(), json!([error]));
    }
    Ok(Value::Object(wave))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wave_options_become_the_api_waves() {
        assert_eq!(
            wave("percent=1,success=100/5,soak=60,max-failed=0,causes=TIMEOUT/BURN_FAILED,action=cancel")
                .unwrap(),
            json!({"percent": "1", "soak_minutes": 60,
                   "success_condition": {"succeeded_percent": 100, "min_finished": 5},
                   "error_conditions": [{"max_failed": 0, "causes": ["TIMEOUT", "BURN_FAILED"],
                                         "action": "CANCEL"}]})
        );
        assert_eq!(
            wave("devices=500, approval, name=big").unwrap(),
            json!({"devices": 500, "approval_required": true, "name": "big"})
        );
        assert_eq!(wave("group=g1").unwrap(), json!({"group_id": "g1"}));
        for bad in [
            "devices=many",
            "soak=",
            "success=all",
            "success=90/x",
            "colour=red",
        ] {
            assert!(wave(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_request_carries_the_policy_and_needs_a_wave() {
        let body = request(
            vec!["percent=10".into(), "percent=90".into()],
            Some("spring".into()),
            Some(500),
            None,
            true,
        )
        .unwrap();
        assert_eq!(
            body,
            json!({"name": "spring",
                   "policy": {"maximum_per_minute": 500, "approval_required": true},
                   "waves": [{"percent": "10"}, {"percent": "90"}]})
        );
        assert!(request(vec![], None, None, None, false).is_err());
    }
}
