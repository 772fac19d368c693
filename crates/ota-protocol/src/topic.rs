//! OTA topic names, and which device owns a topic.
//!
//! Ownership is the basis of per-device isolation in the broker: a device may publish only
//! to topics it owns and is delivered only messages on topics it owns. The owner of a topic
//! is decided by its shape alone, so the check is a few string comparisons and needs no
//! lookup. Owned shapes (`{pk}`/`{dn}` are the owner's levels):
//!
//! * `/sys/{pk}/{dn}/…` (at least one more level) — Alink system topics;
//! * `/ota/device/{kind}/{pk}/{dn}` — OTA inform, upgrade, progress, request;
//! * `/shadow/{op}/{pk}/{dn}` — device shadow;
//! * `/ext/{service}/{pk}/{dn}/…` — extended services (NTP, session);
//! * `/{pk}/{dn}/…` — custom topics, unless `{pk}` is one of the reserved first levels
//!   above (or `broadcast`), which keeps the shapes unambiguous.

use std::fmt;

use crate::device::is_topic_segment;
use crate::{DeviceKey, parse_device_key};

/// Which way a topic carries messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Published by the device.
    DeviceToCloud,
    /// Published by the platform.
    CloudToDevice,
}

/// The OTA topics of the device protocol (spec §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TopicKind {
    /// `/ota/device/inform/{pk}/{dn}`: the device reports a module version.
    Inform,
    /// `/ota/device/upgrade/{pk}/{dn}`: the platform pushes a package.
    Upgrade,
    /// `/ota/device/progress/{pk}/{dn}`: the device reports progress or failure.
    Progress,
    /// `/ota/device/request/{pk}/{dn}`: legacy (iotkit v2/v3) pull; the reply comes on the
    /// same topic with the upgrade payload.
    Request,
    /// `/sys/{pk}/{dn}/thing/ota/firmware/get`: the device pulls its pending package.
    FirmwareGet,
    /// `/sys/{pk}/{dn}/thing/ota/firmware/get_reply`: the reply to [`TopicKind::FirmwareGet`].
    FirmwareGetReply,
    /// `/sys/{pk}/{dn}/thing/file/download`: MQTT block download request.
    FileDownload,
    /// `/sys/{pk}/{dn}/thing/file/download_reply`: binary block reply.
    FileDownloadReply,
}

impl TopicKind {
    /// Every kind, for tests and exhaustive tables.
    pub const ALL: [TopicKind; 8] = [
        TopicKind::Inform,
        TopicKind::Upgrade,
        TopicKind::Progress,
        TopicKind::Request,
        TopicKind::FirmwareGet,
        TopicKind::FirmwareGetReply,
        TopicKind::FileDownload,
        TopicKind::FileDownloadReply,
    ];

    /// Who publishes on this topic. The legacy request topic carries both the request and the
    /// reply; it is classed by its request.
    pub fn direction(self) -> Direction {
        match self {
            TopicKind::Inform
            | TopicKind::Progress
            | TopicKind::Request
            | TopicKind::FirmwareGet
            | TopicKind::FileDownload => Direction::DeviceToCloud,
            TopicKind::Upgrade | TopicKind::FirmwareGetReply | TopicKind::FileDownloadReply => {
                Direction::CloudToDevice
            }
        }
    }

    /// The concrete topic of this kind for one device.
    pub fn topic(self, product_key: &str, device_name: &str) -> String {
        let (pk, dn) = (product_key, device_name);
        match self {
            TopicKind::Inform => format!("/ota/device/inform/{pk}/{dn}"),
            TopicKind::Upgrade => format!("/ota/device/upgrade/{pk}/{dn}"),
            TopicKind::Progress => format!("/ota/device/progress/{pk}/{dn}"),
            TopicKind::Request => format!("/ota/device/request/{pk}/{dn}"),
            TopicKind::FirmwareGet => format!("/sys/{pk}/{dn}/thing/ota/firmware/get"),
            TopicKind::FirmwareGetReply => format!("/sys/{pk}/{dn}/thing/ota/firmware/get_reply"),
            TopicKind::FileDownload => format!("/sys/{pk}/{dn}/thing/file/download"),
            TopicKind::FileDownloadReply => format!("/sys/{pk}/{dn}/thing/file/download_reply"),
        }
    }

