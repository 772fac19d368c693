//! Which devices a batch targets: source versions, device names, the device-list file and
//! the gray (percentage) share.

use super::indexed;
use super::text::Version;
use crate::DomainError;
use crate::firmware::{Firmware, FirmwareType};
use std::collections::{BTreeMap, BTreeSet};

/// Most `SrcVersion.N` values.
pub const MAX_SRC_VERSIONS: usize = 10;
/// Most `TargetDeviceName.N` values of an upgrade batch.
pub const MAX_TARGET_DEVICE_NAMES: usize = 200;
/// Most `TargetDeviceName.N` values of a verify batch.
pub const MAX_VERIFY_DEVICES: usize = 10;
/// Largest device-list file: 5 MB.
pub const MAX_DEVICE_LIST_BYTES: usize = 5 * 1024 * 1024;
/// Most names in a device-list file (the spec's 1,000,000-per-job figure conflicts with
/// GenerateDeviceNameListURL's; the stricter per-file limit is enforced).
pub const MAX_DEVICE_LIST_NAMES: usize = 10_000;

const GRAY_RULE: &str = "must be a percentage above 0 and at most 100 with at most 3 decimals";

/// `SrcVersion.N`: at most 10, each a valid version, no duplicates; for a differential
/// package each must be the package's SrcVersion (no other version can take the delta).
pub fn src_versions(values: Vec<String>, firmware: &Firmware) -> Result<Vec<String>, DomainError> {
    if values.len() > MAX_SRC_VERSIONS {
        return Err(DomainError::invalid(
            "SrcVersion",
            format!("must have at most {MAX_SRC_VERSIONS} versions"),
        ));
    }
    check_unique("SrcVersion", &values)?;
    for (i, value) in values.iter().enumerate() {
        let field = indexed("SrcVersion", i);
        Version::parse(&field, value)?;
        if firmware.firmware_type == FirmwareType::Differential
            && firmware.src_version.as_deref() != Some(value.as_str())
        {
            return Err(DomainError::invalid(
                field,
                format!(
                    "must equal the differential package's SrcVersion {}",
                    firmware.src_version.as_deref().unwrap_or("")
                ),
            ));
        }
    }
    Ok(values)
}

/// `TargetDeviceName.N`: at most `max` non-empty names, no duplicates.
pub fn target_device_names(values: Vec<String>, max: usize) -> Result<Vec<String>, DomainError> {
    if values.len() > max {
        return Err(DomainError::invalid(
            "TargetDeviceName",
            format!("must have at most {max} devices"),
        ));
    }
    if let Some(i) = values.iter().position(String::is_empty) {
        return Err(DomainError::invalid(
            indexed("TargetDeviceName", i),
            "must not be empty",
        ));
    }
    check_unique("TargetDeviceName", &values)?;
    Ok(values)
}

/// Rejects the first repeated value as `{name}.N`, naming the earlier occurrence.
fn check_unique(name: &str, values: &[String]) -> Result<(), DomainError> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, value) in values.iter().enumerate() {
        if let Some(&j) = seen.get(value.as_str()) {
            return Err(DomainError::invalid(
                indexed(name, i),
                format!("must be unique; duplicates {}", indexed(name, j)),
            ));
        }
        seen.insert(value, i);
    }
    Ok(())
}

/// Parses a device-list file (GenerateDeviceNameListURL → `DnListFileUrl`): one device
/// name per line, surrounding spaces and quotes trimmed, blank lines skipped, an optional
/// `DeviceName` header line, a UTF-8 BOM tolerated (spreadsheets write one). At most 5 MB
/// and 10,000 names, no duplicates, at least one name. Errors name `DnListFileUrl` and the
/// line.
pub fn parse_device_list_csv(text: &str) -> Result<Vec<String>, DomainError> {
    const FIELD: &str = "DnListFileUrl";
    if text.len() > MAX_DEVICE_LIST_BYTES {
        return Err(DomainError::invalid(
            FIELD,
            "the device list must be at most 5 MB",
        ));
    }
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut names = Vec::new();
    let mut seen = BTreeSet::new();
    let mut header_allowed = true;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let trimmed = line.trim();
        let name = trimmed
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or(trimmed)
            .trim();
        if name.is_empty() {
            continue;
        }
        if std::mem::take(&mut header_allowed) && name.eq_ignore_ascii_case("DeviceName") {
            continue;
        }
        if name.contains(',') {
            return Err(DomainError::invalid(
                FIELD,
                format!("line {line_no}: must hold one device name per line"),
            ));
        }
        if !seen.insert(name) {
            return Err(DomainError::invalid(
                FIELD,
                format!("line {line_no}: duplicate device name {name}"),
            ));
        }
        if names.len() == MAX_DEVICE_LIST_NAMES {
            return Err(DomainError::invalid(
                FIELD,
                format!("the device list must have at most {MAX_DEVICE_LIST_NAMES} names"),
            ));
        }
        names.push(name.to_owned());
    }
    if names.is_empty() {
        return Err(DomainError::invalid(
            FIELD,
            "the device list has no device names",
        ));
    }
    Ok(names)
}

/// `GrayPercent`: a decimal string with at most 3 decimals, 0 < p <= 100, returned in
/// thousandths of a percent (`"33.333"` → 33_333). Exact: no floating point.
pub fn gray_percent(value: &str) -> Result<u32, DomainError> {
    let err = || DomainError::invalid("GrayPercent", GRAY_RULE);
    let (int, frac) = value.split_once('.').unwrap_or((value, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty()
        || int.len() > 3
        || frac.len() > 3
        || (value.contains('.') && frac.is_empty())
        || !digits(int)
        || !digits(frac)
    {
        return Err(err());
    }
    let int: u32 = int.parse().map_err(|_| err())?;
    let frac: u32 = format!("{frac:0<3}").parse().map_err(|_| err())?;
    let milli = int * 1000 + frac;
    if milli == 0 || milli > 100_000 {
        return Err(err());
    }
    Ok(milli)
}

/// The shortest decimal form of a gray share (33_333 → `"33.333"`, 50_000 → `"50"`), as
/// QueryOTAJob reports `GrayPercent`.
pub fn format_gray_percent(milli_percent: u32) -> String {
    let (int, frac) = (milli_percent / 1000, milli_percent % 1000);
    if frac == 0 {
        return int.to_string();
    }
    let frac = format!("{frac:03}");
    format!("{int}.{}", frac.trim_end_matches('0'))
}

/// How many of `eligible` devices a gray batch takes: floor(n × p / 100), at least one
/// when there is any device (33.333% of 100 → 33), never more than n.
pub fn gray_count(eligible: u64, milli_percent: u32) -> u64 {
    if eligible == 0 {
        return 0;
    }
    let share = u128::from(eligible) * u128::from(milli_percent) / 100_000;
    u64::try_from(share).unwrap_or(u64::MAX).clamp(1, eligible)
}
