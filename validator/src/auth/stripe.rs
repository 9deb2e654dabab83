//! `stripe`: Stripe's webhook signature.
//!
//! `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>..][,v0=..]` where
//! each `v1` is HMAC-SHA256 of `"<t>.<body>"` keyed with the endpoint secret
//! bytes exactly as shown by Stripe (`whsec_...`, not decoded). During a
//! secret roll Stripe sends one `v1` per active secret; any may match. As
//! Stripe's libraries do, `v0` (test-mode SHA-1 scheme) and unknown keys are
//! ignored. Every part must still be `key=value`, `t` must appear exactly
//! once, and every `v1` must be 64 hex digits. Stripe sends no event id
//! header (the id is inside the body), so `event_id` is `None`.

use super::{
    decode_hex_tag, encode_hex_tag, headers, malformed, parse_timestamp, tag_of, timestamp_digits,
    value, Ctx, Fail, Headers, HmacSha256, SignedHeaders, Tag, Verified, MAX_SIGNATURES,
};

/// Signature header.
pub(super) const SIGNATURE_HEADER: &str = super::STRIPE_HEADER;

/// The parsed signature header.
struct Parsed<'r> {
    /// Timestamp digits as received (what was signed).
    t: &'r str,
    /// Their value.
    timestamp_s: i64,
    /// Every `v1` tag.
    tags: heapless::Vec<Tag, MAX_SIGNATURES>,
}

fn parse(value: &str) -> Result<Parsed<'_>, &'static str> {
    if value.is_empty() {
        return Err("header is empty");
    }
    let mut t = None;
    let mut tags = heapless::Vec::new();
    for part in value.split(',') {
        let (key, val) = part
            .split_once('=')
            .ok_or("expected comma-separated key=value pairs")?;
        match key {
            "t" if t.is_some() => return Err("t= appears more than once"),
            "t" => t = Some(val),
            "v1" => {
                let tag = decode_hex_tag(val.as_bytes())?;
                tags.push(tag).map_err(|_| "more than 8 v1 signatures")?;
            }
            // v0 and schemes this gate does not know.
            _ => {}
        }
    }
    let t = t.ok_or("no t= timestamp")?;
    let timestamp_s = parse_timestamp(t.as_bytes())?;
    if tags.is_empty() {
        return Err("no v1 signature");
    }
    Ok(Parsed {
        t,
        timestamp_s,
        tags,
    })
}

/// Verifies `Stripe-Signature` (or the override) over `"<t>.<body>"`, then
/// the timestamp's freshness.
pub(super) fn verify<'r, 'v>(
    ctx: &Ctx<'v>,
    body: &[u8],
    headers: &Headers<'r>,
    now_ms: i64,
) -> Result<Verified<'r>, Fail<'v>> {
    let raw = headers::required(headers, ctx.header)?;
    let p = parse(raw).map_err(|reason| malformed(ctx.header, reason))?;
    if !ctx.any_matches(&[p.t.as_bytes(), b".", body], &p.tags) {
        return Err(Fail::Bad(ctx.header));
    }
    ctx.check_fresh(p.timestamp_s, now_ms)?;
    Ok(Verified {
        event_id: None,
        event_id_signed: false,
        signed_at_s: Some(p.timestamp_s),
    })
}

