use super::*;
use crate::firmware::{FirmwareStatus, FirmwareType, SignMethod};
use crate::validate::{
    ModifyFirmware, MultiFileInput, NewFirmware, PackageFiles, allowed_package_suffix,
    check_firmware_quota, file_suffix,
};

const MD5: &str = "0123456789abcdef0123456789ABCDEF";

fn full() -> NewFirmware {
    NewFirmware {
        firmware_name: Some("fw".into()),
        dest_version: Some("2.0.0".into()),
        firmware_url: Some("uploads/x.bin".into()),
        ..NewFirmware::default()
    }
}

fn delta(src: &str) -> NewFirmware {
    NewFirmware {
        firmware_type: Some(1),
        src_version: Some(src.into()),
        ..full()
    }
}

fn file(name: &str) -> MultiFileInput {
    MultiFileInput {
        name: Some(name.into()),
        url: Some(format!("uploads/{name}")),
        ..MultiFileInput::default()
    }
}

fn multi(n: usize) -> NewFirmware {
    let files = (0..n).map(|i| file(&format!("f{i}"))).collect();
    NewFirmware {
        firmware_url: None,
        multi_files: files,
        ..full()
    }
}

#[test]
fn package_suffixes() {
    let rows = [
        ("fw.bin", Some("bin")),
        ("a.tar.gz", Some("tar.gz")),
        ("A.TAR.GZ", Some("tar.gz")),
        ("x.gz", Some("gz")),
        ("x.gzip", Some("gzip")),
        ("x.tar", Some("tar")),
        ("app.apk", Some("apk")),
        ("cam.dav", Some("dav")),
        ("pkg.zip", Some("zip")),
        ("x.exe", None),
        ("x.tar.xz", None),
        ("bin", None),
        (".bin", None),
        ("xbin", None),
    ];
    for (name, want) in rows {
        assert_eq!(allowed_package_suffix(name), want, "{name}");
    }
    assert_eq!(file_suffix(None).unwrap(), "bin");
    assert_eq!(file_suffix(Some("TAR.GZ")).unwrap(), "tar.gz");
    assert_eq!(
        file_suffix(Some("exe")).unwrap_err().field.as_deref(),
        Some("FileSuffix")
    );
}

