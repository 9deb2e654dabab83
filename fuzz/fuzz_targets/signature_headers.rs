#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| alertgate_validator::fuzzing::signature_headers(data));