/// `Stripe-Signature: t=<t>,v1=<hex>`.
pub(super) fn sign(mac: &HmacSha256, body: &[u8], timestamp_s: i64) -> SignedHeaders {
    let t = timestamp_digits(timestamp_s);
    let tag = tag_of(mac, &[t.as_bytes(), b".", body]);
    let mut out = SignedHeaders::new();
    let _ = out.push((
        SIGNATURE_HEADER,
        value(&["t=", t.as_str(), ",v1=", encode_hex_tag(&tag).as_str()]),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::super::{sign, AuthConfig, Scheme, Verifier};

    const SECRET: &[u8] = b"whsec_stripe_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","object":"event"}"#;
    const T: i64 = 1_700_000_123;
    const NOW_MS: i64 = T * 1000 + 500;
    // python3 -c "import hmac,hashlib;print(hmac.new(b'whsec_stripe_test_secret',b'1700000123.'+b'{\"id\":\"evt_1\",\"object\":\"event\"}',hashlib.sha256).hexdigest())"
    const HEX: &str = "7f513c5f888d870b6d6290c3869b7a2c70d6e6d4f1c42479dc9bbbed0a211977";
    const OTHER: &str = "1111111111111111111111111111111111111111111111111111111111111111";

    fn verifier() -> Verifier {
        Verifier::new(&AuthConfig {
            scheme: Scheme::Stripe,
            secrets: &[SECRET],
            ..AuthConfig::default()
        })
        .unwrap()
    }

    fn code(value: &str) -> &'static str {
        match verifier().verify(BODY, &[("Stripe-Signature", value)], NOW_MS) {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn python_vector() {
        let sig = format!("t={T},v1={HEX}");
        let ok = verifier()
            .verify(BODY, &[("stripe-signature", &sig)], NOW_MS)
            .unwrap();
        assert_eq!(ok.event_id, None);
        assert_eq!(ok.signed_at_s, Some(T));
        let signed = sign(Scheme::Stripe, SECRET, BODY, T, "ignored").unwrap();
        assert_eq!(signed.len(), 1);
        assert_eq!(
            (signed[0].0, signed[0].1.as_str()),
            ("Stripe-Signature", sig.as_str())
        );
    }

    #[test]
    fn any_v1_may_match_and_v0_unknown_keys_are_ignored() {
        for value in [
            format!("t={T},v1={OTHER},v1={HEX}"),
            format!("t={T},v1={HEX},v1={OTHER}"),
            format!("v1={HEX},t={T}"),
            format!("t={T},v1={HEX},v0={OTHER}"),
            format!("t={T},v0=not-even-hex,v1={HEX}"),
            format!("t={T},v1={HEX},v2=whatever,x="),
            format!("t={T},v1={}", HEX.to_ascii_uppercase()),
        ] {
            assert_eq!(code(&value), "ok", "{value}");
        }
        // Eight v1 entries are fine, nine are refused.
        let mut eight = format!("t={T}");
        for _ in 0..7 {
            eight.push_str(&format!(",v1={OTHER}"));
        }
        eight.push_str(&format!(",v1={HEX}"));
        assert_eq!(code(&eight), "ok");
        let nine = format!("{eight},v1={OTHER}");
        assert_eq!(code(&nine), "malformed_signature");
    }

    #[test]
    fn malformed_headers() {
        for value in [
            String::new(),
            format!("v1={HEX}"),
            format!("t={T}"),
            format!("t={T},v0={HEX}"),
            format!("t=,v1={HEX}"),
            format!("t=abc,v1={HEX}"),
            format!("t={T},t={T},v1={HEX}"),
            format!("t={T},v1={}", &HEX[..63]),
            format!("t={T},v1={}zz", &HEX[..62]),
            format!("t={T},v1="),
            format!("t={T},v1={HEX},v1=00"),
            format!("t={T},v1={HEX},"),
            format!("t={T},v1={HEX},junk"),
            format!("t={T} ,v1={HEX}"),
        ] {
            assert_eq!(code(&value), "malformed_signature", "{value:?}");
        }
        let none: [(&str, &str); 0] = [];
        assert_eq!(
            verifier().verify(BODY, &none, NOW_MS).unwrap_err().code(),
            "missing_signature"
        );
        let good = format!("t={T},v1={HEX}");
        let err = verifier()
            .verify(
                BODY,
                &[("Stripe-Signature", &good), ("stripe-signature", &good)],
                NOW_MS,
            )
            .unwrap_err();
        assert_eq!(err.code(), "malformed_signature");
        assert_eq!(code(&format!("t={T},v1={OTHER}")), "bad_signature");
    }
}
