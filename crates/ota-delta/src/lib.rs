//! ota-delta
