//! Decimal settings (`[policy]` `min_confidence`, `max_quantity`,
//! `max_order_value`), read exactly: a TOML float reaches serde as an `f64`,
//! so its value is read again from its text in the file.

use std::collections::BTreeMap;

use alertgate_validator::{decimal, Decimal};
use serde::de::{self, Deserializer};
use serde::Deserialize;

/// A decimal setting: a TOML integer, string or float, read exactly.
///
/// TOML floats reach serde as `f64`s, which may not be what was written
/// (`0.99999999999999999` is the `f64` 1). So a float is kept as
/// [`DecimalSetting::Float`] while the file is deserialized, and
/// [`Settings::from_toml`](super::Settings::from_toml) then reads it again from its text in the file
/// ([`decimal_of_float_literal`]); one left unread (a table built in code
/// and given to [`Settings::from_table`](super::Settings::from_table)) is refused, not rounded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DecimalSetting {
    /// Read exactly: from an integer, a string, or a float's text.
    Exact(Decimal),
    /// A TOML float, still to be read from its text.
    Float(f64),
}

impl<'de> Deserialize<'de> for DecimalSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Float(f64),
            Text(String),
        }
        // The text to read, and the value as the message shows it.
        let (text, shown) = match Raw::deserialize(deserializer)? {
            Raw::Int(i) => (i.to_string(), i.to_string()),
            Raw::Float(x) => return Ok(DecimalSetting::Float(x)),
            Raw::Text(s) => {
                let shown = format!("{s:?}");
                (s, shown)
            }
        };
        Decimal::parse(&text)
            .map(DecimalSetting::Exact)
            .ok_or_else(|| de::Error::custom(not_a_decimal(&shown)))
    }
}

/// `VALUE is not a decimal below 10^18 ...`: the message for a decimal
/// setting the gate cannot hold exactly.
pub(super) fn not_a_decimal(value: &str) -> String {
    format!("{value} is not a decimal {}", decimal::BOUNDS)
}

/// The keys of `[policy]` that are [`DecimalSetting`]s (also under
/// `[strategies.NAME.policy]`).
pub const DECIMAL_SETTINGS: [&str; 3] = ["min_confidence", "max_quantity", "max_order_value"];

/// The exact value of a TOML float literal (`0.99999999999999999`,
/// `+1_000.5`, `1e-3`) as written, if a [`Decimal`] holds it: the text is
/// read, without `_` separators and a leading `+`, by [`Decimal::parse`]
/// (TOML's float syntax is otherwise RFC 8259's, which it reads). `None`
/// for `inf`, `nan` and values beyond [`decimal::BOUNDS`].
pub fn decimal_of_float_literal(literal: &str) -> Option<Decimal> {
    Decimal::parse(&float_literal_as_decimal_text(literal))
}

/// A TOML float literal as decimal text: without `_` and a leading `+`.
fn float_literal_as_decimal_text(literal: &str) -> String {
    let unsigned = literal.strip_prefix('+').unwrap_or(literal);
    unsigned.replace('_', "")
}

/// The `[policy]` values of a file (top level and per strategy) with their
/// places in its text: what holds the decimal settings. Everything else is
/// ignored, having been checked when the file was read as a [`FileConfig`].
#[derive(Default, Deserialize)]
#[serde(default)]
pub(super) struct DecimalLiterals {
    policy: BTreeMap<String, toml::Spanned<toml::Value>>,
    strategies: BTreeMap<String, StrategyLiterals>,
}

/// [`DecimalLiterals`] of a `[strategies.NAME]`.
#[derive(Default, Deserialize)]
#[serde(default)]
struct StrategyLiterals {
    policy: BTreeMap<String, toml::Spanned<toml::Value>>,
}

/// A decimal setting written as a float: where, and its text.
pub(super) struct FloatLiteral<'t> {
    /// The `[strategies.NAME]` it is under, if any.
    pub(super) strategy: Option<String>,
    /// Its key in `[policy]`, one of [`DECIMAL_SETTINGS`].
    pub(super) key: &'static str,
    /// The float as written.
    pub(super) literal: &'t str,
}

impl FloatLiteral<'_> {
    /// The dotted setting (`policy.max_quantity`,
    /// `strategies.NAME.policy.max_quantity`).
    pub(super) fn setting(&self) -> String {
        match &self.strategy {
            Some(name) => format!("strategies.{name}.policy.{}", self.key),
            None => format!("policy.{}", self.key),
        }
    }
}

