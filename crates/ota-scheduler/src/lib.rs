//! ota-scheduler
