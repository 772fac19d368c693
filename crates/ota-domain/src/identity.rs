//! A device's identity state: whether it may connect (operators disable a stolen or
//! misbehaving device) and whether it may still obtain its credentials by dynamic
//! registration ("one secret per product": a device that knows only its product's secret
//! asks the platform for its own).
//!
//! One pure function decides every change, so the rules live in one table: a disabled
//! device is refused registration and is disconnected where it is online; a device gets its
//! credentials once, and again only after an operator resets it (`ResetThing`), which also
//! makes it "never activated" again, as on Alibaba Cloud.

use crate::{DomainError, ErrorCode};
use serde::{Deserialize, Serialize};

/// How a device obtained its credentials by dynamic registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RegistrationMethod {
    /// MQTT `authType=register`: a pre-registered device gets its DeviceSecret.
    Mqtt,
    /// MQTT `authType=regnwl`: a device not registered before is created and gets a
    /// connection token.
    MqttNoPreregistration,
    /// HTTPS `POST /auth/register/device`: a pre-registered device gets its DeviceSecret.
    Https,
}

impl RegistrationMethod {
    /// The stable string stored and shown (`register`, `regnwl`, `https`).
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationMethod::Mqtt => "register",
            RegistrationMethod::MqttNoPreregistration => "regnwl",
            RegistrationMethod::Https => "https",
        }
    }

    pub fn parse(s: &str) -> Option<RegistrationMethod> {
        match s {
            "register" => Some(RegistrationMethod::Mqtt),
            "regnwl" => Some(RegistrationMethod::MqttNoPreregistration),
            "https" => Some(RegistrationMethod::Https),
            _ => None,
        }
    }
}

/// What the identity rules look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdentityState {
    /// False once an operator disabled the device.
    pub enabled: bool,
    /// The device obtained its credentials by dynamic registration since its last reset.
    pub registered: bool,
    /// The device has connected since its last reset (it is "activated").
    pub activated: bool,
}

impl IdentityState {
    /// A device just registered by an operator: enabled, never registered nor connected.
    pub const NEW: IdentityState = IdentityState {
        enabled: true,
        registered: false,
        activated: false,
    };
}

/// What happens to a device's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityEvent {
    /// `DisableThing`: refuse its connections from now on.
    Disable,
    /// `EnableThing`: accept its connections again.
    Enable,
    /// The device asks for its credentials by dynamic registration.
    Register,
    /// `ResetThing`: the device may register again and counts as never activated.
    Reset,
}

/// The outcome of an accepted event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdentityTransition {
    pub next: IdentityState,
    /// The device's live connection, on whichever node holds it, must be closed now.
    pub disconnect: bool,
    /// Credentials are to be handed to the device.
    pub issue_credentials: bool,
}

/// Why an event is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityRefusal {
    /// A disabled device may not register.
    Disabled,
    /// The device registered already; an operator must reset it first.
    AlreadyRegistered,
    /// The device has connected with its credentials already; an operator must reset it
    /// before it may register.
    AlreadyActivated,
}

impl IdentityRefusal {
    /// The refusal as a domain error naming the device.
    pub fn into_error(self, field: &str) -> DomainError {
        let message = match self {
            IdentityRefusal::Disabled => "the device is disabled",
            IdentityRefusal::AlreadyRegistered => {
                "the device registered already; reset it (ResetThing) to let it register again"
            }
            IdentityRefusal::AlreadyActivated => {
                "the device has connected already; reset it (ResetThing) to let it register"
            }
        };
        DomainError::new(ErrorCode::InvalidState, Some(field), message)
    }
}

impl IdentityState {
    /// Applies `event`. Disabling and enabling are idempotent (the same state again, and
    /// a disable always asks for a disconnect, so a connection that slipped in between is
    /// closed by a repeated disable too).
    pub fn apply(self, event: IdentityEvent) -> Result<IdentityTransition, IdentityRefusal> {
        let keep = |next| IdentityTransition {
            next,
            disconnect: false,
            issue_credentials: false,
        };
        match event {
            // Whatever it was, a disabled device must not stay connected anywhere.
            IdentityEvent::Disable => Ok(IdentityTransition {
                next: IdentityState {
                    enabled: false,
                    ..self
                },
                disconnect: true,
                issue_credentials: false,
            }),
            // Enabling only lets the device in again: nothing to close, nothing to issue.
            IdentityEvent::Enable => Ok(keep(IdentityState {
                enabled: true,
                ..self
            })),
            // Checked in this order so a disabled device learns nothing about its
            // registration state.
            IdentityEvent::Register if !self.enabled => Err(IdentityRefusal::Disabled),
            IdentityEvent::Register if self.registered => Err(IdentityRefusal::AlreadyRegistered),
            IdentityEvent::Register if self.activated => Err(IdentityRefusal::AlreadyActivated),
            IdentityEvent::Register => Ok(IdentityTransition {
                next: IdentityState {
                    registered: true,
                    ..self
                },
                disconnect: false,
                issue_credentials: true,
            }),
            // A reset keeps the device's enabled state: resetting is no way around a disable.
            IdentityEvent::Reset => Ok(keep(IdentityState {
                registered: false,
                activated: false,
                ..self
            })),
        }
    }
}

#[cfg(test)]
#[path = "identity_tests.rs"]
mod tests;
