//! Layering the configuration with `figment2`: defaults, a TOML file, `OTA_*` variables,
//! flags — each over the one before — then secrets read from their `*_file`s and every
//! rule checked. An error names the setting and where its value came from.

use super::{Secret, ServeArgs, ServeConfig};
use anyhow::{Context, bail};
use figment2::Figment;
use figment2::providers::{Env, Format, Serialized, Toml};
use std::path::PathBuf;

impl ServeConfig {
    /// Layers defaults, the file, the environment and the flags.
    pub fn load(args: &ServeArgs) -> anyhow::Result<ServeConfig> {
        let mut figment = Figment::from(Serialized::defaults(ServeConfig::default()));
        if let Some(path) = &args.config {
            if !path.is_file() {
                bail!("the configuration file {} does not exist", path.display());
            }
            figment = figment.merge(Toml::file(path).search(false));
        }
        let fields = field_names();
        let mut config: ServeConfig = figment
            .merge(
                Env::prefixed("OTA_")
                    .filter(move |key| fields.iter().any(|f| key == f.as_str()))
                    .parser(env_value),
            )
            .merge(Serialized::defaults(args))
            .extract_lossy()
            .map_err(|e| anyhow::anyhow!("configuration: {}", error_text(e)))?;
        config.read_secret_files()?;
        config.check()?;
        Ok(config)
    }

    /// Replaces each secret given as a `*_file` by the file's content (trimmed).
    fn read_secret_files(&mut self) -> anyhow::Result<()> {
        let secrets: [(&str, &mut Option<Secret>, &mut Option<PathBuf>); 4] = [
            (
                "mqtt_broker_password",
                &mut self.mqtt_broker_password,
                &mut self.mqtt_broker_password_file,
            ),
            (
                "mqtt_http_auth_secret",
                &mut self.mqtt_http_auth_secret,
                &mut self.mqtt_http_auth_secret_file,
            ),
            (
                "s3_secret_access_key",
                &mut self.s3_secret_access_key,
                &mut self.s3_secret_access_key_file,
            ),
            (
                "database_url",
                &mut self.database_url,
                &mut self.database_url_file,
            ),
        ];
        for (name, value, file) in secrets {
            let Some(path) = file.take() else { continue };
            if value.is_some() {
                bail!("give {name} or {name}_file, not both");
            }
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {name}_file {}", path.display()))?;
            *value = Some(Secret(text.trim().to_owned()));
        }
        Ok(())
    }

    /// The configuration as TOML, secrets hidden: what `ota serve --check-config` prints.
    pub fn describe(&self) -> String {
        let mut shown = self.clone();
        for secret in [
            &mut shown.mqtt_broker_password,
            &mut shown.mqtt_http_auth_secret,
            &mut shown.s3_secret_access_key,
            &mut shown.database_url,
        ] {
            if secret.is_some() {
                *secret = Some(Secret("***".to_owned()));
            }
        }
        toml::to_string(&shown).unwrap_or_else(|e| format!("# cannot show the configuration: {e}"))
    }
}

/// Every field name, so that the environment layer reads `OTA_<FIELD>` for them alone
/// (other `OTA_*` variables — the admin key, the CLI's URL — are not settings).
fn field_names() -> Vec<String> {
    match serde_json::to_value(ServeConfig::default()) {
        Ok(serde_json::Value::Object(fields)) => fields.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// An `OTA_*` value as it is written: a string, always (`OTA_S3_ACCESS_KEY_ID=12345` is a key,
/// `OTA_S3_PREFIX=` the empty prefix). Numbers and booleans are read from it when the field
/// wants one (`extract_lossy`), so `OTA_FIRMWARE_QUOTA=7` still sets a number.
fn env_value(text: &str) -> figment2::value::Value {
    figment2::value::Value::from(text.to_owned())
}

/// A figment error as one line per problem, each naming the setting and its source.
fn error_text(error: figment2::Error) -> String {
    error
        .into_iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}
