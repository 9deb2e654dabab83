//! `standard-webhooks`: the Standard Webhooks specification (Svix and
//! others).
//!
//! Three headers: `webhook-id`, `webhook-timestamp` (Unix seconds) and
//! `webhook-signature`, a space-separated list of `<version>,<signature>`
//! entries. A `v1` signature is base64 (standard alphabet, padded) of
//! HMAC-SHA256 over `"<webhook-id>.<webhook-timestamp>.<body>"`, keyed with
//! the base64-decoded secret that follows the `whsec_` prefix. Entries of
//! other versions (e.g. `v1a`, asymmetric) are skipped as the specification
//! requires; an entry without a comma or a `v1` that is not a 32-byte base64
//! value makes the header malformed. This is the only scheme whose event id
//! is signed.

use base64ct::{Base64, Base64Unpadded, Encoding};

use super::{
    headers, malformed, parse_timestamp, tag_of, timestamp_digits, value, Ctx, Fail, Headers,
    HmacSha256, SignedHeaders, Tag, Verified, MAX_SIGNATURES,
};
use crate::error::ConfigError;

/// Signature header.
pub(super) const SIGNATURE_HEADER: &str = super::STANDARD_WEBHOOKS_HEADER;
/// Event-id header (signed).
pub(super) const ID_HEADER: &str = "webhook-id";
/// Timestamp header (signed).
pub(super) const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// Optional prefix of a secret.
const SECRET_PREFIX: &[u8] = b"whsec_";
/// Longest decoded secret, bytes (the specification allows 24 to 64).
const MAX_KEY: usize = 128;
/// Length of a padded base64 SHA-256 tag.
const B64_TAG_LEN: usize = 44;

/// A MAC keyed with the base64-decoded `secret` (`whsec_` prefix optional).
pub(super) fn key(secret: &[u8], index: usize) -> Result<HmacSha256, ConfigError> {
    let b64 = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    let mut buf = [0u8; MAX_KEY];
    let decoded = match Base64::decode(b64, &mut buf) {
        Ok(k) => k,
        // Some senders drop the padding; the bits are the same.
        Err(_) => Base64Unpadded::decode(b64, &mut buf).map_err(|_| ConfigError::BadSecret {
            index,
            reason: "standard-webhooks secret is not whsec_<base64> of at most 128 bytes",
        })?,
    };
    if decoded.is_empty() {
        return Err(ConfigError::BadSecret {
            index,
            reason: "standard-webhooks secret decodes to nothing",
        });
    }
    Ok(HmacSha256::new(decoded))
}

/// Every `v1` tag of a `webhook-signature` value.
fn parse(value: &str) -> Result<heapless::Vec<Tag, MAX_SIGNATURES>, &'static str> {
    let mut tags = heapless::Vec::new();
    for entry in value.split(' ').filter(|e| !e.is_empty()) {
        let (version, sig) = entry
            .split_once(',')
            .ok_or("expected space-separated <version>,<signature> entries")?;
        if version != "v1" {
            continue;
        }
        if sig.len() != B64_TAG_LEN {
            return Err("v1 signature is not 44 base64 characters");
        }
        let mut tag = [0u8; 32];
        match Base64::decode(sig, &mut tag) {
            Ok(d) if d.len() == 32 => {}
            _ => return Err("v1 signature is not base64"),
        }
        tags.push(tag).map_err(|_| "more than 8 v1 signatures")?;
    }
    if tags.is_empty() {
        return Err(if value.is_empty() {
            "header is empty"
        } else {
            "no v1 signature"
        });
    }
    Ok(tags)
}

