//! The images simulated devices run, so a delta package is really applied.
//!
//! Why shared: thousands of simulated devices run a handful of versions, so the library keeps
//! one copy of each version's image (by version) instead of one per device. A device starts
//! on the base image the run was given; a full package it installs becomes the image of that
//! version; a delta is applied to the image of the version the device runs, through the
//! same [`crate::delta::apply_delta`] a real device uses, and the rebuilt image (verified
//! against the SHA-256 in the patch header) becomes the new version's image.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::{Arc, Mutex};

use crate::InstallError;

/// Images by version, shared by every device of a run.
#[derive(Debug, Default)]
pub struct ImageLibrary {
    by_version: Mutex<HashMap<String, Arc<Vec<u8>>>>,
}

impl ImageLibrary {
    /// A library holding `image` as the image of `version`.
    pub fn with_base(version: &str, image: Vec<u8>) -> Self {
        let lib = Self::default();
        lib.lock().insert(version.to_owned(), Arc::new(image));
        lib
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Vec<u8>>>> {
        self.by_version.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The image of `version`, if known.
    pub fn get(&self, version: &str) -> Option<Arc<Vec<u8>>> {
        self.lock().get(version).cloned()
    }

    /// Records `image` as `version`. Two different images claiming one version are an
    /// error: a device would report a version whose content it cannot vouch for.
    pub fn record(&self, version: &str, image: Vec<u8>) -> Result<(), InstallError> {
        let mut map = self.lock();
        match map.get(version) {
            Some(known) if **known != image => Err(InstallError::general(format!(
                "installed image differs from the known image of version {version}"
            ))),
            Some(_) => Ok(()),
            None => {
                map.insert(version.to_owned(), Arc::new(image));
                Ok(())
            }
        }
    }

    /// Rebuilds `version` from the image of `running` and `patch`; returns the new image's
    /// size. Fails (step -1) when `running`'s image is unknown, or as the SDK does for a
    /// patch that does not fit or does not verify (step -3).
    pub fn apply(&self, running: &str, version: &str, patch: &[u8]) -> Result<u64, InstallError> {
        let old = self.get(running).ok_or_else(|| {
            InstallError::general(format!("no image of the running version {running}"))
        })?;
        let mut new = Vec::with_capacity(old.len());
        crate::delta::apply_delta(Cursor::new(old.as_slice()), patch, &mut new)?;
        let size = new.len() as u64;
        self.record(version, new)?;
        Ok(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_rebuild_known_versions_and_refuse_unknown_ones() {
        let v1: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut v2 = v1.clone();
        v2[100..200].fill(9);
        let patch = ota_delta::diff(&v1, &v2, &Default::default()).unwrap();
        let lib = ImageLibrary::with_base("1.0", v1.clone());

        assert_eq!(lib.apply("1.0", "2.0", &patch).unwrap(), v2.len() as u64);
        assert_eq!(lib.get("2.0").as_deref(), Some(&v2));
        // A second device rebuilding the same version agrees with the first.
        lib.apply("1.0", "2.0", &patch).unwrap();

        let unknown = lib.apply("0.9", "2.0", &patch).unwrap_err();
        assert_eq!(unknown.step, -1, "{unknown}");
        // The patch was made for 1.0, not for 2.0's image.
        let wrong_base = lib.apply("2.0", "3.0", &patch).unwrap_err();
        assert_eq!(wrong_base.step, -3, "{wrong_base}");
        // Altered patches either rebuild 2.0 exactly or are refused.
        for i in 0..patch.len() {
            let mut tampered = patch.clone();
            tampered[i] ^= 1;
            if let Err(e) = lib.apply("1.0", "2.0", &tampered) {
                assert!(e.step < 0, "{e}");
            }
        }
        assert_eq!(lib.get("2.0").as_deref(), Some(&v2));
        assert!(lib.record("2.0", v1).is_err());
    }
}
