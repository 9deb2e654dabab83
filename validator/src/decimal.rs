//! Exact decimal numbers for prices, quantities and confidences.
//!
//! A [`Decimal`] is an integer mantissa and a count of decimal places. Alerts
//! carry money: binary floating point would turn `0.1` into
//! `0.1000000000000000055...`, compare limits wrongly at the edge, and costs
//! ~15 KB of flash on a Cortex-M. Parsed values are bounded to
//! [`MAX_DIGITS`] significant digits and [`MAX_SCALE`] decimal places, so the
//! product of any two parsed values (an order's value) is exact in the `i128`
//! mantissa.

use core::cmp::Ordering;
use core::fmt;

/// Most significant digits a parsed decimal may carry.
pub const MAX_DIGITS: u32 = 18;
/// Most decimal places a parsed decimal may carry (after trailing zeros are
/// dropped).
pub const MAX_SCALE: u8 = 18;
/// Most decimal places any decimal (including products) may carry.
const MAX_PRODUCT_SCALE: u8 = 2 * MAX_SCALE;

/// An exact decimal number: `mantissa × 10^-scale`.
///
/// Always stored in its shortest form (no trailing fractional zeros), so two
/// equal values have equal fields. Ordering is numeric.
///
/// ```
/// use alertgate_validator::Decimal;
/// let price = Decimal::parse("67000.50").unwrap();
/// let qty = Decimal::parse("1e-3").unwrap();
/// assert_eq!(price.checked_mul(qty).unwrap(), Decimal::parse("67.0005").unwrap());
/// assert!(Decimal::parse("0.1").unwrap() < Decimal::parse("0.10000001").unwrap());
/// assert_eq!(Decimal::parse("2.50").unwrap().to_string(), "2.5");
/// assert!(Decimal::parse("+1").is_none() && Decimal::parse(".5").is_none());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Decimal {
    // Little-endian bytes of the i128 mantissa: byte alignment keeps a
    // Decimal at 17 bytes instead of 32, and every `Option<Decimal>` in an
    // `Order` or a `Rejection` small, at the cost of an unaligned load.
    mantissa: [u8; 16],
    scale: u8,
}

impl fmt::Debug for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Decimal({self})")
    }
}

const fn pow10(n: u8) -> i128 {
    let mut v: i128 = 1;
    let mut i = 0;
    while i < n {
        v *= 10;
        i += 1;
    }
    v
}

impl Decimal {
    /// Zero.
    pub const ZERO: Decimal = Decimal {
        mantissa: [0; 16],
        scale: 0,
    };
    /// One.
    pub const ONE: Decimal = Decimal {
        mantissa: 1i128.to_le_bytes(),
        scale: 0,
    };

    /// `mantissa × 10^-scale`, normalized. `None` if `scale` exceeds 36 or
    /// the mantissa is beyond ±10^38.
    pub const fn new(mantissa: i128, scale: u8) -> Option<Decimal> {
        if scale > MAX_PRODUCT_SCALE || mantissa.unsigned_abs() >= pow10(38).unsigned_abs() {
            return None;
        }
        let (mut m, mut s) = (mantissa, scale);
        while s > 0 && m % 10 == 0 {
            m /= 10;
            s -= 1;
        }
        Some(Decimal {
            mantissa: m.to_le_bytes(),
            scale: s,
        })
    }

    /// The integer mantissa.
    pub const fn mantissa(&self) -> i128 {
        i128::from_le_bytes(self.mantissa)
    }

    /// The number of decimal places.
    pub const fn scale(&self) -> u8 {
        self.scale
    }

    /// True if strictly below zero.
    pub const fn is_negative(&self) -> bool {
        self.mantissa() < 0
    }

    /// True if strictly above zero.
    pub const fn is_positive(&self) -> bool {
        self.mantissa() > 0
    }

    /// Parses RFC 8259 number syntax: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    ///
    /// Exponents are accepted when the value fits the bounds ([`MAX_DIGITS`]
    /// significant digits, [`MAX_SCALE`] places). `+1`, `.5`, `1.`, `007`,
    /// `NaN`, `Infinity`, surrounding spaces: all `None`.
    pub fn parse(text: &str) -> Option<Decimal> {
        Self::parse_bytes(text.as_bytes())
    }

