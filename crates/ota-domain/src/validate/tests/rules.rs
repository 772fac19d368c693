use super::*;
use crate::firmware::{Firmware, FirmwareStatus, FirmwareType, SignMethod};
use crate::job::{DownloadProtocol, DynamicMode, OverwriteMode, RetryPolicy};
use crate::time::{DAY, HOUR, MINUTE, Millis};
use crate::validate::{
    RateStepInput, download_protocol, dynamic_mode, format_gray_percent, gray_count, gray_percent,
    maximum_per_minute, overwrite_mode, parse_device_list_csv, parse_tags, rate_steps,
    retry_policy, schedule_finish_time, schedule_time, src_versions, target_device_names,
    timeout_in_minutes,
};
use proptest::prelude::*;

const NOW: Millis = 1_700_000_000_000;

type Pair = (Option<String>, Option<String>);

fn tag(k: &str, v: &str) -> Pair {
    (Some(k.into()), Some(v.into()))
}

pub(super) fn firmware(kind: FirmwareType, status: FirmwareStatus) -> Firmware {
    Firmware {
        firmware_id: "f1".into(),
        product_key: "pk".into(),
        firmware_name: "fw".into(),
        firmware_desc: None,
        module_name: "default".into(),
        firmware_type: kind,
        src_version: (kind == FirmwareType::Differential).then(|| "1.0".to_owned()),
        dest_version: "2.0".into(),
        sign_method: SignMethod::Md5,
        status,
        verify_progress: 0,
        udi: None,
        multi_file: false,
        files: Vec::new(),
        created_at: 0,
        modified_at: 0,
    }
}

