#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ota_fuzz::access_policy(data));
