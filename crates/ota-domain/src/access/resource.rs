//! Resource names (ARNs) of the things a request touches.
//!
//! Region and account are written `*`: one deployment is one region and one account, so an
//! ARN names a product or group by its id alone. A policy pattern must therefore match a
//! literal `*` there: `acs:iot:*:*:product/P1` does, while a pattern naming a concrete region
//! or account (`acs:iot:cn-shanghai:123:product/P1`) matches nothing here.

/// The resource of a request that names no particular resource, and the pattern covering all.
pub const ANY_RESOURCE: &str = "*";

/// The resource a request touching product `product_key` names: `acs:iot:*:*:product/<pk>`.
pub fn product_arn(product_key: &str) -> String {
    format!("acs:iot:*:*:product/{product_key}")
}

/// The resource a request touching device group `group_id` names: `acs:iot:*:*:group/<id>`.
pub fn group_arn(group_id: &str) -> String {
    format!("acs:iot:*:*:group/{group_id}")
}
