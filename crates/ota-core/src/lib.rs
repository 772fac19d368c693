//! ota-core
