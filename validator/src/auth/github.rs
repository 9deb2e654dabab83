//! `github`: GitHub's webhook signature.
//!
//! `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>` (the prefix
//! is required, as GitHub always sends it) and the delivery id in
//! `X-GitHub-Delivery`. The delivery id is *not* signed and there is no
//! timestamp, so a captured request can be replayed with a fresh id: the
//! replay guard should key on the body (see [`super::Verified::event_id_signed`]).

use super::{
    decode_hex_tag, encode_hex_tag, headers, malformed, tag_of, value, Ctx, Fail, Headers,
    HmacSha256, SignedHeaders, Verified,
};

/// Signature header.
pub(super) const SIGNATURE_HEADER: &str = super::GITHUB_HEADER;
/// Event-id header.
pub(super) const ID_HEADER: &str = "X-GitHub-Delivery";

/// Verifies `X-Hub-Signature-256` (or the override) over `body`.
pub(super) fn verify<'r, 'v>(
    ctx: &Ctx<'v>,
    body: &[u8],
    headers: &Headers<'r>,
) -> Result<Verified<'r>, Fail<'v>> {
    let raw = headers::required(headers, ctx.header)?;
    let event_id = headers::unique(headers, ID_HEADER)?;
    if raw.is_empty() {
        return Err(malformed(ctx.header, "signature is empty"));
    }
    let hex = raw
        .strip_prefix("sha256=")
        .ok_or_else(|| malformed(ctx.header, "signature does not start with sha256="))?;
    let tag = decode_hex_tag(hex.as_bytes()).map_err(|reason| malformed(ctx.header, reason))?;
    if ctx.any_matches(&[body], &[tag]) {
        Ok(Verified {
            event_id,
            ..Verified::default()
        })
    } else {
        Err(Fail::Bad(ctx.header))
    }
}

/// `X-Hub-Signature-256: sha256=<hex>` and, if `event_id` is not empty,
/// `X-GitHub-Delivery`.
pub(super) fn sign(mac: &HmacSha256, body: &[u8], event_id: &str) -> SignedHeaders {
    let tag = tag_of(mac, &[body]);
    let mut out = SignedHeaders::new();
    let _ = out.push((
        SIGNATURE_HEADER,
        value(&["sha256=", encode_hex_tag(&tag).as_str()]),
    ));
    if !event_id.is_empty() {
        let _ = out.push((ID_HEADER, value(&[event_id])));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{sign, AuthConfig, Scheme, Verifier};

    // GitHub's published example ("Validating webhook deliveries").
    const SECRET: &[u8] = b"It's a Secret to Everybody";
    const BODY: &[u8] = b"Hello, World!";
    const SIG: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    const ID: &str = "72d3162e-cc78-11e3-81ab-4c9367dc0958";

    fn verifier() -> Verifier {
        Verifier::new(&AuthConfig {
            scheme: Scheme::Github,
            secrets: &[SECRET],
            ..AuthConfig::default()
        })
        .unwrap()
    }

    fn code(headers: &[(&str, &str)]) -> &'static str {
        match verifier().verify(BODY, headers, 0) {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn published_vector() {
        let v = verifier();
        let ok = v
            .verify(
                BODY,
                &[("X-Hub-Signature-256", SIG), ("X-GitHub-Delivery", ID)],
                0,
            )
            .unwrap();
        assert_eq!(ok.event_id, Some(ID));
        assert!(!ok.event_id_signed);
        assert_eq!(ok.signed_at_s, None);
        // Without a delivery id: accepted, no event id.
        let ok = v.verify(BODY, &[("x-hub-signature-256", SIG)], 0).unwrap();
        assert_eq!(ok.event_id, None);

        let signed = sign(Scheme::Github, SECRET, BODY, 0, ID).unwrap();
        assert_eq!(signed.len(), 2);
        assert_eq!(
            (signed[0].0, signed[0].1.as_str()),
            ("X-Hub-Signature-256", SIG)
        );
        assert_eq!(
            (signed[1].0, signed[1].1.as_str()),
            ("X-GitHub-Delivery", ID)
        );
        assert_eq!(sign(Scheme::Github, SECRET, BODY, 0, "").unwrap().len(), 1);
    }

    #[test]
    fn uppercase_hex_is_accepted() {
        let upper = format!("sha256={}", SIG["sha256=".len()..].to_ascii_uppercase());
        assert_eq!(code(&[("X-HUB-SIGNATURE-256", &upper)]), "ok");
    }

    #[test]
    fn malformed_headers() {
        let hex = &SIG["sha256=".len()..];
        let sha1 = format!("sha1={hex}");
        let odd = &SIG[..SIG.len() - 1];
        let bad_digit = format!("{}z", &SIG[..SIG.len() - 1]);
        for value in [
            "",
            "sha256=",
            hex,
            sha1.as_str(),
            odd,
            bad_digit.as_str(),
            "sha256",
        ] {
            assert_eq!(
                code(&[("X-Hub-Signature-256", value)]),
                "malformed_signature",
                "{value:?}"
            );
        }
        assert_eq!(code(&[("X-GitHub-Delivery", ID)]), "missing_signature");
        // Duplicated signature or delivery id.
        assert_eq!(
            code(&[("X-Hub-Signature-256", SIG), ("x-hub-signature-256", SIG)]),
            "malformed_signature"
        );
        assert_eq!(
            code(&[
                ("X-Hub-Signature-256", SIG),
                ("X-GitHub-Delivery", ID),
                ("x-github-delivery", "other")
            ]),
            "malformed_signature"
        );
        // The SHA-1 header alone is not enough.
        assert_eq!(code(&[("X-Hub-Signature", "sha1=00")]), "missing_signature");
        let zeros = format!("sha256={}", "0".repeat(64));
        assert_eq!(code(&[("X-Hub-Signature-256", &zeros)]), "bad_signature");
    }
}
