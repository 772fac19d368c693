//! Detection of embedded LZMA-alone streams.
//!
//! Why strict: a stream is only worth expanding if the device can rebuild it exactly, so a
//! candidate is accepted only when decoding it and re-encoding its decisions reproduces its
//! bytes. The header checks (properties, a dictionary size liblzma would accept, a known
//! plaintext size within the budget, a zero first range-coder byte) keep the scan cheap on
//! images without streams: few offsets pass them, and garbage fails to decode quickly.

use super::{MAX_PLAIN_TOTAL, MAX_STREAMS, Stream};
use crate::lzma::{Props, decode, encode};

/// Bytes of the LZMA-alone header: properties, dictionary size `u32`, plaintext size `u64`.
pub const ALONE_HEADER: usize = 13;
/// Smallest plaintext of a stream worth expanding. Smaller "streams" are mostly chance
/// byte patterns that happen to decode and re-encode (executables hold several), and would
/// cost every such pair an expanded candidate for nothing.
pub const MIN_PLAIN: u64 = 4096;
/// Smallest compressed length of a stream worth expanding.
pub const MIN_CODED: usize = 64;

fn plausible_dict(d: u32) -> bool {
    if d < 4096 {
        return false;
    }
    let low = d.trailing_zeros();
    let rest = d >> low;
    rest == 1 || rest == 3
}

/// Parses an LZMA-alone header at `i` if it is plausible; returns properties and size.
fn header_at(img: &[u8], i: usize, budget: u64) -> Option<(Props, u64)> {
    let h = img.get(i..i + ALONE_HEADER + 5)?;
    if h[0] >= 225 || h[ALONE_HEADER] != 0 {
        return None;
    }
    let props = Props::from_byte(h[0]).ok()?;
    if props.lc + props.lp > 4 {
        return None;
    }
    let dict = u32::from_le_bytes([h[1], h[2], h[3], h[4]]);
    let size = u64::from_le_bytes(h[5..13].try_into().ok()?);
    (plausible_dict(dict) && (MIN_PLAIN..=budget).contains(&size)).then_some((props, size))
}

/// Finds the LZMA-alone streams of `img` (known size, no end marker) that re-encode exactly,
/// in order, at most [`MAX_STREAMS`] and [`MAX_PLAIN_TOTAL`] plaintext bytes in all, each
/// with at least [`MIN_PLAIN`] plaintext and [`MIN_CODED`] compressed bytes.
pub fn find_streams(img: &[u8]) -> Vec<Stream> {
    let mut out = Vec::new();
    let mut budget = MAX_PLAIN_TOTAL;
    let mut i = 0;
    while i + ALONE_HEADER + 5 <= img.len() && out.len() < MAX_STREAMS {
        let Some((props, size)) = header_at(img, i, budget) else {
            i += 1;
            continue;
        };
        let data = &img[i + ALONE_HEADER..];
        let found = decode::decode(data, props, size, budget)
            .ok()
            .and_then(|d| {
                let re = encode::encode(&d.plain, &d.tokens, props).ok()?;
                (re.len() >= MIN_CODED && data.starts_with(&re)).then_some(re.len())
            });
        match found {
            Some(coded_len) => {
                out.push(Stream {
                    start: i + ALONE_HEADER,
                    coded_len,
                    props,
                    plain_len: size as usize,
                });
                budget -= size;
                i += ALONE_HEADER + coded_len;
            }
            None => i += 1,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_noise::noise;

    #[test]
    fn dictionary_sizes_liblzma_accepts() {
        for (d, ok) in [
            (4096, true),
            (1 << 24, true),
            (3 << 20, true),
            (5 << 20, false),
            (100, false),
        ] {
            assert_eq!(plausible_dict(d), ok, "{d}");
        }
    }

    #[test]
    fn noise_and_fake_headers_have_no_streams() {
        let mut img = noise(200_000, 9);
        // A plausible header followed by garbage: rejected after decoding fails.
        img[5000..5018]
            .copy_from_slice(&[0x5D, 0, 0, 0, 1, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
        assert!(find_streams(&img).is_empty());
        assert!(find_streams(&[]).is_empty());
    }
}
