//! Case-insensitive lookup in the request's header list.
//!
//! HTTP header names are case-insensitive (RFC 9110 §5.1) and proxies change
//! their case freely, so every lookup compares names with ASCII case folding.
//! Values are returned exactly as received: signatures are checked over the
//! bytes the sender produced, so nothing is trimmed or normalized here.

#[cfg(feature = "_hmac")]
use super::Fail;

/// The request's headers as `(name, value)` pairs, in the order received.
///
/// A borrowed slice keeps the gate allocation-free: the HTTP layer already
/// holds the parsed headers, the gate only looks at them.
pub type Headers<'r> = [(&'r str, &'r str)];

/// Value of the first header called `name` (ASCII case-insensitive), if any.
///
/// ```
/// use alertgate_validator::auth::header;
/// let headers = [("content-type", "application/json"), ("X-Hub-Signature-256", "sha256=00")];
/// assert_eq!(header(&headers, "x-hub-signature-256"), Some("sha256=00"));
/// assert_eq!(header(&headers, "Content-Type"), Some("application/json"));
/// assert_eq!(header(&headers, "webhook-id"), None);
/// ```
pub fn header<'r>(headers: &Headers<'r>, name: &str) -> Option<&'r str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, v)| v)
}

/// Value of the header called `name`, refusing a request that carries it
/// more than once.
///
/// Two copies of a signature (or timestamp, or event id) header are
/// ambiguous: a proxy may forward either one, and checking "any" of them
/// would let an attacker append a header of their choosing next to a
/// genuine one (e.g. a fresh event id to dodge the replay guard). The safe
/// reading is to refuse the request as malformed.
#[cfg(feature = "_hmac")]
pub(super) fn unique<'r, 'n>(
    headers: &Headers<'r>,
    name: &'n str,
) -> Result<Option<&'r str>, Fail<'n>> {
    let mut found = None;
    for &(n, v) in headers {
        if n.eq_ignore_ascii_case(name) {
            if found.is_some() {
                return Err(super::malformed(name, "header appears more than once"));
            }
            found = Some(v);
        }
    }
    Ok(found)
}

/// Like [`unique`], but a missing header is a [`Fail::Missing`] naming it.
#[cfg(feature = "_hmac")]
pub(super) fn required<'r, 'n>(headers: &Headers<'r>, name: &'n str) -> Result<&'r str, Fail<'n>> {
    unique(headers, name)?.ok_or(Fail::Missing(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_insensitive_and_takes_the_first() {
        let h = [("A", "1"), ("b", "2"), ("a", "3")];
        assert_eq!(header(&h, "a"), Some("1"));
        assert_eq!(header(&h, "B"), Some("2"));
        assert_eq!(header(&h, "c"), None);
        assert_eq!(header(&[], "a"), None);
    }

    #[cfg(feature = "_hmac")]
    #[test]
    fn unique_refuses_duplicates_in_any_case() {
        let h = [("Webhook-Id", "1"), ("webhook-id", "2")];
        let err = unique(&h, "webhook-id").unwrap_err();
        assert_eq!(crate::Rejection::from(err).code(), "malformed_signature");
        assert_eq!(unique(&h[..1], "WEBHOOK-ID"), Ok(Some("1")));
        assert_eq!(unique(&h, "other"), Ok(None));
        assert_eq!(required(&h, "other"), Err(Fail::Missing("other")));
    }

    #[test]
    fn values_are_not_trimmed() {
        let h = [("x", " v ")];
        assert_eq!(header(&h, "X"), Some(" v "));
    }
}
