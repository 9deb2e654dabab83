//! Request parameters and signed-request verification as Binance
//! documents it: the key in `X-MBX-APIKEY` (-2014 when missing or
//! malformed, -2015 when unknown), `signature` = hex HMAC-SHA256 of the
//! query string concatenated with the body (the `signature` parameter
//! left out; -1022 when wrong), and `timestamp` within `recvWindow`
//! (default 5000, at most 60000) of the emulator's clock and not more than
//! 1000 ms ahead of it (-1021).

use alertgate_validator::Decimal;

use super::{ApiError, EmulatorConfig};
use crate::venue::binance::signature;

/// The parameters of a request: the query string's, then the body's, in
/// order, percent-decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// The parameters of `query` and a form `body`.
    pub fn parse(query: &str, body: &str) -> Params {
        let pairs = [query, body]
            .into_iter()
            .flat_map(|raw| raw.split('&'))
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (name, value) = p.split_once('=').unwrap_or((p, ""));
                (decode(name), decode(value))
            })
            .collect();
        Params { pairs }
    }

    /// The first value of `name`, if sent and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Whether a parameter is sent twice (Binance refuses it, -1101).
    pub fn has_duplicates(&self) -> bool {
        let mut names: Vec<&str> = self.pairs.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        names.windows(2).any(|w| w[0] == w[1])
    }

    /// The value of mandatory `name` (-1102 when missing).
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| ApiError::mandatory(name))
    }

    /// The decimal value of `name`, if sent (-1102 when not a decimal).
    pub fn decimal(&self, name: &str) -> Result<Option<Decimal>, ApiError> {
        self.get(name)
            .map(|v| Decimal::parse(v).ok_or_else(|| ApiError::mandatory(name)))
            .transpose()
    }
}

/// `%XX` and `+` decoded; a malformed escape is kept as it is.
fn decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `raw` without its `signature=` component.
fn without_signature(raw: &str) -> String {
    raw.split('&')
        .filter(|p| !p.starts_with("signature="))
        .collect::<Vec<_>>()
        .join("&")
}

/// Checks the API key of any keyed request.
pub fn check_key(config: &EmulatorConfig, key: Option<&str>) -> Result<(), ApiError> {
    let unauthorized = |code, msg: &str| ApiError {
        http: 401,
        code,
        msg: msg.into(),
    };
    let key = key.unwrap_or_default();
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(unauthorized(-2014, "API-key format invalid."));
    }
    if !equal(key.as_bytes(), config.api_key.expose().as_bytes()) {
        return Err(unauthorized(
            -2015,
            "Invalid API-key, IP, or permissions for action.",
        ));
    }
    Ok(())
}

/// Verifies a SIGNED request at the emulator's `now_ms`: key, signature,
/// then timestamp.
pub fn verify(
    config: &EmulatorConfig,
    key: Option<&str>,
    query: &str,
    body: &str,
    params: &Params,
    now_ms: i64,
) -> Result<(), ApiError> {
    check_key(config, key)?;
    let sent = params.required("signature")?;
    let payload = without_signature(query) + &without_signature(body);
    let expected = signature(config.secret.expose().as_bytes(), &payload);
    if !equal(sent.to_ascii_lowercase().as_bytes(), expected.as_bytes()) {
        return Err(ApiError::bad(
            -1022,
            "Signature for this request is not valid.",
        ));
    }
    check_timestamp(params, now_ms)
}

/// `timestamp` within `recvWindow` of `now_ms`, not over 1000 ms ahead.
fn check_timestamp(params: &Params, now_ms: i64) -> Result<(), ApiError> {
    let timestamp: i64 = params
        .required("timestamp")?
        .parse()
        .map_err(|_| ApiError::mandatory("timestamp"))?;
    // Microseconds: `recvWindow` may carry three decimals (Spot).
    let window_us = match params.decimal("recvWindow")? {
        None => 5_000_000,
        Some(w) => window_micros(w)?,
    };
    let (now_us, ts_us) = (i128::from(now_ms) * 1000, i128::from(timestamp) * 1000);
    if ts_us > now_us + 1_000_000 {
        return Err(ApiError::bad(
            -1021,
            "Timestamp for this request was 1000ms ahead of the server's time.",
        ));
    }
    if now_us - ts_us > window_us {
        return Err(ApiError::bad(
            -1021,
            "Timestamp for this request is outside of the recvWindow.",
        ));
    }
    Ok(())
}

