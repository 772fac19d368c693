//! Installing delta packages (`isDiff`): rebuild the new image from the running one and a
//! downloaded `ota-delta` patch.
//!
//! Why in the SDK: every device needs the same error mapping. The patch header carries the
//! SHA-256 of both images, so a damaged or tampered patch, or a patch made for another
//! version, is caught before or while writing and reported as step -3 (verify failed), which
//! fails the task with the reason; an I/O failure while writing is -4 (burn failed). The
//! decoder reads the old image by seeking and writes sequentially with bounded memory.

use std::fs::File;
use std::io::{BufReader, BufWriter, Cursor, Read, Seek, Write};
use std::path::Path;

pub use ota_delta::ApplyReport;
use ota_delta::Error;

use crate::download::{DownloadedFile, StoredFile};
use crate::update::InstallError;

fn install_error(e: Error) -> InstallError {
    match e {
        Error::Io(e) => InstallError::burn(format!("writing the new image: {e}")),
        Error::Unsupported(_) | Error::TooLarge(_) => {
            InstallError::general(format!("delta not applicable: {e}"))
        }
        other => InstallError {
            step: -3,
            desc: format!("delta verification failed: {other}"),
        },
    }
}

/// Applies `patch` to `old`, writing the new image to `out`; the result is verified.
pub fn apply_delta<R: Read + Seek, W: Write>(
    old: R,
    patch: impl Read,
    out: W,
) -> Result<ApplyReport, InstallError> {
    ota_delta::apply(old, patch, out).map_err(install_error)
}

/// Applies the downloaded `patch` to the image at `old`, writing `new`.
pub fn apply_delta_file(
    old: &Path,
    patch: &DownloadedFile,
    new: &Path,
) -> Result<ApplyReport, InstallError> {
    let old = File::open(old)
        .map(BufReader::new)
        .map_err(|e| InstallError::general(format!("opening the running image: {e}")))?;
    let out = File::create(new)
        .map(BufWriter::new)
        .map_err(|e| InstallError::burn(format!("creating the new image: {e}")))?;
    let report = match &patch.stored {
        StoredFile::Memory(bytes) => apply_delta(old, Cursor::new(bytes), out)?,
        StoredFile::Path(path) => {
            let p = File::open(path)
                .map(BufReader::new)
                .map_err(|e| InstallError::general(format!("opening the patch: {e}")))?;
            apply_delta(old, p, out)?
        }
        StoredFile::Discarded | StoredFile::Writer => {
            return Err(InstallError::general("the patch was not kept"));
        }
    };
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images() -> (Vec<u8>, Vec<u8>) {
        let old: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 253) as u8).collect();
        let mut new = old.clone();
        new[500..520].copy_from_slice(&[9; 20]);
        new.extend_from_slice(b"appended");
        (old, new)
    }

    #[test]
    fn patch_applies_and_tampering_is_step_minus_3() {
        let (old, new) = images();
        let patch = ota_delta::diff(&old, &new, &Default::default()).unwrap();
        let mut out = Vec::new();
        apply_delta(Cursor::new(&old), Cursor::new(&patch), &mut out).unwrap();
        assert_eq!(out, new);

        // A byte that carries the new image's content (the appended text, stored as is).
        let mut tampered = patch.clone();
        let at = tampered
            .windows(8)
            .position(|w| w == b"appended")
            .unwrap_or(tampered.len() / 2);
        tampered[at] ^= 0x40;
        let err = apply_delta(Cursor::new(&old), Cursor::new(&tampered), Vec::new()).unwrap_err();
        assert_eq!(err.step, -3, "{err}");
        // Whatever byte is altered, the result is the new image or a refusal, never a wrong
        // image (some bytes, such as a seek after the last copy, do not affect the output).
        for i in 0..patch.len() {
            let mut t = patch.clone();
            t[i] ^= 0x11;
            let mut out = Vec::new();
            if apply_delta(Cursor::new(&old), Cursor::new(&t), &mut out).is_ok() {
                assert_eq!(out, new, "byte {i}");
            }
        }

        let mut wrong_old = old.clone();
        wrong_old[0] ^= 1;
        let err =
            apply_delta(Cursor::new(&wrong_old), Cursor::new(&patch), Vec::new()).unwrap_err();
        assert_eq!(err.step, -3, "{err}");
        assert!(err.desc.contains("wrong old image"), "{err}");
    }

    #[test]
    fn file_patch_on_disk() {
        let (old, new) = images();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("old"), &old).unwrap();
        let patch = ota_delta::diff(&old, &new, &Default::default()).unwrap();
        let file = DownloadedFile {
            name: "firmware".into(),
            size: patch.len() as u64,
            digest: String::new(),
            stored: StoredFile::Memory(patch),
        };
        apply_delta_file(&dir.path().join("old"), &file, &dir.path().join("new")).unwrap();
        assert_eq!(std::fs::read(dir.path().join("new")).unwrap(), new);
    }
}
