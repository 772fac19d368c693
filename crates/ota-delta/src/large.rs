//! Diff for images above the suffix-array limit ([`DiffOptions::max_window`]), with the new
//! image read one slice at a time.
//!
//! Why a separate path: the packages the spec allows reach 1,000 MB, and the small-image path
//! holds several copies of both images (the transformed old image, the difference bytes) and
//! suffix arrays beside them. Here the old image is read in place (the caller passes it
//! mapped from its file), matches are looked up in a [`SeedIndex`] of it (a quarter of a byte
//! per old byte), and the new image is read in [`SLICE`]s, each matched, turned into stream
//! bytes and dropped before the next is read. Memory is then the old image's pages, the
//! index, one slice and the streams (which hold only what changed), and time is a few passes
//! over both images. Executable transforms and the full-old methods are not tried: they
//! need the images in memory several times over, and images this large are filesystems and
//! archives rather than one executable.
//!
//! The patch is an ordinary `Bsd` patch (or `Raw` when matching found too little); devices
//! apply it as any other.

use crate::bsd::{self, StreamBuilder};
use crate::container::ZstdParams;
use crate::encode::{Built, DiffOptions, effective_level};
use crate::error::Result;
use crate::header::{Method, sha256};
use crate::matcher;
use crate::seeds::SeedIndex;
use crate::transform::Transform;
use crate::zref;
use sha2::{Digest, Sha256};
use std::io::{Read, Seek, SeekFrom};

/// Bytes of the new image matched at a time by default ([`DiffOptions::large_slice`]).
pub const SLICE: usize = 64 << 20;

/// Progress after hashing and indexing the old image; matching the slices shares the rest up
/// to [`MATCHED`], encoding the streams (which replays the patch on the old image) the remainder.
const INDEXED: u64 = 10;
const MATCHED: u64 = 80;

/// A new image to read: from a file, or from memory through a cursor.
pub trait NewImage: Read + Seek {}
impl<T: Read + Seek> NewImage for T {}

/// What [`diff`] found: the candidates built and the digests of both images.
pub(crate) struct LargeDiff {
    pub candidates: Vec<(Built, String)>,
    pub old_sha256: [u8; 32],
    pub new_sha256: [u8; 32],
}

/// Diffs `old` against the `new_len` bytes `new` reads from its start.
pub(crate) fn diff(
    old: &[u8],
    new: &mut dyn NewImage,
    new_len: u64,
    opts: &DiffOptions,
) -> Result<LargeDiff> {
    let old_sha256 = sha256(old);
    let index = SeedIndex::build(old);
    opts.report(INDEXED as u8);

    let mut streams = StreamBuilder::new(&Transform::identity());
    let mut hasher = Sha256::new();
    let slice_len = opts.large_slice.max(1) as u64;
    let mut slice = vec![0u8; slice_len.min(new_len) as usize];
    new.seek(SeekFrom::Start(0))?;
    let mut done = 0u64;
    while done < new_len {
        let piece = &mut slice[..(new_len - done).min(slice_len) as usize];
        new.read_exact(piece)?;
        hasher.update(&*piece);
        // Each slice is matched from old position 0: the last record so far seeks there.
        streams.rewind();
        let m = matcher::compute_with(old, piece, &index);
        streams.push(old, piece, &m.records);
        done += piece.len() as u64;
        opts.report((INDEXED + (MATCHED - INDEXED) * done / new_len.max(1)) as u8);
    }
    drop((slice, index));

    let literal = streams.extra_len() as u64;
    let streams = streams.finish();
    let largest = streams.iter().map(Vec::len).max().unwrap_or(0);
    // The level bounds time by the bytes compressed, which here are only what changed.
    let params = ZstdParams {
        level: effective_level(opts.level, largest),
        window_log: opts.stream_window_log,
    };
    let enc = bsd::encode(old, new_len, streams, params)?;
    let mut candidates = vec![(
        Built {
            method: Method::Bsd,
            flags: 0,
            body: enc.body,
            apply_memory: enc.apply_memory,
        },
        "seeds".to_string(),
    )];
    // Plain compression can only win when most of the new image was not found in the old;
    // then the image is read whole, as a patch that large is not worth shipping anyway.
    if literal * 2 > new_len {
        let mut whole = Vec::with_capacity(new_len as usize);
        new.seek(SeekFrom::Start(0))?;
        new.take(new_len).read_to_end(&mut whole)?;
        let (body, apply_memory) = zref::encode_raw(&whole, params)?;
        candidates.push((
            Built {
                method: Method::Raw,
                flags: 0,
                body,
                apply_memory,
            },
            "zstd".to_string(),
        ));
    }
    Ok(LargeDiff {
        candidates,
        old_sha256,
        new_sha256: hasher.finalize().into(),
    })
}
