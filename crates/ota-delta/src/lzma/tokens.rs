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
    let mut kinds = Vec::with_capacity(tokens.len());
    let mut lens = Vec::new();
    let mut dists = Vec::new();
    let put_len = |lens: &mut Vec<u8>, len: u16| {
        let l = len - 2;
        if l < 255 {
            lens.push(l as u8);
        } else {
            lens.push(255);
            lens.push((l - 255) as u8);
        }
    };
    for &t in tokens {
        match t {
            Token::Lit => kinds.push(0),
            Token::Match { len, dist } => {
                kinds.push(1);
                put_len(&mut lens, len);
                dists.extend_from_slice(&dist.to_le_bytes());
            }
            Token::ShortRep => kinds.push(2),
            Token::Rep { k, len } => {
                kinds.push(3 + k);
                put_len(&mut lens, len);
            }
        }
    }
    let mut out = Vec::with_capacity(kinds.len() + lens.len() + dists.len() + 12);
    varint::put_u64(&mut out, tokens.len() as u64);
    varint::put_u64(&mut out, lens.len() as u64);
    out.extend_from_slice(&kinds);
    out.extend_from_slice(&lens);
    out.extend_from_slice(&dists);
    out
}

/// Parses a serialisation made by [`serialize`]; any inconsistency is `Corrupt`.
pub fn deserialize(buf: &[u8]) -> Result<Vec<Token>> {
    let bad = || Error::corrupt("bad LZMA token serialisation");
    let mut p = 0;
    let count = usize::try_from(varint::get_u64(buf, &mut p)?).map_err(|_| bad())?;
    let lens_len = usize::try_from(varint::get_u64(buf, &mut p)?).map_err(|_| bad())?;
    let kinds = buf
        .get(p..p.checked_add(count).ok_or_else(bad)?)
        .ok_or_else(bad)?;
    let lens_end = (p + count).checked_add(lens_len).ok_or_else(bad)?;
    let lens = buf.get(p + count..lens_end).ok_or_else(bad)?;
    let dists = &buf[lens_end..];
    let (mut li, mut di) = (0usize, 0usize);
    let mut next_len = || -> Result<u16> {
        let b = *lens.get(li).ok_or_else(bad)?;
        li += 1;
        if b < 255 {
            return Ok(u16::from(b) + 2);
        }
        let e = *lens.get(li).ok_or_else(bad)?;
        li += 1;
        if e > 16 {
            return Err(bad());
        }
        Ok(u16::from(e) + 257)
    };
    let mut out = Vec::with_capacity(count);
    for &k in kinds {
        out.push(match k {
            0 => Token::Lit,
            1 => {
                let len = next_len()?;
                let d = dists.get(di..di + 4).ok_or_else(bad)?;
                di += 4;
                Token::Match {
                    len,
                    dist: u32::from_le_bytes([d[0], d[1], d[2], d[3]]),
                }
            }
            2 => Token::ShortRep,
            3..=6 => Token::Rep {
                k: k - 3,
                len: next_len()?,
            },
            _ => return Err(bad()),
        });
    }
    if li != lens.len() || di != dists.len() {
        return Err(bad());
    }
    Ok(out)
}
