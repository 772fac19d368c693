//! Suffix array construction by induced sorting (SA-IS, Nong–Zhang–Chan 2009), written for
//! this crate.
//!
//! Why our own: the matcher needs a suffix array of the (transformed) old image, linear time
//! keeps diffing of large images bounded, and a pure-Rust implementation avoids a C build.
//! Indices are `u32`, so one suffix array covers at most 4 GiB - 1 bytes; larger inputs are
//! diffed in windows by the caller.

const EMPTY: u32 = u32::MAX;

/// Builds the suffix array of `s` (suffixes in lexicographic order; a proper prefix sorts first).
///
/// # Panics
/// If `s.len() >= u32::MAX`.
pub fn suffix_array(s: &[u8]) -> Vec<u32> {
    assert!(
        s.len() < EMPTY as usize,
        "input too large for u32 suffix array"
    );
    let mut sa = vec![0u32; s.len()];
    sais(s, 256, &mut sa);
    sa
}

trait Sym: Copy {
    fn idx(self) -> usize;
}
impl Sym for u8 {
    fn idx(self) -> usize {
        self as usize
    }
}
impl Sym for u32 {
    fn idx(self) -> usize {
        self as usize
    }
}

fn bucket_bounds<T: Sym>(s: &[T], k: usize, ends: bool) -> Vec<u32> {
    let mut cnt = vec![0u32; k];
    for &c in s {
        cnt[c.idx()] += 1;
    }
    let mut sum = 0u32;
    for c in cnt.iter_mut() {
        sum += *c;
        *c = if ends { sum } else { sum - *c };
    }
    cnt
}

fn induce<T: Sym>(s: &[T], k: usize, stype: &[bool], sa: &mut [u32]) {
    let n = s.len();
    // L-type suffixes, left to right. The virtual sentinel induces suffix n-1 first.
    let mut heads = bucket_bounds(s, k, false);
    let c = s[n - 1].idx();
    sa[heads[c] as usize] = (n - 1) as u32;
    heads[c] += 1;
    for i in 0..n {
        let j = sa[i];
        if j != EMPTY && j > 0 && !stype[j as usize - 1] {
            let c = s[j as usize - 1].idx();
            sa[heads[c] as usize] = j - 1;
            heads[c] += 1;
        }
    }
    // S-type suffixes, right to left.
    let mut tails = bucket_bounds(s, k, true);
    for i in (0..n).rev() {
        let j = sa[i];
        if j != EMPTY && j > 0 && stype[j as usize - 1] {
            let c = s[j as usize - 1].idx();
            tails[c] -= 1;
            sa[tails[c] as usize] = j - 1;
        }
    }
}

fn sais<T: Sym>(s: &[T], k: usize, sa: &mut [u32]) {
    let n = s.len();
    match n {
        0 => return,
        1 => {
            sa[0] = 0;
            return;
        }
        _ => {}
    }
    let mut stype = vec![false; n];
    for i in (0..n - 1).rev() {
        let (a, b) = (s[i].idx(), s[i + 1].idx());
        stype[i] = a < b || (a == b && stype[i + 1]);
    }
    let is_lms = |i: usize| i > 0 && stype[i] && !stype[i - 1];

    // Stage 1: sort LMS substrings.
    sa.fill(EMPTY);
    let mut tails = bucket_bounds(s, k, true);
    for i in (1..n).rev() {
        if is_lms(i) {
            let c = s[i].idx();
            tails[c] -= 1;
            sa[tails[c] as usize] = i as u32;
        }
    }
    induce(s, k, &stype, sa);

    let mut m = 0;
    for i in 0..n {
        let j = sa[i];
        if is_lms(j as usize) {
            sa[m] = j;
            m += 1;
        }
    }
    if m == 0 {
        // No LMS suffix: the string is non-increasing; induce already sorted it fully.
        return;
    }

    // Name LMS substrings.
    sa[m..].fill(EMPTY);
    let mut name = 0u32;
    let mut prev: Option<usize> = None;
    for i in 0..m {
        let pos = sa[i] as usize;
        let differs = match prev {
            None => true,
            Some(p) => lms_substrings_differ(s, &stype, p, pos),
        };
        if differs {
            name += 1;
            prev = Some(pos);
        }
        sa[m + pos / 2] = name - 1;
    }
    let mut j = n;
    for i in (m..n).rev() {
        if sa[i] != EMPTY {
            j -= 1;
            sa[j] = sa[i];
        }
    }
    let reduced: Vec<u32> = sa[n - m..].to_vec();

    // Stage 2: sort the LMS suffixes (recursively if names are not unique).
    {
        let (sa1, _) = sa.split_at_mut(m);
        if (name as usize) < m {
            sais(&reduced, name as usize, sa1);
        } else {
            for (i, &r) in reduced.iter().enumerate() {
                sa1[r as usize] = i as u32;
            }
        }
    }
    // Map reduced indices back to positions, reusing `reduced` as the position list.
    let mut lms_pos = reduced;
    let mut t = 0;
    for i in 1..n {
        if is_lms(i) {
            lms_pos[t] = i as u32;
            t += 1;
        }
    }
    for i in 0..m {
        sa[i] = lms_pos[sa[i] as usize];
    }

    // Stage 3: induce the full order from the sorted LMS suffixes.
    sa[m..].fill(EMPTY);
    let mut tails = bucket_bounds(s, k, true);
    for i in (0..m).rev() {
        let j = sa[i];
        sa[i] = EMPTY;
        let c = s[j as usize].idx();
        tails[c] -= 1;
        sa[tails[c] as usize] = j;
    }
    induce(s, k, &stype, sa);
}

fn lms_substrings_differ<T: Sym>(s: &[T], stype: &[bool], a: usize, b: usize) -> bool {
    let n = s.len();
    let is_lms = |i: usize| i > 0 && stype[i] && !stype[i - 1];
    let mut d = 0;
    loop {
        let (x, y) = (a + d, b + d);
        if x >= n || y >= n {
            return true; // reaching the virtual sentinel makes a substring unique
        }
        if s[x].idx() != s[y].idx() || stype[x] != stype[y] {
            return true;
        }
        if d > 0 && (is_lms(x) || is_lms(y)) {
            return !(is_lms(x) && is_lms(y));
        }
        d += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(s: &[u8]) -> Vec<u32> {
        let mut v: Vec<u32> = (0..s.len() as u32).collect();
        v.sort_by(|&a, &b| s[a as usize..].cmp(&s[b as usize..]));
        v
    }

    #[test]
    fn matches_naive_on_small_alphabets() {
        let mut x = 0x1234_5678u32;
        for len in 0..300 {
            for alpha in [1u32, 2, 3, 7, 256] {
                let s: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        (x % alpha) as u8
                    })
                    .collect();
                assert_eq!(suffix_array(&s), naive(&s), "len {len} alpha {alpha}");
            }
        }
    }

    #[test]
    fn classic_strings() {
        for s in [
            &b"banana"[..],
            b"mississippi",
            b"aaaaaaaa",
            b"abababab",
            b"cabbage",
        ] {
            assert_eq!(suffix_array(s), naive(s));
        }
    }
}
