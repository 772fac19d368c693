//! RAM's evaluation of a request against a caller's policies.

use super::glob::{Case, matches};
use super::policy::{Effect, Policy, Statement};
use super::resource::ANY_RESOURCE;

/// The outcome of [`decide`]. The two denials are told apart so that an audit line can say
/// whether a policy forbade the request or merely none granted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Every resource the request touches is covered by an Allow and no Deny applies.
    Allow,
    /// A Deny statement matches the action and one of the resources.
    ExplicitDeny,
    /// No Deny applies, but some resource is covered by no Allow.
    ImplicitDeny,
}

impl Decision {
    /// Whether the request may proceed.
    pub fn allowed(&self) -> bool {
        matches!(self, Decision::Allow)
    }
}

/// RAM evaluation: a request for `action` (e.g. "iot:CreateOTAFirmware") touching
/// `resources` (ARNs; an empty slice means the request names no particular resource and is
/// checked against "*"). Explicit Deny (any statement of any policy whose Action and Resource
/// match) wins; otherwise every resource must be covered by some Allow statement whose Action
/// matches; otherwise ImplicitDeny.
///
/// The literal `*` of a request naming no resource is matched like any ARN, so only patterns
/// made of wildcards cover it: a key scoped to one product cannot make product-less calls,
/// while a Deny on `*` applies to every request.
pub fn decide(policies: &[Policy], action: &str, resources: &[String]) -> Decision {
    let any = [ANY_RESOURCE];
    let named: Vec<&str> = resources.iter().map(String::as_str).collect();
    let requested: &[&str] = if named.is_empty() { &any } else { &named };
    let applicable = || {
        policies.iter().flat_map(|p| &p.statements).filter(|s| {
            s.actions
                .iter()
                .any(|a| matches(a, action, Case::Insensitive))
        })
    };
    let covers = |s: &Statement, resource: &str| {
        s.resources
            .iter()
            .any(|r| matches(r, resource, Case::Sensitive))
    };
    if applicable().any(|s| s.effect == Effect::Deny && requested.iter().any(|r| covers(s, r))) {
        return Decision::ExplicitDeny;
    }
    let allowed = |r: &&str| applicable().any(|s| s.effect == Effect::Allow && covers(s, r));
    if requested.iter().all(allowed) {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}
