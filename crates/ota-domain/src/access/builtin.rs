//! The system policies every deployment starts with, as RAM documents: the two RAM has under
//! these names and two OTA roles that split uploading packages from running batches.

/// A named policy shipped with the platform.
#[derive(Debug)]
pub struct BuiltinPolicy {
    pub name: &'static str,
    pub description: &'static str,
    /// A RAM policy document; [`super::Policy::parse`] accepts every one (tested).
    pub document: &'static str,
}

/// The actions of `ReadOnlyAccess`, shared by the two OTA roles. Reading a device secret is
/// the separate action `iot:ReadDeviceSecret`, which none of these patterns match.
macro_rules! read_only_actions {
    () => {
        r#""iot:Query*", "iot:List*", "iot:Get*", "iot:BatchGet*", "iot:BatchCheck*",
        "actiontrail:LookupEvents", "ram:Get*", "ram:List*""#
    };
}

/// `AdministratorAccess`, `ReadOnlyAccess`, `OTAReleaseManager`, `OTARolloutOperator`.
pub const BUILTIN_POLICIES: &[BuiltinPolicy] = &[
    BuiltinPolicy {
        name: "AdministratorAccess",
        description: "Every action on every resource.",
        document: r#"{"Version": "1", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#,
    },
    BuiltinPolicy {
        name: "ReadOnlyAccess",
        description: "Query, list and get everything; change nothing; no device secrets.",
        document: concat!(
            r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": ["#,
            read_only_actions!(),
            r#"], "Resource": "*"}]}"#
        ),
    },
    BuiltinPolicy {
        name: "OTAReleaseManager",
        description: "Read-only access, plus uploading, changing, deleting and verifying \
                      OTA packages and modules.",
        document: concat!(
            r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": ["#,
            read_only_actions!(),
            r#", "iot:GenerateOTAUploadURL", "iot:CreateOTAFirmware", "iot:ModifyOTAFirmware",
            "iot:DeleteOTAFirmware", "iot:CreateOTAModule", "iot:UpdateOTAModule",
            "iot:DeleteOTAModule", "iot:CreateOTAVerifyJob"], "Resource": "*"}]}"#
        ),
    },
    BuiltinPolicy {
        name: "OTARolloutOperator",
        description: "Read-only access, plus creating, pausing, resuming and cancelling \
                      OTA batches and rollouts, starting a rollout's next wave, and \
                      confirming or retrying device tasks.",
        document: concat!(
            r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": ["#,
            read_only_actions!(),
            r#", "iot:CreateOTAStaticUpgradeJob", "iot:CreateOTADynamicUpgradeJob",
            "iot:GenerateDeviceNameListURL", "iot:UpdateOTAJob", "iot:PauseOTAJob",
            "iot:ResumeOTAJob", "iot:CancelOTA*", "iot:ConfirmOTATask", "iot:ReupgradeOTATask",
            "iot:CreateOTARollout", "iot:PauseOTARollout", "iot:ResumeOTARollout",
            "iot:StartOTARolloutWave"], "Resource": "*"}]}"#
        ),
    },
];

/// The built-in policy called `name` (exact spelling), if any.
pub fn builtin(name: &str) -> Option<&'static BuiltinPolicy> {
    BUILTIN_POLICIES.iter().find(|p| p.name == name)
}
