//! Secrets at rest: access-key secrets are sealed with the server key before they reach
//! the store, so a copy of the database alone does not give working keys.
//!
//! The server key lives outside the store (a file beside the data, or the configuration);
//! every node sharing a store must have the same one. The store keeps a check value made
//! from the key, so a node started with another key refuses to start instead of failing
//! every signature.
//!
//! Sealed form: `sealed:v1:<base64 of 24-byte nonce ‖ XChaCha20-Poly1305 ciphertext>`, with
//! the key id as associated data, so a sealed secret copied onto another key's row does not
//! open.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::Rng;
use sha2::{Digest, Sha256};

const PREFIX: &str = "sealed:v1:";

/// The key that seals secrets at rest: 32 bytes.
#[derive(Clone)]
pub struct ServerKey([u8; 32]);

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKey(..)")
    }
}

/// Why a sealed secret did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("the value is not sealed")]
    NotSealed,
    #[error("the sealed value is malformed")]
    Malformed,
    #[error("the sealed value does not open with this server key")]
    WrongKey,
}

impl ServerKey {
    /// A fresh random key.
    pub fn generate() -> ServerKey {
        ServerKey(rand::rng().random())
    }

    /// Reads a key written by [`ServerKey::to_text`]: 64 hex digits (surrounding white
    /// space ignored).
    pub fn from_text(text: &str) -> Result<ServerKey, String> {
        let bytes = hex::decode(text.trim())
            .map_err(|e| format!("the server key must be 64 hex digits: {e}"))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "the server key must be 64 hex digits (32 bytes)".to_owned())?;
        Ok(ServerKey(key))
    }

    /// The key as 64 hex digits, for its file.
    pub fn to_text(&self) -> String {
        hex::encode(self.0)
    }

    /// A value that tells whether two nodes hold the same key without revealing it.
    pub fn check_value(&self) -> String {
        let mut hash = Sha256::new();
        hash.update(b"ota server key check v1");
        hash.update(self.0);
        hex::encode(&hash.finalize()[..16])
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.0.into())
    }

    /// Seals `secret`, bound to `context` (the key id).
    pub fn seal(&self, context: &str, secret: &str) -> String {
        let nonce_bytes: [u8; 24] = rand::rng().random();
        let nonce = XNonce::from(nonce_bytes);
        let sealed = self
            .cipher()
            .encrypt(
                &nonce,
                Payload {
                    msg: secret.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("sealing with a 32-byte key cannot fail");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", STANDARD_NO_PAD.encode(out))
    }

    /// Opens a value made by [`ServerKey::seal`] with the same `context`.
    pub fn open(&self, context: &str, sealed: &str) -> Result<String, OpenError> {
        let body = sealed.strip_prefix(PREFIX).ok_or(OpenError::NotSealed)?;
        let raw = STANDARD_NO_PAD
            .decode(body)
            .map_err(|_| OpenError::Malformed)?;
        if raw.len() < 24 + 16 {
            return Err(OpenError::Malformed);
        }
        let (nonce, ciphertext) = raw.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| OpenError::Malformed)?;
        let plain = self
            .cipher()
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| OpenError::WrongKey)?;
        String::from_utf8(plain).map_err(|_| OpenError::Malformed)
    }

    /// Whether a stored value is sealed (an older version kept secrets in the clear).
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_with_its_key_and_context_only() {
        let key = ServerKey::generate();
        let sealed = key.seal("AK1", "s3cret");
        assert!(ServerKey::is_sealed(&sealed));
        assert!(!sealed.contains("s3cret"));
        assert_eq!(key.open("AK1", &sealed).as_deref(), Ok("s3cret"));
        assert_eq!(key.open("AK2", &sealed), Err(OpenError::WrongKey));
        let other = ServerKey::generate();
        assert_eq!(other.open("AK1", &sealed), Err(OpenError::WrongKey));
        assert_ne!(
            key.seal("AK1", "s3cret"),
            sealed,
            "each seal has its own nonce"
        );
    }

    #[test]
    fn malformed_or_plain_values_are_refused() {
        let key = ServerKey::generate();
        let cases = [
            ("s3cret", OpenError::NotSealed),
            ("sealed:v1:***", OpenError::Malformed),
            ("sealed:v1:AAAA", OpenError::Malformed),
        ];
        for (stored, want) in cases {
            assert_eq!(key.open("AK1", stored), Err(want), "{stored}");
        }
    }

    #[test]
    fn the_key_round_trips_as_text_and_checks_without_revealing() {
        let key = ServerKey::generate();
        let again = ServerKey::from_text(&format!("{}\n", key.to_text())).unwrap();
        assert_eq!(again.check_value(), key.check_value());
        assert_ne!(ServerKey::generate().check_value(), key.check_value());
        assert!(!key.check_value().contains(&key.to_text()[..16]));
        assert!(ServerKey::from_text("abcd").is_err());
        assert!(format!("{key:?}").contains(".."));
    }
}
