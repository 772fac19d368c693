use super::rules::firmware;
use super::*;
use crate::firmware::{FirmwareFile, FirmwareStatus, FirmwareType};
use crate::job::{
    DownloadProtocol, DynamicMode, JobStatus, JobType, OverwriteMode, SelectionType,
    TargetSelection,
};
use crate::time::{DAY, HOUR, MINUTE, Millis};
use crate::validate::{
    DynamicJobRequest, StaticJobRequest, UpgradeParams, VerifyJobRequest,
    check_firmware_usable_for_batch, check_firmware_verifiable,
};

const NOW: Millis = 1_700_000_000_000;

fn verified() -> crate::firmware::Firmware {
    firmware(FirmwareType::Full, FirmwareStatus::Verified)
}

fn with_files(n: usize, size: u64) -> crate::firmware::Firmware {
    let mut f = verified();
    f.multi_file = n > 1;
    f.files = (0..n)
        .map(|i| FirmwareFile {
            name: format!("f{i}"),
            blob_key: format!("k{i}"),
            size,
            md5: String::new(),
            sha256: String::new(),
            sign_value: String::new(),
        })
        .collect();
    f
}

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("dev{i}")).collect()
}

fn all() -> StaticJobRequest {
    StaticJobRequest {
        target_selection: Some("ALL".into()),
        ..StaticJobRequest::default()
    }
}

fn sel(kind: &str) -> StaticJobRequest {
    StaticJobRequest {
        target_selection: Some(kind.into()),
        ..StaticJobRequest::default()
    }
}

fn params(p: UpgradeParams) -> StaticJobRequest {
    StaticJobRequest { params: p, ..all() }
}

fn dynamic_versions() -> DynamicJobRequest {
    DynamicJobRequest {
        src_versions: vec!["1.0".into()],
        ..DynamicJobRequest::default()
    }
}

fn verify(n: usize) -> VerifyJobRequest {
    VerifyJobRequest {
        target_device_names: names(n),
        ..VerifyJobRequest::default()
    }
}

