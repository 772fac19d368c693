//! CONNECT authentication.

use ota_protocol::{HmacMethod, MqttCredentials};
use rumqttc::ConnectReturnCode;
use rumqttc::v5::mqttbytes::v5::ConnectReturnCode as V5Code;

use crate::support::*;
use crate::support_v5::*;

#[tokio::test]
async fn devices_authenticate_with_every_sign_method_on_v4_and_v5() {
    let mut h = Harness::start().await;
    let methods = [
        HmacMethod::HmacMd5,
        HmacMethod::HmacSha1,
        HmacMethod::HmacSha256,
    ];
    for (i, method) in methods.into_iter().enumerate() {
        let dn = format!("d{i}");
        let mut c = v4(h.addr, &creds(&dn, method));
        assert!(c.connack().await.is_ok(), "v4 {method:?}");
        h.wait_online(&dn).await;
        let dn = format!("d{}", i + 10);
        let mut c5 = v5(h.addr, &creds(&dn, method));
        assert!(c5.connack().await.is_ok(), "v5 {method:?}");
        h.wait_online(&dn).await;
        drop((c, c5));
    }
}

#[tokio::test]
async fn uppercase_hex_password_is_accepted() {
    let mut h = Harness::start().await;
    let mut c = creds("a", HmacMethod::HmacSha256);
    c.password = c.password.to_uppercase();
    let mut client = v4(h.addr, &c);
    assert!(client.connack().await.is_ok());
    h.wait_online("a").await;
    assert!(h.gateway.is_online(&device("a")));
}

#[tokio::test]
async fn wrong_secret_and_unknown_device_are_refused_on_v4() {
    let h = Harness::start().await;
    let mut wrong = creds("a", HmacMethod::HmacSha1);
    wrong.password = creds("b", HmacMethod::HmacSha1).password;
    let err = v4(h.addr, &wrong).connack().await.unwrap_err();
    assert!(
        matches!(
            err,
            rumqttc::ConnectionError::ConnectionRefused(ConnectReturnCode::BadUserNamePassword)
        ),
        "{err:?}"
    );
    let unknown = creds("nobody", HmacMethod::HmacSha1);
    let err = v4(h.addr, &unknown).connack().await.unwrap_err();
    assert!(
        matches!(
            err,
            rumqttc::ConnectionError::ConnectionRefused(ConnectReturnCode::NotAuthorized)
        ),
        "{err:?}"
    );
    let stranger = MqttCredentials {
        client_id: "x".into(),
        username: "guest".into(),
        password: "guest".into(),
    };
    let err = v4(h.addr, &stranger).connack().await.unwrap_err();
    assert!(
        matches!(err, rumqttc::ConnectionError::ConnectionRefused(_)),
        "{err:?}"
    );
    let admin_wrong = MqttCredentials {
        client_id: "x".into(),
        username: ADMIN.0.into(),
        password: "nope".into(),
    };
    let err = v4(h.addr, &admin_wrong).connack().await.unwrap_err();
    assert!(
        matches!(err, rumqttc::ConnectionError::ConnectionRefused(_)),
        "{err:?}"
    );
    assert_eq!(h.gateway.online_count(), 0);
}

#[tokio::test]
async fn wrong_secret_and_unknown_device_are_refused_on_v5() {
    let h = Harness::start().await;
    let mut wrong = creds("a", HmacMethod::HmacMd5);
    wrong.password = "00".repeat(16);
    let err = v5(h.addr, &wrong).connack().await.unwrap_err();
    assert!(
        matches!(
            err,
            rumqttc::v5::ConnectionError::ConnectionRefused(V5Code::BadUserNamePassword)
        ),
        "{err:?}"
    );
    let err = v5(h.addr, &creds("nobody", HmacMethod::HmacMd5))
        .connack()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            rumqttc::v5::ConnectionError::ConnectionRefused(V5Code::NotAuthorized)
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn admin_credentials_connect() {
    let h = Harness::start().await;
    let _admin = admin_v4(h.addr, "ops-1").await;
    assert_eq!(
        h.gateway.online_count(),
        0,
        "admins are not counted as devices"
    );
}
