//! `MotionEvent::from_json` on arbitrary bytes (a Kafka record value, or a row ksqlDB sent):
//! it never panics, whatever it refuses has a message, and whatever it accepts is valid and
//! survives being written out and read back unchanged (the cache and the UI rely on that).

#![no_main]

use libfuzzer_sys::fuzz_target;
use motion_event::MotionEvent;

fuzz_target!(|data: &[u8]| {
    match MotionEvent::from_json(data) {
        Ok(event) => {
            if let Err(err) = event.validate() {
                panic!("accepted an invalid event ({err}): {event:?}");
            }
            let json = event.to_json();
            let again = MotionEvent::from_json(&json).unwrap_or_else(|err| {
                panic!(
                    "its own JSON does not parse back ({err}): {}",
                    String::from_utf8_lossy(&json)
                )
            });
            assert_eq!(again, event, "the value changed on the way back");
            assert_eq!(again.to_json(), json, "the JSON changed on the way back");
        }
        Err(err) => {
            assert!(!err.to_string().is_empty());
            if let Some(field) = err.field_name() {
                assert!(!field.is_empty(), "an empty field name: {err:?}");
            }
        }
    }
});