impl DecimalLiterals {
    /// Every decimal setting `text` writes as a float (`text` being a
    /// document that deserialized as a [`FileConfig`]).
    pub(super) fn floats(text: &str) -> Result<Vec<FloatLiteral<'_>>, toml::de::Error> {
        let literals: DecimalLiterals = toml::from_str(text)?;
        let tables = std::iter::once((None, literals.policy)).chain(
            literals
                .strategies
                .into_iter()
                .map(|(name, s)| (Some(name), s.policy)),
        );
        let mut floats = Vec::new();
        for (strategy, mut policy) in tables {
            for key in DECIMAL_SETTINGS {
                if let Some(value) = policy.remove(key).filter(|v| v.get_ref().is_float()) {
                    floats.push(FloatLiteral {
                        strategy: strategy.clone(),
                        key,
                        literal: text.get(value.span()).unwrap_or_default(),
                    });
                }
            }
        }
        Ok(floats)
    }
}

/// Replaces every decimal setting of `table` written as a float in `text`
/// (which `table` was parsed from) by a string holding its literal (less
/// `_` and a leading `+`), so that the setting is read exactly when the
/// table is checked ([`Settings::from_table`](super::Settings::from_table)); `replay --sweep` edits
/// such a table.
pub fn keep_decimal_literals(table: &mut toml::Table, text: &str) -> Result<(), toml::de::Error> {
    for float in DecimalLiterals::floats(text)? {
        let mut section = Some(&mut *table);
        if let Some(name) = &float.strategy {
            section = section
                .and_then(|t| t.get_mut("strategies")?.as_table_mut())
                .and_then(|t| t.get_mut(name)?.as_table_mut());
        }
        let slot = section
            .and_then(|t| t.get_mut("policy")?.as_table_mut())
            .and_then(|t| t.get_mut(float.key));
        if let Some(value) = slot {
            *value = toml::Value::String(float_literal_as_decimal_text(float.literal));
        }
    }
    Ok(())
}

