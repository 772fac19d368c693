use super::*;
use crate::validate::{
    FirmwareName, ModuleName, NewModule, Version, alias_name, firmware_desc, module_desc,
    parse_bool, parse_int, udi,
};

#[test]
fn text_rules() {
    let s = |c: &str, n: usize| c.repeat(n);
    const VER: &str = "must be 1-64 characters of [A-Za-z0-9._-]";
    const NAME: &str = "must be 1-40 characters";
    #[rustfmt::skip]
    let rows: Vec<Row> = vec![
        ("version 1 char", ok(Version::parse("DestVersion", "1")), None),
        ("version 64 chars", ok(Version::parse("DestVersion", &s("a", 64))), None),
        ("version alphabet", ok(Version::parse("DestVersion", "v1.2_3-RC")), None),
        ("version empty", ok(Version::parse("DestVersion", "")), Some(("DestVersion", VER))),
        ("version 65 chars", ok(Version::parse("DestVersion", &s("a", 65))), Some(("DestVersion", VER))),
        ("version space", ok(Version::parse("SrcVersion", "1.0 beta")), Some(("SrcVersion", VER))),
        ("version slash", ok(Version::parse("SrcVersion.2", "1/2")), Some(("SrcVersion.2", VER))),
        ("version CJK", ok(Version::parse("DestVersion", "版本")), Some(("DestVersion", VER))),
        ("name 1 char", ok(FirmwareName::parse("a")), None),
        ("name 40 chars", ok(FirmwareName::parse(&s("a", 40))), None),
        ("name 40 CJK", ok(FirmwareName::parse(&s("固", 40))), None),
        ("name mixed", ok(FirmwareName::parse("固件(v1)_x-y")), None),
        ("name digit first", ok(FirmwareName::parse("1abc")), None),
        ("name CJK first", ok(FirmwareName::parse("中文")), None),
        ("name ideographic stop", ok(FirmwareName::parse("a。")), Some(("FirmwareName", NAME))),
        ("name kana", ok(FirmwareName::parse("aファームウェアー")), None),
        ("name half-width kana", ok(FirmwareName::parse("aｶﾀｶﾅ")), None),
        ("name kana first", ok(FirmwareName::parse("テスト")), Some(("FirmwareName", "starting with"))),
        ("name underscore first", ok(FirmwareName::parse("_abc")), Some(("FirmwareName", "starting with"))),
        ("name paren first", ok(FirmwareName::parse("(a)")), Some(("FirmwareName", NAME))),
        ("name empty", ok(FirmwareName::parse("")), Some(("FirmwareName", NAME))),
        ("name 41 chars", ok(FirmwareName::parse(&s("a", 41))), Some(("FirmwareName", NAME))),
        ("name space", ok(FirmwareName::parse("a b")), Some(("FirmwareName", NAME))),
        ("name dot", ok(FirmwareName::parse("a.b")), Some(("FirmwareName", NAME))),
        ("desc none", ok(firmware_desc(None)), None),
        ("desc 100 CJK", ok(firmware_desc(Some(s("说", 100)))), None),
        ("desc 101", ok(firmware_desc(Some(s("a", 101)))), Some(("FirmwareDesc", "at most 100 characters"))),
        ("udi 4096", ok(udi("Udi", Some(s("u", 4096)))), None),
        ("udi 4097", ok(udi("Udi", Some(s("u", 4097)))), Some(("Udi", "at most 4096"))),
        ("firmware udi 4097", ok(udi("FirmwareUdi", Some(s("界", 4097)))), Some(("FirmwareUdi", "at most 4096"))),
        ("module 64", ok(ModuleName::parse(&s("m", 64))), None),
        ("module 65", ok(ModuleName::parse(&s("m", 65))), Some(("ModuleName", VER))),
        ("module empty", ok(ModuleName::parse("")), Some(("ModuleName", VER))),
        ("module colon", ok(ModuleName::parse("a:b")), Some(("ModuleName", VER))),
        ("alias ok", ok(alias_name(Some("MCU-1.0_a".into()))), None),
        ("alias 65", ok(alias_name(Some(s("a", 65)))), Some(("AliasName", VER))),
        ("alias empty", ok(alias_name(Some(String::new()))), Some(("AliasName", VER))),
        ("module desc 100", ok(module_desc(Some(s("d", 100)))), None),
        ("module desc 101", ok(module_desc(Some(s("d", 101)))), Some(("Desc", "at most 100"))),
        ("new module", ok(NewModule { module_name: Some("mcu".into()), ..NewModule::default() }.validate()), None),
        ("new module without name", ok(NewModule::default().validate()), Some(("ModuleName", "required"))),
        ("bool True", ok(parse_bool("NeedPush", "True")), None),
        ("bool FALSE", ok(parse_bool("NeedPush", "FALSE")), None),
        ("bool yes", ok(parse_bool("NeedPush", "yes")), Some(("NeedPush", "true or false"))),
        ("int", ok(parse_int("Type", "1")), None),
        ("int text", ok(parse_int("Type", "one")), Some(("Type", "integer"))),
    ];
    check_rows(rows);
}

#[test]
fn module_names_collide_case_insensitively() {
    let m = ModuleName::parse("scanner").unwrap();
    assert!(m.collides_with("Scanner"));
    assert!(!m.collides_with("scanner2"));
    assert_eq!(ModuleName::default_module().as_str(), "default");
}
