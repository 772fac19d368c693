//! CONNECT credentials: the shape the platform expects, signed exactly as `ota-protocol`
//! verifies them.

use ota_device_sdk::{DeviceConfig, HmacMethod};
use ota_protocol::ConnectAuth;

// The spec's example (§2.6), computed independently with Python's `hmac` module.
const VECTORS: [(HmacMethod, &str); 3] = [
    (
        HmacMethod::HmacSha1,
        "fafd82a3d602b37fb0fa8b7892f24a477f851a14",
    ),
    (HmacMethod::HmacMd5, "14b198324fe55e1d3c88f2e705e201ee"),
    (
        HmacMethod::HmacSha256,
        "6074a46a91b1ebb2cc4ea42790ad0e80202c9843859fc292e57c4eb19fad9e57",
    ),
];

#[test]
fn credentials_match_the_spec_vectors() {
    for (method, password) in VECTORS {
        let mut cfg = DeviceConfig::new("pk", "device", "secret", "127.0.0.1", 1883);
        cfg.client_id = Some("12345".into());
        cfg.sign_method = method;
        let creds = cfg.credentials(789);
        assert_eq!(
            creds.client_id,
            format!(
                "12345|securemode=3,signmethod={},timestamp=789|",
                method.as_str()
            )
        );
        assert_eq!(creds.username, "device&pk");
        assert_eq!(creds.password, password);
        let auth = ConnectAuth::parse(&creds.client_id, &creds.username).unwrap();
        assert!(auth.verify("secret", &creds.password));
        assert!(!auth.verify("other secret", &creds.password));
    }
}

#[test]
fn default_client_id_signs_pk_and_dn() {
    let cfg = DeviceConfig::new("a1B2c3", "sensor-7", "s3cret", "127.0.0.1", 1883);
    let creds = cfg.credentials(1_700_000_000_000);
    assert!(creds.client_id.starts_with("a1B2c3&sensor-7|securemode=3,"));
    assert!(creds.client_id.ends_with(",timestamp=1700000000000|"));
    assert_eq!(creds.username, "sensor-7&a1B2c3");
    let auth = ConnectAuth::parse(&creds.client_id, &creds.username).unwrap();
    assert_eq!(auth.client_id, "a1B2c3&sensor-7");
    assert_eq!(auth.method, HmacMethod::HmacSha1);
    assert!(auth.verify("s3cret", &creds.password));
}
