//! `standard-webhooks`: the Standard Webhooks specification (Svix and
//! others).
//!
//! Three headers: `webhook-id`, `webhook-timestamp` (Unix seconds) and
//! `webhook-signature`, a space-separated list of `<version>,<signature>`
//! entries. A `v1` signature is base64 (standard alphabet, padded) of
//! HMAC-SHA256 over `"<webhook-id>.<webhook-timestamp>.<body>"`, keyed with
//! the base64-decoded secret that follows the `whsec_` prefix. This is the
//! only scheme whose event id is signed.
//!
//! The list is read as the reference libraries read it: each entry is split
//! at its first comma into version and signature, and the request passes if
//! any entry matches.
//!
//! - An entry is *readable* if its version is exactly `v1` and its
//!   signature exactly 44 characters of canonical padded base64 of 32 bytes.
//! - Every other entry is skipped, without counting: an entry without a
//!   comma (`garbage`, as the Go and JavaScript libraries do), another
//!   version (`v1a`, asymmetric, as the specification requires; `v2`;
//!   `V1`), or a `v1` signature of another length (`v1,AAAA`), with a
//!   character outside the base64 alphabet, or with unused bits set in its
//!   last character.
//! - `malformed_signature`: an empty header, no readable entry, more than
//!   [`MAX_SIGNATURES`] readable ones, or more than [`MAX_LIST_ENTRIES`]
//!   space-separated pieces (empty ones from repeated spaces included).
//!   Nothing past either bound is read and the MACs are computed once per
//!   secret, not per entry, so the work per header is bounded; padding can
//!   only turn a decision into a refusal.
//! - `bad_signature`: readable entries, none produced by a configured
//!   secret.

use base64ct::{Base64, Base64Unpadded, Encoding};

