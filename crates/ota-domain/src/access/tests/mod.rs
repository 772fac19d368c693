//! Access tests: malformed documents each naming the exact field, `decide` over a table of
//! policies and requests, the built-in policies, and the glob matcher against a reference.

mod builtin;
mod decide;
mod glob;
mod parse;

use super::{Effect, Policy};
use serde_json::{Value, json};

/// A valid document of `(effect, actions, resources)` statements, parsed.
pub(super) fn policy(statements: &[(Effect, &[&str], &[&str])]) -> Policy {
    let statements: Vec<Value> = statements
        .iter()
        .map(|(effect, actions, resources)| {
            let effect = match effect {
                Effect::Allow => "Allow",
                Effect::Deny => "Deny",
            };
            json!({"Effect": effect, "Action": actions, "Resource": resources})
        })
        .collect();
    let document = json!({"Version": "1", "Statement": statements}).to_string();
    Policy::parse(&document).unwrap_or_else(|e| panic!("{document}: {e}"))
}
