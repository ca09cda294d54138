//! `DeviceStatus::from_json` on arbitrary bytes (a heartbeat from the status topic): it never
//! panics, and whatever it accepts survives being written out and read back unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use motion_event::DeviceStatus;

fuzz_target!(|data: &[u8]| {
    match DeviceStatus::from_json(data) {
        Ok(status) => {
            let json = status.to_json();
            let again = DeviceStatus::from_json(&json).unwrap_or_else(|err| {
                panic!(
                    "its own JSON does not parse back ({err}): {}",
                    String::from_utf8_lossy(&json)
                )
            });
            assert_eq!(again, status, "the value changed on the way back");
            assert_eq!(again.to_json(), json, "the JSON changed on the way back");
        }
        Err(err) => assert!(!err.to_string().is_empty()),
    }
});