/// `recvWindow` (ms, up to three decimals) in µs; over 60000 → -1102.
fn window_micros(window: Decimal) -> Result<i128, ApiError> {
    let too_big = || {
        ApiError::bad(
            -1102,
            "'recvWindow' contains unexpected value. Cannot be greater than 60000.",
        )
    };
    let micros = window
        .checked_mul(Decimal::new(1000, 0).ok_or_else(too_big)?)
        .ok_or_else(too_big)?;
    if micros.scale() > 0 || micros.is_negative() {
        return Err(ApiError::mandatory("recvWindow"));
    }
    let micros = micros.mantissa();
    if micros > 60_000_000 {
        return Err(too_big());
    }
    Ok(micros)
}

/// Compares without stopping at the first difference (no timing hint).
fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::binance::Market;

    const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
    const KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
    const QUERY: &str = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
    const SIG: &str = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71";
    const AT: i64 = 1_499_827_319_559;

    fn config() -> EmulatorConfig {
        EmulatorConfig::new(Market::Spot, KEY, SECRET)
    }

    fn check(key: Option<&str>, query: &str, body: &str, now: i64) -> Result<(), ApiError> {
        verify(
            &config(),
            key,
            query,
            body,
            &Params::parse(query, body),
            now,
        )
    }

    #[test]
    fn documented_example_is_accepted_in_query_body_or_both() {
        let signed = format!("{QUERY}&signature={SIG}");
        assert_eq!(check(Some(KEY), &signed, "", AT), Ok(()));
        assert_eq!(check(Some(KEY), "", &signed, AT), Ok(()));
        // Binance's example 3: the query string, then the body, no `&`.
        let (q, b) = QUERY.split_at(QUERY.find("&quantity").unwrap());
        let b = &b[1..];
        let mixed = signature(SECRET.as_bytes(), &format!("{q}{b}"));
        assert_eq!(
            check(Some(KEY), q, &format!("{b}&signature={mixed}"), AT),
            Ok(())
        );
        // Joined with `&`, the payload is not Binance's: refused.
        let joined = signature(SECRET.as_bytes(), &format!("{q}&{b}"));
        let refused = check(Some(KEY), q, &format!("{b}&signature={joined}"), AT);
        assert_eq!(refused.unwrap_err().code, -1022);
        // The non-ASCII example: signed as sent, percent-encoded.
        let encoded = QUERY.replace(
            "LTCBTC",
            "%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96",
        );
        let sig = "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3";
        let signed = format!("{encoded}&signature={sig}");
        assert_eq!(check(Some(KEY), &signed, "", AT), Ok(()));
    }

    #[test]
    fn refusals_have_binances_codes() {
        let signed = format!("{QUERY}&signature={SIG}");
        let code = |r: Result<(), ApiError>| r.unwrap_err().code;
        assert_eq!(code(check(None, &signed, "", AT)), -2014);
        assert_eq!(code(check(Some("other"), &signed, "", AT)), -2015);
        let bad = signed.replace("quantity=1", "quantity=2");
        assert_eq!(code(check(Some(KEY), &bad, "", AT)), -1022);
        assert_eq!(code(check(Some(KEY), QUERY, "", AT)), -1102);
        // 5000 ms window: 5000 ms late passes, 5001 does not; 1000 ms early
        // passes, 1001 does not.
        assert_eq!(check(Some(KEY), &signed, "", AT + 5000), Ok(()));
        assert_eq!(code(check(Some(KEY), &signed, "", AT + 5001)), -1021);
        assert_eq!(check(Some(KEY), &signed, "", AT - 1000), Ok(()));
        assert_eq!(code(check(Some(KEY), &signed, "", AT - 1001)), -1021);
    }

    #[test]
    fn recv_window_bounds() {
        let p = |w: &str| Params::parse(&format!("timestamp=1000&recvWindow={w}"), "");
        assert_eq!(check_timestamp(&p("60000"), 60_999), Ok(()));
        assert_eq!(check_timestamp(&p("60001"), 1000).unwrap_err().code, -1102);
        assert_eq!(check_timestamp(&p("0.5"), 1000), Ok(()));
        assert_eq!(check_timestamp(&p("0.5"), 1001).unwrap_err().code, -1021);
    }

    #[test]
    fn params_are_decoded_and_secrets_never_shown() {
        let p = Params::parse("a=1&b=x%2By", "c=hello+world&a=2&d=%zz");
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), Some("x+y"));
        assert_eq!(p.get("c"), Some("hello world"));
        assert_eq!(p.get("d"), Some("%zz"));
        assert!(p.has_duplicates());
        assert!(!Params::parse("a=1&b=2", "c=3").has_duplicates());
        let shown = format!("{:?}", config());
        assert!(!shown.contains(SECRET) && !shown.contains(KEY), "{shown}");
    }
}