#[test]
fn firmware_rules() {
    let mut files21 = multi(20);
    files21.multi_files.push(file("extra"));
    #[rustfmt::skip]
    let rows: Vec<Row> = vec![
        ("full", ok(full().validate()), None),
        ("type 0", ok(NewFirmware { firmware_type: Some(0), ..full() }.validate()), None),
        ("type 2", ok(NewFirmware { firmware_type: Some(2), ..full() }.validate()), Some(("Type", "0 (full) or 1"))),
        ("delta", ok(delta("1.0.0").validate()), None),
        ("delta without src", ok(NewFirmware { firmware_type: Some(1), ..full() }.validate()), Some(("SrcVersion", "required"))),
        ("delta src = dest", ok(delta("2.0.0").validate()), Some(("SrcVersion", "differ from DestVersion"))),
        ("bad src", ok(delta("1 0").validate()), Some(("SrcVersion", "[A-Za-z0-9._-]"))),
        ("full with src", ok(NewFirmware { src_version: Some("1.0".into()), ..full() }.validate()), None),
        ("no name", ok(NewFirmware { firmware_name: None, ..full() }.validate()), Some(("FirmwareName", "required"))),
        ("bad name", ok(NewFirmware { firmware_name: Some("-x".into()), ..full() }.validate()), Some(("FirmwareName", "starting with"))),
        ("no dest", ok(NewFirmware { dest_version: None, ..full() }.validate()), Some(("DestVersion", "required"))),
        ("bad dest", ok(NewFirmware { dest_version: Some("2.0!".into()), ..full() }.validate()), Some(("DestVersion", "[A-Za-z0-9._-]"))),
        ("sha256 lower", ok(NewFirmware { sign_method: Some("sha256".into()), ..full() }.validate()), None),
        ("sha1", ok(NewFirmware { sign_method: Some("SHA1".into()), ..full() }.validate()), Some(("SignMethod", "MD5 or SHA256"))),
        ("no url", ok(NewFirmware { firmware_url: None, ..full() }.validate()), Some(("FirmwareUrl", "required"))),
        ("md5 sign", ok(NewFirmware { firmware_sign: Some(MD5.into()), ..full() }.validate()), None),
        ("short sign", ok(NewFirmware { firmware_sign: Some("abc".into()), ..full() }.validate()), Some(("FirmwareSign", "32-digit hex MD5"))),
        ("md5 sign for sha256", ok(NewFirmware { sign_method: Some("SHA256".into()), firmware_sign: Some(MD5.into()), ..full() }.validate()), Some(("FirmwareSign", "64-digit hex SHA256"))),
        ("size 1", ok(NewFirmware { firmware_size: Some(1), ..full() }.validate()), None),
        ("size 1000 MB", ok(NewFirmware { firmware_size: Some(1000 * 1024 * 1024), ..full() }.validate()), None),
        ("size 0", ok(NewFirmware { firmware_size: Some(0), ..full() }.validate()), Some(("FirmwareSize", "bytes"))),
        ("size over 1000 MB", ok(NewFirmware { firmware_size: Some(1000 * 1024 * 1024 + 1), ..full() }.validate()), Some(("FirmwareSize", "bytes"))),
        ("desc 101", ok(NewFirmware { firmware_desc: Some("d".repeat(101)), ..full() }.validate()), Some(("FirmwareDesc", "100"))),
        ("udi 4097", ok(NewFirmware { udi: Some("u".repeat(4097)), ..full() }.validate()), Some(("Udi", "4096"))),
        ("bad module", ok(NewFirmware { module_name: Some("a b".into()), ..full() }.validate()), Some(("ModuleName", "1-64"))),
        ("1 file", ok(multi(1).validate()), None),
        ("20 files", ok(multi(20).validate()), None),
        ("21 files", ok(files21.validate()), Some(("MultiFiles", "at most 20 files"))),
        ("multi + url", ok(NewFirmware { firmware_url: Some("u".into()), ..multi(2) }.validate()), Some(("FirmwareUrl", "single-file"))),
        ("multi + sign", ok(NewFirmware { firmware_sign: Some(MD5.into()), ..multi(2) }.validate()), Some(("FirmwareSign", "single-file"))),
        ("duplicate file", ok(NewFirmware { multi_files: vec![file("a"), file("b"), file("a")], ..multi(0) }.validate()), Some(("MultiFiles.3.Name", "duplicates MultiFiles.1.Name"))),
        ("file name 32", ok(NewFirmware { multi_files: vec![file(&"n".repeat(32))], ..multi(0) }.validate()), None),
        ("file name 33", ok(NewFirmware { multi_files: vec![file(&"n".repeat(33))], ..multi(0) }.validate()), Some(("MultiFiles.1.Name", "1-32"))),
        ("file name missing", ok(NewFirmware { multi_files: vec![file("a"), MultiFileInput { url: Some("u".into()), ..MultiFileInput::default() }], ..multi(0) }.validate()), Some(("MultiFiles.2.Name", "required"))),
        ("file url missing", ok(NewFirmware { multi_files: vec![MultiFileInput { name: Some("a".into()), ..MultiFileInput::default() }], ..multi(0) }.validate()), Some(("MultiFiles.1.Url", "required"))),
        ("file md5", ok(NewFirmware { multi_files: vec![MultiFileInput { file_md5: Some(MD5.into()), ..file("a") }], ..multi(0) }.validate()), None),
        ("file bad md5", ok(NewFirmware { multi_files: vec![file("a"), MultiFileInput { file_md5: Some("zz".into()), ..file("b") }], ..multi(0) }.validate()), Some(("MultiFiles.2.FileMd5", "hex"))),
        ("file size 0", ok(NewFirmware { multi_files: vec![MultiFileInput { size: Some(0), ..file("a") }], ..multi(0) }.validate()), Some(("MultiFiles.1.Size", "bytes"))),
        ("modify nothing", ok(ModifyFirmware::default().validate()), None),
        ("modify name", ok(ModifyFirmware { firmware_name: Some("(x)".into()), ..ModifyFirmware::default() }.validate()), Some(("FirmwareName", "starting with"))),
        ("modify udi", ok(ModifyFirmware { firmware_udi: Some("u".repeat(4097)), ..ModifyFirmware::default() }.validate()), Some(("FirmwareUdi", "4096"))),
        ("modify desc", ok(ModifyFirmware { firmware_desc: Some("d".repeat(101)), ..ModifyFirmware::default() }.validate()), Some(("FirmwareDesc", "100"))),
    ];
    check_rows(rows);
}

