//! The configuration's layers and rules, table by table.

use super::*;
use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

#[test]
fn delta_from_latest_from_the_file_and_the_flag() {
    with_env(&[], |_| {
        assert_eq!(ServeConfig::default().delta_from_latest(), 0);
        let file: ServeConfig = toml::from_str("delta_from_latest = 3").unwrap();
        file.check().unwrap();
        assert_eq!(file.delta_from_latest(), 3);
        let cli = Cli::try_parse_from(["ota", "--delta-from-latest", "10"]).unwrap();
        let config = ServeConfig::load(&cli.serve).unwrap();
        assert_eq!(config.delta_from_latest(), 10);
        Ok(())
    });
}

#[test]
fn the_external_broker_from_the_file_and_the_flag() {
    with_env(&[], |_| {
        assert!(ServeConfig::default().mqtt_broker().is_none());
        let file: ServeConfig = toml::from_str(
            "mqtt_broker = \"broker.local:1883\"\nmqtt_broker_password = \"hunter2\"",
        )
        .unwrap();
        assert_eq!(
            file.mqtt_broker().unwrap().unwrap(),
            ("broker.local".to_owned(), 1883)
        );
        assert!(!format!("{file:?}").contains("hunter2"));
        let cli = Cli::try_parse_from(["ota", "--mqtt-broker", "127.0.0.1:1884"]).unwrap();
        let config = ServeConfig::load(&cli.serve).unwrap();
        assert_eq!(config.mqtt_broker().unwrap().unwrap().1, 1884);
        for bad in ["nohost", ":1883", "host:0", "host:port"] {
            let cli = Cli::try_parse_from(["ota", "--mqtt-broker", bad]).unwrap();
            let err = ServeConfig::load(&cli.serve).unwrap_err().to_string();
            assert!(err.contains("HOST:PORT"), "{bad}: {err}");
        }
        Ok(())
    });
}

#[test]
fn a_bad_delta_from_latest_is_refused_by_name() {
    with_env(&[], |_| {
        for text in ["delta_from_latest = 11", "delta_from_latest = -1"] {
            let file: ServeConfig = toml::from_str(text).unwrap();
            let err = file.check().unwrap_err().to_string();
            assert!(
                err.contains("delta_from_latest must be between 0 and 10"),
                "{err}"
            );
        }
        let cli = Cli::try_parse_from(["ota", "--delta-from-latest", "two"]);
        let err = cli.err().expect("not a number").to_string();
        assert!(err.contains("--delta-from-latest"), "{err}");
        assert!(
            err.contains("delta_from_latest must be a whole number between 0 and 10"),
            "{err}"
        );
        for flag in ["11", "-1"] {
            let arg = format!("--delta-from-latest={flag}");
            let cli = Cli::try_parse_from(["ota", arg.as_str()]).unwrap();
            let err = ServeConfig::load(&cli.serve).unwrap_err().to_string();
            assert!(err.contains("delta_from_latest"), "{flag}: {err}");
            assert!(err.contains("between 0 and 10"), "{flag}: {err}");
        }
        Ok(())
    });
}

#[test]
fn the_node_lease_is_bounded() {
    assert_eq!(ServeConfig::default().node_lease_secs, 20);
    let file: ServeConfig = toml::from_str("node_lease_secs = 5").unwrap();
    file.check().unwrap();
    for text in ["node_lease_secs = 2", "node_lease_secs = 601"] {
        let file: ServeConfig = toml::from_str(text).unwrap();
        let err = file.check().unwrap_err().to_string();
        assert!(
            err.contains("node_lease_secs must be between 3 and 600"),
            "{err}"
        );
    }
}

#[test]
fn the_package_bucket_from_the_file() {
    assert!(ServeConfig::default().s3().is_none());
    let file: ServeConfig = toml::from_str(
        "s3_bucket = \"fw\"\ns3_endpoint = \"http://10.0.0.5:9000\"\ns3_prefix = \"ota\"\n\
             s3_access_key_id = \"AK\"\ns3_secret_access_key = \"s3cr3t-value\"",
    )
    .unwrap();
    file.check().unwrap();
    let s3 = file.s3().unwrap();
    assert_eq!(
        (
            s3.bucket.as_str(),
            s3.endpoint.as_deref(),
            s3.prefix.as_str()
        ),
        ("fw", Some("http://10.0.0.5:9000"), "ota")
    );
    assert_eq!(s3.secret_access_key.as_deref(), Some("s3cr3t-value"));
    assert!(!format!("{file:?}").contains("s3cr3t-value"));
    assert!(!format!("{s3:?}").contains("s3cr3t-value"));
}