    /// The kind a device→cloud request is answered on, if the platform answers it.
    pub fn reply_kind(self) -> Option<TopicKind> {
        match self {
            TopicKind::FirmwareGet => Some(TopicKind::FirmwareGetReply),
            TopicKind::FileDownload => Some(TopicKind::FileDownloadReply),
            TopicKind::Request => Some(TopicKind::Request),
            _ => None,
        }
    }
}

/// An OTA topic together with the device it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeviceTopic {
    /// Which OTA topic.
    pub kind: TopicKind,
    /// The owning device.
    pub device: DeviceKey,
}

impl DeviceTopic {
    /// Names the topic of `kind` for `device`.
    pub fn new(kind: TopicKind, device: DeviceKey) -> Self {
        Self { kind, device }
    }

    /// Recognises an OTA topic; `None` for anything else (including wildcard filters).
    pub fn parse(topic: &str) -> Option<DeviceTopic> {
        let levels: Vec<&str> = topic.split('/').collect();
        let (kind, pk, dn) = match levels.as_slice() {
            ["", "ota", "device", kind, pk, dn] => {
                let kind = match *kind {
                    "inform" => TopicKind::Inform,
                    "upgrade" => TopicKind::Upgrade,
                    "progress" => TopicKind::Progress,
                    "request" => TopicKind::Request,
                    _ => return None,
                };
                (kind, *pk, *dn)
            }
            ["", "sys", pk, dn, "thing", "ota", "firmware", "get"] => {
                (TopicKind::FirmwareGet, *pk, *dn)
            }
            ["", "sys", pk, dn, "thing", "ota", "firmware", "get_reply"] => {
                (TopicKind::FirmwareGetReply, *pk, *dn)
            }
            ["", "sys", pk, dn, "thing", "file", "download"] => (TopicKind::FileDownload, *pk, *dn),
            ["", "sys", pk, dn, "thing", "file", "download_reply"] => {
                (TopicKind::FileDownloadReply, *pk, *dn)
            }
            _ => return None,
        };
        let device = parse_device_key(pk, dn).ok()?;
        Some(DeviceTopic { kind, device })
    }

    /// The topic string.
    pub fn topic(&self) -> String {
        self.kind.topic(
            self.device.product_key.as_str(),
            self.device.device_name.as_str(),
        )
    }
}

impl fmt::Display for DeviceTopic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.topic())
    }
}

/// First levels that name a namespace rather than a product key.
const RESERVED_FIRST_LEVELS: [&str; 5] = ["sys", "ota", "ext", "shadow", "broadcast"];

/// The device `(productKey, deviceName)` that owns a concrete topic, if any.
///
/// Topics containing wildcards have no owner. See the module docs for the owned shapes.
pub fn topic_owner(topic: &str) -> Option<(&str, &str)> {
    if topic.contains(['+', '#']) {
        return None;
    }
    let mut levels = topic.split('/');
    if levels.next() != Some("") {
        return None;
    }
    let first = levels.next()?;
    let (pk, dn, more) = match first {
        "sys" => {
            let (pk, dn) = (levels.next()?, levels.next()?);
            levels.next()?;
            (pk, dn, None)
        }
        "ota" => {
            if levels.next()? != "device" {
                return None;
            }
            levels.next()?;
            (levels.next()?, levels.next()?, levels.next())
        }
        "shadow" => {
            levels.next()?;
            (levels.next()?, levels.next()?, levels.next())
        }
        "ext" => {
            levels.next()?;
            let (pk, dn) = (levels.next()?, levels.next()?);
            levels.next()?;
            (pk, dn, None)
        }
        "broadcast" => return None,
        pk => {
            let dn = levels.next()?;
            levels.next()?;
            (pk, dn, None)
        }
    };
    // The fixed-length shapes must end right after the device name.
    if more.is_some() || !is_topic_segment(pk) || !is_topic_segment(dn) {
        return None;
    }
    Some((pk, dn))
}

/// True when the device `(product_key, device_name)` owns `topic`: the publish ACL.
pub fn device_owns_topic(product_key: &str, device_name: &str, topic: &str) -> bool {
    topic_owner(topic) == Some((product_key, device_name))
}

