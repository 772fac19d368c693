//! LZMA with a reference prefix: the entropy coder of the `LzmaRef` method.
//!
//! Why LZMA next to zstd: on executables its adaptive binary range coder (literals modelled on
//! the previous byte, match lengths and distances on the position within an instruction word)
//! codes the same matches 8–15 % smaller than zstd's Huffman and FSE tables. The old image is
//! the preset dictionary, exactly as `zstd --patch-from` uses it as a prefix, so decoding needs
//! a dictionary buffer of the old plus the new image and no more than that.
//!
//! A frame is one properties byte (`(pb * 5 + lp) * 9 + lc`), then raw LZMA data without an
//! end marker; the decoder knows the output size from the patch.

use crate::error::{Error, Result};
use lzma_rust2::{EncodeMode, LzmaOptions, LzmaReader, LzmaWriter, MfType};
use std::borrow::Cow;
use std::io::{Read, Write};

/// Literal and position context bits of one LZMA frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LzmaParams {
    /// Literal context bits: how many high bits of the previous byte select the literal model.
    pub lc: u32,
    /// Literal position bits.
    pub lp: u32,
    /// Position bits: the low bits of the output position that select match models.
    pub pb: u32,
}

impl LzmaParams {
    /// The LZMA default (`lc=3 lp=0 pb=2`), best on fixed-width instruction sets.
    pub const WORD: LzmaParams = LzmaParams {
        lc: 3,
        lp: 0,
        pb: 2,
    };
    /// No context bits, often best on x86 code whose instructions have any length.
    pub const BYTE: LzmaParams = LzmaParams {
        lc: 0,
        lp: 0,
        pb: 0,
    };

    fn props(self) -> u8 {
        ((self.pb * 5 + self.lp) * 9 + self.lc) as u8
    }

    fn from_props(b: u8) -> Result<Self> {
        if b >= 9 * 5 * 5 {
            return Err(Error::corrupt("bad LZMA properties"));
        }
        let b = u32::from(b);
        let p = LzmaParams {
            lc: b % 9,
            lp: b / 9 % 5,
            pb: b / 45,
        };
        if p.lc > 4 || p.lp > 4 || p.pb > 4 {
            return Err(Error::corrupt("bad LZMA properties"));
        }
        Ok(p)
    }
}

/// Largest reference plus output one frame may span (the LZMA dictionary holds both).
pub const MAX_SPAN: usize = 1 << 30;

fn dict_size(reference: usize, len: usize) -> Result<u32> {
    reference
        .checked_add(len)
        .filter(|&s| s <= MAX_SPAN)
        .map(|s| s.max(4096) as u32)
        .ok_or_else(|| Error::TooLarge("LZMA reference and output exceed 1 GiB".into()))
}

/// Codes `data` with `reference` as preset dictionary, at the strongest setting.
pub fn compress(data: &[u8], reference: &[u8], p: LzmaParams) -> Result<Vec<u8>> {
    let mut o = LzmaOptions::with_preset(9);
    o.lc = p.lc;
    o.lp = p.lp;
    o.pb = p.pb;
    o.dict_size = dict_size(reference.len(), data.len())?;
    o.mode = EncodeMode::Normal;
    o.mf = MfType::Bt4;
    o.nice_len = LzmaOptions::NICE_LEN_MAX;
    if !reference.is_empty() {
        o.preset_dict = Some(reference.to_vec());
    }
    let mut out = vec![p.props()];
    let mut w = LzmaWriter::new(&mut out, &o, false, false, Some(data.len() as u64))?;
    w.write_all(data)?;
    w.finish()?;
    Ok(out)
}

/// Bytes decoded before the output buffer is allocated (see [`decompress`]).
const HEAD: usize = 4096;
/// The decoder's buffer of compressed input, at most.
const INPUT_BUF: usize = 64 << 10;

