//! Signature version 1 (HMAC-SHA1), used by `aliyun-python-sdk-core` and the `aliyun` CLI:
//! every parameter but `Signature` (query and form body alike), sorted by name and
//! percent-encoded, signed as
//!
//! ```text
//! StringToSign = METHOD & %2F & percent(k1=v1&k2=v2…)
//! Signature    = base64(HMAC-SHA1(secret + "&", StringToSign))
//! ```

/// RFC 3986 percent-encoding, as the signature canonicalizes (also what form bodies need).
pub use super::params::percent_encode;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use std::collections::BTreeMap;

/// The text that is signed.
pub fn string_to_sign(method: &str, params: &BTreeMap<String, String>) -> String {
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k.as_str() != "Signature")
        .map(|(k, v)| (percent_encode(k), percent_encode(v)))
        .collect();
    pairs.sort();
    let canonical = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    format!(
        "{}&%2F&{}",
        method.to_ascii_uppercase(),
        percent_encode(&canonical)
    )
}

/// Base64 HMAC-SHA1 of `text` under `key` (v1 uses `secret + "&"`, OSS policies the bare
/// secret).
pub fn hmac_sha1_base64(key: &str, text: &str) -> String {
    let mut mac =
        <Hmac<Sha1> as KeyInit>::new_from_slice(key.as_bytes()).expect("HMAC accepts any key");
    mac.update(text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The expected v1 signature.
pub fn signature(secret: &str, method: &str, params: &BTreeMap<String, String>) -> String {
    hmac_sha1_base64(&format!("{secret}&"), &string_to_sign(method, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_example() {
        // The example of the Alibaba Cloud signature v1 documentation.
        let params: BTreeMap<String, String> = [
            ("AccessKeyId", "testid"),
            ("Action", "DescribeRegions"),
            ("Format", "XML"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2016-02-23T12:46:24Z"),
            ("Version", "2014-05-26"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(
            signature("testsecret", "GET", &params),
            "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
        );
    }
}
