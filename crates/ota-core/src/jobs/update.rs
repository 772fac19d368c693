//! UpdateOTAJob as one use case: the request restates the batch's kind and targeting, always
//! carries the push rate, and replaces the tags (absent tags clear them). The timeout and the
//! source versions may change for dynamic batches only.

use crate::{CoreResult, Jobs};
use ota_domain::job::{Job, JobEvent, RateUpdate, SelectionType, TargetSelection};
use ota_domain::validate;
use ota_domain::{DomainError, JobId};

/// Raw UpdateOTAJob parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobUpdate {
    /// `UpgradeType`: STATIC or DYNAMIC, required, must be the batch's.
    pub upgrade_type: Option<String>,
    /// `TargetSelection`: required, must be the batch's (dynamic batches report ALL).
    pub target_selection: Option<String>,
    /// `MaximumPerMinute`: required, 10-10,000.
    pub maximum_per_minute: Option<i64>,
    /// `Tags.N.Key` / `Tags.N.Value`.
    pub tags: Vec<(Option<String>, Option<String>)>,
    /// `TimeoutInMinutes`: dynamic batches only.
    pub timeout_in_minutes: Option<i64>,
    /// `SrcVersionList.N`: dynamic, version-targeted batches only.
    pub src_version_list: Vec<String>,
}

/// The TargetSelection a batch reports: dynamic batches report ALL.
pub fn reported_target_selection(job: &Job) -> &'static str {
    match job.selection_type {
        SelectionType::Dynamic => TargetSelection::All.as_str(),
        SelectionType::Static => job.target_selection.as_str(),
    }
}

impl Jobs<'_> {
    /// UpdateOTAJob.
    pub async fn update(&self, id: &JobId, update: JobUpdate) -> CoreResult<Job> {
        let upgrade_type = update
            .upgrade_type
            .ok_or_else(|| DomainError::invalid("UpgradeType", "is required: STATIC or DYNAMIC"))?;
        if !matches!(upgrade_type.as_str(), "STATIC" | "DYNAMIC") {
            return Err(DomainError::invalid("UpgradeType", "must be STATIC or DYNAMIC").into());
        }
        let target = update.target_selection.ok_or_else(|| {
            DomainError::invalid(
                "TargetSelection",
                "is required: ALL, SPECIFIC, GRAY or GROUP",
            )
        })?;
        if !matches!(target.as_str(), "ALL" | "SPECIFIC" | "GRAY" | "GROUP") {
            return Err(DomainError::invalid(
                "TargetSelection",
                "must be ALL, SPECIFIC, GRAY or GROUP",
            )
            .into());
        }
        let rate = update
            .maximum_per_minute
            .ok_or_else(|| DomainError::invalid("MaximumPerMinute", "is required: 10-10000"))?;
        let rate = validate::maximum_per_minute(Some(rate))?;
        let tags = validate::parse_tags("Tags", update.tags)?;
        let timeout = validate::timeout_in_minutes(update.timeout_in_minutes)?;
        let job = self.get(id).await?;
        if upgrade_type != job.selection_type.as_str() {
            return Err(DomainError::invalid(
                "UpgradeType",
                format!("must be the batch's type, {}", job.selection_type.as_str()),
            )
            .into());
        }
        let reported = reported_target_selection(&job);
        if target != reported {
            return Err(DomainError::invalid(
                "TargetSelection",
                format!("must be the batch's targeting, {reported}"),
            )
            .into());
        }
        let dynamic = job.selection_type == SelectionType::Dynamic;
        if timeout.is_some() && !dynamic {
            return Err(DomainError::invalid(
                "TimeoutInMinutes",
                "can only be changed for a DYNAMIC batch",
            )
            .into());
        }
        if !update.src_version_list.is_empty() {
            self.tasks()
                .set_dynamic_src_versions(id, update.src_version_list)
                .await?;
        }
        self.apply_event(id, JobEvent::UpdateRate(RateUpdate::Fixed(rate)))
            .await?;
        self.apply_event(id, JobEvent::UpdateTags(tags)).await?;
        if let Some(minutes) = timeout {
            self.apply_event(id, JobEvent::UpdateTimeout(minutes))
                .await?;
        }
        self.get(id).await
    }
}
