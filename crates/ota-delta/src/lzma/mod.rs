//! LZMA1 at the level of coding decisions ("tokens"), for images that embed LZMA streams.
//!
//! Why this exists: firmware images (e.g. EDK2's OVMF) embed LZMA-compressed volumes. A small
//! change of the plaintext changes the compressed bytes everywhere, so byte-level deltas of
//! such images are as large as the stream. An LZMA stream is fully determined by its plaintext,
//! its `lc`/`lp`/`pb` and the encoder's decisions (literal, match with length and distance,
//! rep match, short rep). [`decode`] records those decisions while decoding; [`encode`] codes a
//! given decision sequence with the same adaptive models and range coder, so decoding and
//! re-encoding reproduces the original bytes exactly, whatever encoder made them. A delta can
//! then work on plaintext plus decisions, which change little when the plaintext changes
//! little ([`tokens`] serialises the decisions for that).

pub mod decode;
pub mod encode;
pub mod model;
pub mod tokens;

pub use model::{Props, Token};
