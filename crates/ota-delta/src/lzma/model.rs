//! The LZMA1 probability models and the token logic shared by decoder and encoder.
//!
//! Why shared: exact reproduction of a stream needs the encoder to walk the very same models
//! in the very same order as the decoder. Both drive [`Coder::token`] through a [`BitCoder`]:
//! the decoder's returns the bits it reads, the encoder's writes the bits it is given.

use crate::error::{Error, Result};

/// One LZMA coding decision. Distances are zero-based (`0` = the previous byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    /// One literal byte (coded as a matched literal after a match, as the state says).
    Lit,
    /// One byte at the distance of `rep0`.
    ShortRep,
    /// `len` bytes (2..=273) at the distance of rep `k` (0..=3).
    Rep {
        /// Which of the four recent distances.
        k: u8,
        /// Length in bytes.
        len: u16,
    },
    /// `len` bytes (2..=273) at distance `dist + 1`.
    Match {
        /// Length in bytes.
        len: u16,
        /// Zero-based distance.
        dist: u32,
    },
}

impl Token {
    /// Bytes of plaintext this token produces.
    pub fn plain_len(self) -> usize {
        match self {
            Token::Lit | Token::ShortRep => 1,
            Token::Rep { len, .. } | Token::Match { len, .. } => usize::from(len),
        }
    }
}

/// Literal and position context bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Props {
    /// Literal context bits (0..=8).
    pub lc: u32,
    /// Literal position bits (0..=4).
    pub lp: u32,
    /// Position bits (0..=4).
    pub pb: u32,
}

impl Props {
    /// From the LZMA properties byte `(pb * 5 + lp) * 9 + lc`.
    pub fn from_byte(b: u8) -> Result<Self> {
        if b >= 225 {
            return Err(Error::corrupt("bad LZMA properties"));
        }
        let b = u32::from(b);
        Ok(Props {
            lc: b % 9,
            lp: b / 9 % 5,
            pb: b / 45,
        })
    }

    /// The properties byte.
    pub fn byte(self) -> u8 {
        ((self.pb * 5 + self.lp) * 9 + self.lc) as u8
    }

    /// Bytes of probability tables a coder with these properties holds.
    pub fn model_memory(self) -> usize {
        2 * (1846 + (0x300 << (self.lc + self.lp)))
    }
}

/// Reads (decoder) or writes (encoder) single bits under an adaptive probability, and direct
/// bits. `bit`/`value` are what the encoder writes; the decoder ignores them and returns what
/// it reads.
pub trait BitCoder {
    /// Codes one bit with probability `p` (of a 0, in 1/2048) and adapts `p`.
    fn bit(&mut self, p: &mut u16, bit: u32) -> Result<u32>;
    /// Codes the low `n` bits of `value` with probability one half, high bit first.
    fn direct(&mut self, value: u32, n: u32) -> Result<u32>;
}

const INIT: u16 = 1024;
const POS_STATES: usize = 16;

struct LenModel {
    choice: u16,
    choice2: u16,
    low: [[u16; 8]; POS_STATES],
    mid: [[u16; 8]; POS_STATES],
    high: [u16; 256],
}

impl LenModel {
    fn new() -> Self {
        LenModel {
            choice: INIT,
            choice2: INIT,
            low: [[INIT; 8]; POS_STATES],
            mid: [[INIT; 8]; POS_STATES],
            high: [INIT; 256],
        }
    }

    /// Codes `len - 2` (0..=271).
    fn code(&mut self, c: &mut impl BitCoder, ps: usize, want: u32) -> Result<u32> {
        if c.bit(&mut self.choice, u32::from(want >= 8))? == 0 {
            return tree(c, &mut self.low[ps], 3, want);
        }
        if c.bit(&mut self.choice2, u32::from(want >= 16))? == 0 {
            return Ok(8 + tree(c, &mut self.mid[ps], 3, want.wrapping_sub(8))?);
        }
        Ok(16 + tree(c, &mut self.high, 8, want.wrapping_sub(16))?)
    }
}

