//! What no part of the server would accept, refused at start-up by name.

use super::*;

impl ServeConfig {
    /// Refuses values no part of the server would accept, naming the setting.
    pub fn check(&self) -> anyhow::Result<()> {
        if let Some(Err(e)) = self.mqtt_broker() {
            anyhow::bail!("{e}");
        }
        for (name, set) in [
            ("https_addr", self.https_addr.is_some()),
            ("mqtt_tls_addr", self.mqtt_tls_addr.is_some()),
        ] {
            if set && (self.tls_cert_file.is_none() || self.tls_key_file.is_none()) {
                anyhow::bail!(
                    "{name} needs tls_cert_file and tls_key_file (PEM certificate chain and private key)"
                );
            }
        }
        if self.mqtt_tls_addr.is_some() && self.mqtt_broker.is_some() {
            anyhow::bail!(
                "mqtt_tls_addr is for the embedded endpoint; behind mqtt_broker, TLS is the broker's"
            );
        }
        let group = &self.mqtt_share_group;
        if group.is_empty() || group.contains(['/', '+', '#']) {
            anyhow::bail!(
                "mqtt_share_group must be one topic level (no '/', '+', '#'), not {group:?}"
            );
        }
        if let Some(bucket) = &self.s3_bucket {
            if bucket.trim().is_empty() {
                anyhow::bail!("s3_bucket (OTA_S3_BUCKET) must name a bucket, not be empty");
            }
            if self.download_url_ttl_minutes > MAX_PRESIGNED_MINUTES {
                anyhow::bail!(
                    "download_url_ttl_minutes must be at most {MAX_PRESIGNED_MINUTES} (7 days, the longest an S3 presigned URL lives) when packages are in s3_bucket, not {}",
                    self.download_url_ttl_minutes
                );
            }
        }
        if self.download_url_ttl_minutes < 1 {
            anyhow::bail!(
                "download_url_ttl_minutes must be at least 1, not {}",
                self.download_url_ttl_minutes
            );
        }
        if self.nudge_secs != 0 && !(5..=86_400).contains(&self.nudge_secs) {
            anyhow::bail!(
                "nudge_secs must be 0 (never) or between 5 and 86400 seconds, not {}",
                self.nudge_secs
            );
        }
        if !BATCH_CREATION_WAIT_MS.contains(&self.batch_creation_wait_ms) {
            anyhow::bail!(
                "batch_creation_wait_ms must be between 0 and 30000, not {}",
                self.batch_creation_wait_ms
            );
        }
        if !(1..=36_500).contains(&self.audit_retention_days) {
            anyhow::bail!(
                "audit_retention_days must be between 1 and 36500, not {}",
                self.audit_retention_days
            );
        }
        if !NODE_LEASE_SECS.contains(&self.node_lease_secs) {
            anyhow::bail!(
                "node_lease_secs must be between 3 and 600 seconds, not {}",
                self.node_lease_secs
            );
        }
        if usize::try_from(self.delta_from_latest).map_or(true, |n| n > MAX_DELTA_SOURCES) {
            anyhow::bail!(
                "delta_from_latest must be between 0 and {MAX_DELTA_SOURCES} (the most versions a package may take deltas from), not {}",
                self.delta_from_latest
            );
        }
        Ok(())
    }
}
