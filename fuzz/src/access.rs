//! RAM policy documents: what an operator uploads to `POST /api/v1/policies` or the
//! console's policy form.

use ota_domain::access::{Decision, Policy, decide, product_arn};

const ACTIONS: &[&str] = &[
    "iot:CreateOTAFirmware",
    "iot:QueryOTAJob",
    "ram:CreateUser",
    "actiontrail:LookupEvents",
    "iot:ReadDeviceSecret",
];

/// Input: a policy document (any bytes, read as UTF-8 with replacement). A document that
/// parses is evaluated against a few actions and resources: evaluation must not panic, a
/// Deny-everything policy beside it must win every time, and an Allow-everything policy
/// beside it must leave only this document's own Deny standing.
pub fn access_policy(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(policy) = Policy::parse(&text) else {
        return;
    };
    let everything = |effect: &str| {
        Policy::parse(&format!(
            r#"{{"Version":"1","Statement":[{{"Effect":"{effect}","Action":"*","Resource":"*"}}]}}"#
        ))
        .expect("a fixed document parses")
    };
    let (allow_all, deny_all) = (everything("Allow"), everything("Deny"));
    let resources = [
        vec![],
        vec![product_arn("a1pk")],
        vec![product_arn("a1pk"), product_arn("b2")],
    ];
    for action in ACTIONS {
        for arns in &resources {
            let alone = decide(std::slice::from_ref(&policy), action, arns);
            assert_eq!(
                decide(&[policy.clone(), deny_all.clone()], action, arns),
                Decision::ExplicitDeny
            );
            let with_allow = decide(&[policy.clone(), allow_all.clone()], action, arns);
            if alone == Decision::ExplicitDeny {
                assert_eq!(with_allow, Decision::ExplicitDeny);
            } else {
                assert_eq!(with_allow, Decision::Allow, "{action} {arns:?}");
            }
        }
    }
}
