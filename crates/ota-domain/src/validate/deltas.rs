//! Which earlier versions the server generates deltas from, when a package is created or
//! later for a stored package.
//!
//! Why a rule of its own: a delta is only meaningful between two full single-file images of
//! one module, and generation is expensive, so the choice is bounded and checked before
//! anything is stored (a bad choice creates nothing). Both entry points check the list of
//! versions with [`delta_source_versions`], so a bad list reads the same on either.
//!
//! A request that says nothing about deltas is not the same as one that asks for none: the
//! first gets the server's default (`delta_from_latest` in the service settings), the
//! second gets none. [`delta_sources`] keeps the two apart.

use super::firmware::{FirmwareSpec, PackageFiles};
use super::text::Version;
use crate::DomainError;
use crate::firmware::FirmwareType;

/// Most source versions one package may ask deltas from (explicit plus latest).
pub const MAX_DELTA_SOURCES: usize = 10;

/// Validated delta sources of a new package.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeltaSources {
    /// Versions named by the operator.
    pub versions: Vec<Version>,
    /// Also the N most recent other versions of the module with a full package.
    pub latest: usize,
}

impl DeltaSources {
    /// No delta requested.
    pub fn is_empty(&self) -> bool {
        self.versions.is_empty() && self.latest == 0
    }
}

/// Whether the server generates deltas for a package of this `spec`: a full single-file
/// image only (a differential package is already a patch; a multi-file one has no single
/// image to diff).
pub fn takes_generated_deltas(spec: &FirmwareSpec) -> bool {
    spec.firmware_type == FirmwareType::Full && matches!(spec.files, PackageFiles::Single(_))
}

/// Checks `delta_from_versions` and `delta_from_latest` against the package `spec`.
/// `None` when the request names no version and leaves `delta_from_latest` out: it does not
/// say, so the server default applies. An explicit `delta_from_latest` of 0 with no
/// versions is `Some` of no sources: the operator asked for none.
pub fn delta_sources(
    spec: &FirmwareSpec,
    versions: Vec<String>,
    latest: Option<i64>,
) -> Result<Option<DeltaSources>, DomainError> {
    if versions.is_empty() && latest.is_none() {
        return Ok(None);
    }
    let latest = match latest {
        None => 0,
        Some(n) if (0..=MAX_DELTA_SOURCES as i64).contains(&n) => n as usize,
        Some(_) => {
            return Err(DomainError::invalid(
                "delta_from_latest",
                format!("must be between 0 and {MAX_DELTA_SOURCES}"),
            ));
        }
    };
    let field = "delta_from_versions";
    let sources = DeltaSources {
        versions: delta_source_versions(field, spec.dest_version.as_str(), &versions)?,
        latest,
    };
    if !sources.is_empty() && !takes_generated_deltas(spec) {
        let field = if sources.versions.is_empty() {
            "delta_from_latest"
        } else {
            field
        };
        return Err(DomainError::invalid(
            field,
            "deltas are generated for full single-file packages only",
        ));
    }
    Ok(Some(sources))
}

/// Checks the earlier `versions` named in the parameter `field` to generate deltas from, for
/// a package of version `dest_version`: at most [`MAX_DELTA_SOURCES`], each a valid version,
/// none the package's own version, none listed twice. Order is kept.
pub fn delta_source_versions(
    field: &str,
    dest_version: &str,
    versions: &[String],
) -> Result<Vec<Version>, DomainError> {
    if versions.len() > MAX_DELTA_SOURCES {
        return Err(DomainError::invalid(
            field,
            format!("at most {MAX_DELTA_SOURCES} versions"),
        ));
    }
    let mut parsed: Vec<Version> = Vec::with_capacity(versions.len());
    for v in versions {
        let v = Version::parse(field, v)?;
        if v.as_str() == dest_version {
            return Err(DomainError::invalid(
                field,
                format!("{v} is the package's own version"),
            ));
        }
        if parsed.contains(&v) {
            return Err(DomainError::invalid(field, format!("{v} is listed twice")));
        }
        parsed.push(v);
    }
    Ok(parsed)
}
