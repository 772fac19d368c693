//! ota-api
