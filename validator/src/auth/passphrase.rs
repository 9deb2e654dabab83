//! `passphrase`: a shared secret inside the body.
//!
//! TradingView's direct webhooks can neither sign nor set headers, so the
//! only credential they can carry is a `passphrase` field in the JSON the
//! user writes into the alert. The gate parses the body first and hands the
//! field (a [`JsonStr`], escapes undecoded) to
//! [`super::Verifier::check_passphrase`].
//!
//! What is compared is the decoded text: RFC 8259 §7 makes `"pa\/ss"` and
//! `"pa/ss"`, or `"s3cr\u0065t"` and `"s3cret"`, the same string, so both
//! match the secret `pa/ss` (or `s3cret`), and a secret with a `"` or `\`
//! matches the JSON that escapes it, as it must be written.
//!
//! Comparing the field with a secret byte by byte would leak, through
//! timing, how long the secret is and how much of a guess matched. Instead
//! the SHA-256 digest of each secret is computed once at construction and
//! the digest of the presented value is compared with every one of them in
//! constant time, without stopping at a match. The presented value is
//! decoded as it is hashed, a byte at a time: no buffer, so no bound on its
//! length (one longer than every secret simply hashes to another digest and
//! is refused like any wrong guess). Hashing it takes time that depends
//! only on what was sent (its length and escapes), never on the secrets.

use subtle::{Choice, ConstantTimeEq};

use super::Tag;
use crate::error::{snippet, Rejection};
use crate::json::JsonStr;

/// Name of the body field, also used as the `header` of rejections.
pub(super) const FIELD: &str = "passphrase";

/// SHA-256 of `bytes`.
pub(super) fn digest(bytes: &[u8]) -> Tag {
    crate::hash::sha256(&[bytes])
}