#[test]
fn static_job_rules() {
    let fw = verified();
    let diff = firmware(FirmwareType::Differential, FirmwareStatus::NotRequired);
    let v = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let st = |r: StaticJobRequest| ok(r.validate(&fw, NOW));
    let p = UpgradeParams::default;
    #[rustfmt::skip]
    let rows: Vec<Row> = vec![
        ("all", st(all()), None),
        ("no selection", st(StaticJobRequest::default()), Some(("TargetSelection", "required"))),
        ("lower-case selection", st(sel("all")), Some(("TargetSelection", "ALL, SPECIFIC, GRAY or GROUP"))),
        ("all + versions", st(StaticJobRequest { src_versions: v(&["1.0", "1.1"]), ..all() }), None),
        ("gray + versions", st(StaticJobRequest { src_versions: v(&["1.0"]), gray_percent: Some("10".into()), ..sel("GRAY") }), None),
        ("specific + versions", st(StaticJobRequest { src_versions: v(&["1.0"]), target_device_names: names(1), ..sel("SPECIFIC") }), Some(("SrcVersion.1", "only allowed with TargetSelection ALL or GRAY"))),
        ("group + versions", st(StaticJobRequest { src_versions: v(&["1.0"]), ..sel("GROUP") }), Some(("SrcVersion.1", "ALL or GRAY"))),
        ("delta versions match", ok(StaticJobRequest { src_versions: v(&["1.0"]), ..all() }.validate(&diff, NOW)), None),
        ("delta versions differ", ok(StaticJobRequest { src_versions: v(&["0.9"]), ..all() }.validate(&diff, NOW)), Some(("SrcVersion.1", "differential"))),
        ("specific names", st(StaticJobRequest { target_device_names: names(200), ..sel("SPECIFIC") }), None),
        ("specific file", st(StaticJobRequest { dn_list_file_url: Some("lists/a.csv".into()), ..sel("SPECIFIC") }), None),
        ("specific both", st(StaticJobRequest { target_device_names: names(1), dn_list_file_url: Some("x".into()), ..sel("SPECIFIC") }), Some(("DnListFileUrl", "not be given together with TargetDeviceName.N"))),
        ("specific neither", st(sel("SPECIFIC")), Some(("TargetDeviceName", "TargetDeviceName.N or DnListFileUrl"))),
        ("specific 201", st(StaticJobRequest { target_device_names: names(201), ..sel("SPECIFIC") }), Some(("TargetDeviceName", "at most 200"))),
        ("names with all", st(StaticJobRequest { target_device_names: names(1), ..all() }), Some(("TargetDeviceName.1", "only allowed with TargetSelection SPECIFIC"))),
        ("file with gray", st(StaticJobRequest { dn_list_file_url: Some("x".into()), gray_percent: Some("5".into()), ..sel("GRAY") }), Some(("DnListFileUrl", "SPECIFIC"))),
        ("gray", st(StaticJobRequest { gray_percent: Some("33.333".into()), ..sel("GRAY") }), None),
        ("gray missing", st(sel("GRAY")), Some(("GrayPercent", "required for TargetSelection GRAY"))),
        ("gray bad", st(StaticJobRequest { gray_percent: Some("0".into()), ..sel("GRAY") }), Some(("GrayPercent", "above 0"))),
        ("gray with all", st(StaticJobRequest { gray_percent: Some("5".into()), ..all() }), Some(("GrayPercent", "only allowed with TargetSelection GRAY"))),
        ("group", st(StaticJobRequest { group_id: Some("g1".into()), group_type: Some("LINK_PLATFORM".into()), ..sel("GROUP") }), None),
        ("group dynamic type", st(StaticJobRequest { group_id: Some("g1".into()), group_type: Some("LINK_PLATFORM_DYNAMIC".into()), ..sel("GROUP") }), Some(("GroupType", "must be LINK_PLATFORM"))),
        ("group no type", st(StaticJobRequest { group_id: Some("g1".into()), ..sel("GROUP") }), Some(("GroupType", "required"))),
        ("group no id", st(StaticJobRequest { group_type: Some("LINK_PLATFORM".into()), ..sel("GROUP") }), Some(("GroupId", "required"))),
        ("group id with all", st(StaticJobRequest { group_id: Some("g1".into()), ..all() }), Some(("GroupId", "only allowed with TargetSelection GROUP"))),
        ("scheduled", st(StaticJobRequest { schedule_time: Some(NOW + 5 * MINUTE), ..all() }), None),
        ("scheduled too soon", st(StaticJobRequest { schedule_time: Some(NOW + MINUTE), ..all() }), Some(("ScheduleTime", "now+5 minutes"))),
        ("finish after schedule", st(StaticJobRequest { schedule_time: Some(NOW + DAY), schedule_finish_time: Some(NOW + DAY + HOUR), ..all() }), None),
        ("finish too soon", st(StaticJobRequest { schedule_time: Some(NOW + DAY), schedule_finish_time: Some(NOW + 2 * HOUR), ..all() }), Some(("ScheduleFinishTime", "+1 hour"))),
        ("retry + timeout", st(params(UpgradeParams { retry_interval: Some(30), retry_count: Some(2), timeout_in_minutes: Some(60), ..p() })), None),
        ("retry >= timeout", st(params(UpgradeParams { retry_interval: Some(60), retry_count: Some(2), timeout_in_minutes: Some(60), ..p() })), Some(("RetryInterval", "less than TimeoutInMinutes"))),
        ("count alone", st(params(UpgradeParams { retry_count: Some(2), ..p() })), Some(("RetryCount", "requires RetryInterval"))),
        ("rate 9", st(params(UpgradeParams { maximum_per_minute: Some(9), ..p() })), Some(("MaximumPerMinute", "10-10000"))),
        ("overwrite + multi-module", st(params(UpgradeParams { overwrite_mode: Some(2), multi_module_mode: Some(true), ..p() })), Some(("OverwriteMode", "MultiModuleMode"))),
        ("protocol", st(params(UpgradeParams { download_protocol: Some("SMB".into()), ..p() })), Some(("DownloadProtocol", "HTTPS or MQTT"))),
        ("tags", st(params(UpgradeParams { tags: vec![(Some("k k".into()), Some("v".into()))], ..p() })), Some(("Tag.1.Key", "[A-Za-z0-9.]"))),
        ("mqtt 16 MB", ok(params(UpgradeParams { download_protocol: Some("MQTT".into()), ..p() }).validate(&with_files(1, 16 * 1024 * 1024), NOW)), None),
        ("mqtt 16 MB + 1", ok(params(UpgradeParams { download_protocol: Some("MQTT".into()), ..p() }).validate(&with_files(1, 16 * 1024 * 1024 + 1), NOW)), Some(("DownloadProtocol", "16 MB"))),
        ("mqtt multi-file", ok(params(UpgradeParams { download_protocol: Some("mqtt".into()), ..p() }).validate(&with_files(2, 1), NOW)), Some(("DownloadProtocol", "single-file"))),
    ];
    check_rows(rows);
}

