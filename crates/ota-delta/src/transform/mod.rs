//! Executable-aware transform of the old image (placeholder, filled in below).

/// A deterministic rewrite of old-image bytes that makes them closer to the new image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transform {}

impl Transform {
    /// The transform that changes nothing.
    pub fn identity() -> Self {
        Transform {}
    }
    /// True if `apply_block` is a no-op.
    pub fn is_identity(&self) -> bool {
        true
    }
    /// Rewrites one block that starts at file offset `start`.
    pub fn apply_block(&self, _block: &mut [u8], _start: u64) {}
    /// Serialises the transform.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(0);
    }
    /// Parses a serialised transform.
    pub fn decode(buf: &[u8]) -> crate::Result<Self> {
        if buf == [0] {
            Ok(Transform {})
        } else {
            Err(crate::Error::corrupt("bad transform"))
        }
    }
}
impl Transform {
    /// Bytes of memory held by the transform tables.
    pub fn memory(&self) -> usize {
        0
    }
}

/// Transforms worth trying for this pair (none yet).
pub fn candidates(
    _old: &[u8],
    _new: &[u8],
    _opts: &crate::DiffOptions,
) -> Vec<(String, Transform)> {
    Vec::new()
}
