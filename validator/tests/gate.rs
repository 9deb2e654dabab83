//! The gate end to end: every rejection code is reachable, checks run in the
//! documented order, and state changes only on acceptance.

use std::net::{IpAddr, Ipv4Addr};

use alertgate_validator::auth::{sign, AuthConfig, Scheme};
use alertgate_validator::net::{Cidr, TRADINGVIEW};
use alertgate_validator::replay::{Slot, Storage};
use alertgate_validator::{
    Config, Decimal, Gate, Network, Policy, RateConfig, Rejection, Replay, Request,
};

const NOW: i64 = 1_700_000_000_000;
const SECRET: &[u8] = b"gate-test-secret";

fn alert(extra: &str) -> String {
    let mut s = format!(r#"{{"symbol":"BTCUSDT","side":"buy","quantity":"0.5","timestamp":{NOW}"#);
    if !extra.is_empty() {
        s.push(',');
        s.push_str(extra);
    }
    s.push('}');
    s
}

fn signed(body: &str, ts_s: i64, id: &str) -> Vec<(String, String)> {
    sign(Scheme::Timestamped, SECRET, body.as_bytes(), ts_s, id)
        .unwrap()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn check<S: Storage>(
    gate: &mut Gate<'_, S>,
    body: &str,
    headers: &[(String, String)],
    ip: Option<IpAddr>,
    now: i64,
) -> Result<alertgate_validator::Order, Rejection> {
    let h: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    gate.check(
        &Request {
            body: body.as_bytes(),
            headers: &h,
            source_ip: ip,
            mark_price: None,
        },
        now,
    )
}

fn code<T>(r: Result<T, Rejection>) -> &'static str {
    match r {
        Ok(_) => "accepted",
        Err(e) => e.code(),
    }
}

/// A gate with the `timestamped` scheme under [`SECRET`] and default
/// limits.
fn timestamped_gate() -> Gate<'static, [Slot; 8]> {
    const SECRETS: &[&[u8]] = &[SECRET];
    Gate::new(Config {
        auth: AuthConfig {
            scheme: Scheme::Timestamped,
            secrets: SECRETS,
            ..AuthConfig::default()
        },
        ..Config::default()
    })
    .unwrap()
}

fn strict_config<'a>(secrets: &'a [&'a [u8]], allow: &'a [Cidr]) -> Config<'a> {
    Config {
        auth: AuthConfig {
            scheme: Scheme::Timestamped,
            secrets,
            ..AuthConfig::default()
        },
        policy: Policy {
            max_quantity: Decimal::parse("1"),
            symbols: &["BTC/USDT"],
            max_order_value: Decimal::parse("50000"),
            // These alerts are market orders with a price and no mark: the
            // checks' order is under test here, not how orders are valued
            // (see `policy`'s tests and `check_cli`).
            trust_alert_prices: true,
            ..Policy::default()
        },
        network: Network {
            allowlist: allow,
            max_body_bytes: 512,
        },
        replay: Replay::default(),
        rate: RateConfig {
            burst: 2,
            per_second: 1,
        },
    }
}

