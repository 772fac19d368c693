//! ota-store
