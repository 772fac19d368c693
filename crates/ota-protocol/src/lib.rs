//! ota-protocol
