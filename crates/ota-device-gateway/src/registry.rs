//! Sessions, subscriptions and routing: the broker's shared state.
//!
//! Device sessions live in sharded maps keyed by `(productKey, deviceName)`. A device's
//! subscriptions are stored with its session and consulted only for topics that the device
//! owns, so routing a device topic is one hash lookup and a scan of that device's few filters
//! — O(1) in the fleet size — and isolation holds by construction: another device's
//! subscriptions are never even looked at. Admin sessions (few) are scanned for every
//! message.

use bytes::Bytes;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use ota_protocol::{DeviceKey, topic_owner};

use crate::codec::{QoS, SubFilter};
use crate::conn_handle::{ConnHandle, Delivery, Message};
use crate::filter::{matches, matches_levels};
use crate::handler::ConnectionId;

const SHARDS: usize = 64;

/// Who is on the other end of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Principal {
    /// A device, authenticated with its device secret.
    Device(DeviceKey),
    /// An admin/service client, by MQTT client id.
    Admin(String),
}

/// A device's filter levels that name the device itself are kept as these markers, so
/// every device's copy of the same filter is one shared string: an idle fleet holds a few
/// filter templates rather than three strings per device.
const OWN_PRODUCT: &str = "\u{1}";
const OWN_DEVICE: &str = "\u{2}";
/// Most distinct templates shared; past it (a client subscribing to ever new filters)
/// filters are kept unshared, so the shared set cannot grow without bound.
const MAX_TEMPLATES: usize = 4_096;

struct Sub {
    /// The filter, as a template when `templated` (markers for the owner's levels).
    filter: Arc<str>,
    templated: bool,
    qos: QoS,
    no_local: bool,
}

/// A device's filter as stored: its own product key and device name levels replaced by
/// the markers. `None` for an admin's filter or one that holds a marker character itself.
fn template(filter: &str, owner: Option<(&str, &str)>) -> Option<String> {
    let (pk, dn) = owner?;
    if filter.contains(['\u{1}', '\u{2}']) {
        return None;
    }
    let levels: Vec<&str> = filter
        .split('/')
        .map(|level| match level {
            l if l == pk => OWN_PRODUCT,
            l if l == dn => OWN_DEVICE,
            l => l,
        })
        .collect();
    Some(levels.join("/"))
}

/// Whether `topic` matches the stored `sub` of a session owned by `owner`.
fn sub_matches(sub: &Sub, topic: &str, owner: Option<(&str, &str)>) -> bool {
    match (sub.templated, owner) {
        (true, Some((pk, dn))) => matches_levels(topic, &sub.filter, |f, level| match f {
            OWN_PRODUCT => level == pk,
            OWN_DEVICE => level == dn,
            f => f == level,
        }),
        (true, None) => false,
        (false, _) => matches(topic, &sub.filter),
    }
}

#[derive(Default)]
struct Slot {
    conn: Option<Arc<ConnHandle>>,
    subs: Vec<Sub>,
    persistent: bool,
}

impl Slot {
    /// The QoS to deliver `topic` with to this session (a device's session is `owner`'s),
    /// if any subscription matches.
    fn deliver_qos(
        &self,
        topic: &str,
        from_self: bool,
        owner: Option<(&str, &str)>,
    ) -> Option<QoS> {
        self.subs
            .iter()
            .filter(|s| !(s.no_local && from_self) && sub_matches(s, topic, owner))
            .map(|s| s.qos)
            .max()
    }
}

type DeviceMap = HashMap<String, HashMap<String, Slot>>;