#[test]
fn firmware_spec_carries_the_parsed_values() {
    let spec = NewFirmware {
        sign_method: Some("md5".into()),
        firmware_sign: Some(MD5.into()),
        need_to_verify: Some(false),
        ..delta("1.0.0")
    }
    .validate()
    .unwrap();
    assert_eq!(spec.firmware_type, FirmwareType::Differential);
    assert_eq!(spec.src_version.as_ref().map(|v| v.as_str()), Some("1.0.0"));
    assert_eq!(
        (spec.sign_method, spec.status),
        (SignMethod::Md5, FirmwareStatus::NotRequired)
    );
    assert_eq!(spec.module_name.as_str(), "default");
    let PackageFiles::Single(single) = spec.files else {
        panic!("single file")
    };
    assert_eq!(
        single.sign.as_deref(),
        Some(MD5.to_ascii_lowercase().as_str())
    );
    assert_eq!(
        full().validate().unwrap().status,
        FirmwareStatus::Unverified
    );
    let PackageFiles::Multi(files) = multi(3).validate().unwrap().files else {
        panic!("multi")
    };
    assert_eq!(
        files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        ["f0", "f1", "f2"]
    );
}

#[test]
fn firmware_quota() {
    assert!(check_firmware_quota(499, 500).is_ok());
    let err = check_firmware_quota(500, 500).unwrap_err();
    assert_eq!(err.code, ErrorCode::QuotaExceeded);
    assert!(err.message.contains("500"));
}

#[test]
fn delta_source_rules() {
    use crate::validate::delta_sources;
    let spec = |raw: NewFirmware| raw.validate().unwrap();
    let versions = |vs: &[&str]| vs.iter().map(|v| v.to_string()).collect::<Vec<_>>();
    let eleven: Vec<String> = (0..11).map(|i| format!("1.{i}")).collect();
    let rows: Vec<Row> = vec![
        ("none", ok(delta_sources(&spec(full()), vec![], None)), None),
        (
            "versions and latest",
            ok(delta_sources(
                &spec(full()),
                versions(&["1.0", "1.1"]),
                Some(3),
            )),
            None,
        ),
        (
            "latest 10",
            ok(delta_sources(&spec(full()), vec![], Some(10))),
            None,
        ),
        (
            "latest 11",
            ok(delta_sources(&spec(full()), vec![], Some(11))),
            Some(("delta_from_latest", "between 0 and 10")),
        ),
        (
            "latest negative",
            ok(delta_sources(&spec(full()), vec![], Some(-1))),
            Some(("delta_from_latest", "between 0 and 10")),
        ),
        (
            "eleven versions",
            ok(delta_sources(&spec(full()), eleven, None)),
            Some(("delta_from_versions", "at most 10")),
        ),
        (
            "own version",
            ok(delta_sources(&spec(full()), versions(&["2.0.0"]), None)),
            Some(("delta_from_versions", "own version")),
        ),
        (
            "twice",
            ok(delta_sources(
                &spec(full()),
                versions(&["1.0", "1.0"]),
                None,
            )),
            Some(("delta_from_versions", "twice")),
        ),
        (
            "bad characters",
            ok(delta_sources(&spec(full()), versions(&["1 0"]), None)),
            Some(("delta_from_versions", "")),
        ),
        (
            "differential package",
            ok(delta_sources(&spec(delta("1.0")), versions(&["0.9"]), None)),
            Some(("delta_from_versions", "full single-file")),
        ),
        (
            "multi-file package, latest",
            ok(delta_sources(&spec(multi(2)), vec![], Some(1))),
            Some(("delta_from_latest", "full single-file")),
        ),
        (
            "multi-file package, nothing asked",
            ok(delta_sources(&spec(multi(2)), vec![], Some(0))),
            None,
        ),
    ];
    check_rows(rows);
}

