//! Access policies in the shape of Alibaba Cloud RAM, so that a policy document written for
//! Aliyun (and the built-in `AdministratorAccess` / `ReadOnlyAccess`) means the same here.
//!
//! [`Policy::parse`] accepts exactly the RAM subset we can evaluate faithfully and refuses the
//! rest by name (`Condition`, `NotAction`, …) rather than ignoring it, since a silently ignored
//! `Condition` would grant more than its author meant. [`decide`] is RAM's evaluation: an
//! explicit Deny wins, then an Allow must cover every resource, else the request is denied.
//!
//! Our extension, not Aliyun's: OTA actions can be scoped to a product or a device group with
//! the resources [`product_arn`] and [`group_arn`]. The ARN shape follows RAM's
//! `acs:<service>:<region>:<account>:<id>`, but the scoping rules are ours and a policy relying
//! on them is not promised to behave the same on Aliyun.

mod builtin;
mod decide;
mod glob;
mod policy;
mod resource;

pub use builtin::{BUILTIN_POLICIES, BuiltinPolicy, builtin};
pub use decide::{Decision, decide};
pub use policy::{Effect, MAX_DOCUMENT_BYTES, MAX_STATEMENTS, Policy, PolicyError, Statement};
pub use resource::{ANY_RESOURCE, group_arn, product_arn};

#[cfg(test)]
mod tests;
