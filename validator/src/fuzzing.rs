//! Entry points for the fuzz targets in `fuzz/` (one line each there).
//!
//! Each function feeds arbitrary bytes to one parser and checks the
//! invariants that must hold for any input; a violated invariant panics so
//! the fuzzer reports it. Nothing here is needed in production.

use crate::alert::OrderType;
use crate::auth::{AuthConfig, Scheme, Verifier};
use crate::decimal::Decimal;
use crate::gate::{Config, Gate, Order, Request};
use crate::replay::Slot;

/// The JSON scanner and the alert reader: never panic, an alert that reads
/// must also validate as JSON, and (on hosted targets) the scanner's fast
/// path must read the body exactly as the general scanner does: same
/// result, same error, same values.
pub fn alert_json(data: &[u8]) {
    let parsed = crate::alert::parse(data);
    let valid = crate::json::validate(data);
    if parsed.is_ok() {
        assert!(valid.is_ok(), "alert read from invalid JSON");
    }
    #[cfg(not(target_os = "none"))]
    assert!(
        crate::alert::RawAlert::fast_path_agrees(data),
        "the fast path and the general scanner disagree"
    );
}

/// A `whsec_`-prefixed base64 secret, valid for every signing scheme.
const FUZZ_SECRET: &[u8] = b"whsec_ZnV6ei1zZWNyZXQ=";

/// Signature header parsing for every scheme: never panics, and whatever
/// verifies is bound to the body (one flipped body byte must fail).
///
/// The input is split at the first `\n` into a header value and a body; the
/// value is offered under every scheme's header names. Seeds carry valid
/// signatures (under the fuzz secret) so the fuzzer reaches the match path.
pub fn signature_headers(data: &[u8]) {
    let (value, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(value) = core::str::from_utf8(value) else {
        return;
    };
    let headers = [
        ("X-Webhook-Signature", value),
        ("X-Hub-Signature-256", value),
        ("X-Tradeeon-Signature", value),
        ("Stripe-Signature", value),
        ("webhook-id", "msg_1"),
        ("webhook-timestamp", "1700000000"),
        ("webhook-signature", value),
    ];
    let mut flipped = [0u8; 512];
    for scheme in Scheme::ALL {
        let secrets: &[&[u8]] = match scheme {
            Scheme::None => &[],
            _ => &[FUZZ_SECRET],
        };
        let config = AuthConfig {
            scheme,
            secrets,
            ..AuthConfig::default()
        };
        let Ok(verifier) = Verifier::new(&config) else {
            continue;
        };
        let now = 1_700_000_000_000;
        let accepted = verifier.verify(body, &headers, now).is_ok();
        let signs = !matches!(scheme, Scheme::None | Scheme::Passphrase);
        if accepted && signs && !body.is_empty() && body.len() <= flipped.len() {
            let copy = &mut flipped[..body.len()];
            copy.copy_from_slice(body);
            copy[0] ^= 1;
            assert!(
                verifier.verify(copy, &headers, now).is_err(),
                "{} accepted a signature for another body",
                scheme.name()
            );
        }
    }
}

/// The whole gate on arbitrary headers and body: never panics, and the same
/// request is never accepted twice. Then the body alone under signing
/// schemes, signed here (the fuzzer cannot compute MACs) both right and
/// wrong: the gate must decide exactly as "verify, then check the body as
/// an unsigned gate would".
///
/// Layout: first byte = number of headers (mod 4); then per header a
/// `name\0value\0`; the rest is the body.
pub fn gate_check(data: &[u8]) {
    let mut rest = data;
    let count = rest.first().map_or(0, |n| n % 4) as usize;
    rest = rest.get(1..).unwrap_or(&[]);
    let mut headers: heapless::Vec<(&str, &str), 4> = heapless::Vec::new();
    for _ in 0..count {
        let mut parts = rest.splitn(3, |&b| b == 0);
        let (Some(name), Some(value)) = (parts.next(), parts.next()) else {
            break;
        };
        rest = parts.next().unwrap_or(&[]);
        if let (Ok(n), Ok(v)) = (core::str::from_utf8(name), core::str::from_utf8(value)) {
            let _ = headers.push((n, v));
        }
    }
    let mut gate: Gate<'_, [Slot; 8]> = match Gate::new(Config::default()) {
        Ok(gate) => gate,
        Err(_) => return,
    };
    let request = Request {
        body: rest,
        headers: &headers,
        source_ip: None,
        mark_price: None,
    };
    let now = 1_700_000_000_000;
    if let Ok(order) = gate.check(&request, now) {
        assert!(
            has_its_price(&order),
            "accepted {order:?} without its price"
        );
        assert!(
            order.action.is_place() == order.quantity.is_positive(),
            "accepted {order:?}: a cancel must place nothing, an order something"
        );
        assert!(gate.check(&request, now).is_err(), "accepted a replay");
    }
    signed_gate_decides_as_verify_then_check(rest, now);
}