#[test]
fn bucket_settings_no_part_accepts_are_refused_by_name() {
    for (text, named) in [
        ("s3_bucket = \" \"", "s3_bucket"),
        (
            "s3_bucket = \"fw\"\ndownload_url_ttl_minutes = 10081",
            "download_url_ttl_minutes must be at most 10080",
        ),
        (
            "download_url_ttl_minutes = 0",
            "download_url_ttl_minutes must be at least 1",
        ),
    ] {
        let file: ServeConfig = toml::from_str(text).unwrap();
        let err = file.check().unwrap_err().to_string();
        assert!(err.contains(named), "{text}: {err}");
    }
    let long: ServeConfig = toml::from_str("download_url_ttl_minutes = 20000").unwrap();
    long.check()
        .expect("no bucket: the server's own URLs have no such limit");
}

#[test]
fn the_tls_listener_needs_its_certificate_and_the_embedded_endpoint() {
    let complete: ServeConfig = toml::from_str(
        "mqtt_tls_addr = \"0.0.0.0:8883\"\ntls_cert_file = \"c.pem\"\ntls_key_file = \"k.pem\"",
    )
    .unwrap();
    complete.check().unwrap();
    for (text, named) in [
        (
            "mqtt_tls_addr = \"0.0.0.0:8883\"",
            "needs tls_cert_file and tls_key_file",
        ),
        (
            "mqtt_tls_addr = \"0.0.0.0:8883\"\ntls_cert_file = \"c.pem\"",
            "needs tls_cert_file and tls_key_file",
        ),
        (
            "mqtt_tls_addr = \"0.0.0.0:8883\"\ntls_cert_file = \"c.pem\"\ntls_key_file = \"k.pem\"\nmqtt_broker = \"b:1883\"",
            "TLS is the broker's",
        ),
    ] {
        let file: ServeConfig = toml::from_str(text).unwrap();
        let err = file.check().unwrap_err().to_string();
        assert!(err.contains(named), "{text}: {err}");
    }
}

/// Runs `f` with `OTA_*` variables set (and a working directory of its own), isolated from
/// other tests by figment's jail (whose closure type is figment's own).
#[allow(clippy::result_large_err)]
fn with_env(vars: &[(&str, &str)], f: impl FnOnce(&std::path::Path) -> anyhow::Result<()>) {
    figment2::Jail::expect_with(|jail| {
        for (k, v) in vars {
            jail.set_env(k, v);
        }
        if let Err(e) = f(jail.directory()) {
            panic!("{e:#}");
        }
        Ok(())
    });
}

#[test]
fn an_empty_variable_is_an_empty_value() {
    with_env(
        &[
            ("OTA_S3_PREFIX", ""),
            ("OTA_S3_BUCKET", "fw"),
            ("OTA_S3_ACCESS_KEY_ID", "12345"),
        ],
        |_| {
            let config = ServeConfig::load(&ServeArgs::default())?;
            assert_eq!(config.s3_prefix, "");
            assert_eq!(config.s3_access_key_id.as_deref(), Some("12345"));
            Ok(())
        },
    );
}

#[test]
fn each_layer_overrides_the_one_before() {
    with_env(
        &[
            ("OTA_FIRMWARE_QUOTA", "7"),
            ("OTA_HTTP_ADDR", "127.0.0.1:9001"),
        ],
        |dir| {
            let file = dir.join("ota.toml");
            std::fs::write(
                &file,
                "firmware_quota = 3\nmax_file_mb = 50\nhttp_addr = \"127.0.0.1:9000\"",
            )?;
            let path = file.to_str().unwrap();
            let cli = Cli::try_parse_from(["ota", "--config", path]).unwrap();
            let config = ServeConfig::load(&cli.serve)?;
            assert_eq!(config.max_file_mb, 50, "the file over the default");
            assert_eq!(config.firmware_quota, 7, "the environment over the file");
            assert_eq!(config.http_addr.port(), 9001);
            let cli =
                Cli::try_parse_from(["ota", "--config", path, "--http-addr", "127.0.0.1:9002"])
                    .unwrap();
            assert_eq!(
                ServeConfig::load(&cli.serve)?.http_addr.port(),
                9002,
                "the flag over all"
            );
            Ok(())
        },
    );
}

