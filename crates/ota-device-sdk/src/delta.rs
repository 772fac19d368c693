//! Installing delta packages (`isDiff`): rebuild the new image from the running one and a
//! downloaded `ota-delta` patch.
//!
//! Why in the SDK: every device needs the same error mapping. The patch header carries the
//! SHA-256 of both images, so a damaged or tampered patch, or a patch made for another
//! version, is caught before or while writing and reported as step -3 (verify failed), which
//! fails the task with the reason; an I/O failure while writing is -4 (burn failed). The
//! decoder reads the old image by seeking and writes sequentially with bounded memory.
//!
//! A device with little RAM sets `DeviceConfig::delta_memory_limit`: the header also says
//! how much memory applying takes ([`ota_delta::PatchHeader::apply_need`]; a full-old patch
//! holds the whole old image), and a patch over the limit is refused from its header alone,
//! before anything is written, as step -3 like a patch for another version. The server
//! is told the limit too and normally sends such a device the full package instead.

use std::fs::File;
use std::io::{BufReader, BufWriter, Cursor, Read, Seek, Write};
use std::path::Path;

pub use ota_delta::ApplyReport;
use ota_delta::{Error, PatchHeader};

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

/// Reads the header at the start of `patch` and refuses (step -3) a patch whose memory need
/// exceeds `limit` (`None`: no limit), or an unreadable header as [`apply_delta`] would.
pub fn check_delta_memory(
    patch: impl Read,
    limit: Option<u64>,
) -> Result<PatchHeader, InstallError> {
    let header = ota_delta::inspect(patch).map_err(install_error)?;
    match limit {
        Some(limit) if header.apply_need() > limit => Err(InstallError {
            step: -3,
            desc: format!(
                "delta refused: applying it needs {} bytes of memory{}, over this device's \
                 limit of {limit} bytes",
                header.apply_need(),
                if header.needs_full_old() {
                    format!(
                        " (the whole {}-byte old image plus {})",
                        header.old_size, header.apply_memory
                    )
                } else {
                    String::new()
                },
            ),
        }),
        _ => Ok(header),
    }
}

/// Checks a downloaded patch kept in memory or on disk against `limit` (see
/// [`check_delta_memory`]); one the SDK did not keep cannot be checked and passes.
pub fn check_downloaded_delta(
    patch: &DownloadedFile,
    limit: Option<u64>,
) -> Result<(), InstallError> {
    if limit.is_none() {
        return Ok(());
    }
    match &patch.stored {
        StoredFile::Memory(bytes) => check_delta_memory(bytes.as_slice(), limit).map(drop),
        StoredFile::Path(path) => {
            let p = File::open(path)
                .map(BufReader::new)
                .map_err(|e| InstallError::general(format!("opening the patch: {e}")))?;
            check_delta_memory(p, limit).map(drop)
        }
        StoredFile::Discarded | StoredFile::Writer => Ok(()),
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

/// [`apply_delta`] for a device with at most `limit` bytes of memory for it: a patch that
/// needs more is refused (step -3) from its header, before anything is written to `out`.
pub fn apply_delta_within<R: Read + Seek, W: Write>(
    old: R,
    mut patch: impl Read,
    out: W,
    limit: Option<u64>,
) -> Result<ApplyReport, InstallError> {
    // The header is read once for the check and handed back in front of the rest.
    let mut head = Recorded {
        inner: &mut patch,
        seen: Vec::with_capacity(96),
    };
    check_delta_memory(&mut head, limit)?;
    let seen = head.seen;
    apply_delta(old, Cursor::new(seen).chain(patch), out)
}

/// Applies the downloaded `patch` to the image at `old`, writing `new`.
pub fn apply_delta_file(
    old: &Path,
    patch: &DownloadedFile,
    new: &Path,
) -> Result<ApplyReport, InstallError> {
    apply_delta_file_within(old, patch, new, None)
}

/// [`apply_delta_file`] within a memory `limit`: a patch that needs more is refused (step
/// -3) before `new` is created.
pub fn apply_delta_file_within(
    old: &Path,
    patch: &DownloadedFile,
    new: &Path,
    limit: Option<u64>,
) -> Result<ApplyReport, InstallError> {
    check_downloaded_delta(patch, limit)?;
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

/// A reader that keeps what it read.
struct Recorded<'a, R> {
    inner: &'a mut R,
    seen: Vec<u8>,
}

impl<R: Read> Read for Recorded<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen.extend_from_slice(&buf[..n]);
        Ok(n)
    }
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
    fn a_patch_over_the_memory_limit_is_refused_from_its_header() {
        let (old, new) = images();
        let patch = ota_delta::diff(&old, &new, &Default::default()).unwrap();
        let need = ota_delta::inspect(&patch[..]).unwrap().apply_need();
        let mut out = Vec::new();
        let err = apply_delta_within(Cursor::new(&old), &patch[..], &mut out, Some(need - 1))
            .unwrap_err();
        assert_eq!(err.step, -3, "{err}");
        assert!(err.desc.contains(&format!("needs {need} bytes")), "{err}");
        assert!(out.is_empty(), "nothing written");
        // At the limit, or without one, the header read for the check is not lost.
        for limit in [Some(need), None] {
            let mut out = Vec::new();
            apply_delta_within(Cursor::new(&old), &patch[..], &mut out, limit).unwrap();
            assert_eq!(out, new);
        }

        // A full-old patch needs the whole old image on top of the decoder's memory.
        let header = PatchHeader {
            version: 5,
            method: ota_delta::Method::LzmaRef,
            flags: ota_delta::header::FLAG_NEEDS_FULL_OLD,
            old_size: 3 << 20,
            new_size: 3 << 20,
            old_sha256: [0; 32],
            new_sha256: [0; 32],
            apply_memory: 1 << 20,
            header_len: 0,
        }
        .encode();
        let need = (3 << 20) + (1 << 20);
        assert_eq!(
            check_delta_memory(&header[..], Some(need))
                .unwrap()
                .apply_need(),
            need
        );
        let err = check_delta_memory(&header[..], Some(512 << 10)).unwrap_err();
        assert_eq!(err.step, -3, "{err}");
        assert!(
            err.desc.contains(&format!("needs {need} bytes"))
                && err.desc.contains("whole 3145728-byte old image")
                && err.desc.contains("limit of 524288 bytes"),
            "{err}"
        );
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
