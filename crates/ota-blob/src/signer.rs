//! Signed, expiring download URLs.
//!
//! A device receives a URL such as `/dl/pkg/abc.bin?expires=1767225600&signature=…`. The
//! signature is an HMAC-SHA256 over the path and the expiry with a server secret, so the URL
//! cannot be altered or extended, and it stops working at its expiry.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Signs and checks download URLs.
#[derive(Clone)]
pub struct UrlSigner {
    secret: Vec<u8>,
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlSigner { secret: <redacted> }")
    }
}

impl UrlSigner {
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self {
            secret: secret.into(),
        }
    }

    fn mac(&self, path: &str, expires: i64) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret)
            .expect("HMAC accepts keys of any length");
        mac.update(path.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// The query string (`expires=…&signature=…`) that authorises `path` until `expires`
    /// (seconds since the epoch).
    pub fn sign(&self, path: &str, expires: i64) -> String {
        format!(
            "expires={expires}&signature={}",
            hex::encode(self.mac(path, expires))
        )
    }

    /// Whether `signature` authorises `path` until `expires`, and `now` (seconds) is before it.
    pub fn verify(&self, path: &str, expires: i64, signature: &str, now: i64) -> bool {
        if now > expires {
            return false;
        }
        let Ok(given) = hex::decode(signature) else {
            return false;
        };
        let expected = self.mac(path, expires);
        given.len() == expected.len() && bool::from(given.ct_eq(&expected))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(query: &str) -> (i64, String) {
        let mut expires = 0;
        let mut sig = String::new();
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap();
            match k {
                "expires" => expires = v.parse().unwrap(),
                "signature" => sig = v.to_owned(),
                _ => {}
            }
        }
        (expires, sig)
    }

    #[test]
    fn accepts_its_own_signature_until_expiry() {
        let signer = UrlSigner::new("k");
        let (exp, sig) = parts(&signer.sign("/dl/a.bin", 1000));
        assert!(signer.verify("/dl/a.bin", exp, &sig, 999));
        assert!(signer.verify("/dl/a.bin", exp, &sig, 1000));
        assert!(!signer.verify("/dl/a.bin", exp, &sig, 1001));
    }

    #[test]
    fn rejects_tampering() {
        let signer = UrlSigner::new("k");
        let (exp, sig) = parts(&signer.sign("/dl/a.bin", 1000));
        assert!(!signer.verify("/dl/b.bin", exp, &sig, 0));
        assert!(!signer.verify("/dl/a.bin", exp + 1, &sig, 0));
        assert!(!signer.verify("/dl/a.bin", exp, "00", 0));
        assert!(!signer.verify("/dl/a.bin", exp, "zz", 0));
        assert!(!UrlSigner::new("other").verify("/dl/a.bin", exp, &sig, 0));
    }
}
