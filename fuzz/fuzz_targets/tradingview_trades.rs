#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| alertgate_simulator::fuzzing::tradingview_trades(data));