#[test]
fn static_job_results() {
    let fw = verified();
    let job = all().validate(&fw, NOW).unwrap();
    assert_eq!(
        (job.job_type, job.selection_type, job.status),
        (
            JobType::UpgradeFirmware,
            SelectionType::Static,
            JobStatus::InProgress
        )
    );
    let p = &job.policy;
    assert_eq!(
        (
            p.maximum_per_minute,
            p.need_push,
            p.need_confirm,
            p.overwrite_mode
        ),
        (10_000, true, false, OverwriteMode::Keep)
    );
    assert_eq!(
        (
            p.download_protocol,
            p.retry,
            p.timeout_minutes,
            p.dynamic_mode
        ),
        (DownloadProtocol::Https, None, None, None)
    );
    let scheduled = StaticJobRequest {
        schedule_time: Some(NOW + HOUR),
        schedule_finish_time: Some(NOW + 3 * HOUR),
        ..all()
    };
    let job = scheduled.validate(&fw, NOW).unwrap();
    assert_eq!(
        (
            job.status,
            job.policy.schedule_time,
            job.policy.schedule_finish_time
        ),
        (JobStatus::Planned, Some(NOW + HOUR), Some(NOW + 3 * HOUR))
    );
    let built = job.into_job("j1".into(), &fw, NOW);
    assert_eq!(
        (built.status, built.started_at, built.firmware_id.as_str()),
        (JobStatus::Planned, None, "f1")
    );
    let gray = StaticJobRequest {
        gray_percent: Some("33.333".into()),
        ..sel("GRAY")
    }
    .validate(&fw, NOW)
    .unwrap();
    assert_eq!(
        gray.target_selection,
        TargetSelection::Gray {
            milli_percent: 33_333
        }
    );
    let file = StaticJobRequest {
        dn_list_file_url: Some("l.csv".into()),
        ..sel("SPECIFIC")
    }
    .validate(&fw, NOW)
    .unwrap();
    assert_eq!(
        (file.target_selection, file.dn_list_file_url.as_deref()),
        (
            TargetSelection::Specific {
                device_names: vec![]
            },
            Some("l.csv")
        )
    );
    let group = StaticJobRequest {
        group_id: Some("g".into()),
        group_type: Some("LINK_PLATFORM".into()),
        ..sel("GROUP")
    };
    assert_eq!(
        group.validate(&fw, NOW).unwrap().target_selection,
        TargetSelection::Group {
            group_id: "g".into()
        }
    );
}

