//! # ota-delta: delta updates for firmware and executables
//!
//! `diff(old, new)` produces a patch; `apply(old, patch, out)` rebuilds `new` from `old`.
//! The patch format is versioned and documented in `FORMAT.md`.
//!
//! Why this crate exists rather than shipping bsdiff or `zstd --patch-from`:
//!
//! * **Devices are small.** [`apply`] reads the old image by seeking and writes the new one
//!   strictly sequentially, with working memory independent of the image size (a few hundred
//!   KiB, reported in [`ApplyReport::working_memory`] and announced in the header). Methods
//!   that need the whole old image in memory are flagged so a device can refuse them.
//! * **Patches must be trustworthy.** The header carries SHA-256 digests of both images;
//!   apply refuses a wrong old image before writing anything and verifies the result.
//! * **Executables shift.** A small source change moves code, and every call and pointer into
//!   moved code changes. The encoder learns how addresses moved between the two builds and
//!   rewrites the references in the old image accordingly (in the spirit of BCJ filters,
//!   Courgette and Zucchini), so shifted code matches byte for byte; the decoder repeats that
//!   rewrite on the fly. See [`transform`].
//! * **No single method wins everywhere.** [`diff`] builds several candidates (transformed or
//!   plain suffix-array matching with separate zstd streams, zstd or LZMA with the
//!   transformed old image as reference, optionally with calls in absolute-target form in both images, with
//!   the old image's DWARF fields predicted ([`transform::dwarf`]) and split into one frame
//!   per ELF section against the matching old section, plain zstd, and for images embedding
//!   LZMA streams a patch between their expanded forms, see [`embedded`]) and keeps the
//!   smallest.

pub mod apply;
pub mod bsd;
pub mod cli;
pub mod container;
pub mod embedded;
pub mod encode;
pub mod error;
pub mod header;
pub mod joined;
pub mod large;
pub mod lzma;
pub mod lzref;
pub mod matcher;
pub mod oldview;
pub mod sais;
pub mod seeds;
pub mod transform;
pub mod varint;
pub mod zref;

pub use apply::{ApplyReport, apply};
pub use encode::{Candidate, DiffOptions, DiffProgress, diff_reader, diff_with_report, is_large};
pub use error::{Error, Result};
pub use header::{Method, PatchHeader};
pub use large::NewImage;

/// Computes a patch that turns `old` into `new`.
pub fn diff(old: &[u8], new: &[u8], opts: &DiffOptions) -> Result<Vec<u8>> {
    diff_with_report(old, new, opts).map(|(p, _)| p)
}

/// Reads and validates the header of a patch without applying it.
pub fn inspect(mut patch: impl std::io::Read) -> Result<PatchHeader> {
    PatchHeader::read_from(&mut patch)
}

#[cfg(test)]
mod test_noise;
