//! `alertgate venue-emulator` as a real process: it prints `listening on
//! ADDR`, answers Binance's endpoints with the keys from the environment
//! variables named, takes a starting price and a clock offset, and stops
//! cleanly on SIGTERM. Every wait is bounded; nothing leaves 127.0.0.1.

use std::process::Command;

use alertgate_gateway::venue::binance::signed_query;

mod common;
use common::emulator::{self, Emulator};

const KEY: &str = "emulatorTestKey0123456789";
const SECRET: &str = "emulator-test-secret-do-not-use";

/// Starts the emulator with `extra` arguments; its address.
fn start(extra: &[&str]) -> (Emulator, String) {
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        "--key-env",
        "EMU_TEST_KEY",
        "--secret-env",
        "EMU_TEST_SECRET",
    ];
    args.extend_from_slice(extra);
    let emulator = emulator::start(&args, &[("EMU_TEST_KEY", KEY), ("EMU_TEST_SECRET", SECRET)]);
    let addr = format!("127.0.0.1:{}", emulator.port);
    (emulator, addr)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn serves_until_sigterm_with_keys_prices_and_clock_offset() {
    let (mut emulator, addr) = start(&[
        "--kind",
        "binance-usdm",
        "--price",
        "BTCUSDT=50000",
        "--clock-offset-ms",
        "-30000",
    ]);
    let http = reqwest::blocking::Client::new();
    let time: serde_json::Value = http
        .get(format!("http://{addr}/fapi/v1/time"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let offset = time["serverTime"].as_i64().unwrap() - now_ms();
    assert!((-31_000..=-29_000).contains(&offset), "offset {offset}");
    // Signed on the emulator's clock, with the key from the environment.
    let params = [
        ("symbol", "BTCUSDT"),
        ("side", "BUY"),
        ("type", "MARKET"),
        ("quantity", "0.01"),
        ("newClientOrderId", "cli1"),
        ("newOrderRespType", "RESULT"),
    ];
    let query = signed_query(&params, 5000, now_ms() - 30_000, SECRET.as_bytes());
    let r = http
        .post(format!("http://{addr}/fapi/v1/order?{query}"))
        .header("X-MBX-APIKEY", KEY)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let order: serde_json::Value = r.json().unwrap();
    assert_eq!(
        (order["status"].as_str(), order["avgPrice"].as_str()),
        (Some("FILLED"), Some("50000"))
    );
    // On the system clock instead: 30 s ahead of the emulator's.
    let query = signed_query(&params, 5000, now_ms(), SECRET.as_bytes());
    let r = http
        .post(format!("http://{addr}/fapi/v1/order?{query}"))
        .header("X-MBX-APIKEY", KEY)
        .send()
        .unwrap();
    let refused: serde_json::Value = r.json().unwrap();
    assert_eq!(refused["code"], -1021);

    common::stop(&mut emulator.child);
}

#[test]
fn a_missing_key_variable_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_alertgate"))
        .args(["venue-emulator", "--kind", "binance-spot"])
        .args([
            "--key-env",
            "EMU_TEST_UNSET_KEY",
            "--secret-env",
            "EMU_TEST_SECRET",
        ])
        .env_remove("EMU_TEST_UNSET_KEY")
        .env("EMU_TEST_SECRET", SECRET)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("EMU_TEST_UNSET_KEY is not set"), "{stderr}");
    assert!(!stderr.contains(SECRET), "{stderr}");
}