/// True when the subscription `filter` could match a topic owned by some *other* device.
///
/// The broker still accepts such filters (the C Link SDK 4.x subscribes
/// `/ota/device/upgrade/+/+`) but delivers only the subscriber's own topics; this helper lets
/// it log or count them.
pub fn filter_may_match_foreign(product_key: &str, device_name: &str, filter: &str) -> bool {
    SHAPES
        .iter()
        .any(|shape| shape.may_match(filter, Owner::Other(product_key, device_name)))
}

/// True when the subscription `filter` could match a topic owned by this device.
pub fn filter_may_match_owned(product_key: &str, device_name: &str, filter: &str) -> bool {
    SHAPES
        .iter()
        .any(|shape| shape.may_match(filter, Owner::Same(product_key, device_name)))
}

/// One level of an owned shape.
#[derive(Clone, Copy)]
enum Level {
    Lit(&'static str),
    Any,
    /// The product key; for custom topics it must not be a reserved first level.
    Pk {
        custom: bool,
    },
    Dn,
}

/// An owned topic shape: fixed levels, then (if open) any number of further levels.
struct Shape {
    levels: &'static [Level],
    open: bool,
}

use Level::{Any, Dn, Lit, Pk};

const SHAPES: [Shape; 5] = [
    Shape {
        levels: &[Lit(""), Lit("sys"), Pk { custom: false }, Dn, Any],
        open: true,
    },
    Shape {
        levels: &[
            Lit(""),
            Lit("ota"),
            Lit("device"),
            Any,
            Pk { custom: false },
            Dn,
        ],
        open: false,
    },
    Shape {
        levels: &[Lit(""), Lit("shadow"), Any, Pk { custom: false }, Dn],
        open: false,
    },
    Shape {
        levels: &[Lit(""), Lit("ext"), Any, Pk { custom: false }, Dn, Any],
        open: true,
    },
    Shape {
        levels: &[Lit(""), Pk { custom: true }, Dn, Any],
        open: true,
    },
];

#[derive(Clone, Copy)]
enum Owner<'a> {
    Same(&'a str, &'a str),
    Other(&'a str, &'a str),
}

impl Shape {
    /// Can `filter` match a topic of this shape whose owner relates to `owner` as asked?
    fn may_match(&self, filter: &str, owner: Owner<'_>) -> bool {
        // For `Other`: whether a level already lets the owner differ from the given device.
        let mut differs = false;
        let mut owner_levels_seen = 0;
        for (i, f) in filter.split('/').enumerate() {
            if f == "#" {
                // `#` completes the topic freely: any owner is still possible if the owner
                // levels are not fixed yet.
                return match owner {
                    Owner::Same(..) => true,
                    Owner::Other(..) => differs || owner_levels_seen < 2,
                };
            }
            let level = match self.levels.get(i) {
                Some(level) => *level,
                None if self.open => Any,
                None => return false,
            };
            let plus = f == "+";
            match level {
                Lit(lit) => {
                    if !plus && f != lit {
                        return false;
                    }
                }
                Any => {}
                Pk { .. } | Dn => {
                    owner_levels_seen += 1;
                    if !plus {
                        if !is_topic_segment(f) {
                            return false;
                        }
                        if matches!(level, Pk { custom: true })
                            && RESERVED_FIRST_LEVELS.contains(&f)
                        {
                            return false;
                        }
                    }
                    let own = match (owner, level) {
                        (Owner::Same(pk, _) | Owner::Other(pk, _), Pk { .. }) => pk,
                        (Owner::Same(_, dn) | Owner::Other(_, dn), _) => dn,
                    };
                    match owner {
                        Owner::Same(..) if !plus && f != own => return false,
                        Owner::Other(..) if plus || f != own => differs = true,
                        _ => {}
                    }
                }
            }
        }
        let filter_len = filter.split('/').count();
        if filter_len < self.levels.len() {
            return false;
        }
        match owner {
            Owner::Same(..) => true,
            Owner::Other(..) => differs,
        }
    }
}

#[cfg(test)]
#[path = "topic_tests.rs"]
mod tests;
