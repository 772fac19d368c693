//! Serialisation of LZMA decisions for delta coding.
//!
//! Why columns: the decisions for two similar plaintexts are mostly the same, but a single
//! inserted byte shifts everything after it. Kinds, lengths and distances are kept in separate
//! columns (literal bytes are not stored: they are in the plaintext), so an unchanged stretch
//! of decisions gives identical runs in every column, which the inner delta finds as matches.
//!
//! Layout: `count: uvar` (tokens), `lens_len: uvar` (bytes of the length column), then the
//! kind column (one byte per token: `0` literal, `1` match, `2` short rep, `3 + k` rep `k`),
//! the length column (per match and rep: `len - 2` as one byte if below 255, else `255` and
//! `len - 257`), the distance column (per match: `dist` as `u32` little-endian) to the end.

use super::model::Token;
use crate::error::{Error, Result};
use crate::varint;

/// Serialises `tokens`.
pub fn serialize(tokens: &[Token]) -> Vec<u8> {
    let mut c = Columns::default();
    for &t in tokens {
        c.push(t);
    }
    let mut out = Vec::with_capacity(c.serialized_len());
    c.write_to(&mut out);
    out
}

/// The columns of a serialisation, filled one decision at a time (no list of decisions is
/// held while decoding a stream).
#[derive(Debug, Default)]
pub struct Columns {
    kinds: Vec<u8>,
    lens: Vec<u8>,
    dists: Vec<u8>,
}

impl Columns {
    /// Appends one decision.
    pub fn push(&mut self, t: Token) {
        let put_len = |lens: &mut Vec<u8>, len: u16| {
            let l = len - 2;
            if l < 255 {
                lens.push(l as u8);
            } else {
                lens.push(255);
                lens.push((l - 255) as u8);
            }
        };
        match t {
            Token::Lit => self.kinds.push(0),
            Token::Match { len, dist } => {
                self.kinds.push(1);
                put_len(&mut self.lens, len);
                self.dists.extend_from_slice(&dist.to_le_bytes());
            }
            Token::ShortRep => self.kinds.push(2),
            Token::Rep { k, len } => {
                self.kinds.push(3 + k);
                put_len(&mut self.lens, len);
            }
        }
    }

    /// Decisions so far.
    pub fn count(&self) -> usize {
        self.kinds.len()
    }

    /// Bytes of the serialisation.
    pub fn serialized_len(&self) -> usize {
        let mut head = Vec::new();
        varint::put_u64(&mut head, self.kinds.len() as u64);
        varint::put_u64(&mut head, self.lens.len() as u64);
        head.len() + self.kinds.len() + self.lens.len() + self.dists.len()
    }

    /// Most bytes the columns have held at once: their buffers, and half of them again for
    /// the copy a growing buffer may make (each at most doubles).
    pub fn memory(&self) -> usize {
        let cap = self.kinds.capacity() + self.lens.capacity() + self.dists.capacity();
        cap + cap / 2
    }

    /// Appends the serialisation to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        varint::put_u64(out, self.kinds.len() as u64);
        varint::put_u64(out, self.lens.len() as u64);
        out.extend_from_slice(&self.kinds);
        out.extend_from_slice(&self.lens);
        out.extend_from_slice(&self.dists);
    }
}

/// Parses a serialisation made by [`serialize`]; any inconsistency is `Corrupt`.
pub fn deserialize(buf: &[u8]) -> Result<Vec<Token>> {
    let mut r = Reader::new(buf)?;
    let mut out = Vec::with_capacity(r.remaining());
    for t in &mut r {
        out.push(t?);
    }
    r.finish()?;
    Ok(out)
}

/// Reads the decisions of a serialisation one at a time, without listing them.
pub struct Reader<'a> {
    kinds: std::slice::Iter<'a, u8>,
    lens: &'a [u8],
    dists: &'a [u8],
    li: usize,
    di: usize,
}

fn bad() -> Error {
    Error::corrupt("bad LZMA token serialisation")
}

impl<'a> Reader<'a> {
    /// Reads the header of a serialisation.
    pub fn new(buf: &'a [u8]) -> Result<Self> {
        let mut p = 0;
        let count = usize::try_from(varint::get_u64(buf, &mut p)?).map_err(|_| bad())?;
        let lens_len = usize::try_from(varint::get_u64(buf, &mut p)?).map_err(|_| bad())?;
        let kinds = buf
            .get(p..p.checked_add(count).ok_or_else(bad)?)
            .ok_or_else(bad)?;
        let lens_end = (p + count).checked_add(lens_len).ok_or_else(bad)?;
        let lens = buf.get(p + count..lens_end).ok_or_else(bad)?;
        Ok(Reader {
            kinds: kinds.iter(),
            lens,
            dists: &buf[lens_end..],
            li: 0,
            di: 0,
        })
    }

    /// Decisions not read yet.
    pub fn remaining(&self) -> usize {
        self.kinds.len()
    }

    /// Checks, after the last decision, that the length and distance columns were used up.
    pub fn finish(&self) -> Result<()> {
        if !self.kinds.as_slice().is_empty()
            || self.li != self.lens.len()
            || self.di != self.dists.len()
        {
            return Err(bad());
        }
        Ok(())
    }

    fn next_len(&mut self) -> Result<u16> {
        let b = *self.lens.get(self.li).ok_or_else(bad)?;
        self.li += 1;
        if b < 255 {
            return Ok(u16::from(b) + 2);
        }
        let e = *self.lens.get(self.li).ok_or_else(bad)?;
        self.li += 1;
        if e > 16 {
            return Err(bad());
        }
        Ok(u16::from(e) + 257)
    }

    fn token(&mut self, k: u8) -> Result<Token> {
        Ok(match k {
            0 => Token::Lit,
            1 => {
                let len = self.next_len()?;
                let d = self.dists.get(self.di..self.di + 4).ok_or_else(bad)?;
                self.di += 4;
                Token::Match {
                    len,
                    dist: u32::from_le_bytes([d[0], d[1], d[2], d[3]]),
                }
            }
            2 => Token::ShortRep,
            3..=6 => Token::Rep {
                k: k - 3,
                len: self.next_len()?,
            },
            _ => return Err(bad()),
        })
    }
}

impl Iterator for Reader<'_> {
    type Item = Result<Token>;

    fn next(&mut self) -> Option<Result<Token>> {
        let &k = self.kinds.next()?;
        Some(self.token(k))
    }
}
