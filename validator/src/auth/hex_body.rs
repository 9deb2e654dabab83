//! `hex-body`: the simplest signed webhook.
//!
//! `X-Webhook-Signature: [sha256=]<hex HMAC-SHA256(secret, body)>`, hex in
//! either case. The header name is configurable because senders that use
//! this layout rarely agree on it. There is no timestamp, so replays are
//! bounded only by the gate's replay guard and the alert's own time field.

use super::{
    decode_hex_tag, encode_hex_tag, headers, malformed, tag_of, value, Ctx, Fail, Headers,
    HmacSha256, SignedHeaders, Verified,
};

/// Default signature header.
pub(super) const SIGNATURE_HEADER: &str = super::HEX_BODY_HEADER;

/// Verifies the signature header named `ctx.header` over `body`.
pub(super) fn verify<'r, 'v>(
    ctx: &Ctx<'v>,
    body: &[u8],
    headers: &Headers<'r>,
) -> Result<Verified<'r>, Fail<'v>> {
    let raw = headers::required(headers, ctx.header)?;
    let hex = raw.strip_prefix("sha256=").unwrap_or(raw);
    let tag = decode_hex_tag(hex.as_bytes()).map_err(|reason| malformed(ctx.header, reason))?;
    if ctx.any_matches(&[body], &[tag]) {
        Ok(Verified::default())
    } else {
        Err(Fail::Bad(ctx.header))
    }
}

/// `X-Webhook-Signature: <lowercase hex>` (no prefix).
pub(super) fn sign(mac: &HmacSha256, body: &[u8]) -> SignedHeaders {
    let tag = tag_of(mac, &[body]);
    let mut out = SignedHeaders::new();
    let _ = out.push((SIGNATURE_HEADER, value(&[encode_hex_tag(&tag).as_str()])));
    out
}

#[cfg(test)]
mod tests {
    use super::super::{sign, AuthConfig, Scheme, Verifier};

    const BODY: &[u8] = br#"{"ticker":"BTCUSDT","action":"buy"}"#;
    // python3 -c "import hmac,hashlib;print(hmac.new(b'hex-body secret',b'{\"ticker\":\"BTCUSDT\",\"action\":\"buy\"}',hashlib.sha256).hexdigest())"
    const HEX: &str = "3f7a78a879a60c7718bdb4807730adf99d5bc49ca45c34656cdc4964bce43da1";
    const HEX_UPPER: &str = "3F7A78A879A60C7718BDB4807730ADF99D5BC49CA45C34656CDC4964BCE43DA1";
    // A key longer than the SHA-256 block (100 bytes of 'k'), hashed first by HMAC:
    // python3 -c "import hmac,hashlib;print(hmac.new(b'k'*100,b'{\"ticker\":\"BTCUSDT\",\"action\":\"buy\"}',hashlib.sha256).hexdigest())"
    const HEX_LONG_KEY: &str = "6212560ecf4182c40eaab33e19d342fb30ff8e0a642263d220d365adeabdf9ec";

    fn verifier(secrets: &[&[u8]], header: Option<&str>) -> Verifier {
        Verifier::new(&AuthConfig {
            scheme: Scheme::HexBody,
            secrets,
            header,
            ..AuthConfig::default()
        })
        .unwrap()
    }

    fn code(v: &Verifier, headers: &[(&str, &str)]) -> &'static str {
        match v.verify(BODY, headers, 0) {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn python_vector_in_every_accepted_form() {
        let v = verifier(&[b"hex-body secret"], None);
        let prefixed = format!("sha256={HEX}");
        let prefixed_upper = format!("sha256={HEX_UPPER}");
        for value in [HEX, HEX_UPPER, prefixed.as_str(), prefixed_upper.as_str()] {
            assert_eq!(code(&v, &[("X-Webhook-Signature", value)]), "ok", "{value}");
            assert_eq!(code(&v, &[("x-webhook-signature", value)]), "ok", "{value}");
            assert_eq!(code(&v, &[("X-WEBHOOK-SIGNATURE", value)]), "ok", "{value}");
        }
        let signed = sign(Scheme::HexBody, b"hex-body secret", BODY, 0, "").unwrap();
        assert_eq!(signed.len(), 1);
        assert_eq!(signed[0].0, "X-Webhook-Signature");
        assert_eq!(signed[0].1.as_str(), HEX);
    }

    #[test]
    fn long_key_vector() {
        let key = [b'k'; 100];
        let v = verifier(&[&key], None);
        assert_eq!(code(&v, &[("X-Webhook-Signature", HEX_LONG_KEY)]), "ok");
    }

    #[test]
    fn custom_header_name() {
        let v = verifier(&[b"hex-body secret"], Some("X-Signature"));
        assert_eq!(v.signature_header(), Some("X-Signature"));
        assert_eq!(code(&v, &[("x-signature", HEX)]), "ok");
        // The default name is no longer read.
        let err = v
            .verify(BODY, &[("X-Webhook-Signature", HEX)], 0)
            .unwrap_err();
        assert_eq!(err.code(), "missing_signature");
        assert!(format!("{err}").starts_with("X-Signature "));
    }

    #[test]
    fn malformed_headers() {
        let v = verifier(&[b"hex-body secret"], None);
        let odd = &HEX[..63];
        let short = &HEX[..62];
        let long = format!("{HEX}00");
        let bad_digit = format!("{}g", &HEX[..63]);
        let spaced = format!(" {}", &HEX[..63]);
        let wrong_prefix = format!("sha1={HEX}");
        let upper_prefix = format!("SHA256={HEX}");
        let double_prefix = format!("sha256=sha256={HEX}");
        for value in [
            "",
            "sha256=",
            odd,
            short,
            long.as_str(),
            bad_digit.as_str(),
            spaced.as_str(),
            wrong_prefix.as_str(),
            upper_prefix.as_str(),
            double_prefix.as_str(),
            "é",
        ] {
            assert_eq!(
                code(&v, &[("X-Webhook-Signature", value)]),
                "malformed_signature",
                "{value:?}"
            );
        }
        assert_eq!(code(&v, &[]), "missing_signature");
        assert_eq!(code(&v, &[("X-Other", HEX)]), "missing_signature");
        // Two copies, even two correct ones, are refused.
        assert_eq!(
            code(
                &v,
                &[("X-Webhook-Signature", HEX), ("x-webhook-signature", HEX)]
            ),
            "malformed_signature"
        );
        // Well-formed but wrong.
        let zeros = "0".repeat(64);
        assert_eq!(
            code(&v, &[("X-Webhook-Signature", &zeros)]),
            "bad_signature"
        );
    }
}
