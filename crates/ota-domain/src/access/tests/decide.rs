use super::super::{Decision, Effect, Policy, Statement, decide, group_arn, product_arn};
use super::policy;
use Decision::{Allow, ExplicitDeny, ImplicitDeny};
use Effect::{Allow as A, Deny as D};

/// `(label, policies, action, resources, expected)`.
type Row = (
    &'static str,
    Vec<Policy>,
    &'static str,
    Vec<String>,
    Decision,
);

fn p1() -> String {
    product_arn("P1")
}
fn p2() -> String {
    product_arn("P2")
}

#[test]
fn decisions() {
    let admin = policy(&[(A, &["*"], &["*"])]);
    let grant = |actions: &[&str]| policy(&[(A, actions, &["*"])]);
    let on_p1 = policy(&[(A, &["iot:*"], &["acs:iot:*:*:product/P1"])]);
    let on_g1 = policy(&[(A, &["iot:*OTA*"], &["acs:iot:*:*:group/G1"])]);
    let deny_delete = policy(&[(D, &["iot:Delete*"], &["*"])]);
    let deny_p1 = policy(&[(D, &["iot:*"], &["acs:iot:*:*:product/P1"])]);
    // Parsing admits only `*` among wildcard-only resources; a Policy built in code may hold others.
    let wildcards_only = Policy {
        statements: vec![Statement {
            effect: A,
            actions: vec!["iot:*".into()],
            resources: vec!["acs:iot:x".into(), "**".into()],
        }],
    };
    let none: Vec<String> = vec![];
    #[rustfmt::skip]
    let rows: Vec<Row> = vec![
        ("prefix glob", vec![grant(&["iot:Query*"])], "iot:QueryOTAFirmware", none.clone(), Allow),
        ("prefix glob miss", vec![grant(&["iot:Query*"])], "iot:ListOTAFirmware", none.clone(), ImplicitDeny),
        ("suffix glob", vec![grant(&["iot:*OTAFirmware"])], "iot:CreateOTAFirmware", none.clone(), Allow),
        ("suffix glob miss", vec![grant(&["iot:*OTAFirmware"])], "iot:CreateOTAModule", none.clone(), ImplicitDeny),
        ("middle glob", vec![grant(&["iot:Create*Job"])], "iot:CreateOTAStaticUpgradeJob", none.clone(), Allow),
        ("middle glob miss", vec![grant(&["iot:Create*Job"])], "iot:CreateOTAFirmware", none.clone(), ImplicitDeny),
        ("question mark", vec![grant(&["iot:PauseOTAJo?"])], "iot:PauseOTAJob", none.clone(), Allow),
        ("question mark needs a char", vec![grant(&["iot:PauseOTAJob?"])], "iot:PauseOTAJob", none.clone(), ImplicitDeny),
        ("service glob does not cross", vec![grant(&["iot:*"])], "ram:ListUsers", none.clone(), ImplicitDeny),
        ("action pattern case", vec![grant(&["iot:createotafirmware"])], "iot:CreateOTAFirmware", none.clone(), Allow),
        ("request action case", vec![grant(&["iot:CreateOTA*"])], "IOT:createotafirmware", none.clone(), Allow),
        ("star action", vec![admin.clone()], "actiontrail:LookupEvents", vec![p1()], Allow),
        ("deny over allow", vec![admin.clone(), deny_delete.clone()], "iot:DeleteOTAFirmware", vec![p1()], ExplicitDeny),
        ("deny other action", vec![admin.clone(), deny_delete.clone()], "iot:CreateOTAFirmware", vec![p1()], Allow),
        ("deny first", vec![deny_delete.clone(), admin.clone()], "iot:deleteotamodule", none.clone(), ExplicitDeny),
        ("deny alone", vec![deny_delete.clone()], "iot:ListOTAFirmware", none.clone(), ImplicitDeny),
        ("deny * on a product", vec![admin.clone(), deny_delete.clone()], "iot:DeleteOTAModule", vec![p2()], ExplicitDeny),
        ("deny on P1 for P1", vec![admin.clone(), deny_p1.clone()], "iot:CreateOTAFirmware", vec![p1()], ExplicitDeny),
        ("deny on P1 for P2", vec![admin.clone(), deny_p1.clone()], "iot:CreateOTAFirmware", vec![p2()], Allow),
        ("deny on P1 for P1 and P2", vec![admin.clone(), deny_p1.clone()], "iot:CreateOTAFirmware", vec![p2(), p1()], ExplicitDeny),
        ("deny on P1, no resource", vec![admin.clone(), deny_p1.clone()], "iot:ListOTAFirmware", none.clone(), Allow),
        ("product scope, its product", vec![on_p1.clone()], "iot:CreateOTAFirmware", vec![p1()], Allow),
        ("product scope, other product", vec![on_p1.clone()], "iot:CreateOTAFirmware", vec![p2()], ImplicitDeny),
        ("product scope, no resource", vec![on_p1.clone()], "iot:ListOTAFirmware", none.clone(), ImplicitDeny),
        ("product scope, two products", vec![on_p1.clone()], "iot:CreateOTAStaticUpgradeJob", vec![p1(), p2()], ImplicitDeny),
        ("product scope, case", vec![on_p1.clone()], "iot:CreateOTAFirmware", vec![product_arn("p1")], ImplicitDeny),
        ("two scopes cover two products", vec![on_p1.clone(), policy(&[(A, &["iot:Create*"], &["acs:iot:*:*:product/P2"])])], "iot:CreateOTAStaticUpgradeJob", vec![p1(), p2()], Allow),
        ("all products, no resource", vec![policy(&[(A, &["iot:*"], &["acs:iot:*:*:product/*"])])], "iot:ListOTAFirmware", none.clone(), ImplicitDeny),
        ("all products, a product", vec![policy(&[(A, &["iot:*"], &["acs:iot:*:*:product/*"])])], "iot:ListOTAFirmware", vec![p2()], Allow),
        ("wildcard-only pattern, no resource", vec![wildcards_only], "iot:ListOTAFirmware", none.clone(), Allow),
        ("group scope, its group", vec![on_g1.clone()], "iot:CreateOTADynamicUpgradeJob", vec![group_arn("G1")], Allow),
        ("group scope, other group", vec![on_g1.clone()], "iot:CreateOTADynamicUpgradeJob", vec![group_arn("G2")], ImplicitDeny),
        ("group scope, a product", vec![on_g1.clone()], "iot:CreateOTADynamicUpgradeJob", vec![p1()], ImplicitDeny),
        ("group scope, other action", vec![on_g1.clone()], "iot:QueryDeviceGroupInfo", vec![group_arn("G1")], ImplicitDeny),
        ("no statement matches", vec![grant(&["iot:List*"]), on_p1.clone()], "ram:CreateUser", none.clone(), ImplicitDeny),
        ("no policies", vec![], "iot:ListOTAFirmware", none.clone(), ImplicitDeny),
        ("no policies, a product", vec![], "iot:ListOTAFirmware", vec![p1()], ImplicitDeny),
    ];
    for (label, policies, action, resources, want) in rows {
        let got = decide(&policies, action, &resources);
        assert_eq!(got, want, "{label}");
        assert_eq!(got.allowed(), want == Allow, "{label}: allowed()");
    }
}

#[test]
fn arns() {
    assert_eq!(product_arn("a1B2"), "acs:iot:*:*:product/a1B2");
    assert_eq!(group_arn("g-9"), "acs:iot:*:*:group/g-9");
}
