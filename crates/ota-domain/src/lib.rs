//! ota-domain
