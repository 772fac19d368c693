//! ota-blob