#[test]
fn unknown_and_malformed_settings_are_refused_by_name() {
    with_env(&[], |dir| {
        #[rustfmt::skip]
        let rows: &[(&str, &str)] = &[
            ("firmware_qouta = 3", "firmware_qouta"),
            ("firmware_quota = \"many\"", "firmware_quota"),
            ("http_addr = \"localhost\"", "not HOST:PORT"),
            ("nudge_secs = 2", "nudge_secs must be 0 (never) or between 5 and 86400"),
            ("batch_creation_wait_ms = 30001", "batch_creation_wait_ms must be between 0 and 30000"),
        ];
        for (text, named) in rows {
            let file = dir.join("bad.toml");
            std::fs::write(&file, text)?;
            let cli = Cli::try_parse_from(["ota", "--config", file.to_str().unwrap()]).unwrap();
            let err = ServeConfig::load(&cli.serve).unwrap_err().to_string();
            assert!(err.contains(named), "{text}: {err}");
        }
        let cli = Cli::try_parse_from(["ota", "--config", "nowhere.toml"]).unwrap();
        let err = ServeConfig::load(&cli.serve).unwrap_err().to_string();
        assert!(err.contains("nowhere.toml"), "{err}");
        Ok(())
    });
    with_env(&[("OTA_NODE_LEASE_SECS", "soon")], |_| {
        let err = ServeConfig::load(&ServeArgs::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("NODE_LEASE_SECS") && err.contains("OTA_"),
            "{err}"
        );
        Ok(())
    });
}

#[test]
fn addresses_may_name_hosts() {
    with_env(&[], |_| {
        let cli = Cli::try_parse_from(["ota", "--mqtt-addr", "localhost:1884"]).unwrap();
        let config = ServeConfig::load(&cli.serve)?;
        assert_eq!(config.mqtt_addr.port(), 1884);
        assert!(config.mqtt_addr.ip().is_loopback());
        Ok(())
    });
}

#[test]
fn secrets_come_from_files_and_never_show() {
    with_env(&[("OTA_MQTT_BROKER_PASSWORD_FILE", "broker.pass")], |dir| {
        std::fs::write(dir.join("broker.pass"), "s3cr3t-from-file\n")?;
        std::fs::write(dir.join("db.url"), "postgres://ota:pw@db/ota")?;
        std::fs::write(dir.join("ota.toml"), "database_url_file = \"db.url\"")?;
        let cli = Cli::try_parse_from(["ota", "--config", "ota.toml"]).unwrap();
        let config = ServeConfig::load(&cli.serve)?;
        assert_eq!(
            config.mqtt_broker_password.as_ref().map(|s| s.0.as_str()),
            Some("s3cr3t-from-file")
        );
        assert_eq!(config.database_url(), "postgres://ota:pw@db/ota");
        let shown = config.describe();
        assert!(
            !shown.contains("s3cr3t-from-file") && !shown.contains(":pw@"),
            "{shown}"
        );
        assert!(shown.contains("mqtt_broker_password = \"***\""), "{shown}");
        assert!(!format!("{config:?}").contains("s3cr3t"));
        Ok(())
    });
    with_env(
        &[
            ("OTA_MQTT_BROKER_PASSWORD", "a"),
            ("OTA_MQTT_BROKER_PASSWORD_FILE", "b"),
        ],
        |_| {
            let err = ServeConfig::load(&ServeArgs::default())
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("mqtt_broker_password or mqtt_broker_password_file"),
                "{err}"
            );
            Ok(())
        },
    );
}

#[test]
fn the_help_shows_the_defaults() {
    use clap::CommandFactory;
    let help = Cli::command().render_long_help().to_string();
    let defaults = ServeConfig::default();
    for shown in [
        format!("[default: {}]", defaults.data_dir.display()),
        format!("[default: {}]", defaults.http_addr),
        format!("[default: {}]", defaults.mqtt_addr),
        format!("[default: {}]", defaults.delta_from_latest),
    ] {
        assert!(help.contains(&shown), "{shown} not in the help");
    }
}
