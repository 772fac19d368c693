//! The device-list CSV of a static batch (`DnListFileUrl`, the console's device import).

use ota_domain::validate::{MAX_DEVICE_LIST_NAMES, parse_device_list_csv, target_device_names};
use std::collections::BTreeSet;

/// Input: the uploaded file. The server reads it as UTF-8 and refuses anything else.
pub fn device_list_csv(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(names) = parse_device_list_csv(text) else {
        return;
    };
    assert!(!names.is_empty() && names.len() <= MAX_DEVICE_LIST_NAMES);
    let mut seen = BTreeSet::new();
    for name in &names {
        assert!(!name.is_empty(), "empty name accepted");
        assert_eq!(name, name.trim(), "untrimmed name {name:?}");
        assert!(!name.contains(','), "name with a comma {name:?}");
        assert!(!name.contains('\n'), "name across lines {name:?}");
        assert!(seen.insert(name), "duplicate name {name:?}");
    }
    // What the list feeds must accept it: the batch's target-device rule.
    target_device_names(names, MAX_DEVICE_LIST_NAMES).expect("a parsed list is a valid target");
}