/// The registry of sessions.
pub(crate) struct Registry {
    shards: Box<[Mutex<DeviceMap>]>,
    hasher: RandomState,
    admins: RwLock<HashMap<String, Slot>>,
    online: AtomicUsize,
    next_conn: AtomicU64,
    /// Filter templates shared by every session that holds them.
    templates: Mutex<std::collections::HashSet<Arc<str>>>,
    /// Zero of the clock connections note their clients' last packets by.
    epoch: tokio::time::Instant,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking handler callback must not wedge the broker: the maps stay consistent
    // because every critical section updates them before calling out.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Registry {
    pub(crate) fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(DeviceMap::new())).collect(),
            hasher: RandomState::new(),
            admins: RwLock::new(HashMap::new()),
            online: AtomicUsize::new(0),
            next_conn: AtomicU64::new(1),
            templates: Mutex::new(std::collections::HashSet::new()),
            epoch: tokio::time::Instant::now(),
        }
    }

    /// Milliseconds since the registry began: the clock of [`ConnHandle::heard_at`].
    pub(crate) fn clock_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Runs `f` on every live connection, one shard's lock at a time.
    pub(crate) fn each_connection(&self, mut f: impl FnMut(&ConnHandle)) {
        for shard in self.shards.iter() {
            let shard = lock(shard);
            let slots = shard.values().flat_map(HashMap::values);
            slots
                .filter_map(|slot| slot.conn.as_deref())
                .for_each(&mut f);
        }
        let admins = self.admins.read().unwrap_or_else(PoisonError::into_inner);
        admins
            .values()
            .filter_map(|slot| slot.conn.as_deref())
            .for_each(&mut f);
    }

    /// `filter` as `who`'s sessions store it: a shared template when it can be one.
    fn stored_filter(&self, who: &Principal, filter: &str) -> (Arc<str>, bool) {
        let owner = match who {
            Principal::Device(d) => Some((d.product_key.as_str(), d.device_name.as_str())),
            Principal::Admin(_) => None,
        };
        let Some(t) = template(filter, owner) else {
            return (Arc::from(filter), false);
        };
        let mut templates = lock(&self.templates);
        if let Some(shared) = templates.get(t.as_str()) {
            return (shared.clone(), true);
        }
        let t: Arc<str> = Arc::from(t);
        if templates.len() < MAX_TEMPLATES {
            templates.insert(t.clone());
        }
        (t, true)
    }

    pub(crate) fn next_connection_id(&self) -> ConnectionId {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    fn shard(&self, pk: &str, dn: &str) -> MutexGuard<'_, DeviceMap> {
        let i = self.hasher.hash_one((pk, dn)) as usize % SHARDS;
        lock(&self.shards[i])
    }

    /// Runs `f` on the principal's slot (creating it when `create`), under its lock.
    fn with_slot<R>(
        &self,
        who: &Principal,
        create: bool,
        f: impl FnOnce(&mut Slot) -> R,
    ) -> Option<R> {
        match who {
            Principal::Device(d) => {
                let (pk, dn) = (d.product_key.as_str(), d.device_name.as_str());
                let mut shard = self.shard(pk, dn);
                if create {
                    let slot = shard
                        .entry(pk.to_owned())
                        .or_default()
                        .entry(dn.to_owned())
                        .or_default();
                    return Some(f(slot));
                }
                let product = shard.get_mut(pk)?;
                let slot = product.get_mut(dn)?;
                let out = f(slot);
                if slot.conn.is_none() && !slot.persistent {
                    product.remove(dn);
                    if product.is_empty() {
                        shard.remove(pk);
                    }
                }
                Some(out)
            }
            Principal::Admin(id) => {
                let mut admins = self.admins.write().unwrap_or_else(PoisonError::into_inner);
                if create {
                    return Some(f(admins.entry(id.clone()).or_default()));
                }
                let slot = admins.get_mut(id)?;
                let out = f(slot);
                if slot.conn.is_none() && !slot.persistent {
                    admins.remove(id);
                }
                Some(out)
            }
        }
    }

    /// Makes `conn` the principal's live connection, kicking any previous one (session
    /// takeover). `on_online` runs under the slot's lock. Returns "session present".
    pub(crate) fn attach(
        &self,
        who: &Principal,
        conn: &Arc<ConnHandle>,
        clean_start: bool,
        persistent: bool,
        on_online: impl FnOnce(),
    ) -> bool {
        self.with_slot(who, true, |slot| {
            let had_session = slot.persistent || slot.conn.is_some();
            match slot.conn.replace(conn.clone()) {
                Some(old) => old.kick(crate::encode::DisconnectReason::SessionTakenOver),
                None => {
                    if matches!(who, Principal::Device(_)) {
                        self.online.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            if clean_start {
                slot.subs.clear();
            }
            slot.persistent = persistent;
            on_online();
            had_session && !clean_start
        })
        .unwrap_or(false)
    }

    /// Ends `conn_id`'s tenure of the principal's session, unless another connection has
    /// taken it over. `on_offline` runs under the lock only if this connection was current.
    pub(crate) fn detach(&self, who: &Principal, conn_id: ConnectionId, on_offline: impl FnOnce()) {
        self.with_slot(who, false, |slot| {
            if slot.conn.as_ref().is_some_and(|c| c.id == conn_id) {
                slot.conn = None;
                if matches!(who, Principal::Device(_)) {
                    self.online.fetch_sub(1, Ordering::Relaxed);
                }
                on_offline();
            }
        });
    }

    /// Adds or replaces a subscription; false when the limit is reached or `conn_id` is no
    /// longer the session's connection.
    pub(crate) fn subscribe(
        &self,
        who: &Principal,
        conn_id: ConnectionId,
        sub: &SubFilter,
        max: usize,
    ) -> bool {
        let (filter, templated) = self.stored_filter(who, sub.filter.as_str());
        self.with_slot(who, false, |slot| {
            if slot.conn.as_ref().is_none_or(|c| c.id != conn_id) {
                return false;
            }
            let new = Sub {
                filter,
                templated,
                qos: sub.qos,
                no_local: sub.no_local,
            };
            if let Some(existing) = slot
                .subs
                .iter_mut()
                .find(|s| s.templated == new.templated && s.filter == new.filter)
            {
                *existing = new;
                return true;
            }
            if slot.subs.len() >= max {
                return false;
            }
            slot.subs.push(new);
            true
        })
        .unwrap_or(false)
    }

    pub(crate) fn unsubscribe(&self, who: &Principal, conn_id: ConnectionId, filter: &str) {
        let (filter, templated) = self.stored_filter(who, filter);
        self.with_slot(who, false, |slot| {
            if slot.conn.as_ref().is_some_and(|c| c.id == conn_id) {
                slot.subs
                    .retain(|s| !(s.templated == templated && s.filter == filter));
            }
        });
    }

    /// The live connection of a device.
    pub(crate) fn device_conn(&self, device: &DeviceKey) -> Option<Arc<ConnHandle>> {
        let shard = self.shard(device.product_key.as_str(), device.device_name.as_str());
        shard
            .get(device.product_key.as_str())?
            .get(device.device_name.as_str())?
            .conn
            .clone()
    }

    pub(crate) fn online_count(&self) -> usize {
        self.online.load(Ordering::Relaxed)
    }

    /// Delivers a publish from connection `from` (0 for the server) to every matching
    /// session: the owning device's, if the topic has an owner, and admins'. Returns the
    /// number of connections it was queued for.
    pub(crate) fn route(
        &self,
        from: ConnectionId,
        topic: &str,
        payload: &Bytes,
        qos: QoS,
    ) -> usize {
        let mut message: Option<Arc<Message>> = None;
        let mut make = || {
            message
                .get_or_insert_with(|| Arc::new(Message::new(topic, payload.clone())))
                .clone()
        };
        let mut queued = 0;
        if let Some((pk, dn)) = topic_owner(topic) {
            let shard = self.shard(pk, dn);
            if let Some(slot) = shard.get(pk).and_then(|p| p.get(dn))
                && let Some(conn) = &slot.conn
                && let Some(sub_qos) = slot.deliver_qos(topic, conn.id == from, Some((pk, dn)))
                && conn.offer(Delivery {
                    message: make(),
                    qos: qos.min(sub_qos),
                })
            {
                queued += 1;
            }
        }
        let admins = self.admins.read().unwrap_or_else(PoisonError::into_inner);
        for slot in admins.values() {
            if let Some(conn) = &slot.conn
                && let Some(sub_qos) = slot.deliver_qos(topic, conn.id == from, None)
                && conn.offer(Delivery {
                    message: make(),
                    qos: qos.min(sub_qos),
                })
            {
                queued += 1;
            }
        }
        queued
    }
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
