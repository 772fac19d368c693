//! Parameter rules of the Aliyun OTA API (spec §1 and §4), as parse-don't-validate
//! functions and newtypes.
//!
//! Every operator face (REST, Aliyun RPC, console) turns its raw input into these types
//! before anything else happens, so a rule is written once and a violation reads the same
//! everywhere: `DomainError::invalid(field, rule)` with the Aliyun parameter spelling
//! (`DestVersion`, `Tag.3.Key`, `TargetDeviceName.2`) and the rule in words.
//!
//! Checks that need the store (name uniqueness, quotas, device membership, one dynamic job
//! per package) stay with the caller; helpers such as [`check_firmware_quota`] take the
//! counts it looked up.

pub mod deltas;
pub mod firmware;
pub mod job;
pub mod module;
pub mod policy;
pub mod registry;
pub mod schedule;
pub mod tags;
pub mod target;
pub mod text;

pub use deltas::{
    DeltaSources, MAX_DELTA_SOURCES, delta_source_versions, delta_sources, takes_generated_deltas,
};
pub use firmware::{
    FirmwareChanges, FirmwareSpec, MAX_FILE_BYTES, MAX_FIRMWARE_PACKAGES, MAX_MULTI_FILES,
    ModifyFirmware, MultiFile, MultiFileInput, NewFirmware, PACKAGE_SUFFIXES, PackageFiles,
    SingleFile, allowed_package_suffix, check_firmware_quota, file_suffix,
};
pub use job::{
    DEFAULT_GATE_MIN_FINISHED, DynamicJobRequest, FailureGateInput, StaticJobRequest,
    UpgradeParams, ValidatedJob, VerifyJobRequest, check_firmware_usable_for_batch,
    check_firmware_verifiable,
};
pub use module::{ModuleName, ModuleSpec, NewModule, alias_name, module_desc};
pub use policy::{
    MAX_MQTT_FILE_BYTES, RETRY_COUNTS, RETRY_INTERVALS, RateStepInput, download_protocol,
    dynamic_mode, maximum_per_minute, overwrite_mode, rate_steps, retry_policy, timeout_in_minutes,
};
pub use schedule::{schedule_finish_time, schedule_time};
pub use tags::{MAX_TAG_KEY_CHARS, MAX_TAG_TOTAL_CHARS, MAX_TAG_VALUE_CHARS, MAX_TAGS, parse_tags};
pub use target::{
    MAX_DEVICE_LIST_BYTES, MAX_DEVICE_LIST_NAMES, MAX_SRC_VERSIONS, MAX_TARGET_DEVICE_NAMES,
    MAX_VERIFY_DEVICES, format_gray_percent, gray_count, gray_percent, parse_device_list_csv,
    src_versions, target_device_names,
};
pub use text::{
    FirmwareName, MAX_DESC_CHARS, MAX_UDI_CHARS, Version, firmware_desc, parse_bool, parse_int, udi,
};

/// `Name.N` with a 1-based index, the way repeated Aliyun parameters are spelled.
fn indexed(name: &str, zero_based: usize) -> String {
    format!("{name}.{}", zero_based + 1)
}

/// `Name.N.Sub`, e.g. `Tag.3.Key`.
fn indexed_sub(name: &str, zero_based: usize, sub: &str) -> String {
    format!("{name}.{}.{sub}", zero_based + 1)
}

#[cfg(test)]
mod tests;
