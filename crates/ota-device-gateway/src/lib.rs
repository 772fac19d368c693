//! ota-device-gateway
