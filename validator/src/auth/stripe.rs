//! `stripe`: Stripe's webhook signature.
//!
//! `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>..][,v0=..]` where
//! each `v1` is HMAC-SHA256 of `"<t>.<body>"` keyed with the endpoint secret
//! bytes exactly as shown by Stripe (`whsec_...`, not decoded). During a
//! secret roll Stripe sends one `v1` per active secret; any may match.
//! Stripe sends no event id header (the id is inside the body), so
//! `event_id` is `None`.
//!
//! The header is a comma-separated list of `key=value` parts, read as
//! Stripe's libraries read it:
//!
//! - `t` must appear exactly once, as 1 to 12 digits.
//! - A `v1` whose value is 64 hex digits (either case) is a *readable*
//!   signature.
//! - Skipped, without counting: a `v1` whose value is anything else
//!   (`v1=zz`, another length, a non-hex character; as `stripe-go` does),
//!   `v0` (the test-mode SHA-1 scheme), unknown keys and parts without `=`
//!   (`junk`, empty ones), as `stripe-node` does.
//! - `malformed_signature`: an empty header, `t` missing, repeated or not
//!   digits, no readable `v1`, more than [`MAX_SIGNATURES`] readable ones,
//!   or more than [`MAX_LIST_ENTRIES`] parts (`t` and empty ones included).
//!   Nothing past either bound is read and the MACs are computed once per
//!   secret, not per entry, so the work per header is bounded; padding can
//!   only turn a decision into a refusal.
//! - `bad_signature`: readable `v1`s, none produced by a configured secret.

use super::{
    decode_hex_64, encode_hex_tag, headers, malformed, parse_timestamp, tag_of, timestamp_digits,
    value, Ctx, Fail, Headers, HmacSha256, SignedHeaders, Tag, Verified, MAX_LIST_ENTRIES,
    MAX_SIGNATURES,
};

/// Signature header.
pub(super) const SIGNATURE_HEADER: &str = super::STRIPE_HEADER;

/// The parsed signature header.
struct Parsed<'r> {
    /// Timestamp digits as received (what was signed).
    t: &'r str,
    /// Their value.
    timestamp_s: i64,
    /// Every readable `v1` tag.
    tags: heapless::Vec<Tag, MAX_SIGNATURES>,
}