/// Verifies `webhook-signature` (or the override) over
/// `"<webhook-id>.<webhook-timestamp>.<body>"`, then the timestamp's
/// freshness.
pub(super) fn verify<'r, 'v>(
    ctx: &Ctx<'v>,
    body: &[u8],
    headers: &Headers<'r>,
    now_ms: i64,
) -> Result<Verified<'r>, Fail<'v>> {
    let raw = headers::required(headers, ctx.header)?;
    let id = headers::required(headers, ID_HEADER)?;
    let t = headers::required(headers, TIMESTAMP_HEADER)?;
    let tags = parse(raw).map_err(|reason| malformed(ctx.header, reason))?;
    if id.is_empty() {
        return Err(malformed(ID_HEADER, "webhook-id is empty"));
    }
    let timestamp_s =
        parse_timestamp(t.as_bytes()).map_err(|reason| malformed(TIMESTAMP_HEADER, reason))?;
    if !ctx.any_matches(&[id.as_bytes(), b".", t.as_bytes(), b".", body], &tags) {
        return Err(Fail::Bad(ctx.header));
    }
    ctx.check_fresh(timestamp_s, now_ms)?;
    Ok(Verified {
        event_id: Some(id),
        event_id_signed: true,
        signed_at_s: Some(timestamp_s),
    })
}

/// `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64>`.
pub(super) fn sign(
    mac: &HmacSha256,
    body: &[u8],
    timestamp_s: i64,
    event_id: &str,
) -> SignedHeaders {
    let t = timestamp_digits(timestamp_s);
    let tag = tag_of(mac, &[event_id.as_bytes(), b".", t.as_bytes(), b".", body]);
    let mut buf = [0u8; B64_TAG_LEN];
    let b64 = Base64::encode(&tag, &mut buf).unwrap_or("");
    let mut out = SignedHeaders::new();
    let _ = out.push((ID_HEADER, value(&[event_id])));
    let _ = out.push((TIMESTAMP_HEADER, value(&[t.as_str()])));
    let _ = out.push((SIGNATURE_HEADER, value(&["v1,", b64])));
    out
}

#[cfg(test)]
mod tests {
    use super::super::{sign, AuthConfig, Scheme, Verifier};
    use crate::ConfigError;

    // The specification's published test vector.
    const SECRET: &[u8] = b"whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const TS: &str = "1649367553";
    const BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const SIG: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
    const NOW_MS: i64 = 1_649_367_553_000;
    const OTHER: &str = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

    fn verifier(secret: &[u8]) -> Verifier {
        Verifier::new(&AuthConfig {
            scheme: Scheme::StandardWebhooks,
            secrets: &[secret],
            ..AuthConfig::default()
        })
        .unwrap()
    }

