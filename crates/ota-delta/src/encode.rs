//! Diff: build every applicable candidate encoding and keep the smallest.
//!
//! Why try candidates instead of guessing: which method wins depends on the input (code that
//! shifted, a tiny rebuild, a compressed container, unrelated data), and measuring is cheap
//! next to the cost of shipping extra bytes to a whole fleet. `Raw` and `ZstdRef` bound the
//! worst case by plain compression and by `zstd --patch-from`; `LzmaRef` is usually the
//! smallest when the device can hold the old image in memory.

use crate::bsd;
use crate::container::ZstdParams;
use crate::embedded;
use crate::error::{Error, Result};
use crate::header::{FLAG_NEEDS_FULL_OLD, Method, PatchHeader, sha256};
use crate::large::{self, NewImage};
use crate::matcher;
use crate::oldview::transform_image;
use crate::sais::suffix_array;
use crate::seeds::SeedIndex;
use crate::transform::dwarf::Dwarf;
use crate::transform::{self, Region, Transform, absolute};
use crate::zref::{self, RefCoder};
use std::io::Read;

/// Tuning knobs for [`crate::diff`].
#[derive(Debug, Clone)]
pub struct DiffOptions {
    /// zstd level for all streams (19..=22 recommended); capped for very large inputs, see
    /// [`effective_level`].
    pub level: i32,
    /// log2 of the zstd window for streaming streams; bounds the device's decoder memory.
    pub stream_window_log: u32,
    /// Also try methods that need the whole old image in memory on the device.
    pub allow_full_old: bool,
    /// Largest old image for which full-old methods are tried.
    pub max_full_old: usize,
    /// Largest old plus new image for which `LzmaRef` is tried (its encoder needs about 12
    /// bytes of memory per byte of both and codes about 2 MB/s).
    pub max_lzma_ref: usize,
    /// Try executable-aware transforms.
    pub exec_transform: bool,
    /// Largest image matched with a suffix array; pairs with a larger image are diffed by
    /// the large-image path (a sampled index, the new image read in slices).
    pub max_window: usize,
    /// Bytes of the new image the large-image path reads and matches at a time.
    pub large_slice: usize,
    /// Told how far the diff is (0..=100) after each stage; a server shows it while a long
    /// diff runs.
    pub progress: Option<DiffProgress>,
}

/// A callback receiving the percentage of a diff done.
#[derive(Clone)]
pub struct DiffProgress(pub std::sync::Arc<dyn Fn(u8) + Send + Sync>);

impl std::fmt::Debug for DiffProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DiffProgress")
    }
}

impl DiffOptions {
    pub(crate) fn report(&self, percent: u8) {
        if let Some(p) = &self.progress {
            (p.0)(percent.min(100));
        }
    }
}

/// Progress after the plain-compression candidate and after learning the transforms; the
/// candidates built per transform share the rest.
const RAW_DONE: u8 = 5;
const LEARNED: u8 = 20;

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            level: 22,
            stream_window_log: 18,
            allow_full_old: true,
            max_full_old: 128 << 20,
            max_lzma_ref: 64 << 20,
            exec_transform: true,
            max_window: 128 << 20,
            large_slice: large::SLICE,
            progress: None,
        }
    }
}

/// Caps the zstd level for large inputs so diff time stays bounded (level 22 runs at about
/// 1 MB/s; level 9 at tens of MB/s).
pub fn effective_level(level: i32, size: usize) -> i32 {
    match size {
        s if s > 128 << 20 => level.min(9),
        s if s > 32 << 20 => level.min(19),
        _ => level,
    }
}

/// Size of one candidate encoding, reported by [`diff_with_report`].
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Method used.
    pub method: Method,
    /// Short description of the transform/settings.
    pub variant: String,
    /// Total patch size in bytes, header included.
    pub patch_bytes: usize,
}

/// One candidate's method, header flags, body and decoder working memory.
pub(crate) struct Built {
    pub method: Method,
    pub flags: u8,
    pub body: Vec<u8>,
    pub apply_memory: u64,
}

/// Keeps the smallest of the candidates offered and the size of each.
struct Chooser {
    old_len: u64,
    new_len: u64,
    old_sha256: [u8; 32],
    new_sha256: [u8; 32],
    report: Vec<Candidate>,
    best: Option<Vec<u8>>,
}

impl Chooser {
    /// Nothing considered yet, for a pair of these sizes and digests.
    fn new(old_len: usize, new_len: u64, old_sha256: [u8; 32], new_sha256: [u8; 32]) -> Self {
        Chooser {
            old_len: old_len as u64,
            new_len,
            old_sha256,
            new_sha256,
            report: Vec::new(),
            best: None,
        }
    }