/// Whether an order has the price its type executes at: a limit its
/// `price`, a stop-loss or take-profit a trigger (`stop_price`, else
/// `price`). The gate refuses others (`missing_price`); the simulator's
/// exchange relies on it.
fn has_its_price(order: &Order) -> bool {
    if !order.action.is_place() {
        // A cancel carries no price, and no order to execute at one.
        return order.price.is_none() && order.stop_price.is_none();
    }
    match order.order_type {
        OrderType::Market => true,
        OrderType::Limit => order.price.is_some(),
        OrderType::StopLoss | OrderType::TakeProfit => order.stop_price.or(order.price).is_some(),
    }
}

/// See [`gate_check`]: `body` signed at `now_ms` under each compiled-in
/// signing scheme, rightly and over another body.
fn signed_gate_decides_as_verify_then_check(body: &[u8], now_ms: i64) {
    // The body's own time when it has one, else the signature's (equal to
    // the clock here), else the clock: the same time with or without a
    // signature.
    let policy = crate::policy::Policy {
        require_timestamp: false,
        ..crate::policy::Policy::default()
    };
    let unsigned = |body: &[u8]| -> Result<(), &'static str> {
        let mut gate: Gate<'_, [Slot; 2]> = Gate::new(Config {
            policy,
            ..Config::default()
        })
        .map_err(|_| "config")?;
        let request = Request {
            body,
            headers: &[],
            source_ip: None,
            mark_price: None,
        };
        gate.check(&request, now_ms)
            .map(|_| ())
            .map_err(|e| e.code())
    };
    let secrets: [&[u8]; 1] = [FUZZ_SECRET];
    for scheme in [
        Scheme::Timestamped,
        Scheme::Github,
        Scheme::StandardWebhooks,
    ] {
        let auth = AuthConfig {
            scheme,
            secrets: &secrets,
            ..AuthConfig::default()
        };
        let Ok(verifier) = Verifier::new(&auth) else {
            continue; // not compiled in
        };
        let mut other = [0u8; 8];
        other[..body.len().min(8)].copy_from_slice(&body[..body.len().min(8)]);
        other[0] ^= 1;
        for signed_over in [body, &other[..]] {
            let Ok(signed) =
                crate::auth::sign(scheme, FUZZ_SECRET, signed_over, now_ms / 1000, "fz")
            else {
                continue;
            };
            let headers: heapless::Vec<(&str, &str), 3> =
                signed.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let reference = match verifier.verify(body, &headers, now_ms) {
                Err(e) => Err(e.code()),
                Ok(_) => unsigned(body),
            };
            let Ok(mut gate) = Gate::<'_, [Slot; 2]>::new(Config {
                auth,
                policy,
                ..Config::default()
            }) else {
                continue;
            };
            let request = Request {
                body,
                headers: &headers,
                source_ip: None,
                mark_price: None,
            };
            let got = gate
                .check(&request, now_ms)
                .map(|_| ())
                .map_err(|e| e.code());
            assert_eq!(got, reference, "{scheme}: the gate decided otherwise");
        }
    }
}

/// Decimal parsing: never panics; whatever parses prints back to itself.
pub fn decimal(data: &[u8]) {
    if let Some(d) = Decimal::parse_bytes(data) {
        let mut buf = heapless::String::<96>::new();
        let _ = core::fmt::write(&mut buf, format_args!("{d}"));
        assert_eq!(Decimal::parse(&buf), Some(d), "display does not round-trip");
    }
}

#[cfg(test)]
mod tests {
    /// The fuzz entry points hold on hand-picked inputs (the fuzz targets
    /// run them on generated ones).
    #[test]
    fn entry_points_hold_on_samples() {
        let bodies: [&[u8]; 12] = [
            br#"{"symbol":"BTCUSDT","side":"cancel","cancel":"e1","timestamp":1700000000000}"#,
            br#"{"symbol":"BTCUSDT","action":"cancel","timestamp":1700000000000}"#,
            br#"{"symbol":"BTCUSDT","action":"cancel","qty":1,"timestamp":1700000000000}"#,
            br#"{"symbol":"BTCUSDT","side":"buy","quantity":"0.5","price":1,"timestamp":1700000000000}"#,
            br#"{"symbol":"BTCUSDT","side":"sell","type":"stop","quantity":"0.5","price":1,"timestamp":1700000000000}"#,
            br#"{"symbol":"BTCUSDT","side":"sell","type":"take_profit","quantity":"0.5","stop_price":2,"timestamp":1700000000000}"#,
            br#"{"symbol":"BTCUSDT","side":"buy","type":"limit","quantity":"0.5","timestamp":1700000000000}"#,
            br#"{"symbol":"BTCUSDT","side":"buy","quantity":"0.5","price":1}"#,
            br#"{"symbol":"BTCUSDT","side":"hold","quantity":1}"#,
            br#"{"symbol":"BTCUSDT","#,
            b"[]",
            b"",
        ];
        for body in bodies {
            let mut data = vec![0u8];
            data.extend_from_slice(body);
            super::gate_check(&data);
            super::alert_json(body);
        }
    }
}
