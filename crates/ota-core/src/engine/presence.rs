//! Device presence waiting to be stored: the last word per device since the ingest worker
//! last looked.
//!
//! Connects and disconnects are state, not events: only the latest matters, so they are
//! kept in a map rather than queued. That bounds memory by the fleet however long the store
//! is away, keeps a device's disconnect from overtaking its reconnect (a later call simply
//! overwrites), and never makes a broker connection wait. The ingest worker takes the whole
//! board with each group and writes it with the group's reports.

use ota_domain::DeviceKey;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::Notify;

/// What became of one device since the board was last taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Change {
    /// Connected now.
    pub online: bool,
    /// It (re)connected in the meantime and is still connected: the engine sends its
    /// unfinished pushes again, in case one was lost with the old connection.
    pub reconnected: bool,
}

/// Pending presence changes.
#[derive(Default)]
pub(crate) struct PresenceBoard {
    changes: Mutex<HashMap<DeviceKey, Change>>,
    /// Wakes the ingest worker.
    pub changed: Notify,
}

impl PresenceBoard {
    /// The device is connected; `reconnected` when it has just (re)connected rather than
    /// been seen on a connection already known.
    pub fn connected(&self, device: DeviceKey, reconnected: bool) {
        {
            let mut changes = self.changes.lock().unwrap_or_else(|e| e.into_inner());
            let change = changes.entry(device).or_insert(Change {
                online: true,
                reconnected: false,
            });
            change.online = true;
            change.reconnected |= reconnected;
        }
        self.changed.notify_one();
    }

    /// The device's connection ended.
    pub fn disconnected(&self, device: DeviceKey) {
        self.changes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                device,
                Change {
                    online: false,
                    reconnected: false,
                },
            );
        self.changed.notify_one();
    }

    /// Takes every pending change.
    pub fn take(&self) -> HashMap<DeviceKey, Change> {
        std::mem::take(&mut *self.changes.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(name: &str) -> DeviceKey {
        DeviceKey::new("pk", name)
    }

    #[test]
    fn the_last_word_wins_and_a_reconnect_sticks_while_connected() {
        type Call = fn(&PresenceBoard, DeviceKey);
        let connect: Call = |b, d| b.connected(d, true);
        let seen: Call = |b, d| b.connected(d, false);
        let leave: Call = |b, d| b.disconnected(d);
        #[rustfmt::skip]
        let rows: &[(&str, &[Call], Change)] = &[
            ("connect", &[connect], Change { online: true, reconnected: true }),
            ("seen", &[seen], Change { online: true, reconnected: false }),
            ("leave", &[leave], Change { online: false, reconnected: false }),
            ("connect then leave", &[connect, leave], Change { online: false, reconnected: false }),
            ("leave then connect", &[leave, connect], Change { online: true, reconnected: true }),
            ("connect then seen", &[connect, seen], Change { online: true, reconnected: true }),
            ("seen then connect", &[seen, connect], Change { online: true, reconnected: true }),
            ("connect, leave, seen", &[connect, leave, seen], Change { online: true, reconnected: false }),
        ];
        for (name, calls, want) in rows {
            let board = PresenceBoard::default();
            for call in *calls {
                call(&board, dev("a"));
            }
            let taken = board.take();
            assert_eq!(taken.get(&dev("a")), Some(want), "{name}");
            assert!(board.take().is_empty(), "{name}: taken once");
        }
    }
}
