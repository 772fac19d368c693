use super::super::{BUILTIN_POLICIES, Policy, builtin, decide, product_arn};

#[test]
fn every_builtin_is_a_valid_document() {
    let names: Vec<&str> = BUILTIN_POLICIES.iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        [
            "AdministratorAccess",
            "ReadOnlyAccess",
            "OTAReleaseManager",
            "OTARolloutOperator"
        ]
    );
    for p in BUILTIN_POLICIES {
        Policy::parse(p.document).unwrap_or_else(|e| panic!("{}: {e}", p.name));
        assert!(!p.description.is_empty(), "{}", p.name);
    }
    assert_eq!(
        builtin("ReadOnlyAccess").map(|p| p.name),
        Some("ReadOnlyAccess")
    );
    assert!(builtin("readonlyaccess").is_none());
    assert!(builtin("Nope").is_none());
}

#[test]
fn what_each_builtin_allows() {
    const ADMIN: &str = "AdministratorAccess";
    const READ: &str = "ReadOnlyAccess";
    const RELEASE: &str = "OTAReleaseManager";
    const ROLLOUT: &str = "OTARolloutOperator";
    #[rustfmt::skip]
    let rows = [
        (ADMIN, "iot:ReadDeviceSecret", true),
        (ADMIN, "ram:CreateUser", true),
        (READ, "iot:QueryOTAFirmware", true),
        (READ, "iot:ListOTAJobByFirmware", true),
        (READ, "iot:BatchGetDeviceState", true),
        (READ, "actiontrail:LookupEvents", true),
        (READ, "ram:GetUser", true),
        (READ, "iot:ReadDeviceSecret", false),
        (READ, "iot:CreateOTAFirmware", false),
        (READ, "ram:CreateUser", false),
        (RELEASE, "iot:ListOTAFirmware", true),
        (RELEASE, "iot:GenerateOTAUploadURL", true),
        (RELEASE, "iot:CreateOTAFirmware", true),
        (RELEASE, "iot:DeleteOTAModule", true),
        (RELEASE, "iot:CreateOTAVerifyJob", true),
        (RELEASE, "iot:CreateOTAStaticUpgradeJob", false),
        (RELEASE, "iot:CancelOTAStrategyByJob", false),
        (RELEASE, "iot:ReadDeviceSecret", false),
        (ROLLOUT, "iot:QueryOTAJob", true),
        (ROLLOUT, "iot:CreateOTAStaticUpgradeJob", true),
        (ROLLOUT, "iot:CreateOTADynamicUpgradeJob", true),
        (ROLLOUT, "iot:CancelOTAStrategyByJob", true),
        (ROLLOUT, "iot:CancelOTATaskByDevice", true),
        (ROLLOUT, "iot:ReupgradeOTATask", true),
        (ROLLOUT, "iot:CreateOTAFirmware", false),
        (ROLLOUT, "iot:CreateOTAVerifyJob", false),
        (ROLLOUT, "iot:ReadDeviceSecret", false),
    ];
    for (name, action, want) in rows {
        let policy = Policy::parse(builtin(name).unwrap().document).unwrap();
        for resources in [vec![], vec![product_arn("P1")]] {
            let got = decide(std::slice::from_ref(&policy), action, &resources).allowed();
            assert_eq!(got, want, "{name} {action} {resources:?}");
        }
    }
}
