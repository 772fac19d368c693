//! Generated identifiers and secrets, in the shapes the Aliyun platform uses: 11-character
//! product keys, 32-character hex secrets, 20-character IotIds.

use rand::Rng;
use rand::distr::Alphanumeric;

fn alnum(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A new ProductKey, e.g. `a1b2C3d4E5f`.
pub fn product_key() -> String {
    format!("a1{}", alnum(9))
}

/// A new device or product secret: 32 random hex digits (128 bits).
pub fn secret() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    hex::encode(bytes)
}

/// A new signing secret for the platform's own cookies: 64 random hex digits (256 bits).
pub fn signing_secret() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    hex::encode(bytes)
}

/// A new IotId.
pub fn iot_id() -> String {
    alnum(20)
}

/// A new FirmwareId.
pub fn firmware_id() -> String {
    format!("{}0100", alnum(22))
}

/// A new JobId.
pub fn job_id() -> String {
    alnum(20)
}

/// A new RolloutId: 18 characters, so its waves' batch ids (the id and a two-digit wave
/// number) are as long as other batch ids.
pub fn rollout_id() -> String {
    alnum(18)
}

/// A new GroupId.
pub fn group_id() -> String {
    alnum(16)
}

/// A random object key component.
pub fn object_name() -> String {
    alnum(24)
}

/// A new audit event id: 32 hex digits, random (the log's order is its own sequence).
pub fn event_id() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    hex::encode(bytes)
}

fn hex_digits(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    hex::encode(buf)
}

/// The bootstrap access key made on a first start without one configured:
/// `OTA` and 16 hex digits, with a 40-hex-digit secret.
pub fn bootstrap_access_key() -> (String, String) {
    (
        format!("OTA{}", hex_digits(8).to_uppercase()),
        hex_digits(20),
    )
}

/// A new access key of a user: `OTA` and 21 upper-case letters and digits, with a
/// 30-character secret.
pub fn access_key() -> (String, String) {
    (format!("OTA{}", alnum(21).to_uppercase()), alnum(30))
}

/// A new personal access token's id (16 letters and digits) and secret (40 hex digits).
pub fn api_token() -> (String, String) {
    (alnum(16), hex_digits(20))
}