fn tree(c: &mut impl BitCoder, probs: &mut [u16], n: u32, value: u32) -> Result<u32> {
    let mut m = 1usize;
    for i in (0..n).rev() {
        let b = c.bit(&mut probs[m], (value >> i) & 1)?;
        m = (m << 1) | b as usize;
    }
    Ok(m as u32 - (1 << n))
}

/// Reverse bit tree whose node `m` is `probs[off + m - 1]`.
fn rev_tree(
    c: &mut impl BitCoder,
    probs: &mut [u16],
    off: usize,
    n: u32,
    value: u32,
) -> Result<u32> {
    let mut m = 1usize;
    let mut sym = 0;
    for i in 0..n {
        let b = c.bit(&mut probs[off + m - 1], (value >> i) & 1)?;
        m = (m << 1) | b as usize;
        sym |= b << i;
    }
    Ok(sym)
}

fn pos_slot(dist: u32) -> u32 {
    if dist < 4 {
        return dist;
    }
    let n = 31 - dist.leading_zeros();
    (n << 1) | ((dist >> (n - 1)) & 1)
}

/// The adaptive state of an LZMA coder: probabilities, state machine and recent distances.
pub struct Coder {
    props: Props,
    state: usize,
    reps: [u32; 4],
    is_match: [u16; 12 * POS_STATES],
    is_rep: [u16; 12],
    is_rep_g0: [u16; 12],
    is_rep_g1: [u16; 12],
    is_rep_g2: [u16; 12],
    is_rep0_long: [u16; 12 * POS_STATES],
    slot: [[u16; 64]; 4],
    spec: [u16; 114],
    align: [u16; 16],
    len: LenModel,
    rep_len: LenModel,
    literal: Vec<u16>,
}

impl Coder {
    /// A fresh coder (all probabilities one half, state 0, reps 0).
    pub fn new(props: Props) -> Result<Self> {
        if props.lc > 8 || props.lp > 4 || props.pb > 4 || props.lc + props.lp > 12 {
            return Err(Error::corrupt("bad LZMA properties"));
        }
        Ok(Coder {
            props,
            state: 0,
            reps: [0; 4],
            is_match: [INIT; 12 * POS_STATES],
            is_rep: [INIT; 12],
            is_rep_g0: [INIT; 12],
            is_rep_g1: [INIT; 12],
            is_rep_g2: [INIT; 12],
            is_rep0_long: [INIT; 12 * POS_STATES],
            slot: [[INIT; 64]; 4],
            spec: [INIT; 114],
            align: [INIT; 16],
            len: LenModel::new(),
            rep_len: LenModel::new(),
            literal: vec![INIT; 0x300 << (props.lc + props.lp)],
        })
    }

    /// The distance (zero-based) a literal after a match is matched against.
    pub fn rep0(&self) -> u32 {
        self.reps[0]
    }

