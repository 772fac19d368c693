use super::super::{Effect, MAX_DOCUMENT_BYTES, Policy, PolicyError, Statement};

/// `(label, document, None or Some((field, words the rule must contain)))`.
type Row = (&'static str, String, Option<(&'static str, &'static str)>);

/// A document with `statement` as its only statement.
fn one(statement: &str) -> String {
    format!(r#"{{"Version": "1", "Statement": [{statement}]}}"#)
}

const OK: &str = r#"{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}"#;

#[test]
fn malformed_documents_name_the_field() {
    let many = one(&vec![OK; 101].join(","));
    let large = one(&format!(
        r#"{{"Effect": "Allow", "Action": "iot:*", "Resource": "acs:{}"}}"#,
        "x".repeat(MAX_DOCUMENT_BYTES)
    ));
    let list = "a string or a non-empty array of strings";
    #[rustfmt::skip]
    let rows: Vec<Row> = vec![
        ("minimal", one(OK), None),
        ("arrays", one(r#"{"Effect": "Deny", "Action": ["iot:Get?hing", "ram:*"], "Resource": ["acs:iot:*:*:product/P1", "*"]}"#), None),
        ("action star", one(r#"{"Effect": "Allow", "Action": "*", "Resource": "*"}"#), None),
        ("100 statements", one(&vec![OK; 100].join(",")), None),
        ("Version 2", r#"{"Version": "2", "Statement": []}"#.into(), Some(("Version", "the string \"1\""))),
        ("Version number", format!(r#"{{"Version": 1, "Statement": [{OK}]}}"#), Some(("Version", "the string \"1\""))),
        ("Version missing", format!(r#"{{"Statement": [{OK}]}}"#), Some(("Version", "required"))),
        ("Statement missing", r#"{"Version": "1"}"#.into(), Some(("Statement", "required"))),
        ("Statement empty", r#"{"Version": "1", "Statement": []}"#.into(), Some(("Statement", "non-empty array"))),
        ("Statement object", format!(r#"{{"Version": "1", "Statement": {OK}}}"#), Some(("Statement", "non-empty array"))),
        ("Statement 101", many, Some(("Statement", "at most 100"))),
        ("statement not object", one(r#""Allow""#), Some(("Statement[0]", "an object"))),
        ("Effect lowercase", one(r#"{"Effect": "allow", "Action": "iot:*", "Resource": "*"}"#), Some(("Statement[0].Effect", r#""Allow" or "Deny""#))),
        ("Effect missing", one(r#"{"Action": "iot:*", "Resource": "*"}"#), Some(("Statement[0].Effect", "required"))),
        ("second statement", one(&format!(r#"{OK}, {{"Effect": "DENY", "Action": "*", "Resource": "*"}}"#)), Some(("Statement[1].Effect", r#""Allow" or "Deny""#))),
        ("Action number", one(r#"{"Effect": "Allow", "Action": 7, "Resource": "*"}"#), Some(("Statement[0].Action", list))),
        ("Action empty array", one(r#"{"Effect": "Allow", "Action": [], "Resource": "*"}"#), Some(("Statement[0].Action", list))),
        ("Action missing", one(r#"{"Effect": "Allow", "Resource": "*"}"#), Some(("Statement[0].Action", "required"))),
        ("Action element number", one(r#"{"Effect": "Allow", "Action": ["iot:*", 7], "Resource": "*"}"#), Some(("Statement[0].Action[1]", "a string"))),
        ("Action other service", one(r#"{"Effect": "Allow", "Action": ["iot:*", "oss:GetObject"], "Resource": "*"}"#), Some(("Statement[0].Action[1]", "service iot, ram or actiontrail"))),
        ("Action upper service", one(r#"{"Effect": "Allow", "Action": ["IOT:GetThing"], "Resource": "*"}"#), Some(("Statement[0].Action[0]", "<service>:<name>"))),
        ("Action hyphen", one(r#"{"Effect": "Allow", "Action": ["iot:Get-Thing"], "Resource": "*"}"#), Some(("Statement[0].Action[0]", "<service>:<name>"))),
        ("Action no name", one(r#"{"Effect": "Allow", "Action": ["iot:"], "Resource": "*"}"#), Some(("Statement[0].Action[0]", "<service>:<name>"))),
        ("Action no colon", one(r#"{"Effect": "Allow", "Action": "iot*", "Resource": "*"}"#), Some(("Statement[0].Action", "<service>:<name>"))),
        ("Action two colons", one(r#"{"Effect": "Allow", "Action": "iot:a:b", "Resource": "*"}"#), Some(("Statement[0].Action", "<service>:<name>"))),
        ("Resource not acs", one(r#"{"Effect": "Allow", "Action": "iot:*", "Resource": ["*", "arn:aws:s3:::b"]}"#), Some(("Statement[0].Resource[1]", r#"starting with "acs:""#))),
        ("Resource empty", one(r#"{"Effect": "Allow", "Action": "iot:*", "Resource": ""}"#), Some(("Statement[0].Resource", r#"starting with "acs:""#))),
        ("Resource empty array", one(r#"{"Effect": "Allow", "Action": "iot:*", "Resource": []}"#), Some(("Statement[0].Resource", list))),
        ("Resource missing", one(r#"{"Effect": "Allow", "Action": "iot:*"}"#), Some(("Statement[0].Resource", "required"))),
        ("Condition", one(r#"{"Effect": "Allow", "Action": "iot:*", "Resource": "*", "Condition": {}}"#), Some(("Statement[0].Condition", "is not supported"))),
        ("NotAction", one(r#"{"Effect": "Allow", "NotAction": "iot:*", "Resource": "*"}"#), Some(("Statement[0].NotAction", "is not supported"))),
        ("NotResource", one(r#"{"Effect": "Allow", "Action": "iot:*", "NotResource": "*"}"#), Some(("Statement[0].NotResource", "is not supported"))),
        ("Principal", one(r#"{"Effect": "Allow", "Principal": "*", "Action": "iot:*", "Resource": "*"}"#), Some(("Statement[0].Principal", "is not supported"))),
        ("unknown statement key", one(r#"{"Sid": "x", "Effect": "Allow", "Action": "iot:*", "Resource": "*"}"#), Some(("Statement[0].Sid", "not a known key"))),
        ("unknown top key", format!(r#"{{"Version": "1", "Id": "x", "Statement": [{OK}]}}"#), Some(("Id", "not a known key"))),
        ("key twice", one(r#"{"Effect": "Deny", "Effect": "Allow", "Action": "iot:*", "Resource": "*"}"#), Some(("Statement[0].Effect", "more than once"))),
        ("not JSON", r#"{"Version": "1", "Statement": [}"#.into(), Some(("document", "not valid JSON"))),
        ("trailing text", format!("{} x", one(OK)), Some(("document", "not valid JSON"))),
        ("array document", "[]".into(), Some(("document", "JSON object"))),
        ("too large", large, Some(("document", "at most 6144 bytes"))),
    ];
    for (label, document, want) in rows {
        match (Policy::parse(&document), want) {
            (Ok(_), None) => {}
            (Err(PolicyError { field, rule }), Some((want_field, words))) => {
                assert_eq!(field, want_field, "{label}: field ({rule})");
                assert!(
                    rule.contains(words),
                    "{label}: rule {rule:?} lacks {words:?}"
                );
            }
            (got, want) => panic!("{label}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn parses_into_statements() {
    let document = r#"{
        "Version": "1",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:Query*", "Resource": "*"},
            {"Resource": ["acs:iot:*:*:product/P1"], "Action": ["iot:CreateOTAFirmware", "ram:*"], "Effect": "Deny"}
        ]
    }"#;
    let policy = Policy::parse(document).unwrap();
    let statements = vec![
        Statement {
            effect: Effect::Allow,
            actions: vec!["iot:Query*".into()],
            resources: vec!["*".into()],
        },
        Statement {
            effect: Effect::Deny,
            actions: vec!["iot:CreateOTAFirmware".into(), "ram:*".into()],
            resources: vec!["acs:iot:*:*:product/P1".into()],
        },
    ];
    assert_eq!(policy, Policy { statements });
}

#[test]
fn error_reads_field_then_rule() {
    let e = Policy::parse(r#"{"Version": "2"}"#).unwrap_err();
    assert_eq!(e.to_string(), r#"Version: must be the string "1""#);
}
