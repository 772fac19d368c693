//! One row per arm of `IdentityState::apply`: start state, event, and the expected next
//! state with its effects, or the refusal.

use super::*;

const fn st(enabled: bool, registered: bool, activated: bool) -> IdentityState {
    IdentityState {
        enabled,
        registered,
        activated,
    }
}

enum Want {
    To {
        next: IdentityState,
        disconnect: bool,
        issue: bool,
    },
    Refused(IdentityRefusal),
}

const fn to(next: IdentityState, disconnect: bool, issue: bool) -> Want {
    Want::To {
        next,
        disconnect,
        issue,
    }
}

#[test]
fn every_transition() {
    use IdentityEvent::*;
    use IdentityRefusal as R;
    #[rustfmt::skip]
    let rows: Vec<(&str, IdentityState, IdentityEvent, Want)> = vec![
        // Disable: always ends disabled and asks for a disconnect, repeated or not.
        ("disable a new device", IdentityState::NEW, Disable, to(st(false, false, false), true, false)),
        ("disable an active device", st(true, true, true), Disable, to(st(false, true, true), true, false)),
        ("disable again", st(false, false, true), Disable, to(st(false, false, true), true, false)),
        // Enable: lets the device in again, nothing else.
        ("enable a disabled device", st(false, true, true), Enable, to(st(true, true, true), false, false)),
        ("enable an enabled device", st(true, false, true), Enable, to(st(true, false, true), false, false)),
        // Register: once, only while enabled and never activated.
        ("register a new device", IdentityState::NEW, Register, to(st(true, true, false), false, true)),
        ("register twice", st(true, true, false), Register, Want::Refused(R::AlreadyRegistered)),
        ("register after connecting", st(true, false, true), Register, Want::Refused(R::AlreadyActivated)),
        ("register while disabled", st(false, false, false), Register, Want::Refused(R::Disabled)),
        ("register while disabled and registered", st(false, true, true), Register, Want::Refused(R::Disabled)),
        // Reset: registration and activation forgotten, the enabled state kept.
        ("reset a registered device", st(true, true, true), Reset, to(st(true, false, false), false, false)),
        ("reset a disabled device", st(false, true, true), Reset, to(st(false, false, false), false, false)),
        ("reset a new device", IdentityState::NEW, Reset, to(IdentityState::NEW, false, false)),
    ];
    for (name, from, event, want) in rows {
        let got = from.apply(event);
        match want {
            Want::To {
                next,
                disconnect,
                issue,
            } => {
                let t = got.unwrap_or_else(|r| panic!("{name}: refused {r:?}"));
                assert_eq!(t.next, next, "{name}: next state");
                assert_eq!(t.disconnect, disconnect, "{name}: disconnect");
                assert_eq!(t.issue_credentials, issue, "{name}: issue credentials");
            }
            Want::Refused(refusal) => assert_eq!(got, Err(refusal), "{name}"),
        }
    }
}

#[test]
fn a_reset_device_registers_again() {
    let registered = IdentityState::NEW
        .apply(IdentityEvent::Register)
        .unwrap()
        .next;
    let used = IdentityState {
        activated: true,
        ..registered
    };
    let reset = used.apply(IdentityEvent::Reset).unwrap().next;
    assert!(
        reset
            .apply(IdentityEvent::Register)
            .unwrap()
            .issue_credentials
    );
}

#[test]
fn methods_read_back() {
    for m in [
        RegistrationMethod::Mqtt,
        RegistrationMethod::MqttNoPreregistration,
        RegistrationMethod::Https,
    ] {
        assert_eq!(RegistrationMethod::parse(m.as_str()), Some(m));
    }
    assert_eq!(RegistrationMethod::parse("REGISTER"), None);
}

#[test]
fn refusals_name_the_rule() {
    let e = IdentityRefusal::AlreadyRegistered.into_error("DeviceName");
    assert_eq!(e.code, ErrorCode::InvalidState);
    assert_eq!(e.field.as_deref(), Some("DeviceName"));
    assert!(e.message.contains("ResetThing"));
}