    /// Codes the token at plaintext position `pos`. `data[..pos]` is the plaintext so far;
    /// `lit` is the literal byte (encoder) and `tok` the token (encoder); the decoder passes
    /// anything and gets the token read, plus the literal byte for a literal. Distances are
    /// not checked against `pos` here (the decoder does it).
    pub fn token(
        &mut self,
        c: &mut impl BitCoder,
        data: &[u8],
        pos: usize,
        tok: Token,
        lit: u8,
    ) -> Result<(Token, u8)> {
        let ps = pos & ((1 << self.props.pb) - 1);
        let st = self.state;
        let is_m = c.bit(
            &mut self.is_match[st * POS_STATES + ps],
            u32::from(tok != Token::Lit),
        )?;
        if is_m == 0 {
            let b = self.literal(c, data, pos, lit)?;
            self.state = match st {
                0..=3 => 0,
                4..=9 => st - 3,
                _ => st - 6,
            };
            return Ok((Token::Lit, b));
        }
        let want_rep = matches!(tok, Token::ShortRep | Token::Rep { .. });
        if c.bit(&mut self.is_rep[st], u32::from(want_rep))? == 0 {
            let (want_len, want_dist) = match tok {
                Token::Match { len, dist } => (u32::from(len).wrapping_sub(2), dist),
                _ => (0, 0),
            };
            let l = self.len.code(c, ps, want_len)?;
            let dist = self.distance(c, l, want_dist)?;
            if dist == u32::MAX {
                return Err(Error::corrupt("LZMA end marker"));
            }
            self.reps = [dist, self.reps[0], self.reps[1], self.reps[2]];
            self.state = if st < 7 { 7 } else { 10 };
            return Ok((
                Token::Match {
                    len: l as u16 + 2,
                    dist,
                },
                0,
            ));
        }
        let (want_k, want_len) = match tok {
            Token::Rep { k, len } => (u32::from(k), u32::from(len).wrapping_sub(2)),
            _ => (0, 0),
        };
        let k;
        if c.bit(&mut self.is_rep_g0[st], u32::from(want_k != 0))? == 0 {
            let long = u32::from(matches!(tok, Token::Rep { .. }));
            if c.bit(&mut self.is_rep0_long[st * POS_STATES + ps], long)? == 0 {
                self.state = if st < 7 { 9 } else { 11 };
                return Ok((Token::ShortRep, 0));
            }
            k = 0;
        } else if c.bit(&mut self.is_rep_g1[st], u32::from(want_k != 1))? == 0 {
            k = 1;
        } else {
            k = 2 + c.bit(&mut self.is_rep_g2[st], u32::from(want_k == 3))? as usize;
        }
        if k > 0 {
            let d = self.reps[k];
            self.reps.copy_within(0..k, 1);
            self.reps[0] = d;
        }
        let l = self.rep_len.code(c, ps, want_len)?;
        self.state = if st < 7 { 8 } else { 11 };
        Ok((
            Token::Rep {
                k: k as u8,
                len: l as u16 + 2,
            },
            0,
        ))
    }

    fn literal(&mut self, c: &mut impl BitCoder, data: &[u8], pos: usize, lit: u8) -> Result<u8> {
        let p = self.props;
        let prev = if pos == 0 {
            0
        } else {
            u32::from(data[pos - 1])
        };
        let ctx = ((pos & ((1 << p.lp) - 1)) << p.lc) + (prev >> (8 - p.lc.min(8))) as usize;
        let probs = &mut self.literal[ctx * 0x300..][..0x300];
        let lit = u32::from(lit);
        let mut sym = 1u32;
        if self.state < 7 {
            for i in (0..8).rev() {
                let b = c.bit(&mut probs[sym as usize], (lit >> i) & 1)?;
                sym = (sym << 1) | b;
            }
        } else {
            let back = self.reps[0] as usize + 1;
            if back > pos {
                return Err(Error::corrupt("LZMA distance before the start"));
            }
            let mut mbyte = u32::from(data[pos - back]);
            let mut offset = 0x100u32;
            for i in (0..8).rev() {
                mbyte <<= 1;
                let mb = mbyte & offset;
                let b = c.bit(&mut probs[(offset + mb + sym) as usize], (lit >> i) & 1)?;
                sym = (sym << 1) | b;
                offset &= if b == 1 { mb } else { !mb };
            }
        }
        Ok(sym as u8)
    }

    fn distance(&mut self, c: &mut impl BitCoder, len: u32, want: u32) -> Result<u32> {
        let ls = len.min(3) as usize;
        let slot = tree(c, &mut self.slot[ls], 6, pos_slot(want))?;
        if slot < 4 {
            return Ok(slot);
        }
        let nd = (slot >> 1) - 1;
        let base = (2 | (slot & 1)) << nd;
        let rest = want.wrapping_sub(base);
        if slot < 14 {
            let off = (base - slot) as usize;
            return Ok(base + rev_tree(c, &mut self.spec, off, nd, rest)?);
        }
        let hi = c.direct(rest >> 4, nd - 4)?;
        let lo = rev_tree(c, &mut self.align, 0, 4, rest & 15)?;
        Ok(base.wrapping_add(hi << 4).wrapping_add(lo))
    }
}
