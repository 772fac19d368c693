//! LZMA1 token encoder: codes a given decision sequence, so its output is deterministic.
//!
//! Why: the device rebuilds an embedded LZMA stream from its plaintext and the decisions the
//! original encoder made (carried in the patch); coding them with the same models and the
//! LZMA SDK's range coder (carry propagation through a cached byte, five flush bytes)
//! reproduces the original stream byte for byte.

use super::model::{BitCoder, Coder, Props, Token};
use crate::error::{Error, Result};

struct RangeEncoder {
    low: u64,
    range: u32,
    cache: u8,
    cache_size: u64,
    out: Vec<u8>,
}

impl RangeEncoder {
    fn shift_low(&mut self) {
        if (self.low as u32) < 0xFF00_0000 || self.low >> 32 != 0 {
            let carry = (self.low >> 32) as u8;
            let mut temp = self.cache;
            loop {
                self.out.push(temp.wrapping_add(carry));
                temp = 0xFF;
                self.cache_size -= 1;
                if self.cache_size == 0 {
                    break;
                }
            }
            self.cache = (self.low >> 24) as u8;
        }
        self.cache_size += 1;
        self.low = (self.low & 0x00FF_FFFF) << 8;
    }

    #[inline]
    fn normalize(&mut self) {
        if self.range < 1 << 24 {
            self.range <<= 8;
            self.shift_low();
        }
    }
}

impl BitCoder for RangeEncoder {
    #[inline]
    fn bit(&mut self, p: &mut u16, bit: u32) -> Result<u32> {
        let bound = (self.range >> 11) * u32::from(*p);
        if bit == 0 {
            self.range = bound;
            *p += (2048 - *p) >> 5;
        } else {
            self.low += u64::from(bound);
            self.range -= bound;
            *p -= *p >> 5;
        }
        self.normalize();
        Ok(bit)
    }

    fn direct(&mut self, value: u32, n: u32) -> Result<u32> {
        for i in (0..n).rev() {
            self.range >>= 1;
            if (value >> i) & 1 == 1 {
                self.low += u64::from(self.range);
            }
            self.normalize();
        }
        Ok(value & ((1u64 << n) - 1) as u32)
    }
}

/// Codes `tokens` over `plain` as raw LZMA1 data without end marker. Fails if the tokens do
/// not cover `plain` exactly, a distance reaches before the start, or a token is out of range
/// (so a damaged token list cannot make the coder panic).
pub fn encode(plain: &[u8], tokens: &[Token], props: Props) -> Result<Vec<u8>> {
    encode_tokens(
        plain,
        tokens.iter().copied().map(Ok),
        props,
        plain.len() / 4 + 16,
    )
}

/// [`encode`] for decisions read one at a time (e.g. from a [`super::tokens::Reader`]), with
/// room for `expected` coded bytes reserved up front.
pub fn encode_tokens(
    plain: &[u8],
    tokens: impl IntoIterator<Item = Result<Token>>,
    props: Props,
    expected: usize,
) -> Result<Vec<u8>> {
    let mut rc = RangeEncoder {
        low: 0,
        range: u32::MAX,
        cache: 0,
        cache_size: 1,
        out: Vec::with_capacity(expected),
    };
    let mut coder = Coder::new(props)?;
    let mut pos = 0usize;
    for tok in tokens {
        let tok = tok?;
        let len = tok.plain_len();
        if len > plain.len() - pos {
            return Err(Error::corrupt("LZMA tokens run past the plaintext"));
        }
        match tok {
            Token::Match { len, dist } if !(2..=273).contains(&len) || dist as usize >= pos => {
                return Err(Error::corrupt("bad LZMA match token"));
            }
            Token::Rep { k, len } if k > 3 || !(2..=273).contains(&len) => {
                return Err(Error::corrupt("bad LZMA rep token"));
            }
            _ => {}
        }
        let lit = plain[pos];
        let (got, _) = coder.token(&mut rc, plain, pos, tok, lit)?;
        debug_assert_eq!(got, tok);
        if tok != Token::Lit {
            let back = coder.rep0() as usize + 1;
            if back > pos || !(pos..pos + len).all(|i| plain[i] == plain[i - back]) {
                return Err(Error::corrupt("LZMA token does not match the plaintext"));
            }
        }
        pos += len;
    }
    if pos != plain.len() {
        return Err(Error::corrupt("LZMA tokens do not cover the plaintext"));
    }
    for _ in 0..5 {
        rc.shift_low();
    }
    Ok(rc.out)
}