    fn consider(&mut self, b: Built, variant: String) {
        let header = PatchHeader {
            version: b.method.min_version(),
            method: b.method,
            flags: b.flags,
            old_size: self.old_len,
            new_size: self.new_len,
            old_sha256: self.old_sha256,
            new_sha256: self.new_sha256,
            apply_memory: b.apply_memory,
            header_len: 0,
        };
        let mut patch = header.encode();
        patch.extend_from_slice(&b.body);
        self.report.push(Candidate {
            method: b.method,
            variant,
            patch_bytes: patch.len(),
        });
        if self.best.as_ref().is_none_or(|p| patch.len() < p.len()) {
            self.best = Some(patch);
        }
    }

    fn finish(self) -> (Vec<u8>, Vec<Candidate>) {
        let best = self.best.expect("every diff builds at least one candidate");
        (best, self.report)
    }
}

/// Whether a pair is diffed by [`crate::large`]: either image is above the largest old
/// window one suffix array indexes.
pub fn is_large(old_len: usize, new_len: u64, opts: &DiffOptions) -> bool {
    old_len > opts.max_window || new_len > opts.max_window as u64
}

/// Like [`crate::diff`], with the new image read from `new` (`new_len` bytes from its
/// start): a large pair's new image is then never wholly in memory.
pub fn diff_reader(
    old: &[u8],
    new: &mut dyn NewImage,
    new_len: u64,
    opts: &DiffOptions,
) -> Result<Vec<u8>> {
    if is_large(old.len(), new_len, opts) {
        return diff_large(old, new, new_len, opts).map(|(p, _)| p);
    }
    let mut whole = Vec::with_capacity(new_len as usize);
    new.seek(std::io::SeekFrom::Start(0))?;
    new.take(new_len).read_to_end(&mut whole)?;
    crate::diff(old, &whole, opts)
}

fn diff_large(
    old: &[u8],
    new: &mut dyn NewImage,
    new_len: u64,
    opts: &DiffOptions,
) -> Result<(Vec<u8>, Vec<Candidate>)> {
    check_old_len(old)?;
    let found = large::diff(old, new, new_len, opts)?;
    let mut chooser = Chooser::new(old.len(), new_len, found.old_sha256, found.new_sha256);
    for (b, variant) in found.candidates {
        chooser.consider(b, variant);
    }
    opts.report(100);
    Ok(chooser.finish())
}

fn check_old_len(old: &[u8]) -> Result<()> {
    if old.len() >= u32::MAX as usize {
        return Err(Error::TooLarge("old image must be below 4 GiB".into()));
    }
    Ok(())
}

/// Runs [`crate::diff`] and also reports the size of every candidate tried.
pub fn diff_with_report(
    old: &[u8],
    new: &[u8],
    opts: &DiffOptions,
) -> Result<(Vec<u8>, Vec<Candidate>)> {
    diff_impl(old, new, opts, true)
}

/// [`crate::diff`] without the `LzmaStreams` candidate: the inner patch of that method.
pub fn diff_nested(old: &[u8], new: &[u8], opts: &DiffOptions) -> Result<Vec<u8>> {
    diff_impl(old, new, opts, false).map(|(p, _)| p)
}

fn diff_impl(
    old: &[u8],
    new: &[u8],
    opts: &DiffOptions,
    streams: bool,
) -> Result<(Vec<u8>, Vec<Candidate>)> {
    if is_large(old.len(), new.len() as u64, opts) {
        return diff_large(old, &mut std::io::Cursor::new(new), new.len() as u64, opts);
    }
    check_old_len(old)?;
    let mut chooser = Chooser::new(old.len(), new.len() as u64, sha256(old), sha256(new));
    let mut consider = |b: Built, variant: String| chooser.consider(b, variant);
    let params = ZstdParams {
        level: effective_level(opts.level, old.len().max(new.len())),
        window_log: opts.stream_window_log,
    };

    let (body, mem) = zref::encode_raw(new, params)?;
    consider(
        Built {
            method: Method::Raw,
            flags: 0,
            body,
            apply_memory: mem,
        },
        "zstd".into(),
    );
    opts.report(RAW_DONE);

    let mut transforms = vec![("plain".to_string(), Transform::identity())];
    if opts.exec_transform && !old.is_empty() && !new.is_empty() {
        transforms.extend(transform::candidates(old, new, opts));
    }
    opts.report(LEARNED);
    // One step per streaming candidate, two for the full-old candidates of the last one.
    let steps = transforms.len() + 2;
    let mut done = 0usize;
    let mut step = |opts: &DiffOptions, n: usize| {
        done += n;
        let share = (done * usize::from(100 - LEARNED) / steps) as u8;
        opts.report(LEARNED + share);
    };
    // Every transform gets a streaming candidate; only the last (most refined) one also gets
    // the expensive full-old zstd candidate.
    let last = transforms.len() - 1;
    for (k, (name, t)) in transforms.iter().enumerate() {
        let old_t = transform_image(old, t);
        let b = bsd_candidate(old, &old_t, new, t, params, opts)?;
        consider(b, name.clone());
        step(opts, 1);
        if k == last && opts.allow_full_old && old.len() <= opts.max_full_old && !old.is_empty() {
            for (variant, b) in full_old_candidates(old, &old_t, new, name, t, params.level, opts)?
            {
                consider(b, variant);
            }
        }
    }
    // Images embedding LZMA streams: diff them expanded (only when both have reproducible
    // streams, which the scan finds quickly otherwise).
    if streams
        && opts.allow_full_old
        && old.len() <= opts.max_full_old
        && let Some(b) = embedded::method::encode(old, new, opts)?
    {
        let b = Built {
            method: Method::LzmaStreams,
            flags: FLAG_NEEDS_FULL_OLD,
            body: b.body,
            apply_memory: b.apply_memory,
        };
        consider(b, "expanded".into());
    }
    opts.report(100);
    Ok(chooser.finish())
}

