//! ota-device-sdk
