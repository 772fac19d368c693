use super::*;

// Independently computed with Python's `hmac` module:
// hmac.new(b"secret", b"clientId12345deviceNamedeviceproductKeypktimestamp789", h).hexdigest()
const CONTENT: &str = "clientId12345deviceNamedeviceproductKeypktimestamp789";
const SHA1: &str = "fafd82a3d602b37fb0fa8b7892f24a477f851a14";
const MD5: &str = "14b198324fe55e1d3c88f2e705e201ee";
const SHA256: &str = "6074a46a91b1ebb2cc4ea42790ad0e80202c9843859fc292e57c4eb19fad9e57";

#[test]
fn spec_example_vectors() {
    assert_eq!(
        sign_content("pk", "device", Some("12345"), Some("789")),
        CONTENT
    );
    for (method, want) in [
        (HmacMethod::HmacSha1, SHA1),
        (HmacMethod::HmacMd5, MD5),
        (HmacMethod::HmacSha256, SHA256),
    ] {
        assert_eq!(hex::encode(method.mac(b"secret", CONTENT.as_bytes())), want);
        let cid = format!(
            "12345|securemode=3,signmethod={},timestamp=789|",
            method.as_str()
        );
        let auth = ConnectAuth::parse(&cid, "device&pk").unwrap();
        assert_eq!(auth.sign_content(), CONTENT);
        assert_eq!(auth.expected_password("secret"), want);
        assert!(auth.verify("secret", want));
        assert!(
            auth.verify("secret", &want.to_uppercase()),
            "C SDK v3 sends upper-case hex"
        );
        assert!(!auth.verify("wrong", want));
        assert!(!auth.verify("secret", &want[..want.len() - 2]));
        assert!(!auth.verify("secret", "not hex"));
        assert!(!auth.verify("secret", ""));
    }
}

#[test]
fn signmethod_defaults_to_hmacmd5() {
    let auth = ConnectAuth::parse("12345|securemode=3,timestamp=789|", "device&pk").unwrap();
    assert_eq!(auth.method, HmacMethod::HmacMd5);
    assert!(auth.verify("secret", MD5));
    // No extension list at all: clientId and names only.
    let auth = ConnectAuth::parse("12345", "device&pk").unwrap();
    assert_eq!(
        auth.sign_content(),
        "clientId12345deviceNamedeviceproductKeypk"
    );
    assert_eq!(auth.timestamp, None);
}

#[test]
fn python_linkkit_form() {
    // linkkit signs clientId = the part before the first '|'.
    let cid = "pk&dn|securemode=3,signmethod=hmacsha1,ext=1,_ss=1,lan=Python,_v=1.2.13,timestamp=1700000000000|";
    let auth = ConnectAuth::parse(cid, "dn&pk").unwrap();
    assert_eq!(auth.client_id, "pk&dn");
    assert_eq!(auth.device, DeviceKey::new("pk", "dn"));
    assert_eq!(auth.secure_mode.as_deref(), Some("3"));
    assert_eq!(
        auth.sign_content(),
        "clientIdpk&dndeviceNamednproductKeypktimestamp1700000000000"
    );
    assert_eq!(auth.params.len(), 7);
}

#[test]
fn c_sdk_v3_form_uppercase_sha256() {
    let cid = "pk.dn|timestamp=2524608000000,_v=sdk-c-3.2.0,securemode=3,signmethod=hmacsha256,lan=C,gw=0,ext=0|";
    let auth = ConnectAuth::parse(cid, "dn&pk").unwrap();
    let content = "clientIdpk.dndeviceNamednproductKeypktimestamp2524608000000";
    assert_eq!(auth.sign_content(), content);
    let password = hex::encode_upper(HmacMethod::HmacSha256.mac(b"ds", content.as_bytes()));
    assert!(auth.verify("ds", &password));
}

#[test]
fn link_sdk_4_form_with_trailing_comma_in_extension_list() {
    let cid = "pk.dn|timestamp=2524608000000,_ss=1,_v=sdk-c-4.1.0,securemode=2,signmethod=hmacsha256,ext=3,|";
    let auth = ConnectAuth::parse(cid, "dn&pk").unwrap();
    assert_eq!(auth.method, HmacMethod::HmacSha256);
    assert_eq!(auth.secure_mode.as_deref(), Some("2"));
    assert_eq!(
        auth.sign_content(),
        "clientIdpk.dndeviceNamednproductKeypktimestamp2524608000000"
    );
}

#[test]
fn empty_client_id_is_not_signed() {
    let auth = ConnectAuth::parse("|signmethod=hmacsha1|", "dn&pk").unwrap();
    assert_eq!(auth.sign_content(), "deviceNamednproductKeypk");
}

#[test]
fn malformed_credentials_are_errors() {
    let cases: [(&str, &str, &str); 7] = [
        ("c", "no-ampersand", "InvalidUsername"),
        ("c", "&pk", "InvalidUsername"),
        ("c", "dn&", "InvalidUsername"),
        ("c", "d/n&pk", "InvalidUsername"),
        ("c|signmethod=rsa|", "dn&pk", "UnsupportedSignMethod"),
        ("c|novalue|", "dn&pk", "InvalidClientId"),
        ("c|a=1|b=2|", "dn&pk", "InvalidClientId"),
    ];
    for (cid, user, code) in cases {
        assert_eq!(
            ConnectAuth::parse(cid, user).unwrap_err().code(),
            code,
            "{cid} {user}"
        );
    }
    // Names with '&' in the device name cannot be told apart; the product key never has one.
    let auth = ConnectAuth::parse("c", "a&b&pk").unwrap();
    assert_eq!(auth.device, DeviceKey::new("pk", "a&b"));
}

#[test]
fn sign_then_verify_round_trip() {
    for method in [
        HmacMethod::HmacMd5,
        HmacMethod::HmacSha1,
        HmacMethod::HmacSha256,
    ] {
        for timestamp in [None, Some("1700000000000")] {
            let creds = SignRequest {
                product_key: "a1pk",
                device_name: "dev-7",
                device_secret: "s3cr3t",
                client_id: "a1pk&dev-7",
                timestamp,
                method,
                secure_mode: 3,
            }
            .sign();
            assert_eq!(creds.username, "dev-7&a1pk");
            let auth = ConnectAuth::parse(&creds.client_id, &creds.username).unwrap();
            assert_eq!(auth.method, method);
            assert_eq!(auth.timestamp.as_deref(), timestamp);
            assert!(auth.verify("s3cr3t", &creds.password), "{creds:?}");
            assert!(!auth.verify("other", &creds.password));
        }
    }
    assert_eq!(HmacMethod::parse("HMACSHA1"), Some(HmacMethod::HmacSha1));
    assert_eq!(HmacMethod::parse("sha256"), Some(HmacMethod::HmacSha256));
}