/// One reference-coded candidate: variant name, code regions for the absolute-target form,
/// DWARF prediction, pieces (split form) and coder.
type RefRun<'a> = (
    String,
    Vec<Region>,
    Option<Dwarf>,
    &'a [zref::Piece],
    RefCoder,
);

/// The candidates that hold the whole old image in memory: zstd on the plain form, with code
/// in absolute-target form, and with DWARF prediction when the images have code and debug
/// information; the richest of these also split per ELF section, and coded with LZMA when
/// the images are small enough for its encoder.
fn full_old_candidates(
    old: &[u8],
    old_t: &[u8],
    new: &[u8],
    name: &str,
    t: &Transform,
    level: i32,
    opts: &DiffOptions,
) -> Result<Vec<(String, Built)>> {
    let zstd = RefCoder::Zstd(level);
    let mut runs: Vec<RefRun> = vec![(name.to_string(), Vec::new(), None, &[], zstd)];
    let code: Vec<_> = transform::elf::parse(new)
        .map(|e| e.regions(new))
        .unwrap_or_default()
        .into_iter()
        .filter(|r| absolute::handles(r.kind))
        .collect();
    if !code.is_empty() && t.regions.iter().any(|r| absolute::handles(r.kind)) {
        runs.push((format!("{name}+abs"), code.clone(), None, &[], zstd));
        // Executables with DWARF: also predict `.debug_info` fields.
        if let Some(d) = Dwarf::for_pair(old, new, t, opts.max_window) {
            runs.push((format!("{name}+abs+dwarf"), code, Some(d), &[], zstd));
        }
    }
    let pieces = zref::elf_pieces(old, new);
    let (richest, code, dwarf, _, _) = runs.last().cloned().expect("plain form");
    // With LZMA allowed, the split form picks LZMA or zstd per piece, so it replaces the
    // zstd-only split form; it also beat the whole-image LZMA frame on every ELF pair
    // measured, so that one is only tried when the images do not split.
    let lzma = (old.len() + new.len() <= opts.max_lzma_ref).then_some(RefCoder::Lzma(level));
    match (pieces.is_empty(), lzma) {
        (false, Some(c)) => runs.push((format!("{richest}+split+lzma"), code, dwarf, &pieces, c)),
        (false, None) => runs.push((format!("{richest}+split"), code, dwarf, &pieces, zstd)),
        (true, Some(c)) => runs.push((format!("{richest}+lzma"), code, dwarf, &[], c)),
        (true, None) => {}
    }
    let mut out = Vec::with_capacity(runs.len());
    for (variant, code, dwarf, pieces, coder) in runs {
        let body = zref::encode_ref(old_t, t, new, coder, &code, dwarf.as_ref(), pieces)?;
        // Decoding once gives the exact working memory for the header and proves the body
        // rebuilds the new image; one that does not is never offered.
        let mut rebuilt = Vec::with_capacity(new.len());
        let Ok(usage) = zref::apply_ref(
            coder.method(),
            old,
            &mut &body[..],
            new.len() as u64,
            &mut rebuilt,
        ) else {
            continue;
        };
        if rebuilt != new {
            continue;
        }
        let b = Built {
            method: coder.method(),
            flags: FLAG_NEEDS_FULL_OLD,
            body,
            apply_memory: (usage.peak.saturating_sub(old.len()) + crate::apply::HASH_BUF) as u64,
        };
        out.push((variant, b));
    }
    Ok(out)
}

fn bsd_candidate(
    old: &[u8],
    old_t: &[u8],
    new: &[u8],
    t: &Transform,
    params: ZstdParams,
    opts: &DiffOptions,
) -> Result<Built> {
    let m = match_images(old_t, new, opts.max_window);
    let streams = bsd::build_streams(t, old_t, new, &m);
    let enc = bsd::encode(old, new.len() as u64, streams, params)?;
    Ok(Built {
        method: Method::Bsd,
        flags: 0,
        body: enc.body,
        apply_memory: enc.apply_memory,
    })
}

/// Matches `new` against `old`: with a suffix array of old when old fits in `max_window`
/// bytes, else with a [`SeedIndex`] of it.
pub fn match_images(old: &[u8], new: &[u8], max_window: usize) -> matcher::Matches {
    if old.len() <= max_window {
        let sa = suffix_array(old);
        return matcher::compute(old, new, &sa);
    }
    matcher::compute_with(old, new, &SeedIndex::build(old))
}