    /// [`Decimal::parse`] over bytes.
    pub fn parse_bytes(s: &[u8]) -> Option<Decimal> {
        let mut i = 0;
        let negative = s.first() == Some(&b'-');
        if negative {
            i += 1;
        }
        // Integer part.
        let int_start = i;
        while i < s.len() && s[i].is_ascii_digit() {
            i += 1;
        }
        let int_digits = &s[int_start..i];
        if int_digits.is_empty() || (int_digits.len() > 1 && int_digits[0] == b'0') {
            return None;
        }
        // Fraction.
        let mut frac_digits: &[u8] = &[];
        if i < s.len() && s[i] == b'.' {
            i += 1;
            let start = i;
            while i < s.len() && s[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return None;
            }
            frac_digits = &s[start..i];
        }
        // Exponent, clamped while reading so huge exponents cannot overflow.
        let mut exp: i64 = 0;
        if i < s.len() && (s[i] == b'e' || s[i] == b'E') {
            i += 1;
            let mut exp_negative = false;
            if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
                exp_negative = s[i] == b'-';
                i += 1;
            }
            let start = i;
            while i < s.len() && s[i].is_ascii_digit() {
                exp = (exp * 10 + i64::from(s[i] - b'0')).min(1_000_000);
                i += 1;
            }
            if i == start {
                return None;
            }
            if exp_negative {
                exp = -exp;
            }
        }
        if i != s.len() {
            return None;
        }

        // Significant digits: integer and fraction digits without leading
        // zeros (of the whole number) and without trailing zeros.
        let digits = || int_digits.iter().chain(frac_digits.iter()).copied();
        let total = int_digits.len() + frac_digits.len();
        let leading = digits().take_while(|&d| d == b'0').count();
        if leading == total {
            return Some(Decimal::ZERO);
        }
        let trailing = digits().rev().take_while(|&d| d == b'0').count();
        let significant = total - leading - trailing;
        if significant > MAX_DIGITS as usize {
            return None;
        }
        let mut mantissa: i128 = 0;
        for d in digits().skip(leading).take(significant) {
            mantissa = mantissa * 10 + i128::from(d - b'0');
        }
        // value = mantissa × 10^(exp - frac_len + trailing)
        let power = exp - frac_digits.len() as i64 + trailing as i64;
        if power >= 0 {
            // Integer value: the whole number must still have at most
            // MAX_DIGITS digits.
            if significant as i64 + power > i64::from(MAX_DIGITS) {
                return None;
            }
            mantissa *= pow10(power as u8);
            Some(Decimal::from_parts_unchecked(negative, mantissa, 0))
        } else {
            let scale = -power;
            if scale > i64::from(MAX_SCALE) {
                return None;
            }
            Some(Decimal::from_parts_unchecked(
                negative,
                mantissa,
                scale as u8,
            ))
        }
    }

    const fn from_parts_unchecked(negative: bool, mantissa: i128, scale: u8) -> Decimal {
        Decimal {
            mantissa: (if negative { -mantissa } else { mantissa }).to_le_bytes(),
            scale,
        }
    }

    /// Exact product; `None` only if it cannot be represented (never for two
    /// values produced by [`Decimal::parse`]).
    pub fn checked_mul(self, other: Decimal) -> Option<Decimal> {
        let m = self.mantissa().checked_mul(other.mantissa())?;
        Decimal::new(m, self.scale + other.scale)
    }

    /// Splits into integer part and fractional remainder (same sign).
    fn split(self) -> (i128, i128) {
        let p = pow10(self.scale);
        (self.mantissa() / p, self.mantissa() % p)
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        // Compare integer parts first, then remainders brought to a common
        // scale; each remainder is below 10^36 so the rescale cannot
        // overflow an i128.
        let (ai, ar) = self.split();
        let (bi, br) = other.split();
        ai.cmp(&bi).then_with(|| {
            let s = self.scale.max(other.scale);
            (ar * pow10(s - self.scale)).cmp(&(br * pow10(s - other.scale)))
        })
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_negative() {
            f.write_str("-")?;
        }
        let m = self.mantissa().unsigned_abs();
        let p = pow10(self.scale) as u128;
        write!(f, "{}", m / p)?;
        if self.scale > 0 {
            write!(f, ".{:0width$}", m % p, width = self.scale as usize)?;
        }
        Ok(())
    }
}

