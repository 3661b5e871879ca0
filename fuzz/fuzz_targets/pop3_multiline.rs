#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mailtalk_fuzz::check_pop3_multiline(data));
