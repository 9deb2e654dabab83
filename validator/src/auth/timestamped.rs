//! `timestamped`: this project's own signed, timestamped layout.
//!
//! `X-Tradeeon-Signature: t=<unix seconds>,s=<hex HMAC-SHA256(secret, "<t>.<body>")>`
//! and the event id in `X-Tradeeon-EventId`. Since we define the format, it
//! is parsed strictly: exactly one `t` and one `s`, in either order, no
//! other keys, no spaces. It carries no list of signatures (unlike
//! `stripe`'s several `v1`), so nothing is skipped: an `s` that is not 64
//! hex digits, or a second `s`, makes the header malformed. The event id is
//! not signed; the timestamp bounds how long a captured request can be
//! replayed with a fresh id.

use super::{
    decode_hex_tag, encode_hex_tag, headers, malformed, parse_timestamp, tag_of, timestamp_digits,
    value, Ctx, Fail, Headers, HmacSha256, SignedHeaders, Tag, Verified,
};

/// Signature header.
pub(super) const SIGNATURE_HEADER: &str = super::TIMESTAMPED_HEADER;
/// Event-id header.
pub(super) const ID_HEADER: &str = "X-Tradeeon-EventId";

/// The parsed signature header.
struct Parsed<'r> {
    /// Timestamp digits as received (what was signed).
    t: &'r [u8],
    /// Their value.
    timestamp_s: i64,
    /// The presented tag.
    tag: Tag,
}

/// What a header that is empty, lacks `t=` or `s=`, or has a part without
/// `=` is told (one message: it says what is allowed, and one string is
/// less flash than four).
const FORM: &str = "expected t=<unix seconds>,s=<hex>";

fn parse(value: &str) -> Result<Parsed<'_>, &'static str> {
    let mut t = None;
    let mut s = None;
    // `value.split(',')` and `split_once('=')` over bytes, by hand: `str`'s
    // pattern searchers link a `memchr` and an iterator's worth of code on a
    // Cortex-M. What is split out is only read as bytes.
    let mut rest = value.as_bytes();
    loop {
        let (part, next) = match super::find_byte(rest, b',') {
            Some(comma) => (&rest[..comma], Some(&rest[comma + 1..])),
            None => (rest, None),
        };
        let eq = part.iter().position(|&b| b == b'=').ok_or(FORM)?;
        let slot = match &part[..eq] {
            b"t" => &mut t,
            b"s" => &mut s,
            _ => return Err("unknown key; expected only t= and s="),
        };
        if slot.replace(&part[eq + 1..]).is_some() {
            return Err("key appears more than once");
        }
        match next {
            Some(next) => rest = next,
            None => break,
        }
    }
    let (Some(t), Some(s)) = (t, s) else {
        return Err(FORM);
    };
    let timestamp_s = parse_timestamp(t)?;
    let tag = decode_hex_tag(s)?;
    Ok(Parsed {
        t,
        timestamp_s,
        tag,
    })
}

/// Verifies `X-Tradeeon-Signature` (or the override) over `"<t>.<body>"`,
/// then the timestamp's freshness.
pub(super) fn verify<'r, 'v>(
    ctx: &Ctx<'v>,
    body: &[u8],
    headers: &Headers<'r>,
    now_ms: i64,
) -> Result<Verified<'r>, Fail<'v>> {
    let raw = headers::required(headers, ctx.header)?;
    let event_id = headers::unique(headers, ID_HEADER)?;
    let p = parse(raw).map_err(|reason| malformed(ctx.header, reason))?;
    if !ctx.any_matches(&[p.t, b".", body], &[p.tag]) {
        return Err(Fail::Bad(ctx.header));
    }
    ctx.check_fresh(p.timestamp_s, now_ms)?;
    Ok(Verified {
        event_id,
        event_id_signed: false,
        signed_at_s: Some(p.timestamp_s),
    })
}