fn parse(value: &str) -> Result<Parsed<'_>, &'static str> {
    if value.is_empty() {
        return Err("header is empty");
    }
    let mut t = None;
    let mut tags = heapless::Vec::new();
    for (n, part) in value.split(',').enumerate() {
        if n == MAX_LIST_ENTRIES {
            return Err("more than 32 comma-separated parts (at most 32)");
        }
        // A part without `=` is not a signature: skipped.
        let Some((key, val)) = part.split_once('=') else {
            continue;
        };
        match key {
            "t" if t.is_some() => return Err("t= appears more than once"),
            "t" => t = Some(val),
            "v1" => {
                // A value that is not 64 hex digits is skipped; the ninth
                // readable signature ends the reading.
                if let Some(tag) = decode_hex_64(val.as_bytes()) {
                    tags.push(tag)
                        .map_err(|_| "more than 8 readable v1 signatures (at most 8)")?;
                }
            }
            // v0 and schemes this gate does not know.
            _ => {}
        }
    }
    let t = t.ok_or("no t= timestamp")?;
    let timestamp_s = parse_timestamp(t.as_bytes())?;
    if tags.is_empty() {
        return Err("no readable v1 signature; expected v1=<64 hex digits>");
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
    use super::super::{sign, AuthConfig, Scheme, Verifier, MAX_LIST_ENTRIES, MAX_SIGNATURES};
    use proptest::prelude::*;

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

    /// `v1` values that are not 64 hex digits, other schemes, unknown keys
    /// and parts without `=` (several carrying the genuine signature in a
    /// form that must not count).
    fn unreadable() -> Vec<String> {
        vec![
            "v1=zz".into(),
            "v1=".into(),
            "v1=00".into(),
            format!("v1={}", &HEX[..63]),
            format!("v1={HEX}0"),
            format!("v1={}g", &HEX[..63]),
            format!("v1={HEX}="),
            format!("v1= {HEX}"),
            format!("v0={HEX}"),
            format!("v2={HEX}"),
            format!("V1={HEX}"),
            format!(" v1={HEX}"),
            "x=".into(),
            "=".into(),
            "junk".into(),
            "".into(),
            "v1".into(),
            "t".into(),
            HEX.into(),
            format!("v1{HEX}"),
        ]
    }

    /// The issue's Stripe examples: a junk `v1`, or a part without `=`,
    /// before the genuine one.
    #[test]
    fn unreadable_v1_before_a_valid_one_is_skipped() {
        assert_eq!(code(&format!("t={T},v1=zz,v1={HEX}")), "ok");
        assert_eq!(code(&format!("t={T},junk,v1={HEX}")), "ok");
        assert_eq!(code(&format!("t={T},,v1={HEX},")), "ok");
        for junk in unreadable() {
            for value in [
                format!("t={T},{junk},v1={HEX}"),
                format!("t={T},v1={HEX},{junk}"),
                format!("{junk},v1={HEX},t={T}"),
            ] {
                assert_eq!(code(&value), "ok", "{value:?}");
            }
            // Skipped entries never make a wrong signature pass.
            let wrong = format!("t={T},{junk},v1={OTHER}");
            assert_eq!(code(&wrong), "bad_signature", "{wrong:?}");
        }
    }

    #[test]
    fn a_list_without_a_readable_v1_is_malformed() {
        let all_junk = unreadable().join(",");
        for value in [format!("t={T},v1=zz"), format!("t={T},{all_junk}")] {
            let err = verifier()
                .verify(BODY, &[("Stripe-Signature", &value)], NOW_MS)
                .unwrap_err();
            assert_eq!(
                err.to_string(),
                "Stripe-Signature cannot be read: no readable v1 signature; \
                 expected v1=<64 hex digits>",
                "{value:?}"
            );
        }
        // Skipped entries do not count towards the eight.
        let eight = format!(
            "t={T},{all_junk},{}",
            [OTHER; 8].map(|o| format!("v1={o}")).join(",")
        );
        assert_eq!(code(&eight), "bad_signature");
        let err = verifier()
            .verify(
                BODY,
                &[("Stripe-Signature", &format!("{eight},v1={HEX}"))],
                NOW_MS,
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Stripe-Signature cannot be read: more than 8 readable v1 signatures (at most 8)"
        );
    }

    #[test]
    fn at_most_32_parts_are_read() {
        let skipped = ["v1=zz"; MAX_LIST_ENTRIES - 2].join(",");
        // `t`, 30 skipped parts and the genuine signature.
        assert_eq!(code(&format!("t={T},{skipped},v1={HEX}")), "ok");
        // Past the bound nothing is read, however long the header.
        let huge = format!("t={T},v1={HEX}{}", ",v0=zz".repeat(50_000));
        for value in [format!("t={T},{skipped},v0=,v1={HEX}"), huge] {
            let err = verifier()
                .verify(BODY, &[("Stripe-Signature", &value)], NOW_MS)
                .unwrap_err();
            assert_eq!(
                err.to_string(),
                "Stripe-Signature cannot be read: more than 32 comma-separated parts (at most 32)"
            );
        }
    }

    /// Parts that are never readable `v1` signatures (parts without `=`
    /// included).
    fn unreadable_part() -> impl Strategy<Value = String> {
        prop_oneof![
            "v1=[0-9a-fA-F]{0,70}".prop_filter("64 digits are a tag", |p| p.len() != 67),
            "v1=[0-9a-f]{30}[g-zG-Z_ +-]{1}[0-9a-f]{33}",
            "v1=[^,]{0,70}",
            "(v0|v2|V1|v11| v1|s|T|x[a-z0-9]{0,3}|)=".prop_map(|k| format!("{k}{HEX}")),
            "x[a-z0-9]{0,3}=[^,]{0,40}",
            // No `=`: junk, empty parts, a bare signature.
            "[^,=]{0,70}",
            "v1[0-9a-f]{64}",
            proptest::sample::select(unreadable()),
        ]
    }

    proptest! {
        /// Adding unreadable parts anywhere in the header never changes the
        /// decision while it stays within `MAX_LIST_ENTRIES` parts, whatever
        /// the readable `v1`s are (genuine or not, none or more than
        /// `MAX_SIGNATURES`) and wherever `t` is; past that bound the header
        /// is refused, so padding can never make a header pass.
        #[test]
        fn unreadable_entries_never_change_the_decision(
            readable in proptest::collection::vec(
                prop_oneof![Just(None), any::<[u8; 32]>().prop_map(Some)],
                0..=MAX_SIGNATURES + 2,
            ),
            upper in any::<bool>(),
            t_at in any::<usize>(),
            junk in proptest::collection::vec((any::<usize>(), unreadable_part()), 1..MAX_LIST_ENTRIES),
        ) {
            let mut parts: Vec<String> = readable
                .iter()
                .map(|r| match r {
                    None => format!("v1={HEX}"),
                    Some(tag) => {
                        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
                        format!("v1={}", if upper { hex.to_ascii_uppercase() } else { hex })
                    }
                })
                .collect();
            parts.insert(t_at % (parts.len() + 1), format!("t={T}"));
            let decision = match readable.len() {
                0 => "malformed_signature",
                n if n > MAX_SIGNATURES => "malformed_signature",
                // A random tag is the genuine one with probability 2^-256.
                _ if readable.contains(&None) => "ok",
                _ => "bad_signature",
            };
            prop_assert_eq!(code(&parts.join(",")), decision);
            for (pos, p) in junk {
                parts.insert(pos % (parts.len() + 1), p);
                let expected = if parts.len() > MAX_LIST_ENTRIES {
                    "malformed_signature"
                } else {
                    decision
                };
                prop_assert_eq!(code(&parts.join(",")), expected, "{:?}", parts);
            }
        }
    }
}
