//! Shared fixtures for the criterion benches and the footprint firmware.
//!
//! The sample alert is the seed handler's example payload with a price and an
//! event id: 203 bytes, the size every `*/203B` bench is stated against.
#![forbid(unsafe_code)]

/// The sample alert body (203 bytes).
pub const SAMPLE_ALERT: &[u8] = br#"{"symbol":"BTC/USDT","side":"buy","order_type":"market","quantity":0.1,"price":67500.0,"confidence":0.85,"stop_loss":66000.0,"take_profit":69000.0,"timestamp":1699113600000,"event_id":"sma-x:1699113600"}"#;

/// The sample alert's timestamp, Unix ms.
pub const SAMPLE_TIME_MS: i64 = 1_699_113_600_000;

/// The secret the benches sign with.
pub const SECRET: &[u8] = b"bench-secret-0123456789abcdef";

/// `n` distinct alerts of the sample's exact size: the sample with its
/// event id rewritten by a counter of the same width, so that every check
/// of them is a full accept and the replay guard does real work.
pub fn distinct_alerts(n: usize) -> Vec<String> {
    let sample = std::str::from_utf8(SAMPLE_ALERT).expect("the sample is UTF-8");
    (0..n)
        .map(|i| sample.replace("sma-x:1699113600", &format!("sma-x:{i:010}")))
        .collect()
}

/// The `X-Tradeeon-Signature` value of `body` (timestamped scheme, key
/// [`SECRET`], signed at the sample's time).
pub fn timestamped_signature(body: &[u8]) -> String {
    use alertgate_validator::auth::{sign, Scheme};
    let signed = sign(Scheme::Timestamped, SECRET, body, SAMPLE_TIME_MS / 1000, "")
        .expect("the timestamped scheme signs");
    signed[0].1.to_string()
}

/// The gate configuration of the `gate_*` benches: `scheme` (`none` or
/// `timestamped`, keyed with [`SECRET`]), default policy, and no rate limit,
/// so that every check of [`distinct_alerts`] is a full accept.
pub fn gate_config(
    scheme: alertgate_validator::auth::Scheme,
) -> alertgate_validator::Config<'static> {
    use alertgate_validator::auth::{AuthConfig, Scheme};
    use alertgate_validator::{Config, RateConfig};
    let secrets: &'static [&'static [u8]] = if scheme == Scheme::None {
        &[]
    } else {
        &[SECRET]
    };
    Config {
        auth: AuthConfig {
            scheme,
            secrets,
            ..AuthConfig::default()
        },
        rate: RateConfig::UNLIMITED,
        ..Config::default()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sample_alert_is_203_bytes_and_accepted() {
        assert_eq!(super::SAMPLE_ALERT.len(), 203);
        let fields = alertgate_validator::alert::parse(super::SAMPLE_ALERT).unwrap();
        assert_eq!(fields.timestamp_ms, Some(super::SAMPLE_TIME_MS));
    }

    #[test]
    fn distinct_alerts_keep_the_sample_size_and_differ() {
        let alerts = super::distinct_alerts(3);
        assert!(alerts.iter().all(|a| a.len() == super::SAMPLE_ALERT.len()));
        assert!(alerts[0] != alerts[1] && alerts[1] != alerts[2]);
        assert!(super::timestamped_signature(alerts[0].as_bytes()).starts_with("t=1699113600,s="));
    }
}
