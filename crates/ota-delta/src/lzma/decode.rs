//! LZMA1 decoder that records every coding decision ([`Token`]) besides the plaintext.
//!
//! Why not `lzma-rust2`'s decoder: it does not expose the decisions, and re-encoding needs
//! them. Only known-size streams without end marker are handled (what EDK2 and most
//! firmware builders write); anything else is an error, and the caller leaves such a stream
//! as plain bytes.

use super::model::{BitCoder, Coder, Props, Token};
use crate::error::{Error, Result};

/// A decoded stream: plaintext, decisions, and how many compressed bytes the decoder read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The plaintext.
    pub plain: Vec<u8>,
    /// The decisions, in order; their lengths add up to `plain.len()`.
    pub tokens: Vec<Token>,
    /// Compressed bytes read (the stream may be shorter than the input given).
    pub consumed: usize,
}

struct RangeDecoder<'a> {
    data: &'a [u8],
    pos: usize,
    range: u32,
    code: u32,
}

impl RangeDecoder<'_> {
    #[inline]
    fn normalize(&mut self) -> Result<()> {
        if self.range < 1 << 24 {
            let b = *self
                .data
                .get(self.pos)
                .ok_or_else(|| Error::corrupt("LZMA data truncated"))?;
            self.pos += 1;
            self.range <<= 8;
            self.code = (self.code << 8) | u32::from(b);
        }
        Ok(())
    }
}

impl BitCoder for RangeDecoder<'_> {
    #[inline]
    fn bit(&mut self, p: &mut u16, _bit: u32) -> Result<u32> {
        self.normalize()?;
        let bound = (self.range >> 11) * u32::from(*p);
        if self.code < bound {
            self.range = bound;
            *p += (2048 - *p) >> 5;
            Ok(0)
        } else {
            self.range -= bound;
            self.code -= bound;
            *p -= *p >> 5;
            Ok(1)
        }
    }

    fn direct(&mut self, _value: u32, n: u32) -> Result<u32> {
        let mut v = 0;
        for _ in 0..n {
            self.normalize()?;
            self.range >>= 1;
            let b = u32::from(self.code >= self.range);
            if b == 1 {
                self.code -= self.range;
            }
            v = (v << 1) | b;
        }
        Ok(v)
    }
}

/// Decodes raw LZMA1 data (no header) producing exactly `size` bytes. Fails on a distance
/// before the start, a match running past `size`, an end marker, or truncated input; refuses
/// (`TooLarge`) sizes above `max_size`.
pub fn decode(data: &[u8], props: Props, size: u64, max_size: u64) -> Result<Decoded> {
    if size > max_size {
        return Err(Error::TooLarge("LZMA plaintext over the limit".into()));
    }
    let mut plain = Vec::with_capacity(size as usize);
    let mut tokens = Vec::with_capacity(size as usize / 4);
    let consumed = decode_into(data, props, size, max_size, &mut plain, |t| tokens.push(t))?;
    Ok(Decoded {
        plain,
        tokens,
        consumed,
    })
}

/// [`decode`] appending the plaintext to `plain` (whose earlier bytes a match cannot reach)
/// and handing each decision to `token`; returns the compressed bytes read.
pub fn decode_into(
    data: &[u8],
    props: Props,
    size: u64,
    max_size: u64,
    plain: &mut Vec<u8>,
    mut token: impl FnMut(Token),
) -> Result<usize> {
    if size > max_size {
        return Err(Error::TooLarge("LZMA plaintext over the limit".into()));
    }
    let size = size as usize;
    if data.len() < 5 || data[0] != 0 {
        return Err(Error::corrupt("bad LZMA range coder start"));
    }
    let mut rc = RangeDecoder {
        data,
        pos: 5,
        range: u32::MAX,
        code: u32::from_be_bytes([data[1], data[2], data[3], data[4]]),
    };
    let mut coder = Coder::new(props)?;
    let base = plain.len();
    while plain.len() - base < size {
        let pos = plain.len() - base;
        let (tok, b) = coder.token(&mut rc, &plain[base..], pos, Token::Lit, 0)?;
        let len = tok.plain_len();
        if len > size - pos {
            return Err(Error::corrupt("LZMA match past the end"));
        }
        match tok {
            Token::Lit => plain.push(b),
            _ => {
                let back = coder.rep0() as usize + 1;
                if back > pos {
                    return Err(Error::corrupt("LZMA distance before the start"));
                }
                for i in base + pos..base + pos + len {
                    plain.push(plain[i - back]);
                }
            }
        }
        token(tok);
    }
    Ok(rc.pos)
}
