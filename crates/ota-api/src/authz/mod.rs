//! Who is calling and whether they may: the one place every face (native REST, Aliyun RPC,
//! console) asks before it runs an action, and the one place that writes the audit log.
//!
//! A face authenticates its own way (a signature, a bearer token, a session cookie) and
//! ends with a [`Caller`]. It then names the action in RAM's terms (`iot:CreateOTAFirmware`)
//! and the ids the request touches; [`check`] turns the ids into ARNs and evaluates the
//! caller's policies. Denials and every mutating call go to the audit log through
//! [`audit::record`].

pub(crate) mod audit;
pub(crate) mod console;
pub(crate) mod native;

use ota_core::{Core, CoreError, NamedResources, Principal};
use ota_domain::access::Decision;

/// An authenticated caller, with what the audit log records about the request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    /// The console session or personal access token the request came with.
    pub session_id: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Caller {
    /// Whether device and product secrets of product `pk` may be shown to this caller by
    /// a read (`iot:ReadDeviceSecret`); creating a device always shows its new secret.
    pub fn may_read_secrets(&self, pk: &str) -> bool {
        self.principal
            .decide(READ_SECRETS, &[ota_domain::access::product_arn(pk)])
            .allowed()
    }
}

/// The action that shows device and product secrets on reads.
pub const READ_SECRETS: &str = "iot:ReadDeviceSecret";

/// Why an action was not run.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The caller's policies do not allow it; the message names the action.
    Denied(String),
    /// The store could not answer the lookups the check needs.
    Failed(CoreError),
}

impl From<CoreError> for Refusal {
    fn from(err: CoreError) -> Self {
        Refusal::Failed(err)
    }
}

/// The stable code of a policy denial, as Aliyun RAM answers it.
pub const FORBIDDEN: &str = "Forbidden.RAM";

/// Checks that `caller` may perform `action` (e.g. `iot:CreateOTAFirmware`) on what `named`
/// names; returns the ARNs checked.
pub(crate) async fn check(
    core: &Core,
    caller: &Caller,
    action: &str,
    named: &NamedResources,
) -> Result<Vec<String>, Refusal> {
    let arns = core.teams().arns_of(named).await?;
    match caller.principal.decide(action, &arns) {
        Decision::Allow => Ok(arns),
        decision => Err(Refusal::Denied(denial_message(
            &caller.principal.user_name,
            action,
            &arns,
            &decision,
        ))),
    }
}

/// The action a route table gives a method and path template, when it lists them.
pub(crate) fn action_in(
    table: &[(&str, &str, &'static str)],
    method: &str,
    path: &str,
) -> Option<&'static str> {
    table
        .iter()
        .find(|(m, p, _)| *m == method && *p == path)
        .map(|(_, _, action)| *action)
}

/// Checks every action in `actions`; the first denied one is written to the audit log
/// (`denial` says what the call was) and returned as the refusal.
pub(crate) async fn check_all(
    core: &Core,
    caller: &Caller,
    actions: &[&str],
    named: &NamedResources,
    denial: audit::Outcome<'_>,
) -> Result<(), Refusal> {
    for action in actions {
        match check(core, caller, action, named).await {
            Ok(_) => {}
            Err(Refusal::Denied(message)) => {
                let outcome = audit::Outcome {
                    result: FORBIDDEN.to_owned(),
                    error_message: Some(message.clone()),
                    ..denial
                };
                audit::record(core, Some(caller), outcome).await;
                return Err(Refusal::Denied(message));
            }
            Err(failed) => return Err(failed),
        }
    }
    Ok(())
}

fn denial_message(user: &str, action: &str, arns: &[String], decision: &Decision) -> String {
    let on = if arns.is_empty() {
        "*".to_owned()
    } else {
        arns.join(", ")
    };
    let why = match decision {
        Decision::ExplicitDeny => "an attached policy denies it",
        _ => "no attached policy allows it",
    };
    format!("user {user} is not authorized to perform {action} on {on}: {why}")
}

/// The TCP peer of a connection, for any listener (plain or TLS) that gives one: serve the
/// router with `into_make_service_with_connect_info::<PeerAddr>()` and the audit log
/// records each call's source address.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub std::net::SocketAddr);

/// A listener whose connections have a TCP peer address: plain TCP here, TLS in the server.
pub trait PeerListener: axum::serve::Listener<Addr = std::net::SocketAddr> {}

impl PeerListener for tokio::net::TcpListener {}

impl<L: PeerListener> axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, L>>
    for PeerAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, L>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

/// The address a request came from, when the server was started with [`PeerAddr`].
pub(crate) fn source_ip(extensions: &axum::http::Extensions) -> Option<String> {
    extensions
        .get::<axum::extract::ConnectInfo<PeerAddr>>()
        .map(|info| info.0.0.ip().to_string())
}

/// Where a request came from, as a handler extracts it (for faces that authenticate inside
/// the handler, as OSS PostObject does).
pub(crate) struct RequestOrigin {
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(RequestOrigin {
            source_ip: source_ip(&parts.extensions),
            user_agent: user_agent(&parts.headers),
        })
    }
}

/// The request's `User-Agent`, when it sent one.
pub(crate) fn user_agent(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_denial_names_the_user_action_resources_and_reason() {
        let cases = [
            (
                vec![],
                Decision::ImplicitDeny,
                "user ci is not authorized to perform iot:CreateOTAFirmware on *: no attached policy allows it",
            ),
            (
                vec!["acs:iot:*:*:product/P1".to_owned()],
                Decision::ExplicitDeny,
                "user ci is not authorized to perform iot:CreateOTAFirmware on acs:iot:*:*:product/P1: an attached policy denies it",
            ),
        ];
        for (arns, decision, want) in cases {
            assert_eq!(
                denial_message("ci", "iot:CreateOTAFirmware", &arns, &decision),
                want
            );
        }
    }
}