    fn code(sig: &str) -> &'static str {
        let h = [
            ("webhook-id", ID),
            ("webhook-timestamp", TS),
            ("webhook-signature", sig),
        ];
        match verifier(SECRET).verify(BODY, &h, NOW_MS) {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn published_vector() {
        let h = [
            ("Webhook-Id", ID),
            ("Webhook-Timestamp", TS),
            ("Webhook-Signature", SIG),
        ];
        let ok = verifier(SECRET).verify(BODY, &h, NOW_MS).unwrap();
        assert_eq!(ok.event_id, Some(ID));
        assert!(ok.event_id_signed);
        assert_eq!(ok.signed_at_s, Some(1_649_367_553));
        // The prefix is optional.
        let bare = &SECRET[b"whsec_".len()..];
        assert!(verifier(bare).verify(BODY, &h, NOW_MS).is_ok());

        let signed = sign(Scheme::StandardWebhooks, SECRET, BODY, 1_649_367_553, ID).unwrap();
        let pairs: Vec<(&str, &str)> = signed.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("webhook-id", ID),
                ("webhook-timestamp", TS),
                ("webhook-signature", SIG)
            ]
        );
    }

    #[test]
    fn multiple_entries_and_other_versions() {
        for sig in [
            format!("{OTHER} {SIG}"),
            format!("{SIG} {OTHER}"),
            format!("v1a,c29tZS1lZDI1NTE5LXNpZ25hdHVyZQ== {SIG}"),
            format!("v2,anything {SIG} v0,x"),
            format!("  {SIG}  "),
            format!("{OTHER}  {SIG}"),
        ] {
            assert_eq!(code(&sig), "ok", "{sig}");
        }
        assert_eq!(code(OTHER), "bad_signature");
        assert_eq!(code(&format!("{OTHER} {OTHER}")), "bad_signature");
    }

    #[test]
    fn malformed_headers() {
        let b64 = &SIG[3..];
        for sig in [
            String::new(),
            " ".into(),
            b64.into(),
            "v1".into(),
            "v1,".into(),
            "v2,abc".into(),
            format!("v1,{}", &b64[..43]),
            format!("v1,{}", b64.trim_end_matches('=')),
            format!("v1,{}==", &b64[..42]),
            format!("v1,{}!", &b64[..43]),
            format!("v1={b64}"),
            format!("{SIG} v1,short"),
            format!("{SIG} nocomma"),
            format!("{SIG},"),
        ] {
            assert_eq!(code(&sig), "malformed_signature", "{sig:?}");
        }
        let v = verifier(SECRET);
        let check = |h: &[(&str, &str)]| v.verify(BODY, h, NOW_MS).unwrap_err().code();
        assert_eq!(
            check(&[("webhook-id", ID), ("webhook-timestamp", TS)]),
            "missing_signature"
        );
        assert_eq!(
            check(&[("webhook-timestamp", TS), ("webhook-signature", SIG)]),
            "missing_signature"
        );
        assert_eq!(
            check(&[("webhook-id", ID), ("webhook-signature", SIG)]),
            "missing_signature"
        );
        assert_eq!(
            check(&[
                ("webhook-id", ""),
                ("webhook-timestamp", TS),
                ("webhook-signature", SIG)
            ]),
            "malformed_signature"
        );
        for ts in [
            "",
            "-1649367553",
            "1649367553.0",
            " 1649367553",
            "0x62505e01",
            "1649367553000000",
        ] {
            assert_eq!(
                check(&[
                    ("webhook-id", ID),
                    ("webhook-timestamp", ts),
                    ("webhook-signature", SIG)
                ]),
                "malformed_signature",
                "{ts:?}"
            );
        }
        for dup in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
            let h = [
                ("webhook-id", ID),
                ("webhook-timestamp", TS),
                ("webhook-signature", SIG),
                (dup, "x"),
            ];
            assert_eq!(check(&h), "malformed_signature", "{dup}");
        }
        // The id and the timestamp are signed.
        let h = [
            ("webhook-id", "msg_other"),
            ("webhook-timestamp", TS),
            ("webhook-signature", SIG),
        ];
        assert_eq!(check(&h), "bad_signature");
        let h = [
            ("webhook-id", ID),
            ("webhook-timestamp", "1649367554"),
            ("webhook-signature", SIG),
        ];
        assert_eq!(check(&h), "bad_signature");
    }

    #[test]
    fn bad_secrets() {
        for secret in [
            &b"whsec_not base64!"[..],
            b"whsec_",
            b"whsec_====",
            &[b'A'; 200],
        ] {
            let err = Verifier::new(&AuthConfig {
                scheme: Scheme::StandardWebhooks,
                secrets: &[b"whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", secret],
                ..AuthConfig::default()
            })
            .unwrap_err();
            assert!(
                matches!(err, ConfigError::BadSecret { index: 1, .. }),
                "{err:?}"
            );
            assert!(sign(Scheme::StandardWebhooks, secret, BODY, 1, "id").is_err());
        }
        // Unpadded base64 is accepted.
        assert!(sign(Scheme::StandardWebhooks, b"whsec_AAAA", BODY, 1, "id").is_ok());
        assert!(sign(Scheme::StandardWebhooks, b"whsec_AAA", BODY, 1, "id").is_ok());
        // The signed id must be present.
        assert!(sign(Scheme::StandardWebhooks, SECRET, BODY, 1, "").is_err());
    }
}