use super::{
    headers, malformed, parse_timestamp, tag_of, timestamp_digits, value, Ctx, Fail, Headers,
    HmacSha256, SignedHeaders, Tag, Verified, MAX_LIST_ENTRIES, MAX_SIGNATURES,
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

/// The tags of the readable `v1` entries of a `webhook-signature` value
/// (see the module documentation for what is skipped and the bound).
fn parse(value: &str) -> Result<heapless::Vec<Tag, MAX_SIGNATURES>, &'static str> {
    let mut tags = heapless::Vec::new();
    for (n, entry) in value.split(' ').enumerate() {
        if n == MAX_LIST_ENTRIES {
            return Err("more than 32 space-separated entries (at most 32)");
        }
        // Unreadable entries are skipped: no comma (empty ones included),
        // another version, or a `v1` that is not 32 bytes of canonical padded
        // base64 (checked in that order, so only entries of exactly 44 bytes
        // are decoded).
        let Some((version, sig)) = entry.split_once(',') else {
            continue;
        };
        let mut tag = [0u8; 32];
        if version != "v1"
            || sig.len() != B64_TAG_LEN
            || !matches!(Base64::decode(sig, &mut tag), Ok(d) if d.len() == 32)
        {
            continue;
        }
        // The ninth readable signature ends the reading: nothing after it is
        // looked at.
        tags.push(tag)
            .map_err(|_| "more than 8 readable v1 signatures (at most 8)")?;
    }
    if tags.is_empty() {
        return Err(if value.is_empty() {
            "header is empty"
        } else {
            "no readable v1 signature; expected space-separated v1,<base64 of 32 bytes, 44 characters>"
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
    use super::super::{sign, AuthConfig, Scheme, Verifier, MAX_LIST_ENTRIES, MAX_SIGNATURES};
    use crate::ConfigError;
    use base64ct::{Base64, Encoding};
    use proptest::prelude::*;

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

    /// Entries a sender may add that are not readable `v1` signatures,
    /// entries without a comma included (several carry the genuine
    /// signature in a form that must not count).
    fn unreadable() -> Vec<String> {
        let b64 = &SIG[3..];
        vec![
            "v1,AAAA".into(),
            "v1,".into(),
            "v2,abc".into(),
            format!("v1a,{b64}"),
            format!("V1,{b64}"),
            format!("v1,{}", &b64[..43]),
            format!("v1,{}", b64.trim_end_matches('=')),
            format!("v1,{}==", &b64[..42]),
            format!("v1,{}!", &b64[..43]),
            format!("v1,{}x=", &b64[..42]),
            format!("v1,{b64}A"),
            format!("{SIG},"),
            format!("v1,{b64},v1"),
            "garbage".into(),
            "v1".into(),
            b64.into(),
            format!("v1={b64}"),
        ]
    }

    /// The example of issue 9: a junk entry before a genuine signature.
    #[test]
    fn unreadable_entry_before_a_valid_signature_is_skipped() {
        let signed = sign(Scheme::StandardWebhooks, SECRET, BODY, 1_700_000_000, ID).unwrap();
        let list = format!("v1,AAAA {}", signed[2].1);
        let h = [
            ("webhook-id", ID),
            ("webhook-timestamp", signed[1].1.as_str()),
            ("webhook-signature", list.as_str()),
        ];
        let ok = verifier(SECRET).verify(BODY, &h, 1_700_000_000_000);
        assert_eq!(ok.map(|v| v.signed_at_s), Ok(Some(1_700_000_000)));
        // An entry without a comma is skipped too.
        assert_eq!(code(&format!("garbage {SIG}")), "ok");
        // Every kind of unreadable entry, before and after the genuine one.
        for junk in unreadable() {
            for list in [format!("{junk} {SIG}"), format!("{SIG} {junk}")] {
                assert_eq!(code(&list), "ok", "{list:?}");
            }
            // Skipped entries never make a wrong signature pass.
            assert_eq!(
                code(&format!("{junk} {OTHER}")),
                "bad_signature",
                "{junk:?}"
            );
        }
    }

    #[test]
    fn a_list_without_a_readable_entry_is_malformed() {
        let all_junk = unreadable().join(" ");
        for sig in [String::new(), " ".into(), "v1,AAAA".into(), all_junk] {
            let h = [
                ("webhook-id", ID),
                ("webhook-timestamp", TS),
                ("webhook-signature", sig.as_str()),
            ];
            let err = verifier(SECRET).verify(BODY, &h, NOW_MS).unwrap_err();
            assert_eq!(err.code(), "malformed_signature", "{sig:?}");
            let expected = if sig.is_empty() {
                "webhook-signature cannot be read: header is empty"
            } else {
                "webhook-signature cannot be read: no readable v1 signature; \
                 expected space-separated v1,<base64 of 32 bytes, 44 characters>"
            };
            assert_eq!(err.to_string(), expected, "{sig:?}");
        }
    }

    #[test]
    fn at_most_eight_readable_signatures_are_read() {
        // Skipped entries do not count towards the eight.
        let junk = unreadable()[..5].join(" ");
        let eight = format!("{junk} {} {junk} {SIG} {junk}", [OTHER; 7].join(" "));
        assert_eq!(code(&eight), "ok");
        let nine = format!("{OTHER} {eight}");
        let h = [
            ("webhook-id", ID),
            ("webhook-timestamp", TS),
            ("webhook-signature", nine.as_str()),
        ];
        let err = verifier(SECRET).verify(BODY, &h, NOW_MS).unwrap_err();
        assert_eq!(
            err.to_string(),
            "webhook-signature cannot be read: more than 8 readable v1 signatures (at most 8)"
        );
    }

    #[test]
    fn at_most_32_entries_are_read() {
        let skipped = ["v1,AAAA"; MAX_LIST_ENTRIES - 1].join(" ");
        // 31 skipped entries and the genuine one.
        assert_eq!(code(&format!("{skipped} {SIG}")), "ok");
        // Past the bound nothing is read, however long the header. Empty
        // pieces between repeated spaces count.
        let huge = format!("{SIG} {}", "v1,AAAA ".repeat(50_000));
        for sig in [
            format!("{skipped} v1,AAAA {SIG}"),
            format!("{skipped}  {SIG}"),
            huge,
        ] {
            let h = [
                ("webhook-id", ID),
                ("webhook-timestamp", TS),
                ("webhook-signature", sig.as_str()),
            ];
            let err = verifier(SECRET).verify(BODY, &h, NOW_MS).unwrap_err();
            assert_eq!(
                err.to_string(),
                "webhook-signature cannot be read: more than 32 space-separated entries (at most 32)"
            );
        }
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
            format!("{SIG},"),
            format!("nocomma {b64}"),
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

    /// A `v1` entry of `tag`.
    fn entry(tag: &[u8]) -> String {
        let mut buf = [0u8; 96];
        format!("v1,{}", Base64::encode(tag, &mut buf).unwrap())
    }

    /// Entries that are never readable `v1` signatures: other lengths,
    /// characters outside the alphabet, other versions (some carrying the
    /// genuine signature), random text after a comma, no comma at all.
    fn unreadable_entry() -> impl Strategy<Value = String> {
        let b64 = &SIG[3..];
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..48)
                .prop_filter("32 bytes is a tag", |b| b.len() != 32)
                .prop_map(|b| entry(&b)),
            "v1,[A-Za-z0-9+/]{20}[-_.!~*]{1}[A-Za-z0-9+/]{22}=",
            "(v0|v2|v1a|V1|v11|),".prop_map(move |v| format!("{v}{b64}")),
            "[a-uw-z0-9]{0,3},[^ ]{0,50}",
            "v1,[^ ]{0,60}",
            "[^ ,]{0,60}",
            proptest::sample::select(unreadable()),
        ]
    }

    proptest! {
        /// Adding unreadable entries anywhere in a list never changes the
        /// decision while the list stays within `MAX_LIST_ENTRIES`, whatever
        /// the readable entries are (genuine or not, none or more than
        /// `MAX_SIGNATURES`); past that bound the header is refused, so
        /// padding can never make a list pass.
        #[test]
        fn unreadable_entries_never_change_the_decision(
            readable in proptest::collection::vec(
                prop_oneof![Just(None), any::<[u8; 32]>().prop_map(Some)],
                0..=MAX_SIGNATURES + 2,
            ),
            junk in proptest::collection::vec((any::<usize>(), unreadable_entry()), 1..MAX_LIST_ENTRIES),
        ) {
            let mut entries: Vec<String> = readable
                .iter()
                .map(|r| r.map_or(SIG.to_string(), |tag| entry(&tag)))
                .collect();
            let decision = match readable.len() {
                0 => "malformed_signature",
                n if n > MAX_SIGNATURES => "malformed_signature",
                // A random tag is the genuine one with probability 2^-256.
                _ if readable.contains(&None) => "ok",
                _ => "bad_signature",
            };
            prop_assert_eq!(code(&entries.join(" ")), decision);
            for (pos, e) in junk {
                entries.insert(pos % (entries.len() + 1), e);
                let expected = if entries.len() > MAX_LIST_ENTRIES {
                    "malformed_signature"
                } else {
                    decision
                };
                prop_assert_eq!(code(&entries.join(" ")), expected, "{:?}", entries);
            }
        }
    }
}