fn strings(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

#[test]
fn tag_rules() {
    let big = |k: &str| tag(&format!("{k}{}", "k".repeat(29)), &"v".repeat(1024));
    let four_big: Vec<Pair> = vec![big("a"), big("b"), big("c"), big("d")];
    let exactly_4096: Vec<Pair> = vec![
        big("a"),
        big("b"),
        big("c"),
        tag(&"d".repeat(30), &"v".repeat(904)),
    ];
    #[rustfmt::skip]
    let rows: Vec<Row> = vec![
        ("no tags", ok(parse_tags("Tag", vec![])), None),
        ("10 tags", ok(parse_tags("Tag", (0..10).map(|i| tag(&format!("k{i}"), "v")).collect())), None),
        ("11 tags", ok(parse_tags("Tag", (0..11).map(|i| tag(&format!("k{i}"), "v")).collect())), Some(("Tag", "at most 10 tags"))),
        ("key 30", ok(parse_tags("Tag", vec![tag(&"k".repeat(30), "v")])), None),
        ("key 31", ok(parse_tags("Tag", vec![tag(&"k".repeat(31), "v")])), Some(("Tag.1.Key", "1-30 characters of [A-Za-z0-9.]"))),
        ("key dot", ok(parse_tags("Tag", vec![tag("a.b", "v")])), None),
        ("key underscore", ok(parse_tags("Tag", vec![tag("ok", "v"), tag("a_b", "v")])), Some(("Tag.2.Key", "[A-Za-z0-9.]"))),
        ("key empty", ok(parse_tags("Tag", vec![tag("", "v")])), Some(("Tag.1.Key", "1-30"))),
        ("value 1024", ok(parse_tags("Tag", vec![tag("k", &"v".repeat(1024))])), None),
        ("value 1025", ok(parse_tags("Tag", vec![tag("k", &"v".repeat(1025))])), Some(("Tag.1.Value", "1-1024"))),
        ("value empty", ok(parse_tags("Tag", vec![tag("k", "")])), Some(("Tag.1.Value", "1-1024"))),
        ("value alone", ok(parse_tags("Tag", vec![tag("a", "1"), tag("b", "2"), (None, Some("v".into()))])), Some(("Tag.3.Key", "is required"))),
        ("key alone", ok(parse_tags("Tag", vec![(Some("k".into()), None)])), Some(("Tag.1.Value", "is required"))),
        ("duplicate key", ok(parse_tags("Tag", vec![tag("a", "1"), tag("a", "2")])), Some(("Tag.2.Key", "duplicates Tag.1.Key"))),
        ("total 4096", ok(parse_tags("Tag", exactly_4096)), None),
        ("total 4216", ok(parse_tags("Tag", four_big)), Some(("Tag", "4096"))),
        ("UpdateOTAJob spelling", ok(parse_tags("Tags", vec![tag("k", "v"), tag("k!", "v")])), Some(("Tags.2.Key", "[A-Za-z0-9.]"))),
    ];
    check_rows(rows);
}

#[test]
fn schedule_rules() {
    const ST: &str = "now+5 minutes to now+7 days";
    const FIN: &str = "+1 hour to +30 days";
    let st = NOW + DAY;
    #[rustfmt::skip]
    let rows: Vec<Row> = vec![
        ("absent", ok(schedule_time(None, NOW)), None),
        ("now+5min", ok(schedule_time(Some(NOW + 5 * MINUTE), NOW)), None),
        ("now+5min-1", ok(schedule_time(Some(NOW + 5 * MINUTE - 1), NOW)), Some(("ScheduleTime", ST))),
        ("now+7d", ok(schedule_time(Some(NOW + 7 * DAY), NOW)), None),
        ("now+7d+1", ok(schedule_time(Some(NOW + 7 * DAY + 1), NOW)), Some(("ScheduleTime", ST))),
        ("seconds", ok(schedule_time(Some(NOW / 1000 + 3600), NOW / 1000)), Some(("ScheduleTime", "13-digit"))),
        ("finish absent", ok(schedule_finish_time(None, Some(st), NOW)), None),
        ("finish st+1h", ok(schedule_finish_time(Some(st + HOUR), Some(st), NOW)), None),
        ("finish st+1h-1", ok(schedule_finish_time(Some(st + HOUR - 1), Some(st), NOW)), Some(("ScheduleFinishTime", FIN))),
        ("finish st+30d", ok(schedule_finish_time(Some(st + 30 * DAY), Some(st), NOW)), None),
        ("finish st+30d+1", ok(schedule_finish_time(Some(st + 30 * DAY + 1), Some(st), NOW)), Some(("ScheduleFinishTime", FIN))),
        ("finish now+1h without schedule", ok(schedule_finish_time(Some(NOW + HOUR), None, NOW)), None),
        ("finish now+1h-1 without schedule", ok(schedule_finish_time(Some(NOW + HOUR - 1), None, NOW)), Some(("ScheduleFinishTime", FIN))),
        ("finish now+30d+1 without schedule", ok(schedule_finish_time(Some(NOW + 30 * DAY + 1), None, NOW)), Some(("ScheduleFinishTime", FIN))),
    ];
    check_rows(rows);
}

#[test]
fn policy_rules() {
    let step = |at, per_minute| RateStepInput { at, per_minute };
    #[rustfmt::skip]
    let rows: Vec<Row> = vec![
        ("no retry", ok(retry_policy(None, None, None)), None),
        ("retry 10x2", ok(retry_policy(Some(10), Some(2), None)), None),
        ("retry 0x1, timeout 1", ok(retry_policy(Some(0), Some(1), Some(1))), None),
        ("retry 1440x5 no timeout", ok(retry_policy(Some(1440), Some(5), None)), None),
        ("retry 30 < timeout 60", ok(retry_policy(Some(30), Some(1), Some(60))), None),
        ("retry 60 = timeout 60", ok(retry_policy(Some(60), Some(1), Some(60))), Some(("RetryInterval", "less than TimeoutInMinutes"))),
        ("retry 1440 with timeout 1440", ok(retry_policy(Some(1440), Some(1), Some(1440))), Some(("RetryInterval", "less than"))),
        ("interval 15", ok(retry_policy(Some(15), Some(1), None)), Some(("RetryInterval", "0, 10, 30, 60, 1440"))),
        ("interval -1", ok(retry_policy(Some(-1), Some(1), None)), Some(("RetryInterval", "0, 10, 30, 60, 1440"))),
        ("interval without count", ok(retry_policy(Some(10), None, None)), Some(("RetryCount", "required when RetryInterval"))),
        ("count without interval", ok(retry_policy(None, Some(2), None)), Some(("RetryCount", "requires RetryInterval"))),
        ("count 3", ok(retry_policy(Some(10), Some(3), None)), Some(("RetryCount", "1, 2, 5"))),
        ("timeout 1", ok(timeout_in_minutes(Some(1))), None),
        ("timeout 1440", ok(timeout_in_minutes(Some(1440))), None),
        ("timeout 0", ok(timeout_in_minutes(Some(0))), Some(("TimeoutInMinutes", "1-1440"))),
        ("timeout 1441", ok(timeout_in_minutes(Some(1441))), Some(("TimeoutInMinutes", "1-1440"))),
        ("rate 10", ok(maximum_per_minute(Some(10))), None),
        ("rate 10000", ok(maximum_per_minute(Some(10_000))), None),
        ("rate 9", ok(maximum_per_minute(Some(9))), Some(("MaximumPerMinute", "10-10000"))),
        ("rate 10001", ok(maximum_per_minute(Some(10_001))), Some(("MaximumPerMinute", "10-10000"))),
        ("steps", ok(rate_steps(vec![step(NOW, 10), step(NOW + 1, 10_000)])), None),
        ("step 9", ok(rate_steps(vec![step(NOW, 9)])), Some(("RateStep.1.PerMinute", "10-10000"))),
        ("step 10001", ok(rate_steps(vec![step(NOW, 100), step(NOW + 1, 10_001)])), Some(("RateStep.2.PerMinute", "10-10000"))),
        ("steps same time", ok(rate_steps(vec![step(NOW, 100), step(NOW, 200)])), Some(("RateStep.2.At", "later than"))),
        ("overwrite 1", ok(overwrite_mode(Some(1), true)), None),
        ("overwrite 2", ok(overwrite_mode(Some(2), false)), None),
        ("overwrite 2 multi-module", ok(overwrite_mode(Some(2), true)), Some(("OverwriteMode", "MultiModuleMode"))),
        ("overwrite 3", ok(overwrite_mode(Some(3), false)), Some(("OverwriteMode", "1 or 2"))),
        ("dynamic 2", ok(dynamic_mode(Some(2))), None),
        ("dynamic 0", ok(dynamic_mode(Some(0))), Some(("DynamicMode", "1 or 2"))),
        ("protocol mqtt", ok(download_protocol(Some("mqtt"))), None),
        ("protocol Https", ok(download_protocol(Some("Https"))), None),
        ("protocol ftp", ok(download_protocol(Some("ftp"))), Some(("DownloadProtocol", "HTTPS or MQTT"))),
    ];
    check_rows(rows);
    assert_eq!(
        retry_policy(Some(10), Some(2), Some(60)).unwrap(),
        Some(RetryPolicy {
            interval_minutes: 10,
            count: 2
        })
    );
    assert_eq!(maximum_per_minute(None).unwrap(), 10_000);
    assert_eq!(overwrite_mode(None, false).unwrap(), OverwriteMode::Keep);
    assert_eq!(dynamic_mode(None).unwrap(), DynamicMode::KeepChecking);
    assert_eq!(download_protocol(None).unwrap(), DownloadProtocol::Https);
}

#[test]
fn target_rules() {
    let full = firmware(FirmwareType::Full, FirmwareStatus::Verified);
    let diff = firmware(FirmwareType::Differential, FirmwareStatus::Verified);
    let mut dup = strings("d", 3);
    dup.push("d1".into());
    #[rustfmt::skip]
    let rows: Vec<Row> = vec![
        ("10 versions", ok(src_versions(strings("1.", 10), &full)), None),
        ("11 versions", ok(src_versions(strings("1.", 11), &full)), Some(("SrcVersion", "at most 10"))),
        ("duplicate version", ok(src_versions(vec!["1.0".into(), "1.0".into()], &full)), Some(("SrcVersion.2", "duplicates SrcVersion.1"))),
        ("bad version", ok(src_versions(vec!["1 0".into()], &full)), Some(("SrcVersion.1", "[A-Za-z0-9._-]"))),
        ("delta source", ok(src_versions(vec!["1.0".into()], &diff)), None),
        ("delta other source", ok(src_versions(vec!["1.0".into(), "0.9".into()], &diff)), Some(("SrcVersion.2", "differential package's SrcVersion 1.0"))),
        ("200 names", ok(target_device_names(strings("d", 200), 200)), None),
        ("201 names", ok(target_device_names(strings("d", 201), 200)), Some(("TargetDeviceName", "at most 200"))),
        ("duplicate name", ok(target_device_names(dup, 200)), Some(("TargetDeviceName.4", "duplicates TargetDeviceName.2"))),
        ("empty name", ok(target_device_names(vec!["a".into(), String::new()], 10)), Some(("TargetDeviceName.2", "empty"))),
        ("gray 0.001", ok(gray_percent("0.001")), None),
        ("gray 100", ok(gray_percent("100")), None),
        ("gray 100.000", ok(gray_percent("100.000")), None),
        ("gray 0", ok(gray_percent("0")), Some(("GrayPercent", "above 0 and at most 100"))),
        ("gray 0.000", ok(gray_percent("0.000")), Some(("GrayPercent", "above 0"))),
        ("gray 100.001", ok(gray_percent("100.001")), Some(("GrayPercent", "at most 100"))),
        ("gray 4 decimals", ok(gray_percent("1.2345")), Some(("GrayPercent", "at most 3 decimals"))),
        ("gray negative", ok(gray_percent("-1")), Some(("GrayPercent", "percentage"))),
        ("gray text", ok(gray_percent("abc")), Some(("GrayPercent", "percentage"))),
        ("gray empty", ok(gray_percent("")), Some(("GrayPercent", "percentage"))),
        ("gray trailing dot", ok(gray_percent("5.")), Some(("GrayPercent", "percentage"))),
        ("gray leading dot", ok(gray_percent(".5")), Some(("GrayPercent", "percentage"))),
        ("gray exponent", ok(gray_percent("1e2")), Some(("GrayPercent", "percentage"))),
        ("gray 1000", ok(gray_percent("1000")), Some(("GrayPercent", "percentage"))),
    ];
    check_rows(rows);
    for (text, milli) in [
        ("0.001", 1),
        ("33.333", 33_333),
        ("50.5", 50_500),
        ("7", 7_000),
        ("100", 100_000),
    ] {
        assert_eq!(gray_percent(text).unwrap(), milli, "{text}");
        assert_eq!(gray_percent(&format_gray_percent(milli)).unwrap(), milli);
    }
    assert_eq!(format_gray_percent(50_500), "50.5");
    for (n, milli, want) in [
        (100, 33_333, 33),
        (100, 33_330, 33),
        (3, 1, 1),
        (0, 50_000, 0),
        (10, 100_000, 10),
        (1, 1, 1),
        (7, 50_000, 3),
        (1_000_000, 1, 10),
    ] {
        assert_eq!(gray_count(n, milli), want, "{n} devices at {milli}");
    }
}

#[test]
fn device_list_csv() {
    assert_eq!(
        parse_device_list_csv("DeviceName\r\ndev1\r\n\r\n  dev2  \n\"dev3\"\n").unwrap(),
        ["dev1", "dev2", "dev3"]
    );
    assert_eq!(
        parse_device_list_csv("\u{FEFF}deviceName\ndev1").unwrap(),
        ["dev1"]
    );
    assert_eq!(
        parse_device_list_csv("dev1\nDeviceName").unwrap(),
        ["dev1", "DeviceName"],
        "header only first"
    );
    let max: String = (0..10_000).map(|i| format!("d{i}\n")).collect();
    assert_eq!(parse_device_list_csv(&max).unwrap().len(), 10_000);
    let errors = [
        ("a\nb\na\n", "line 3: duplicate device name a"),
        ("a,b\n", "line 1: must hold one device name per line"),
        ("DeviceName\n\n", "no device names"),
        ("", "no device names"),
        (&format!("{max}extra\n"), "at most 10000 names"),
        (&"x".repeat(5 * 1024 * 1024 + 1), "at most 5 MB"),
    ];
    for (text, words) in errors {
        let err = parse_device_list_csv(text).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("DnListFileUrl"));
        assert!(err.message.contains(words), "{} lacks {words}", err.message);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn gray_count_is_a_bounded_floor(n in 0u64..10_000_000, milli in 1u32..=100_000) {
        let count = gray_count(n, milli);
        prop_assert!(count <= n);
        prop_assert_eq!(count == 0, n == 0);
        let exact = u128::from(n) * u128::from(milli) / 100_000;
        prop_assert!(u128::from(count) == exact || (exact == 0 && count == 1));
        prop_assert!(gray_count(n, milli.saturating_add(1).min(100_000)) >= count);
    }

    #[test]
    fn gray_percent_round_trips(milli in 1u32..=100_000) {
        prop_assert_eq!(gray_percent(&format_gray_percent(milli)).unwrap(), milli);
    }
}