/// A `--sweep` value for the setting at `path`: `value` (parsed TOML) as
/// is, but a float for a [decimal setting](DECIMAL_SETTINGS) becomes a
/// string of its literal `text`, to be read exactly.
pub fn sweep_value(path: &[String], text: &str, value: toml::Value) -> toml::Value {
    match (path, value) {
        ([section, key], toml::Value::Float(_))
            if section == "policy" && DECIMAL_SETTINGS.contains(&key.as_str()) =>
        {
            toml::Value::String(float_literal_as_decimal_text(text))
        }
        (_, value) => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use alertgate_validator::replay::Slot;
    use alertgate_validator::Gate;

    fn env(k: &str) -> Option<String> {
        (k == "GATE_SECRET").then(|| "from-env".to_string())
    }

    /// Floats in decimal settings are read from their text, never through
    /// an `f64` (which makes `0.99999999999999999` the float 1).
    #[test]
    fn float_decimal_settings_are_read_exactly_from_the_text() {
        let d = |text: &str| Decimal::parse(text).unwrap();
        let s = Settings::from_toml(
            r#"
            [policy]
            max_quantity = 0.99999999999999999   # not 1
            min_confidence = 0.60000000000000001
            max_order_value = +1_000.000_5
            [strategies.a.policy]
            max_quantity = 1.5e-3
            max_order_value = 2E+3
            [strategies.b]
            policy = { max_quantity = 0.30000000000000004, min_confidence = 0.5 }
            [strategies.c]
            policy.max_order_value = 123456789012345678e-9
            "#,
            "t.toml",
            env,
        )
        .unwrap();
        assert_eq!(s.gate.policy.max_quantity, Some(d("0.99999999999999999")));
        assert_ne!(s.gate.policy.max_quantity, Some(Decimal::ONE));
        assert_eq!(s.gate.policy.min_confidence, d("0.60000000000000001"));
        assert_eq!(s.gate.policy.max_order_value, Some(d("1000.0005")));
        let a = &s.strategies["a"].policy;
        assert_eq!(a.max_quantity, Some(d("0.0015")));
        assert_eq!(a.max_order_value, Some(d("2000")));
        let b = &s.strategies["b"].policy;
        assert_eq!(b.max_quantity, Some(d("0.30000000000000004")));
        assert_eq!(b.min_confidence, d("0.5"));
        assert_eq!(
            s.strategies["c"].policy.max_order_value,
            Some(d("123456789.012345678"))
        );

        // So quantity 1 is over the limit.
        let lent = s.lend();
        let mut gate: Gate<'_, [Slot; 4]> = Gate::new(lent.config()).unwrap();
        let request = |body: &'static [u8]| alertgate_validator::Request {
            body,
            headers: &[],
            source_ip: None,
            mark_price: None,
        };
        let now = 1_700_000_000_000;
        let one = br#"{"symbol":"BTCUSDT","side":"buy","type":"limit","quantity":1,"price":1,"confidence":1,"timestamp":1700000000000}"#;
        assert_eq!(
            gate.check(&request(one), now).unwrap_err().code(),
            "quantity_too_large"
        );
        let under = br#"{"symbol":"BTCUSDT","side":"buy","type":"limit","quantity":0.99999999999999999,"price":1,"confidence":1,"timestamp":1700000000000}"#;
        assert!(gate.check(&request(under), now).is_ok());
    }

    #[test]
    fn float_decimal_settings_beyond_the_bounds_are_refused() {
        let err = |text: &str| {
            Settings::from_toml(text, "t.toml", env)
                .unwrap_err()
                .to_string()
        };
        let bounds =
            "below 10^18 in magnitude, with at most 18 significant digits and 18 decimal places";
        for (text, message) in [
            (
                "[policy]\nmax_quantity = 0.9999999999999999999",
                "policy.max_quantity: 0.9999999999999999999 is not a decimal",
            ),
            (
                "[policy]\nmax_order_value = 1e18",
                "policy.max_order_value: 1e18 is not a decimal",
            ),
            (
                "[policy]\nmin_confidence = 1e-19",
                "policy.min_confidence: 1e-19 is not a decimal",
            ),
            (
                "[policy]\nmax_quantity = inf",
                "policy.max_quantity: inf is not a decimal",
            ),
            (
                "[policy]\nmax_quantity = nan",
                "policy.max_quantity: nan is not a decimal",
            ),
            (
                "[strategies.x.policy]\nmax_order_value = 1.0e30",
                "strategies.x.policy.max_order_value: 1.0e30 is not a decimal",
            ),
            (
                "[policy]\nmax_quantity = \"1e18\"",
                "\"1e18\" is not a decimal",
            ),
            (
                "[policy]\nmax_quantity = 1000000000000000000",
                "(setting policy.max_quantity): 1000000000000000000 is not a decimal",
            ),
        ] {
            let e = err(text);
            assert!(e.contains(message) && e.ends_with(bounds), "{text}: {e}");
        }
    }

    #[test]
    fn tables_keep_decimal_literals_for_sweeps() {
        let text = "[policy]\nmax_quantity = 0.99999999999999999\nmin_confidence = 0.5\nsymbols = [\"BTC/USDT\"]\n[strategies.x.policy]\nmax_order_value = 1_000.5\n[simulation]\ntaker_fee_bps = 0.5\n";
        let mut table: toml::Table = toml::from_str(text).unwrap();
        keep_decimal_literals(&mut table, text).unwrap();
        assert_eq!(
            table["policy"]["max_quantity"].as_str(),
            Some("0.99999999999999999")
        );
        assert_eq!(
            table["strategies"]["x"]["policy"]["max_order_value"].as_str(),
            Some("1000.5")
        );
        assert_eq!(table["simulation"]["taker_fee_bps"].as_float(), Some(0.5));
        let s = Settings::from_table(table, "t.toml", env).unwrap();
        assert_eq!(
            s.gate.policy.max_quantity,
            Decimal::parse("0.99999999999999999")
        );
        assert_eq!(s.gate.policy.min_confidence, Decimal::parse("0.5").unwrap());
        assert_eq!(
            s.strategies["x"].policy.max_order_value,
            Decimal::parse("1000.5")
        );
        // A float without its text is refused, not rounded.
        let table: toml::Table = toml::from_str("[policy]\nmax_quantity = 0.5").unwrap();
        let e = Settings::from_table(table, "t.toml", env).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("policy.max_quantity: 0.5 is a float without its text"),
            "{e}"
        );
    }

    #[test]
    fn float_literals_read_as_written() {
        for (literal, want) in [
            ("0.99999999999999999", Some("0.99999999999999999")),
            ("+1_000.000_5", Some("1000.0005")),
            ("-0.0", Some("0")),
            ("1e0_3", Some("1000")),
            ("6.02E+2", Some("602")),
            ("1e-18", Some("0.000000000000000001")),
            ("1e-19", None),
            ("1e18", None),
            ("inf", None),
            ("-nan", None),
        ] {
            assert_eq!(
                decimal_of_float_literal(literal),
                want.map(|w| Decimal::parse(w).unwrap()),
                "{literal}"
            );
        }
    }
}