/// `X-Tradeeon-Signature: t=<t>,s=<hex>` and, if `event_id` is not empty,
/// `X-Tradeeon-EventId`.
pub(super) fn sign(
    mac: &HmacSha256,
    body: &[u8],
    timestamp_s: i64,
    event_id: &str,
) -> SignedHeaders {
    let t = timestamp_digits(timestamp_s);
    let tag = tag_of(mac, &[t.as_bytes(), b".", body]);
    let mut out = SignedHeaders::new();
    let _ = out.push((
        SIGNATURE_HEADER,
        value(&["t=", t.as_str(), ",s=", encode_hex_tag(&tag).as_str()]),
    ));
    if !event_id.is_empty() {
        let _ = out.push((ID_HEADER, value(&[event_id])));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{sign, AuthConfig, Scheme, Verifier};

    const SECRET: &[u8] = b"tradeeon-key";
    const BODY: &[u8] = br#"{"ticker":"ETHUSDT","qty":"0.5"}"#;
    const T: i64 = 1_700_000_000;
    const NOW_MS: i64 = T * 1000;
    // python3 -c "import hmac,hashlib;print(hmac.new(b'tradeeon-key',b'1700000000.'+b'{\"ticker\":\"ETHUSDT\",\"qty\":\"0.5\"}',hashlib.sha256).hexdigest())"
    const HEX: &str = "caaceddcbe1683588f16e8f621f039702be938e5bc217112dad4cda91ffbaf8b";

    fn verifier() -> Verifier {
        Verifier::new(&AuthConfig {
            scheme: Scheme::Timestamped,
            secrets: &[SECRET],
            ..AuthConfig::default()
        })
        .unwrap()
    }

    fn code(headers: &[(&str, &str)]) -> &'static str {
        match verifier().verify(BODY, headers, NOW_MS) {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn python_vector() {
        let sig = format!("t={T},s={HEX}");
        let ok = verifier()
            .verify(
                BODY,
                &[
                    ("x-tradeeon-signature", &sig),
                    ("x-tradeeon-eventid", "evt-9"),
                ],
                NOW_MS,
            )
            .unwrap();
        assert_eq!(ok.event_id, Some("evt-9"));
        assert!(!ok.event_id_signed);
        assert_eq!(ok.signed_at_s, Some(T));

        let signed = sign(Scheme::Timestamped, SECRET, BODY, T, "evt-9").unwrap();
        assert_eq!(
            (signed[0].0, signed[0].1.as_str()),
            ("X-Tradeeon-Signature", sig.as_str())
        );
        assert_eq!(
            (signed[1].0, signed[1].1.as_str()),
            ("X-Tradeeon-EventId", "evt-9")
        );
    }

    #[test]
    fn key_order_and_hex_case_do_not_matter() {
        let swapped = format!("s={HEX},t={T}");
        let upper = format!("t={T},s={}", HEX.to_ascii_uppercase());
        assert_eq!(code(&[("X-Tradeeon-Signature", &swapped)]), "ok");
        assert_eq!(code(&[("X-TRADEEON-SIGNATURE", &upper)]), "ok");
    }

    #[test]
    fn timestamp_is_signed_as_received() {
        // Same value, different digits: the MAC covers the bytes, not the number.
        let padded = format!("t=0{T},s={HEX}");
        assert_eq!(code(&[("X-Tradeeon-Signature", &padded)]), "bad_signature");
    }

    #[test]
    fn malformed_headers() {
        let cases = [
            String::new(),
            format!("s={HEX}"),
            format!("t={T}"),
            format!("t=,s={HEX}"),
            format!("t=-{T},s={HEX}"),
            format!("t=+{T},s={HEX}"),
            format!("t={T}x,s={HEX}"),
            format!("t=1{T}00,s={HEX}"), // 13 digits
            format!("t=17e8,s={HEX}"),
            format!("t={T},s="),
            format!("t={T},s={}", &HEX[..63]),
            format!("t={T},s={}0", HEX),
            format!("t={T},s={}g", &HEX[..63]),
            format!("t={T},s={HEX},t={T}"),
            format!("t={T},s={HEX},s={HEX}"),
            format!("t={T},s={HEX},v=1"),
            format!("t={T},s={HEX},"),
            format!("t={T}, s={HEX}"),
            format!("t={T};s={HEX}"),
            format!("T={T},s={HEX}"),
            format!("t={T},s={HEX} "),
        ];
        for value in &cases {
            assert_eq!(
                code(&[("X-Tradeeon-Signature", value)]),
                "malformed_signature",
                "{value:?}"
            );
        }
        let good = format!("t={T},s={HEX}");
        assert_eq!(code(&[("X-Tradeeon-EventId", "e")]), "missing_signature");
        assert_eq!(
            code(&[
                ("X-Tradeeon-Signature", &good),
                ("x-tradeeon-signature", &good)
            ]),
            "malformed_signature"
        );
        assert_eq!(
            code(&[
                ("X-Tradeeon-Signature", &good),
                ("X-Tradeeon-EventId", "a"),
                ("X-Tradeeon-EventId", "b")
            ]),
            "malformed_signature"
        );
        let zeros = format!("t={T},s={}", "0".repeat(64));
        assert_eq!(code(&[("X-Tradeeon-Signature", &zeros)]), "bad_signature");
    }

    #[test]
    fn expiry_is_checked_after_the_signature() {
        let good = format!("t={T},s={HEX}");
        let v = verifier();
        let late = v
            .verify(BODY, &[("X-Tradeeon-Signature", &good)], NOW_MS + 301_000)
            .unwrap_err();
        assert_eq!(
            late,
            crate::Rejection::SignatureExpired {
                timestamp_s: T,
                now_s: T + 301,
                tolerance_s: 300
            }
        );
        // A forged signature with a stale timestamp is "bad", not "expired".
        let forged = format!("t={T},s={}", "0".repeat(64));
        let err = v
            .verify(BODY, &[("X-Tradeeon-Signature", &forged)], NOW_MS + 301_000)
            .unwrap_err();
        assert_eq!(err.code(), "bad_signature");
    }
}