/// A request that says nothing (no versions, no `delta_from_latest`) leaves the choice to
/// the server default; an explicit 0 asks for none; only full single-file packages take
/// generated deltas.
#[test]
fn unsaid_delta_sources_differ_from_none() {
    use crate::validate::{DeltaSources, delta_sources, takes_generated_deltas};
    let spec = |raw: NewFirmware| raw.validate().unwrap();
    assert_eq!(delta_sources(&spec(full()), vec![], None).unwrap(), None);
    assert_eq!(
        delta_sources(&spec(full()), vec![], Some(0)).unwrap(),
        Some(DeltaSources::default())
    );
    let named = delta_sources(&spec(full()), vec!["1.0".into()], None).unwrap();
    assert_eq!(named.map(|s| (s.versions.len(), s.latest)), Some((1, 0)));
    assert_eq!(delta_sources(&spec(multi(2)), vec![], None).unwrap(), None);
    assert!(takes_generated_deltas(&spec(full())));
    assert!(!takes_generated_deltas(&spec(delta("1.0"))));
    assert!(!takes_generated_deltas(&spec(multi(2))));
}

/// The same version-list rule for a stored package (`POST /firmwares/{id}/deltas`), under
/// that request's own parameter name.
#[test]
fn delta_source_version_rules() {
    use crate::validate::delta_source_versions;
    let check = |vs: &[&str]| {
        let vs: Vec<String> = vs.iter().map(|v| v.to_string()).collect();
        ok(delta_source_versions("src_versions", "2.0.0", &vs))
    };
    let ten: Vec<String> = (0..10).map(|i| format!("1.{i}")).collect();
    let eleven: Vec<String> = (0..11).map(|i| format!("1.{i}")).collect();
    let rows: Vec<Row> = vec![
        ("none", check(&[]), None),
        ("two", check(&["1.0", "1.1"]), None),
        (
            "ten",
            ok(delta_source_versions("src_versions", "2.0.0", &ten)),
            None,
        ),
        (
            "eleven",
            ok(delta_source_versions("src_versions", "2.0.0", &eleven)),
            Some(("src_versions", "at most 10")),
        ),
        (
            "own version",
            check(&["1.0", "2.0.0"]),
            Some(("src_versions", "2.0.0 is the package's own version")),
        ),
        (
            "twice",
            check(&["1.0", "1.1", "1.0"]),
            Some(("src_versions", "1.0 is listed twice")),
        ),
        (
            "bad characters",
            check(&["1 0"]),
            Some(("src_versions", "")),
        ),
    ];
    check_rows(rows);
    let order = delta_source_versions("src_versions", "2.0.0", &["1.1".into(), "1.0".into()]);
    let order: Vec<String> = order
        .unwrap()
        .into_iter()
        .map(|v| v.into_string())
        .collect();
    assert_eq!(order, ["1.1", "1.0"]);
}
