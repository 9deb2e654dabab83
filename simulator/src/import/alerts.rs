//! Imported trades as an alert stream: one recorded webhook request per
//! entry and exit, in the line format of [`crate::stream`].
//!
//! The body is what a TradingView alert template would have sent for the
//! order: entry long and exit short buy, exit long and entry short sell,
//! at the market, the quantity and the fill price as written in the export,
//! `time` and `received_at` the trade's time, and an `event_id` that is
//! unique and stable (`tv-7-entry`, `tv-7-exit`, `tv-7-exit-2` for a
//! trade's second partial exit), so importing the same file twice gives the
//! same stream.
//!
//! Authentication ([`AlertAuth`]) follows the replay configuration's
//! `[auth] scheme`: none; `passphrase`, whose body field holds the
//! placeholder of the configuration's first secret, which `replay` puts
//! back ([`crate::redact`]), so the passphrase is never written; or a
//! signing scheme, signed with a secret the caller read from the
//! environment, at the trade's time.

use std::net::IpAddr;

use alertgate_validator::time::{Rfc3339, MAX_MS, SECONDS_BELOW};
use alertgate_validator::Scheme;

use super::tradingview_trades::{Action, Direction, TradeEvent, TradeList};
use super::ImportError;
use crate::config::Secret;
use crate::stream::write_line;

/// How each alert is authenticated.
#[derive(Debug, Clone)]
pub enum AlertAuth {
    /// Not at all: replay with `[auth] scheme = "none"`.
    None,
    /// A `passphrase` body field holding the placeholder of the replay
    /// configuration's first secret (`scheme = "passphrase"`).
    Passphrase,
    /// Signed headers of a signing scheme (`hex-body`, `github`,
    /// `timestamped`, `stripe`, `standard-webhooks`) with this secret.
    Signed {
        /// The scheme.
        scheme: Scheme,
        /// Its secret (for `standard-webhooks`, the `whsec_` string).
        secret: Secret,
    },
}

/// What every alert of an import carries besides the trade.
#[derive(Debug, Clone)]
pub struct AlertOptions {
    /// The alert's `symbol`, as [`alert_symbol`] writes it (`BTCUSDT`).
    pub symbol: String,
    /// Authentication.
    pub auth: AlertAuth,
    /// A `confidence` for every alert (a decimal in [0, 1], as written);
    /// `None`: no such field (a gate with `require_confidence` refuses
    /// them).
    pub confidence: Option<String>,
    /// The recorded `source_ip` (a gate with an allowlist needs one).
    pub source_ip: Option<IpAddr>,
}

/// The alert symbol for TradingView's `EXCHANGE:TICKER`: the ticker, the
/// exchange prefix dropped, as alerts write `{{ticker}}` (`BTCUSDT`,
/// `BTCUSDT.P`). `None` for text no alert symbol is made of.
///
/// ```
/// use alertgate_simulator::import::alert_symbol;
/// assert_eq!(alert_symbol("BINANCE:BTCUSDT").as_deref(), Some("BTCUSDT"));
/// assert_eq!(alert_symbol("ETH/USDT").as_deref(), Some("ETH/USDT"));
/// assert_eq!(alert_symbol("BINANCE:"), None);
/// assert_eq!(alert_symbol("BTC USDT"), None);
/// ```
pub fn alert_symbol(text: &str) -> Option<String> {
    let ticker = text.rsplit_once(':').map_or(text, |(_, t)| t);
    let ok = (1..=40).contains(&ticker.len())
        && ticker
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.".contains(&b));
    ok.then(|| ticker.to_string())
}

/// The stream's lines (no newlines), one per event of `list`, in its order;
/// `file` names the export in errors.
pub fn alert_lines(
    list: &TradeList,
    options: &AlertOptions,
    file: &str,
) -> Result<Vec<String>, ImportError> {
    list.events
        .iter()
        .map(|e| alert_line(e, options, file))
        .collect()
}

/// `tv-<trade>-entry`, `tv-<trade>-exit`, `tv-<trade>-exit-<part>`.
pub fn event_id(e: &TradeEvent) -> String {
    match (e.action, e.part) {
        (Action::Entry, _) => format!("tv-{}-entry", e.trade),
        (Action::Exit, 1) => format!("tv-{}-exit", e.trade),
        (Action::Exit, part) => format!("tv-{}-exit-{part}", e.trade),
    }
}

/// `buy` or `sell`: entering long and leaving short buy.
pub fn side(e: &TradeEvent) -> &'static str {
    match (e.action, e.direction) {
        (Action::Entry, Direction::Long) | (Action::Exit, Direction::Short) => "buy",
        (Action::Entry, Direction::Short) | (Action::Exit, Direction::Long) => "sell",
    }
}

fn alert_line(e: &TradeEvent, options: &AlertOptions, file: &str) -> Result<String, ImportError> {
    let unwritable = |reason: String| ImportError::Unwritable {
        file: file.to_string(),
        line: e.line,
        reason,
    };
    if !(SECONDS_BELOW..=MAX_MS).contains(&e.time_ms) {
        return Err(unwritable(format!(
            "{} is outside the times a stream records (1973-03-03 to 9999)",
            Rfc3339(e.time_ms.clamp(0, MAX_MS))
        )));
    }
    let id = event_id(e);
    let body = body(e, &id, options);
    let mut headers: Vec<(&str, String)> = vec![("Content-Type", "application/json".into())];
    if let AlertAuth::Signed { scheme, secret } = &options.auth {
        let signed = alertgate_validator::auth::sign(
            *scheme,
            &secret.0,
            body.as_bytes(),
            e.time_ms.div_euclid(1000),
            &id,
        )
        .map_err(|err| unwritable(format!("cannot sign with {}: {err}", scheme.name())))?;
        headers.extend(signed.iter().map(|(n, v)| (*n, v.as_str().to_string())));
    }
    let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    Ok(write_line(
        &e.time_ms.to_string(),
        &pairs,
        &body,
        options.source_ip,
        None,
    ))
}

/// The alert's JSON body, members in a fixed order.
fn body(e: &TradeEvent, id: &str, options: &AlertOptions) -> String {
    let text = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut body = format!(
        "{{\"symbol\":{},\"side\":\"{}\",\"order_type\":\"market\",\"quantity\":{},\"price\":{},\"time\":\"{}\",\"event_id\":{}",
        text(&options.symbol),
        side(e),
        text(&e.quantity),
        text(&e.price),
        Rfc3339(e.time_ms),
        text(id),
    );
    if let Some(c) = &options.confidence {
        body.push_str(",\"confidence\":");
        body.push_str(&text(c));
    }
    if matches!(options.auth, AlertAuth::Passphrase) {
        body.push_str(",\"passphrase\":");
        body.push_str(&text(&crate::redact::secret_placeholder(0)));
    }
    body.push('}');
    body
}
