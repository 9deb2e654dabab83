//! `passphrase`: a shared secret inside the body.
//!
//! TradingView's direct webhooks can neither sign nor set headers, so the
//! only credential they can carry is a `passphrase` field in the JSON the
//! user writes into the alert. The gate parses the body first and hands the
//! field's raw bytes to [`super::Verifier::check_passphrase`].
//!
//! Comparing the field with a secret byte by byte would leak, through
//! timing, how long the secret is and how much of a guess matched. Instead
//! the SHA-256 digest of each secret is computed once at construction and
//! the digest of the presented value is compared with every one of them in
//! constant time, without stopping at a match. Hashing the presented value
//! takes time that depends only on its own (attacker-known) length.

use subtle::{Choice, ConstantTimeEq};

use super::Tag;
use crate::error::{snippet, Rejection};

/// Name of the body field, also used as the `header` of rejections.
pub(super) const FIELD: &str = "passphrase";

/// SHA-256 of `bytes`.
pub(super) fn digest(bytes: &[u8]) -> Tag {
    crate::hash::sha256(&[bytes])
}

/// Checks `presented` against the digests of the configured secrets.
pub(super) fn check(digests: &[Tag], presented: Option<&[u8]>) -> Result<(), Rejection> {
    let header = || snippet(FIELD.as_bytes());
    let Some(presented) = presented else {
        return Err(Rejection::MissingSignature { header: header() });
    };
    let presented = digest(presented);
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
    use super::super::{sign, AuthConfig, Scheme, Verifier};
    use crate::error::snippet;
    use crate::Rejection;

    fn verifier(secrets: &[&[u8]]) -> Verifier {
        Verifier::new(&AuthConfig {
            scheme: Scheme::Passphrase,
            secrets,
            ..AuthConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn any_configured_passphrase_matches() {
        let v = verifier(&[b"alpha", b"bravo-charlie"]);
        assert_eq!(v.check_passphrase(Some(b"alpha")), Ok(()));
        assert_eq!(v.check_passphrase(Some(b"bravo-charlie")), Ok(()));
        // verify() does not look at the body for this scheme.
        assert!(v.verify(b"{}", &[], 0).is_ok());
        assert_eq!(v.signature_header(), None);
    }

    #[test]
    fn rejections_name_the_field() {
        let v = verifier(&[b"alpha"]);
        let bad = Rejection::BadSignature {
            header: snippet(b"passphrase"),
        };
        for guess in [&b""[..], b"alph", b"alphaa", b"ALPHA", b"alpha\0", b"bravo"] {
            assert_eq!(
                v.check_passphrase(Some(guess)),
                Err(bad.clone()),
                "{guess:?}"
            );
        }
        assert_eq!(
            v.check_passphrase(None),
            Err(Rejection::MissingSignature {
                header: snippet(b"passphrase")
            })
        );
    }

    #[test]
    fn other_schemes_ignore_the_field() {
        let v = Verifier::new(&AuthConfig {
            scheme: Scheme::Github,
            secrets: &[b"k"],
            ..AuthConfig::default()
        })
        .unwrap();
        assert_eq!(v.check_passphrase(None), Ok(()));
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
}
