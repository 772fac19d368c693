//! Fuzz targets for every decoder of outside input, one function per target.
//!
//! Why a library: the libFuzzer binaries in `fuzz_targets/` (nightly, `cargo fuzz`) are thin
//! wrappers around these functions, so the stable test `tests/replay.rs` replays every
//! corpus file and every saved crash through the very same code in CI, without nightly.
//! `run-all.sh` runs the fuzzers themselves. See `docs/reliability.md` ("Fuzzing") for the
//! figures.
//!
//! Each function takes the raw input, shapes it into what the decoder reads (documented on
//! the function), and panics only when a decoder panics or breaks a property the platform
//! relies on.

mod access;
mod aliyun;
mod api;
mod app;
mod csv;
mod delta;
mod mqtt;
mod protocol;

pub use access::access_policy;
pub use aliyun::aliyun_params;
pub use api::{aliyun_rpc, native_api, oss_post_object};
pub use csv::device_list_csv;
pub use delta::{delta_apply, delta_header};
pub use mqtt::{NEXT_CONNECTION, SIGN_PLACEHOLDER, broker_session, mqtt_codec};
pub use protocol::{block_reply, connect_auth, device_message, manifest, ota_topic, upgrade_push};

/// A fuzz target: a name (its `fuzz_targets/<name>.rs` binary and `corpus/<name>/` folder)
/// and the function the binary calls.
pub type Target = (&'static str, fn(&[u8]));

/// Every target, in the order `run-all.sh` runs them.
pub const TARGETS: &[Target] = &[
    ("mqtt_codec", mqtt_codec),
    ("broker_session", broker_session),
    ("ota_topic", ota_topic),
    ("connect_auth", connect_auth),
    ("device_message", device_message),
    ("upgrade_push", upgrade_push),
    ("block_reply", block_reply),
    ("manifest", manifest),
    ("aliyun_params", aliyun_params),
    ("aliyun_rpc", aliyun_rpc),
    ("native_api", native_api),
    ("device_list_csv", device_list_csv),
    ("oss_post_object", oss_post_object),
    ("delta_header", delta_header),
    ("delta_apply", delta_apply),
    ("access_policy", access_policy),
];