/// Serialized as a JSON string (`"67000.5"`): exact, and readable by every
/// JSON parser without float rounding.
impl serde::Serialize for Decimal {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // 38 digits, a sign, a point and leading zeros of a small fraction.
        let mut buf = heapless::String::<80>::new();
        fmt::write(&mut buf, format_args!("{self}")).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(&buf)
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use num_bigint::BigInt;
    use proptest::prelude::*;
    use std::string::{String, ToString};

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn parses_json_numbers() {
        assert_eq!(d("0"), Decimal::ZERO);
        assert_eq!(d("-0"), Decimal::ZERO);
        assert_eq!(d("0.000"), Decimal::ZERO);
        assert_eq!(d("1.50"), Decimal::new(15, 1).unwrap());
        assert_eq!(d("1.5e2").to_string(), "150");
        assert_eq!(d("15E-1").to_string(), "1.5");
        assert_eq!(d("1e+3").to_string(), "1000");
        assert_eq!(d("-0.001").to_string(), "-0.001");
        assert_eq!(d("100").to_string(), "100");
        assert_eq!(d("0e999999999999").to_string(), "0");
        assert_eq!(d("123456789012345678").to_string(), "123456789012345678");
        assert_eq!(
            d("0.000000000000000001").to_string(),
            "0.000000000000000001"
        );
        assert_eq!(d("1000000000000000000e-18").to_string(), "1");
    }

    #[test]
    fn rejects_non_json_and_out_of_bounds() {
        for bad in [
            "",
            "-",
            "+1",
            ".5",
            "1.",
            "007",
            "00",
            "-01",
            "1e",
            "1e+",
            "NaN",
            "Infinity",
            "-Infinity",
            " 1",
            "1 ",
            "1.5.2",
            "0x10",
            "1_000",
            "١",
            "1e19",
            "1234567890123456789",
            "0.0000000000000000001",
            "1e-19",
            "99999999999999999999e-2",
        ] {
            assert_eq!(Decimal::parse(bad), None, "{bad:?} must not parse");
        }
    }

    #[test]
    fn orders_numerically() {
        assert!(d("0.1") < d("0.10000001"));
        assert!(d("-1") < d("-0.5"));
        assert!(d("2") > d("1.99999999999999999"));
        assert_eq!(d("1.0").cmp(&d("1")), Ordering::Equal);
        let big = d("123456789012345678")
            .checked_mul(d("123456789012345678"))
            .unwrap();
        let tiny = d("0.000000000000000001")
            .checked_mul(d("0.000000000000000001"))
            .unwrap();
        assert!(tiny < big && tiny > Decimal::ZERO);
        assert_eq!(tiny.scale(), 36);
    }

    fn rational(x: &Decimal) -> (BigInt, BigInt) {
        (
            BigInt::from(x.mantissa()),
            BigInt::from(10u8).pow(u32::from(x.scale())),
        )
    }

    /// Decimal text in JSON number syntax, within the parse bounds most of the time.
    fn number_text() -> impl Strategy<Value = String> {
        (
            any::<bool>(),
            0u64..1_000_000_000_000,
            proptest::option::of(0u64..1_000_000_000),
            proptest::option::of(-25i32..25),
        )
            .prop_map(|(neg, int, frac, exp)| {
                let mut s = String::new();
                if neg {
                    s.push('-');
                }
                s.push_str(&int.to_string());
                if let Some(f) = frac {
                    s.push('.');
                    s.push_str(&f.to_string());
                }
                if let Some(e) = exp {
                    s.push('e');
                    s.push_str(&e.to_string());
                }
                s
            })
    }

    /// Exact value of JSON number text as a rational, via big integers.
    fn exact(text: &str) -> (BigInt, BigInt) {
        let (num, exp) = match text.find(['e', 'E']) {
            Some(i) => (&text[..i], text[i + 1..].parse::<i64>().unwrap()),
            None => (text, 0),
        };
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        let digits: BigInt = std::format!("{int}{frac}").parse().unwrap();
        let power = exp - frac.len() as i64;
        let ten = BigInt::from(10u8);
        if power >= 0 {
            (digits * ten.pow(power as u32), BigInt::from(1u8))
        } else {
            (digits, ten.pow((-power) as u32))
        }
    }

    proptest! {
        #[test]
        fn parse_is_exact(text in number_text()) {
            if let Some(x) = Decimal::parse(&text) {
                let (n, dd) = rational(&x);
                let (en, ed) = exact(&text);
                prop_assert_eq!(n * ed, en * dd);
                // Display round-trips.
                prop_assert_eq!(Decimal::parse(&x.to_string()), Some(x));
            }
        }

        #[test]
        fn compare_and_multiply_agree_with_rationals(a in number_text(), b in number_text()) {
            if let (Some(x), Some(y)) = (Decimal::parse(&a), Decimal::parse(&b)) {
                let (xn, xd) = rational(&x);
                let (yn, yd) = rational(&y);
                prop_assert_eq!(x.cmp(&y), (&xn * &yd).cmp(&(&yn * &xd)));
                let p = x.checked_mul(y).expect("products of parsed values fit");
                let (pn, pd) = rational(&p);
                prop_assert_eq!(pn * (&xd * &yd), (xn * yn) * pd);
            }
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = Decimal::parse_bytes(&bytes);
        }
    }
}
