//! The core's use cases by area. [`Core`] is the shared state; each area is a small handle
//! borrowed from it (`core.registry().create_product(…)`, `core.jobs().pause_job(…)`), so a
//! newcomer finds a use case by the area's name and a file per area holds its methods.
//! A handle dereferences to the core for the shared pieces (store, clock, settings).

use crate::Core;

macro_rules! service {
    ($(#[$doc:meta])* $name:ident, $accessor:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        pub struct $name<'a>(&'a Core);

        impl std::ops::Deref for $name<'_> {
            type Target = Core;

            fn deref(&self) -> &Core {
                self.0
            }
        }

        impl Core {
            $(#[$doc])*
            pub fn $accessor(&self) -> $name<'_> {
                $name(self)
            }
        }
    };
}

service!(
    /// Products, devices, groups, OTA modules, batch registration and device lookups.
    Registry,
    registry
);
service!(
    /// Firmware packages: uploads, creation, verification state, deletion.
    Firmwares,
    firmwares
);
service!(
    /// Batches (Aliyun's upgrade jobs): creation, reads, pause and resume, cancel, changes.
    Jobs,
    jobs
);
service!(
    /// Rollouts: a package delivered in waves, each a batch started when the one before
    /// met its success condition.
    Rollouts,
    rollouts
);
service!(
    /// Tasks (one device's upgrade in a batch): pages, confirm, cancel, re-upgrade.
    Tasks,
    tasks
);
service!(
    /// Server-generated delta packages of a firmware.
    Deltas,
    deltas
);
service!(
    /// Manifest signing keys.
    Signing,
    signing
);
service!(
    /// What a device is told: upgrade messages, pull replies, download URLs, MQTT blocks.
    Delivery,
    delivery
);
service!(
    /// Who may call (access keys, nonces, the console's session key) and whether the
    /// platform can answer (readiness, fleet gauges, nodes).
    Access,
    access
);
service!(
    /// Users, access keys, personal access tokens and RAM policies.
    Teams,
    teams
);
service!(
    /// The audit log: recording calls and reading them back.
    Audit,
    audit
);
service!(
    /// Signed webhooks: endpoints, their delivery logs and test events.
    Webhooks,
    webhooks
);