#[test]
fn every_check_in_order() {
    let secrets: [&[u8]; 1] = [SECRET];
    let allow = TRADINGVIEW;
    let mut gate: Gate<'_, [Slot; 2]> = Gate::new(strict_config(&secrets, &allow)).unwrap();
    let tv = Some(IpAddr::V4(Ipv4Addr::new(52, 89, 214, 238)));
    let other = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
    let ok = alert(r#""price":100"#);
    let sig = signed(&ok, NOW / 1000, "evt-1");

    // 1. address before anything else, even a bad body.
    assert_eq!(
        code(check(&mut gate, "junk", &[], other, NOW)),
        "ip_not_allowed"
    );
    assert_eq!(
        code(check(&mut gate, &ok, &sig, None, NOW)),
        "ip_not_allowed"
    );
    // 2. size before signature.
    let big = "x".repeat(513);
    assert_eq!(code(check(&mut gate, &big, &[], tv, NOW)), "body_too_large");
    // 3. signature before JSON.
    assert_eq!(
        code(check(&mut gate, "junk", &[], tv, NOW)),
        "missing_signature"
    );
    let junk_sig = vec![(
        "X-Tradeeon-Signature".to_string(),
        "t=1700000000".to_string(),
    )];
    assert_eq!(
        code(check(&mut gate, "junk", &junk_sig, tv, NOW)),
        "malformed_signature"
    );
    assert_eq!(
        code(check(&mut gate, "junk", &sig, tv, NOW)),
        "bad_signature"
    );
    let old = signed("junk", NOW / 1000 - 301, "x");
    assert_eq!(
        code(check(&mut gate, "junk", &old, tv, NOW)),
        "signature_expired"
    );
    // 4. JSON, then fields, then policy.
    let cases: &[(&str, &str)] = &[
        ("{", "invalid_json"),
        ("[1]", "not_an_object"),
        (r#"{"symbol":"A","symbol":"B"}"#, "duplicate_field"),
        (r#"{"side":"buy"}"#, "missing_field"),
        (
            r#"{"symbol":"BTCUSDT","side":"hold","quantity":1}"#,
            "invalid_field",
        ),
        (
            r#"{"symbol":"BTCUSDT","side":"buy","quantity":1,"order_type":"limit"}"#,
            "missing_price",
        ),
    ];
    for (body, expected) in cases {
        let h = signed(body, NOW / 1000, "x");
        assert_eq!(
            code(check(&mut gate, body, &h, tv, NOW)),
            *expected,
            "{body}"
        );
    }
    let policy_cases: &[(&str, &str)] = &[
        (r#""price":100,"confidence":0.1"#, "below_confidence"),
        (r#""price":100,"qty":2"#, "duplicate_field"),
        (r#""price":100,"symbol":"ETHUSDT""#, "duplicate_field"),
        (r#""price":100001"#, "order_value_too_large"),
        ("", "unpriced_order"),
        (r#""price":100,"stop_loss":101"#, "inverted_bracket"),
    ];
    for (extra, expected) in policy_cases {
        let body = alert(extra);
        let h = signed(&body, NOW / 1000, "x");
        assert_eq!(
            code(check(&mut gate, &body, &h, tv, NOW)),
            *expected,
            "{body}"
        );
    }
    let big_qty =
        r#"{"symbol":"BTCUSDT","side":"buy","quantity":"1.5","price":1,"timestamp":1700000000000}"#;
    let h = signed(big_qty, NOW / 1000, "x");
    assert_eq!(
        code(check(&mut gate, big_qty, &h, tv, NOW)),
        "quantity_too_large"
    );
    let eth =
        r#"{"symbol":"ETHUSDT","side":"buy","quantity":"0.5","price":1,"timestamp":1700000000000}"#;
    let h = signed(eth, NOW / 1000, "x");
    assert_eq!(
        code(check(&mut gate, eth, &h, tv, NOW)),
        "symbol_not_allowed"
    );
    // Staleness is judged on the body's timestamp.
    let stale =
        r#"{"symbol":"BTCUSDT","side":"buy","quantity":"0.5","price":1,"timestamp":1699999000000}"#;
    let h = signed(stale, NOW / 1000, "x");
    assert_eq!(code(check(&mut gate, stale, &h, tv, NOW)), "stale");
    let future =
        r#"{"symbol":"BTCUSDT","side":"buy","quantity":"0.5","price":1,"timestamp":1700000100000}"#;
    let h = signed(future, NOW / 1000, "x");
    assert_eq!(code(check(&mut gate, future, &h, tv, NOW)), "from_future");

    // None of the rejections above spent a token or a replay slot.
    assert_eq!(gate.replay_live(NOW), 0);
    let order = check(&mut gate, &ok, &sig, tv, NOW).unwrap();
    assert_eq!(order.event_id.as_str(), "evt-1");
    assert_eq!(order.symbol.as_str(), "BTC/USDT");
    assert_eq!(code(check(&mut gate, &ok, &sig, tv, NOW)), "replayed");
    // Burst 2: a second distinct event passes, the third is rate limited
    // (and a rate-limited event is not remembered).
    // The id header is not signed: a captured request resent under a new id
    // is still the same signed content, hence a replay.
    let renamed = signed(&ok, NOW / 1000, "evt-1-renamed");
    assert_eq!(code(check(&mut gate, &ok, &renamed, tv, NOW)), "replayed");
    let ok2 = alert(r#""price":101"#);
    let ok3 = alert(r#""price":102"#);
    let sig2 = signed(&ok2, NOW / 1000, "evt-2");
    let sig3 = signed(&ok3, NOW / 1000, "evt-3");
    assert_eq!(code(check(&mut gate, &ok2, &sig2, tv, NOW)), "accepted");
    assert_eq!(code(check(&mut gate, &ok3, &sig3, tv, NOW)), "rate_limited");
    // One second later there is a token, but the guard (capacity 2) is full
    // of live entries: fail closed, and the token is not spent.
    assert_eq!(
        code(check(&mut gate, &ok3, &sig3, tv, NOW + 1000)),
        "replay_cache_full"
    );
    // Once the window (max_age, 300 s) has passed, entries expire.
    let later = NOW + 300_001;
    let fresh = alert(r#""price":100"#).replace(&NOW.to_string(), &later.to_string());
    let h = signed(&fresh, later / 1000, "evt-1");
    assert_eq!(code(check(&mut gate, &fresh, &h, tv, later)), "accepted");
}

#[test]
fn event_id_sources() {
    let mut gate: Gate<'_, [Slot; 8]> = Gate::new(Config::default()).unwrap();
    let with_id = alert(r#""event_id":"body-id""#);
    assert_eq!(
        check(&mut gate, &with_id, &[], None, NOW)
            .unwrap()
            .event_id
            .as_str(),
        "body-id"
    );
    let plain = alert("");
    let order = check(&mut gate, &plain, &[], None, NOW).unwrap();
    assert!(order.event_id.starts_with("sha256:") && order.event_id.len() == 39);
    // The same body again is a replay even without an id.
    assert_eq!(code(check(&mut gate, &plain, &[], None, NOW)), "replayed");
    // A different body (other whitespace) is a different event.
    let spaced = plain.replace(',', ", ");
    assert_eq!(code(check(&mut gate, &spaced, &[], None, NOW)), "accepted");
}

#[test]
fn timestamp_falls_back_to_the_signature() {
    let mut gate = timestamped_gate();
    let body = r#"{"symbol":"BTCUSDT","side":"buy","quantity":1}"#;
    let h = signed(body, NOW / 1000 - 10, "a");
    let order = check(&mut gate, body, &h, None, NOW).unwrap();
    assert_eq!(order.timestamp_ms, NOW - 10_000);

    let mut open: Gate<'_, [Slot; 8]> = Gate::new(Config::default()).unwrap();
    assert_eq!(
        code(check(&mut open, body, &[], None, NOW)),
        "missing_field"
    );
    let lax = Config {
        policy: Policy {
            require_timestamp: false,
            ..Policy::default()
        },
        ..Config::default()
    };
    let mut lax: Gate<'_, [Slot; 8]> = Gate::new(lax).unwrap();
    assert_eq!(
        check(&mut lax, body, &[], None, NOW).unwrap().timestamp_ms,
        NOW
    );
}

#[cfg(feature = "scheme-passphrase")]
#[test]
fn passphrase_is_checked_before_fields() {
    let secrets: [&[u8]; 2] = [b"old-phrase", b"new-phrase"];
    let config = Config {
        auth: AuthConfig {
            scheme: Scheme::Passphrase,
            secrets: &secrets,
            ..AuthConfig::default()
        },
        ..Config::default()
    };
    let mut gate: Gate<'_, [Slot; 8]> = Gate::new(config).unwrap();
    assert_eq!(
        code(check(&mut gate, r#"{"side":"x"}"#, &[], None, NOW)),
        "missing_signature"
    );
    assert_eq!(
        code(check(
            &mut gate,
            r#"{"side":"x","passphrase":"guess"}"#,
            &[],
            None,
            NOW
        )),
        "bad_signature"
    );
    assert_eq!(
        code(check(
            &mut gate,
            r#"{"side":"x","passphrase":"new-phrase"}"#,
            &[],
            None,
            NOW
        )),
        "missing_field"
    );
    let good = alert(r#""passphrase":"old-phrase""#);
    assert_eq!(code(check(&mut gate, &good, &[], None, NOW)), "accepted");
}

#[test]
fn gate_fits_the_footprint_budget() {
    let size = std::mem::size_of::<Gate<'static, [Slot; 64]>>();
    println!("size_of::<Gate<[Slot; 64]>>() = {size} bytes");
    assert!(size <= 4096, "Gate<[Slot; 64]> is {size} bytes");
    // With its slots on the heap the gate itself is small, whatever the
    // capacity.
    let boxed = std::mem::size_of::<Gate<'static, Box<[Slot]>>>();
    assert!(boxed <= 1024, "Gate<Box<[Slot]>> is {boxed} bytes");
}

#[test]
fn an_empty_replay_storage_is_refused() {
    let refused = |r: Result<(), alertgate_validator::ConfigError>| match r {
        Err(alertgate_validator::ConfigError::InvalidValue { setting, expected }) => {
            assert_eq!((setting, expected), ("replay capacity", "at least 1"));
        }
        other => panic!("{other:?}"),
    };
    refused(Gate::<'_, [Slot; 0]>::new(Config::default()).map(drop));
    let empty: Box<[Slot]> = Box::new([]);
    refused(Gate::with_replay_storage(Config::default(), empty).map(drop));
    refused(Gate::with_replay_storage(Config::default(), &mut [][..]).map(drop));
    assert!(Gate::<'_, [Slot; 1]>::new(Config::default()).is_ok());
}

/// A gate over a million boxed slots (24 MiB) is built and used from an
/// ordinary test thread: the slots never touch its stack.
#[test]
fn a_gate_with_a_million_boxed_slots_needs_no_big_stack() {
    let slots = vec![Slot::EMPTY; 1 << 20].into_boxed_slice();
    let config = Config {
        rate: RateConfig::UNLIMITED,
        ..Config::default()
    };
    let mut gate = Gate::with_replay_storage(config, slots).unwrap();
    assert_eq!(gate.replay_capacity(), 1 << 20);
    for i in 0..1_000 {
        let body = alert(&format!(r#""event_id":"evt-{i}""#));
        assert_eq!(code(check(&mut gate, &body, &[], None, NOW)), "accepted");
    }
    let again = alert(r#""event_id":"evt-7""#);
    assert_eq!(
        code(check(&mut gate, &again, &[], None, NOW + 1)),
        "replayed"
    );
    assert_eq!(gate.replay_live(NOW + 1), 1_000);
}

#[test]
fn unsigned_id_headers_do_not_defeat_the_replay_guard() {
    let mut gate = timestamped_gate();
    let body = alert(r#""event_id":"strategy-7""#);
    let first = check(
        &mut gate,
        &body,
        &signed(&body, NOW / 1000, "hdr-1"),
        None,
        NOW,
    )
    .unwrap();
    // The order carries the sender's id; the guard remembers the signed one.
    assert_eq!(first.event_id.as_str(), "hdr-1");
    assert_eq!(first.replay_key.as_str(), "strategy-7");
    // Same signed content, new id header (an attacker's edit, or a retry
    // re-signed with a fresh timestamp): a replay either way.
    let edited = signed(&body, NOW / 1000, "hdr-2");
    assert_eq!(
        code(check(&mut gate, &body, &edited, None, NOW)),
        "replayed"
    );
    let resigned = signed(&body, NOW / 1000 + 5, "hdr-1");
    assert_eq!(
        code(check(&mut gate, &body, &resigned, None, NOW + 5000)),
        "replayed"
    );
}

/// A captured request whose signature time is 59 s ahead, replayed after
/// the window but while its time is still fresh, is a replay (issue 9).
#[test]
fn a_captured_request_is_a_replay_while_its_signed_time_is_fresh() {
    let mut gate = timestamped_gate();
    // No body time: the alert's time is the signature's.
    let body = r#"{"symbol":"BTCUSDT","side":"buy","quantity":"0.1","event_id":"evt-1"}"#;
    let headers = signed(body, NOW / 1000 + 59, "evt-1");
    assert_eq!(
        code(check(&mut gate, body, &headers, None, NOW)),
        "accepted"
    );
    for later in [300_500, 330_000, 359_000] {
        assert_eq!(
            code(check(&mut gate, body, &headers, None, NOW + later)),
            "replayed",
            "+{later} ms"
        );
    }
}

/// An empty id header is no id: refused naming the header, so two alerts
/// sent with it can never share one event (issue 9).
#[test]
fn an_empty_id_header_is_refused() {
    let mut gate = timestamped_gate();
    for qty in ["0.1", "0.2"] {
        let body = alert(&format!(r#""qty_note":"{qty}""#));
        let mut headers = signed(&body, NOW / 1000, "");
        headers.push(("X-Tradeeon-EventId".into(), String::new()));
        let err = check(&mut gate, &body, &headers, None, NOW).unwrap_err();
        assert_eq!(err.code(), "invalid_field");
        assert!(err.to_string().contains("X-Tradeeon-EventId"), "{err}");
    }
    assert_eq!(gate.replay_live(NOW), 0);
}

/// Under every signing scheme, with rotated secrets, the gate decides as
/// "verify, then check the body as an unsigned gate would": a signature
/// failure comes before anything the body check finds, a body without a
/// time takes the signature's, and whichever secret matched, the body is
/// judged alike.
#[test]
fn signed_gate_decides_as_verify_then_check() {
    use alertgate_validator::auth::Verifier;
    let schemes = [
        Scheme::HexBody,
        Scheme::Github,
        Scheme::Timestamped,
        Scheme::Stripe,
        Scheme::StandardWebhooks,
    ];
    let secret = |scheme: Scheme, n: usize| -> Vec<u8> {
        match (scheme, n) {
            (Scheme::StandardWebhooks, 0) => b"whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD".to_vec(),
            (Scheme::StandardWebhooks, 1) => b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_vec(),
            (Scheme::StandardWebhooks, _) => b"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_vec(),
            (_, n) => format!("secret-{n}").into_bytes(),
        }
    };
    let no_ts = r#"{"symbol":"BTCUSDT","side":"buy","quantity":"0.5","price":100}"#.to_string();
    let bodies = [
        alert(r#""price":100"#),
        alert(r#""price":100,"confidence":0.1"#),
        alert(r#""price":100,"stop_loss":101"#),
        alert("").replace(&NOW.to_string(), &(NOW - 400_000).to_string()),
        r#"{"symbol":"BTCUSDT","side":"hold","quantity":1}"#.to_string(),
        r#"{"symbol":"BTCUSDT","side":"buy","quantity":1,"#.to_string(),
        r#"{"symbol":"BTCUSDT","symbol":"BTCUSDT"}"#.to_string(),
        "[1]".to_string(),
        no_ts.clone(),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for scheme in schemes.into_iter().filter(|s| s.is_compiled_in()) {
        let secrets: Vec<Vec<u8>> = (0..2).map(|n| secret(scheme, n)).collect();
        let refs: Vec<&[u8]> = secrets.iter().map(Vec::as_slice).collect();
        let auth = AuthConfig {
            scheme,
            secrets: &refs,
            ..AuthConfig::default()
        };
        let policy = Policy {
            symbols: &["BTC/USDT"],
            ..Policy::default()
        };
        let verifier = Verifier::new(&auth).unwrap();
        for body in &bodies {
            // Signed with the first secret, the second (rotation), an unknown
            // one, and too long ago.
            for (signer, at_s) in [
                (0, NOW / 1000),
                (1, NOW / 1000),
                (2, NOW / 1000),
                (0, NOW / 1000 - 301),
            ] {
                let key = secret(scheme, signer);
                let headers: Vec<(String, String)> =
                    sign(scheme, &key, body.as_bytes(), at_s, "evt")
                        .unwrap()
                        .iter()
                        .map(|(n, v)| (n.to_string(), v.to_string()))
                        .collect();
                let h: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                let config = Config {
                    auth,
                    policy,
                    ..Config::default()
                };
                let mut gate: Gate<'_, [Slot; 4]> = Gate::new(config).unwrap();
                let got = code(check(&mut gate, body, &headers, None, NOW));
                let expected = match verifier.verify(body.as_bytes(), &h, NOW) {
                    Err(e) => e.code(),
                    Ok(verified) => {
                        // The same body unsigned; a body without a time
                        // takes the signature's.
                        let body = match verified.signed_at_s {
                            Some(s) if *body == no_ts => {
                                no_ts.replace('}', &format!(r#","timestamp":{}}}"#, s * 1000))
                            }
                            _ => body.clone(),
                        };
                        let mut unsigned: Gate<'_, [Slot; 4]> = Gate::new(Config {
                            policy,
                            ..Config::default()
                        })
                        .unwrap();
                        code(check(&mut unsigned, &body, &[], None, NOW))
                    }
                };
                assert_eq!(got, expected, "{scheme} signer {signer} at {at_s}: {body}");
                seen.insert(got);
            }
        }
    }
    // The cases reach every kind of outcome (a body without a time is
    // refused only under the schemes whose signature carries none).
    if Scheme::Github.is_compiled_in() || Scheme::HexBody.is_compiled_in() {
        assert!(seen.contains("missing_field"), "{seen:?}");
    }
    for outcome in [
        "accepted",
        "bad_signature",
        "signature_expired",
        "below_confidence",
        "inverted_bracket",
        "stale",
        "invalid_field",
        "invalid_json",
        "duplicate_field",
        "not_an_object",
    ] {
        assert!(seen.contains(outcome), "{outcome} not reached: {seen:?}");
    }
}
