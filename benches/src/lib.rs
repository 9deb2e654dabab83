//! Shared fixtures for the criterion benches and the footprint firmware.
//!
//! The sample alert is the seed handler's example payload with a price and an
//! event id: 203 bytes, the size every `*/203B` bench is stated against.

/// The sample alert body (203 bytes).
pub const SAMPLE_ALERT: &[u8] = br#"{"symbol":"BTC/USDT","side":"buy","order_type":"market","quantity":0.1,"price":67500.0,"confidence":0.85,"stop_loss":66000.0,"take_profit":69000.0,"timestamp":1699113600000,"event_id":"sma-x:1699113600"}"#;

/// The sample alert's timestamp, Unix ms.
pub const SAMPLE_TIME_MS: i64 = 1_699_113_600_000;

/// The secret the benches sign with.
pub const SECRET: &[u8] = b"bench-secret-0123456789abcdef";

#[cfg(test)]
mod tests {
    #[test]
    fn sample_alert_is_203_bytes_and_accepted() {
        assert_eq!(super::SAMPLE_ALERT.len(), 203);
        let fields = alertgate_validator::alert::parse(super::SAMPLE_ALERT).unwrap();
        assert_eq!(fields.timestamp_ms, Some(super::SAMPLE_TIME_MS));
    }
}
