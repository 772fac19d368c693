//! bsdiff-style approximate matching over a suffix array (our own implementation of the idea
//! from Colin Percival's "Naive differences of executable code").
//!
//! Why approximate: after a rebuild, code that merely moved still differs in scattered bytes
//! (addresses, displacements). Extending exact suffix-array matches across such mismatches
//! and storing `new - old` bytewise leaves a "difference" stream that is mostly zeros and
//! compresses extremely well. The executable-aware transforms in [`crate::transform`] remove
//! most of the remaining mismatches before matching.
//!
//! Time is bounded even on repetitive data: the inner scan skips ahead over long matches
//! instead of re-searching at every byte.

/// One control record: add `diff_len` bytes of old (from the current old cursor) to the diff
/// stream, then copy `extra_len` literal bytes, then move the old cursor by `seek`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// Bytes produced as `old[cursor + i] + diff[i]`.
    pub diff_len: u64,
    /// Literal bytes copied from the extra stream.
    pub extra_len: u64,
    /// Signed adjustment of the old cursor after the record.
    pub seek: i64,
}

/// Result of matching: records plus, for analysis, the aligned blocks (old, new, len).
pub struct Matches {
    /// Control records in new-file order.
    pub records: Vec<Record>,
    /// Aligned blocks `(old_start, new_start, len)` covered by difference bytes.
    pub blocks: Vec<(u64, u64, u64)>,
}

/// Length of the common prefix of `a` and `b`, eight bytes at a time.
pub(crate) fn match_len(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut done = 0;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let x = u64::from_le_bytes(x.try_into().expect("8 bytes"));
        let y = u64::from_le_bytes(y.try_into().expect("8 bytes"));
        if x != y {
            return done + ((x ^ y).trailing_zeros() / 8) as usize;
        }
        done += 8;
    }
    done + a[done..]
        .iter()
        .zip(&b[done..])
        .take_while(|(x, y)| x == y)
        .count()
}

/// Where [`compute_with`] looks up a match for the bytes at its scan position.
pub trait Finder {
    /// An old position and the length of the match there with a prefix of `needle` (length 0
    /// when there is none). `hint` is the old position the current alignment predicts for the
    /// needle (possibly out of range), which a finder may try besides its own index.
    fn find(&self, old: &[u8], needle: &[u8], hint: usize) -> (usize, usize);
}

/// The exact finder: a suffix array of the whole old image gives the longest match.
pub struct SuffixArray<'a>(pub &'a [u32]);

impl Finder for SuffixArray<'_> {
    fn find(&self, old: &[u8], needle: &[u8], _hint: usize) -> (usize, usize) {
        search(self.0, old, needle)
    }
}

/// Finds the longest match of `needle` among the suffixes of `old` (binary search on `sa`).
fn search(sa: &[u32], old: &[u8], needle: &[u8]) -> (usize, usize) {
    if sa.is_empty() {
        return (0, 0);
    }
    let (mut lo, mut hi) = (0usize, sa.len() - 1);
    // Invariant: the answer is at lo or hi, or between them.
    let (mut llo, mut lhi) = (
        match_len(&old[sa[lo] as usize..], needle),
        match_len(&old[sa[hi] as usize..], needle),
    );
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        let start = llo.min(lhi);
        let suf = &old[sa[mid] as usize..];
        let l = if start <= suf.len() {
            start + match_len(&suf[start..], &needle[start..])
        } else {
            match_len(suf, needle)
        };
        let less = if l == needle.len() {
            false
        } else if l == suf.len() {
            true
        } else {
            suf[l] < needle[l]
        };
        if less {
            lo = mid;
            llo = l;
        } else {
            hi = mid;
            lhi = l;
        }
    }
    if llo >= lhi {
        (sa[lo] as usize, llo)
    } else {
        (sa[hi] as usize, lhi)
    }
}

/// Computes control records turning `old` into `new`. `sa` is the suffix array of `old`.
pub fn compute(old: &[u8], new: &[u8], sa: &[u32]) -> Matches {
    compute_with(old, new, &SuffixArray(sa))
}