#[test]
fn dynamic_job_rules() {
    let fw = verified();
    let group = |t: &str| DynamicJobRequest {
        group_id: Some("g1".into()),
        group_type: Some(t.into()),
        ..DynamicJobRequest::default()
    };
    #[rustfmt::skip]
    let rows: Vec<Row> = vec![
        ("versions", ok(dynamic_versions().validate(&fw, NOW)), None),
        ("group", ok(group("LINK_PLATFORM_DYNAMIC").validate(&fw, NOW)), None),
        ("static group type", ok(group("LINK_PLATFORM").validate(&fw, NOW)), Some(("GroupType", "LINK_PLATFORM_DYNAMIC"))),
        ("both", ok(DynamicJobRequest { src_versions: vec!["1.0".into()], ..group("LINK_PLATFORM_DYNAMIC") }.validate(&fw, NOW)), Some(("GroupId", "not be given together with SrcVersion.N"))),
        ("neither", ok(DynamicJobRequest::default().validate(&fw, NOW)), Some(("SrcVersion", "SrcVersion.N or GroupId"))),
        ("11 versions", ok(DynamicJobRequest { src_versions: (0..11).map(|i| format!("1.{i}")).collect(), ..DynamicJobRequest::default() }.validate(&fw, NOW)), Some(("SrcVersion", "at most 10"))),
        ("mode 2", ok(DynamicJobRequest { dynamic_mode: Some(2), ..dynamic_versions() }.validate(&fw, NOW)), None),
        ("mode 3", ok(DynamicJobRequest { dynamic_mode: Some(3), ..dynamic_versions() }.validate(&fw, NOW)), Some(("DynamicMode", "1 or 2"))),
        ("timeout", ok(DynamicJobRequest { params: UpgradeParams { timeout_in_minutes: Some(0), ..UpgradeParams::default() }, ..dynamic_versions() }.validate(&fw, NOW)), Some(("TimeoutInMinutes", "1-1440"))),
    ];
    check_rows(rows);
    let job = dynamic_versions().validate(&fw, NOW).unwrap();
    assert_eq!(
        (job.selection_type, job.target_selection, job.status),
        (
            SelectionType::Dynamic,
            TargetSelection::All,
            JobStatus::InProgress
        )
    );
    assert_eq!(job.policy.dynamic_mode, Some(DynamicMode::KeepChecking));
    let job = group("LINK_PLATFORM_DYNAMIC").validate(&fw, NOW).unwrap();
    assert_eq!(
        (job.target_selection, job.src_versions.len()),
        (
            TargetSelection::Group {
                group_id: "g1".into()
            },
            0
        )
    );
}

#[test]
fn verify_job_rules() {
    let fw = firmware(FirmwareType::Full, FirmwareStatus::Unverified);
    let mut dup = names(2);
    dup.push("dev0".into());
    #[rustfmt::skip]
    let rows: Vec<Row> = vec![
        ("1 device", ok(verify(1).validate(&fw, NOW)), None),
        ("10 devices", ok(verify(10).validate(&fw, NOW)), None),
        ("no device", ok(verify(0).validate(&fw, NOW)), Some(("TargetDeviceName", "required: 1-10"))),
        ("11 devices", ok(verify(11).validate(&fw, NOW)), Some(("TargetDeviceName", "at most 10"))),
        ("duplicate", ok(VerifyJobRequest { target_device_names: dup, ..verify(0) }.validate(&fw, NOW)), Some(("TargetDeviceName.3", "duplicates TargetDeviceName.1"))),
        ("timeout 1440", ok(VerifyJobRequest { timeout_in_minutes: Some(1440), ..verify(1) }.validate(&fw, NOW)), None),
        ("timeout 0", ok(VerifyJobRequest { timeout_in_minutes: Some(0), ..verify(1) }.validate(&fw, NOW)), Some(("TimeoutInMinutes", "1-1440"))),
        ("protocol", ok(VerifyJobRequest { download_protocol: Some("ftp".into()), ..verify(1) }.validate(&fw, NOW)), Some(("DownloadProtocol", "HTTPS or MQTT"))),
        ("tags", ok(VerifyJobRequest { tags: vec![(Some("k".into()), None)], ..verify(1) }.validate(&fw, NOW)), Some(("Tag.1.Value", "required"))),
    ];
    check_rows(rows);
    let job = VerifyJobRequest {
        need_confirm: Some(true),
        ..verify(2)
    }
    .validate(&fw, NOW)
    .unwrap();
    assert_eq!(
        (job.job_type, job.selection_type),
        (JobType::VerifyFirmware, SelectionType::Static)
    );
    assert_eq!(
        job.target_selection,
        TargetSelection::Specific {
            device_names: names(2)
        }
    );
    assert_eq!(
        (job.policy.need_confirm, job.policy.need_push),
        (true, true)
    );
}