/// Decodes a frame of exactly `len` bytes with `reference` as preset dictionary. Returns them
/// and the most memory held at once besides the reference.
///
/// The decoder copies the reference into its window; a reference passed by value is released
/// right after, so only the window holds it while the output is decoded (the figure then also
/// covers the reference, which is never held beside more than its copy).
pub fn decompress(frame: &[u8], reference: Cow<'_, [u8]>, len: usize) -> Result<(Vec<u8>, usize)> {
    let (&props, data) = frame
        .split_first()
        .ok_or_else(|| Error::corrupt("empty LZMA frame"))?;
    let p = LzmaParams::from_props(props)?;
    let dict = dict_size(reference.len(), len)?;
    let ref_len = reference.len();
    let preset = (!reference.is_empty()).then_some(&reference[..]);
    let mut r = LzmaReader::new(data, len as u64, p.lc, p.lp, p.pb, dict, preset)
        .map_err(|e| Error::corrupt(format!("LZMA: {e}")))?;
    drop(reference);
    let bad = |e: std::io::Error| Error::corrupt(format!("LZMA: {e}"));
    // The window grows on the first reads: decoding a little before the output buffer exists
    // keeps the window's growth apart from it.
    let mut head = [0u8; HEAD];
    let h = len.min(HEAD);
    r.read_exact(&mut head[..h]).map_err(bad)?;
    let mut out = vec![0u8; len];
    out[..h].copy_from_slice(&head[..h]);
    r.read_exact(&mut out[h..]).map_err(bad)?;
    if r.read(&mut [0u8; 1]).map_err(bad)? != 0 {
        return Err(Error::corrupt("decoded size differs from header"));
    }
    Ok((out, decode_memory(ref_len, len, dict as usize, p)))
}

/// Most memory [`decompress`] holds at once besides the reference. The decoder's window starts
/// as a copy of the reference and grows, at most to the dictionary (rounded up to 16 bytes),
/// to what a read asks for but at least to twice its size: to `t1` on the first read
/// (`HEAD` bytes), to the dictionary on the second (the rest of the output). Each growth may
/// copy, holding the old and the new window at once; the output exists from the second read
/// on.
fn decode_memory(ref_len: usize, len: usize, dict: usize, p: LzmaParams) -> usize {
    let d = (dict + 15) & !15;
    let t1 = (ref_len + HEAD).max(2 * ref_len).max(64 << 10).min(d);
    let first = ref_len + t1;
    let second = if t1 < d { t1 + d } else { d } + len;
    let probabilities = 2 * (1846 + (768 << (p.lc + p.lp)));
    first.max(second) + probabilities + INPUT_BUF
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_noise::noise;

    #[test]
    fn roundtrips_with_and_without_a_reference() {
        let old = noise(50_000, 3);
        let mut new = old[1000..30_000].to_vec();
        new.extend_from_slice(&noise(2000, 4));
        new.extend_from_slice(&old[..5000]);
        for p in [LzmaParams::WORD, LzmaParams::BYTE] {
            for (r, d) in [
                (&old[..], &new[..]),
                (&[][..], &new[..]),
                (&old[..], &[][..]),
            ] {
                let f = compress(d, r, p).unwrap();
                let (back, mem) = decompress(&f, r.into(), d.len()).unwrap();
                assert_eq!(back, d);
                assert!(mem >= r.len() + d.len());
            }
        }
        let with = compress(&new, &old, LzmaParams::WORD).unwrap();
        let without = compress(&new, &[], LzmaParams::WORD).unwrap();
        assert!(with.len() * 4 < without.len(), "the reference is used");
    }

    #[test]
    fn properties_byte_is_validated() {
        for (b, ok) in [(0u8, true), (93, true), (4, true), (5, false), (225, false)] {
            assert_eq!(LzmaParams::from_props(b).is_ok(), ok, "props {b}");
        }
        assert_eq!(LzmaParams::from_props(93).unwrap(), LzmaParams::WORD);
    }

    #[test]
    fn wrong_length_or_damaged_frame_is_an_error() {
        let old = noise(10_000, 5);
        let new = noise(3000, 6);
        let f = compress(&new, &old, LzmaParams::BYTE).unwrap();
        assert!(decompress(&f, (&old[..]).into(), new.len() + 1).is_err());
        assert!(decompress(&f[..f.len() / 2], (&old[..]).into(), new.len()).is_err());
        assert!(decompress(&[], (&old[..]).into(), 0).is_err());
    }
}