/// Computes control records turning `old` into `new`, looking matches up with `finder`.
pub fn compute_with<F: Finder>(old: &[u8], new: &[u8], finder: &F) -> Matches {
    let n = new.len();
    let on = old.len() as isize;
    let mut records = Vec::new();
    let mut blocks = Vec::new();
    let (mut scan, mut len, mut pos) = (0usize, 0usize, 0usize);
    let (mut lastscan, mut lastpos, mut lastoffset) = (0usize, 0usize, 0isize);
    let old_at = |i: isize| -> Option<u8> {
        if i >= 0 && i < on {
            Some(old[i as usize])
        } else {
            None
        }
    };
    while scan < n {
        let mut oldscore = 0usize;
        scan += len;
        let mut scsc = scan;
        while scan < n {
            let hint = (scan as isize + lastoffset).max(0) as usize;
            let (p, l) = finder.find(old, &new[scan..], hint);
            pos = p;
            len = l;
            while scsc < scan + len {
                if old_at(scsc as isize + lastoffset) == Some(new[scsc]) {
                    oldscore += 1;
                }
                scsc += 1;
            }
            if (len == oldscore && len != 0) || len > oldscore + 8 {
                break;
            }
            // Skip ahead over long, equally good matches: re-searching byte by byte there is
            // what makes naive bsdiff quadratic on repetitive data.
            let step = if len > 64 { len - 32 } else { 1 };
            for k in 0..step {
                if scan + k < n && old_at((scan + k) as isize + lastoffset) == Some(new[scan + k]) {
                    oldscore = oldscore.saturating_sub(1);
                }
            }
            scan += step;
            if scsc < scan {
                scsc = scan;
                oldscore = 0;
            }
        }
        if scan >= n {
            scan = n;
        }
        if len != oldscore || scan == n {
            // Extend the previous alignment forward.
            let (mut s, mut sf, mut lenf) = (0isize, 0isize, 0usize);
            let mut i = 0usize;
            while lastscan + i < scan && lastpos + i < old.len() {
                if old[lastpos + i] == new[lastscan + i] {
                    s += 1;
                }
                i += 1;
                if s * 2 - i as isize > sf * 2 - lenf as isize {
                    sf = s;
                    lenf = i;
                }
            }
            // Extend the new match backward.
            let mut lenb = 0usize;
            if scan < n {
                let (mut s, mut sb) = (0isize, 0isize);
                for i in 1..=(scan - lastscan).min(pos) {
                    if old[pos - i] == new[scan - i] {
                        s += 1;
                    }
                    if s * 2 - i as isize > sb * 2 - lenb as isize {
                        sb = s;
                        lenb = i;
                    }
                }
            }
            // Resolve overlap between the two extensions.
            if lastscan + lenf > scan - lenb {
                let overlap = (lastscan + lenf) - (scan - lenb);
                let (mut s, mut ss, mut lens) = (0isize, 0isize, 0usize);
                for i in 0..overlap {
                    if new[lastscan + lenf - overlap + i] == old[lastpos + lenf - overlap + i] {
                        s += 1;
                    }
                    if new[scan - lenb + i] == old[pos - lenb + i] {
                        s -= 1;
                    }
                    if s > ss {
                        ss = s;
                        lens = i + 1;
                    }
                }
                lenf = lenf + lens - overlap;
                lenb -= lens;
            }
            let extra_start = lastscan + lenf;
            let extra_end = scan - lenb;
            let next_pos = if scan < n { pos - lenb } else { lastpos + lenf };
            if lenf > 0 {
                blocks.push((lastpos as u64, lastscan as u64, lenf as u64));
            }
            records.push(Record {
                diff_len: lenf as u64,
                extra_len: (extra_end - extra_start) as u64,
                seek: next_pos as i64 - (lastpos + lenf) as i64,
            });
            lastscan = scan - lenb;
            lastpos = next_pos;
            lastoffset = pos as isize - scan as isize;
        }
    }
    Matches { records, blocks }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sais::suffix_array;

    fn replay(old: &[u8], new: &[u8], m: &Matches) -> Vec<u8> {
        let mut out = Vec::new();
        let mut op = 0i64;
        for r in &m.records {
            for i in 0..r.diff_len as usize {
                out.push(old[op as usize + i]);
            }
            op += r.diff_len as i64;
            let s = out.len();
            out.extend_from_slice(&new[s..s + r.extra_len as usize]);
            op += r.seek;
        }
        let _ = old;
        out
    }

    #[test]
    fn covers_new_exactly() {
        let old = b"the quick brown fox jumps over the lazy dog".repeat(20);
        let mut new = old.clone();
        new.splice(100..100, b"INSERTED".iter().copied());
        new.truncate(700);
        let sa = suffix_array(&old);
        let m = compute(&old, &new, &sa);
        let total: u64 = m.records.iter().map(|r| r.diff_len + r.extra_len).sum();
        assert_eq!(total as usize, new.len());
        assert_eq!(replay(&old, &new, &m).len(), new.len());
    }
}