#[test]
fn package_state_gates_batches() {
    use FirmwareStatus::*;
    let rows = [
        (NotRequired, true, true),
        (Unverified, false, true),
        (Verified, true, false),
        (Verifying, false, false),
        (VerifyFailed, false, true),
    ];
    for (status, batch_ok, verify_ok) in rows {
        let fw = firmware(FirmwareType::Full, status);
        let batch = check_firmware_usable_for_batch(&fw);
        assert_eq!(batch.is_ok(), batch_ok, "{status:?}");
        if let Err(e) = batch {
            assert_eq!(e.code, ErrorCode::FirmwareNotVerified);
            assert_eq!(
                all().validate(&fw, NOW).unwrap_err().code,
                ErrorCode::FirmwareNotVerified
            );
            assert_eq!(
                dynamic_versions().validate(&fw, NOW).unwrap_err().code,
                ErrorCode::FirmwareNotVerified
            );
        }
        let verifiable = check_firmware_verifiable(&fw);
        assert_eq!(verifiable.is_ok(), verify_ok, "{status:?}");
        if let Err(e) = verifiable {
            assert_eq!(e.code, ErrorCode::InvalidState);
            assert_eq!(
                verify(1).validate(&fw, NOW).unwrap_err().code,
                ErrorCode::InvalidState
            );
        }
    }
}

#[test]
fn failure_gates_are_checked_field_by_field() {
    use crate::job::{FailureGate, GateAction};
    use crate::validate::{DEFAULT_GATE_MIN_FINISHED, FailureGateInput};
    let input = |percent: Option<i64>, min: Option<i64>, action: Option<&str>| FailureGateInput {
        max_failed_percent: percent,
        min_finished: min,
        action: action.map(str::to_owned),
    };
    let gate = |max_failed_percent, min_finished, action| FailureGate {
        max_failed_percent,
        min_finished,
        action,
    };
    type Want = Result<FailureGate, (&'static str, &'static str)>;
    #[rustfmt::skip]
    let rows: Vec<(&str, FailureGateInput, Want)> = vec![
        ("defaults", input(Some(10), None, None), Ok(gate(10, DEFAULT_GATE_MIN_FINISHED, GateAction::Pause))),
        ("all given", input(Some(0), Some(1), Some("CANCEL")), Ok(gate(0, 1, GateAction::Cancel))),
        ("hundred", input(Some(100), Some(1_000_000), Some("PAUSE")), Ok(gate(100, 1_000_000, GateAction::Pause))),
        ("no percent", input(None, Some(5), None), Err(("FailureGate.MaxFailedPercent", "required"))),
        ("percent 101", input(Some(101), None, None), Err(("FailureGate.MaxFailedPercent", "0-100"))),
        ("percent -1", input(Some(-1), None, None), Err(("FailureGate.MaxFailedPercent", "0-100"))),
        ("min 0", input(Some(5), Some(0), None), Err(("FailureGate.MinFinished", "1-1000000"))),
        ("min too many", input(Some(5), Some(1_000_001), None), Err(("FailureGate.MinFinished", "1-1000000"))),
        ("unknown action", input(Some(5), None, Some("abort")), Err(("FailureGate.Action", "PAUSE or CANCEL"))),
    ];
    for (name, input, want) in rows {
        match (input.validate(), want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{name}"),
            (Err(err), Err((field, rule))) => {
                assert_eq!(err.field.as_deref(), Some(field), "{name}: {err}");
                assert!(err.to_string().contains(rule), "{name}: {err}");
            }
            (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
        }
    }
}
