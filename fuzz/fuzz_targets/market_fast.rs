#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| alertgate_simulator::fuzzing::market_fast(data));