/// Checks the decoded text of `presented` against the digests of the
/// configured secrets.
pub(super) fn check(digests: &[Tag], presented: Option<JsonStr<'_>>) -> Result<(), Rejection> {
    let header = || snippet(FIELD.as_bytes());
    let Some(presented) = presented else {
        return Err(Rejection::MissingSignature { header: header() });
    };
    let presented = crate::hash::sha256_bytes(presented.decoded_bytes());
    let hit = digests
        .iter()
        .fold(Choice::from(0), |hit, d| hit | d.ct_eq(&presented));
    if bool::from(hit) {
        Ok(())
    } else {
        Err(Rejection::BadSignature { header: header() })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::{sign, AuthConfig, Scheme, Verifier};
    use crate::alert::RawAlert;
    use crate::error::snippet;
    use crate::json::tests::{literal, text_char};
    use crate::Rejection;

    fn verifier(secrets: &[&[u8]]) -> Verifier {
        Verifier::new(&AuthConfig {
            scheme: Scheme::Passphrase,
            secrets,
            ..AuthConfig::default()
        })
        .unwrap()
    }

    /// `v`'s verdict on a body whose `passphrase` is `value`, as written in
    /// JSON (a string literal, quotes included, or a number).
    fn check(v: &Verifier, value: &str) -> Result<(), Rejection> {
        let body = format!(r#"{{"side":"buy","passphrase":{value}}}"#);
        v.check_passphrase(RawAlert::scan(body.as_bytes()).unwrap().passphrase())
    }

    fn bad() -> Result<(), Rejection> {
        Err(Rejection::BadSignature {
            header: snippet(b"passphrase"),
        })
    }

    #[test]
    fn any_configured_passphrase_matches() {
        let v = verifier(&[b"alpha", b"bravo-charlie", b"12345"]);
        assert_eq!(check(&v, r#""alpha""#), Ok(()));
        assert_eq!(check(&v, r#""bravo-charlie""#), Ok(()));
        // A number is read as its text.
        assert_eq!(check(&v, "12345"), Ok(()));
        assert_eq!(check(&v, "12345.0"), bad());
        // verify() does not look at the body for this scheme.
        assert!(v.verify(b"{}", &[], 0).is_ok());
        assert_eq!(v.signature_header(), None);
    }

    #[test]
    fn rejections_name_the_field() {
        let v = verifier(&[b"alpha"]);
        for guess in [
            r#""""#,
            r#""alph""#,
            r#""alphaa""#,
            r#""ALPHA""#,
            r#""alpha\u0000""#,
            r#""\u0041lpha""#,
            r#""bravo""#,
        ] {
            assert_eq!(check(&v, guess), bad(), "{guess}");
        }
        assert_eq!(
            v.check_passphrase(None),
            Err(Rejection::MissingSignature {
                header: snippet(b"passphrase")
            })
        );
    }

    #[test]
    fn escaped_passphrases_match_their_decoded_text() {
        let v = verifier(&[
            b"pa/ss",
            b"s3cret",
            br#"say "hi" \o/"#,
            "smile \u{1f600}".as_bytes(),
        ]);
        for written in [
            r#""pa/ss""#,
            r#""pa\/ss""#,
            r#""s3cr\u0065t""#,
            r#""\u0073\u0033\u0063\u0072\u0065\u0074""#,
            // `"` and `\` can only be sent escaped.
            r#""say \"hi\" \\o/""#,
            r#""say \u0022hi\u0022 \u005Co\/""#,
            // A surrogate pair is one character.
            r#""smile \ud83d\ude00""#,
            r#""smile \uD83D\uDE00""#,
            "\"smile \u{1f600}\"",
        ] {
            assert_eq!(check(&v, written), Ok(()), "{written}");
        }
        for wrong in [
            // A backslash that is part of the text, not an escape.
            r#""pa\\/ss""#,
            r#""s3cr\\u0065t""#,
            r#""s3cr\u0045t""#,
            // `\b` is a backspace.
            r#""say \"hi\" \bo/""#,
            r#""smile \ud83d\ude01""#,
            r#""smile \u00f0\u009f\u0098\u0080""#,
        ] {
            assert_eq!(check(&v, wrong), bad(), "{wrong}");
        }
        // A secret configured as its JSON escape is a different secret.
        let v = verifier(&[br"pa\/ss"]);
        assert_eq!(check(&v, r#""pa\/ss""#), bad());
        assert_eq!(check(&v, r#""pa\\/ss""#), Ok(()));
    }

    #[test]
    fn passphrases_of_any_length_are_hashed() {
        let v = verifier(&[b"alpha"]);
        for n in [59, 60, 64, 120, 10_000] {
            let long = format!(r#""alpha{}""#, r"\u0061".repeat(n));
            assert_eq!(check(&v, &long), bad());
            let long = format!(r#""alpha{}""#, "a".repeat(n));
            assert_eq!(check(&v, &long), bad());
        }
        // The length alone decides nothing: a long secret still matches.
        let secret = "\u{e9}/".repeat(1000);
        let v = verifier(&[secret.as_bytes()]);
        assert_eq!(
            check(&v, &format!(r#""{}""#, r"\u00e9\/".repeat(1000))),
            Ok(())
        );
        assert_eq!(
            check(&v, &format!(r#""{}""#, r"\u00e9\/".repeat(999))),
            bad()
        );
    }

    #[test]
    fn other_schemes_ignore_the_field() {
        #[cfg(feature = "scheme-github")]
        {
            let v = Verifier::new(&AuthConfig {
                scheme: Scheme::Github,
                secrets: &[b"k"],
                ..AuthConfig::default()
            })
            .unwrap();
            assert_eq!(v.check_passphrase(None), Ok(()));
        }
        assert_eq!(
            Verifier::new(&AuthConfig::default())
                .unwrap()
                .check_passphrase(None),
            Ok(())
        );
        assert!(sign(Scheme::Passphrase, b"alpha", b"{}", 0, "")
            .unwrap()
            .is_empty());
    }

    /// A passphrase: any characters, biased towards those that need care.
    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(text_char(), 1..24).prop_map(String::from_iter)
    }

    proptest! {
        /// Every configured secret matches however the sender escapes it,
        /// and nothing else does.
        #[test]
        fn rotation_with_escapes(
            secrets in prop::collection::vec(text(), 1..=super::super::MAX_SECRETS),
            stranger in prop::collection::vec(text_char(), 0..24).prop_map(String::from_iter),
            hows in prop::collection::vec(0u8..4, 24),
        ) {
            prop_assume!(!secrets.contains(&stranger));
            let refs: Vec<&[u8]> = secrets.iter().map(|s| s.as_bytes()).collect();
            let v = verifier(&refs);
            for s in &secrets {
                prop_assert_eq!(check(&v, &serde_json::to_string(s).unwrap()), Ok(()));
                prop_assert_eq!(check(&v, &literal(s, &hows)), Ok(()), "{}", literal(s, &hows));
            }
            prop_assert_eq!(check(&v, &serde_json::to_string(&stranger).unwrap()), bad());
            prop_assert_eq!(check(&v, &literal(&stranger, &hows)), bad());
        }
    }
}
