//! Dynamic registration requests as the official SDKs send them; the expected MACs were
//! computed with Python's `hmac`, as the Link SDK computes them.

use super::*;

const SHA256: &str = "3b13c84f0a196283595e912ef1de0681131dcd129d95f1f8ba57d94e6329a723";
const SHA1: &str = "2dcdfd04b3985d1f9a13fb7a9cfd70a723a2eb55";

fn linkkit_client_id(auth_type: &str) -> String {
    format!("dev1.a1pk|random=Abc123,authType={auth_type},securemode=2,signmethod=hmacsha256|")
}

#[test]
fn connect_kinds_come_from_auth_type() {
    use ConnectKind::*;
    use RegistrationKind::*;
    let cases = [
        (linkkit_client_id("register"), Registration(Preregistered)),
        (linkkit_client_id("regnwl"), Registration(NoPreregistration)),
        (
            "cid|authType=connwl,securemode=-2,_ss=1,ext=3,lan=Python,_v=1.2.13|".into(),
            Token,
        ),
        (
            "a1pk&dev1|securemode=3,signmethod=hmacsha1,timestamp=1|".into(),
            Signature,
        ),
        ("plain".into(), Signature),
        ("x|authType=other|".into(), Signature),
    ];
    for (client_id, want) in cases {
        assert_eq!(ConnectKind::of_client_id(&client_id), want, "{client_id}");
    }
}

#[test]
fn the_link_sdk_register_connect_verifies() {
    let r = RegistrationRequest::from_connect(&linkkit_client_id("register"), "dev1&a1pk", SHA256)
        .unwrap();
    assert_eq!(r.device, DeviceKey::new("a1pk", "dev1"));
    assert_eq!(r.kind, RegistrationKind::Preregistered);
    assert_eq!(r.sign_content(), "deviceNamedev1productKeya1pkrandomAbc123");
    assert!(r.verify("ps3cret"));
    assert!(!r.verify("other"));
    assert_eq!(r.reply_topic(), "/ext/register");
    let upper = RegistrationRequest::from_connect(
        &linkkit_client_id("regnwl"),
        "dev1&a1pk",
        &SHA256.to_uppercase(),
    )
    .unwrap();
    assert!(upper.verify("ps3cret"));
    assert_eq!(upper.reply_topic(), "/ext/regnwl");
}

#[test]
fn the_https_form_verifies_with_either_method() {
    let r =
        RegistrationRequest::from_form("a1pk", "dev1", "Abc123", SHA1, Some("hmacsha1")).unwrap();
    assert!(r.verify("ps3cret"));
    let r = RegistrationRequest::from_form("a1pk", "dev1", "Abc123", SHA256, None).unwrap();
    assert!(r.verify("ps3cret"));
    assert!(
        !RegistrationRequest::from_form("a1pk", "dev1", "Abc123", "zz", None)
            .unwrap()
            .verify("ps3cret")
    );
}

#[test]
fn bad_requests_are_refused() {
    let no_random = "dev1.a1pk|authType=register,signmethod=hmacsha256|";
    assert!(RegistrationRequest::from_connect(no_random, "dev1&a1pk", SHA256).is_err());
    assert!(
        RegistrationRequest::from_connect(&linkkit_client_id("register"), "dev1", SHA256).is_err()
    );
    let plain = "a1pk&dev1|securemode=3|";
    assert!(RegistrationRequest::from_connect(plain, "dev1&a1pk", SHA256).is_err());
    for random in ["", "has space", &"x".repeat(MAX_RANDOM_LEN + 1)] {
        assert!(
            RegistrationRequest::from_form("a1pk", "dev1", random, SHA256, None).is_err(),
            "{random:?}"
        );
    }
    assert!(RegistrationRequest::from_form("a1pk", "dev1", "r", SHA256, Some("rsa")).is_err());
    assert!(RegistrationRequest::from_form("a/pk", "dev1", "r", SHA256, None).is_err());
}

#[test]
fn answers_carry_the_sdk_field_names() {
    let secret = Issued::Secret {
        product_key: "a1pk".into(),
        device_name: "dev1".into(),
        device_secret: "s".into(),
    };
    let v: serde_json::Value = serde_json::from_slice(&secret.to_json()).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"productKey": "a1pk", "deviceName": "dev1", "deviceSecret": "s"})
    );
    let token = Issued::Token {
        product_key: "a1pk".into(),
        device_name: "dev1".into(),
        client_id: "c".into(),
        device_token: "t".into(),
    };
    let v: serde_json::Value = serde_json::from_slice(&token.to_json()).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"productKey": "a1pk", "deviceName": "dev1", "clientId": "c",
                           "deviceToken": "t"})
    );
}
