//! Streaming digests in the push's `signMethod`, so a file is verified as it arrives and a
//! memory-bounded sink never has to keep it.

use md5::Md5;
use ota_protocol::SignMethod;
use sha2::{Digest, Sha256};

/// An incremental MD5 or SHA-256.
#[derive(Debug, Clone)]
pub enum Hasher {
    /// `signMethod` `Md5`.
    Md5(Md5),
    /// `signMethod` `SHA256`.
    Sha256(Sha256),
}

impl Hasher {
    /// A fresh hasher for `method`.
    pub fn new(method: SignMethod) -> Self {
        match method {
            SignMethod::Md5 => Hasher::Md5(Md5::new()),
            SignMethod::Sha256 => Hasher::Sha256(Sha256::new()),
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(bytes),
            Hasher::Sha256(h) => h.update(bytes),
        }
    }

    /// Lower-case hex of the digest so far, without consuming the hasher.
    pub fn hex(&self) -> String {
        match self {
            Hasher::Md5(h) => hex::encode(h.clone().finalize()),
            Hasher::Sha256(h) => hex::encode(h.clone().finalize()),
        }
    }

    /// Starts over with the same algorithm (an HTTP server ignored our `Range`).
    pub fn reset(&mut self) {
        match self {
            Hasher::Md5(h) => *h = Md5::new(),
            Hasher::Sha256(h) => *h = Sha256::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        let mut h = Hasher::new(SignMethod::Md5);
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(h.hex(), "900150983cd24fb0d6963f7d28e17f72");
        let mut h = Hasher::new(SignMethod::Sha256);
        h.update(b"abc");
        assert_eq!(
            h.hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        h.reset();
        assert_eq!(
            h.hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
