//! File-level helpers behind `ota delta diff|apply` (wired into the main binary elsewhere).
//!
//! `run_diff` holds the old image in memory and lets the diff read the new one from its file,
//! so a pair of 1,000 MB images needs about one image's worth of memory, not two.
//!
//! `run_apply` writes to a temporary file next to the output and renames it only after the
//! result has been verified, so a failed apply never leaves a plausible-looking image behind.

use crate::{ApplyReport, DiffOptions, PatchHeader, Result, apply, diff_reader, inspect};
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Diffs two files and writes the patch; returns the patch header.
pub fn run_diff(
    old_path: impl AsRef<Path>,
    new_path: impl AsRef<Path>,
    patch_path: impl AsRef<Path>,
) -> Result<PatchHeader> {
    run_diff_with(old_path, new_path, patch_path, &DiffOptions::default())
}

/// Like [`run_diff`] with explicit options.
pub fn run_diff_with(
    old_path: impl AsRef<Path>,
    new_path: impl AsRef<Path>,
    patch_path: impl AsRef<Path>,
    opts: &DiffOptions,
) -> Result<PatchHeader> {
    let old = fs::read(old_path)?;
    // The new image is read by the diff itself: a large one, in slices.
    let mut new = File::open(new_path)?;
    let new_len = new.metadata()?.len();
    let patch = diff_reader(&old, &mut new, new_len, opts)?;
    drop((old, new));
    fs::write(patch_path, &patch)?;
    inspect(&patch[..])
}

/// Applies a patch file to an old image file, writing the verified new image.
pub fn run_apply(
    old_path: impl AsRef<Path>,
    patch_path: impl AsRef<Path>,
    out_path: impl AsRef<Path>,
) -> Result<ApplyReport> {
    let out_path = out_path.as_ref();
    let old = BufReader::with_capacity(16 * 1024, File::open(old_path)?);
    let patch = BufReader::with_capacity(16 * 1024, File::open(patch_path)?);
    let tmp = tmp_path(out_path);
    let result = (|| {
        let mut w = BufWriter::with_capacity(16 * 1024, File::create(&tmp)?);
        let r = apply(old, patch, &mut w)?;
        w.flush()?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        Ok(r)
    })();
    match result {
        Ok(r) => {
            fs::rename(&tmp, out_path)?;
            Ok(r)
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn tmp_path(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}
