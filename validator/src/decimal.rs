//! Exact decimal numbers for prices, quantities and confidences.
//!
//! A [`Decimal`] is an integer mantissa and a count of decimal places. Alerts
//! carry money: binary floating point would turn `0.1` into
//! `0.1000000000000000055...`, compare limits wrongly at the edge, and costs
//! ~15 KB of flash on a Cortex-M. A parsed value is `m × 10^-s` with
//! `|m| < 10^18` ([`MAX_DIGITS`] digits) and `s ≤ 18` ([`MAX_SCALE`]) in
//! shortest form: in words, [`BOUNDS`]. So the product of any two parsed
//! values (an order's value) is exact in the `i128` mantissa.

use core::cmp::Ordering;
use core::fmt;

/// Most digits of a parsed decimal's mantissa in shortest form (trailing
/// fractional zeros dropped): at most 18 significant digits, and a
/// magnitude below 10^18 (an integer's trailing zeros count, so `1e18` is
/// out).
pub const MAX_DIGITS: u32 = 18;
/// Most decimal places a parsed decimal may carry (after trailing zeros are
/// dropped).
pub const MAX_SCALE: u8 = 18;
/// What a parsed decimal must fit, in the words of error messages: exactly
/// [`MAX_DIGITS`] and [`MAX_SCALE`].
pub const BOUNDS: &str =
    "below 10^18 in magnitude, with at most 18 significant digits and 18 decimal places";
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

/// `10^38`: every mantissa's magnitude is below it.
const MANTISSA_BOUND: u128 = pow10(38).unsigned_abs();

/// `(n / 10, n % 10)` by long division over 16-bit limbs.
///
/// Each step divides a `u32` below `10 · 2^16` by the constant 10, which
/// compiles to a multiply: a plain `u128 / 10` would link a generic 128-bit
/// division routine (kilobytes of flash on a 32-bit MCU, and a slow call on
/// any target).
const fn div_rem_10(n: u128) -> (u128, u8) {
    // Most significant 32-bit word first; shifts by constants only (a
    // variable 128-bit shift is a long sequence on a 32-bit MCU).
    let mut words = [
        (n >> 96) as u32,
        (n >> 64) as u32,
        (n >> 32) as u32,
        n as u32,
    ];
    let mut r: u32 = 0;
    let mut i = 0;
    while i < 4 {
        let w = words[i];
        let high = (r << 16) | (w >> 16);
        r = high % 10;
        let low = (r << 16) | (w & 0xffff);
        r = low % 10;
        words[i] = ((high / 10) << 16) | (low / 10);
        i += 1;
    }
    let q = ((words[0] as u128) << 96)
        | ((words[1] as u128) << 64)
        | ((words[2] as u128) << 32)
        | words[3] as u128;
    (q, r as u8)
}

/// The significant digits of a decimal's text, accumulated as they are
/// read (see [`Decimal::parse_bytes`]).
struct Digits {
    /// The significant digits so far, without the pending zeros.
    mantissa: u64,
    /// How many significant digits, pending zeros included.
    significant: usize,
    /// Zeros read since the last non-zero digit (after a significant one).
    zeros: usize,
}

impl Digits {
    /// Reads the run of digits of `s` from `from`; returns where it ends.
    /// `None` once more than [`MAX_DIGITS`] significant digits are read.
    /// (One copy on bare-metal targets, where flash counts more than the
    /// call.)
    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline(never))]
    fn run(&mut self, s: &[u8], from: usize) -> Option<usize> {
        let mut i = from;
        while let Some(&d @ b'0'..=b'9') = s.get(i) {
            i += 1;
            if d == b'0' {
                // Leading zeros (nothing significant yet) do not count.
                if self.significant > 0 {
                    self.zeros += 1;
                }
                continue;
            }
            self.significant += self.zeros + 1;
            if self.significant > MAX_DIGITS as usize {
                return None;
            }
            for _ in 0..self.zeros {
                self.mantissa *= 10;
            }
            self.mantissa = self.mantissa * 10 + u64::from(d - b'0');
            self.zeros = 0;
        }
        Some(i)
    }
}

/// A parsed decimal before it is stored (see [`Decimal::parse_parts`]):
/// `mantissa × 10^-scale` in shortest form, `|mantissa| < 10^18`,
/// `scale ≤ 18`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Parsed {
    /// The signed mantissa (below 10^18 in magnitude, so never wraps).
    pub(crate) mantissa: i64,
    /// Decimal places, at most [`MAX_SCALE`].
    pub(crate) scale: u8,
}

impl Parsed {
    #[inline(always)]
    fn new(negative: bool, magnitude: u64, scale: u8) -> Parsed {
        // Below 10^18 < 2^63: the cast cannot wrap.
        let m = magnitude as i64;
        Parsed {
            mantissa: if negative { -m } else { m },
            scale,
        }
    }

    /// The stored form.
    #[inline(always)]
    pub(crate) fn decimal(self) -> Decimal {
        Decimal {
            mantissa: i128::from(self.mantissa).to_le_bytes(),
            scale: self.scale,
        }
    }

    /// Whether the value exceeds one (`mantissa > 10^scale`; `10^18` fits
    /// an `i64`).
    #[inline(always)]
    pub(crate) fn above_one(self) -> bool {
        let mut one: i64 = 1;
        for _ in 0..self.scale {
            one *= 10;
        }
        self.mantissa > one
    }
}

/// A number's value, read by the host's JSON fast path while it scanned
/// the digits ([`scan_simple`](crate::json::scan_simple)), so that the
/// fields need not read them again: exactly the [`Parsed`] that
/// [`Decimal::parse_parts`] (and its host fast path in `alert.rs`) gives
/// for a text of at most 18 bytes, or nothing ([`Pre::NONE`]: the general
/// scanner, longer texts). Not on bare-metal targets, where it is empty
/// (and the fields read the text).
#[cfg(not(target_os = "none"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pre {
    /// The mantissa of the shortest form ...
    mantissa: i64,
    /// ... and its decimal places (`u8::MAX`: nothing read). Two fields
    /// rather than an `Option<Parsed>`, so that a
    /// [`RawValue`](crate::json::RawValue) stays four words.
    scale: u8,
    /// Whether the text is digits alone (no `-`, no `.`): an integer that
    /// `time::from_integer_bytes` would read, `mantissa` its value.
    integer: bool,
}

/// Empty on bare-metal targets (see the host's [`Pre`]).
#[cfg(target_os = "none")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pre;

impl Pre {
    /// Nothing read in advance.
    #[cfg(not(target_os = "none"))]
    pub(crate) const NONE: Pre = Pre {
        mantissa: 0,
        scale: u8::MAX,
        integer: false,
    };

    /// Nothing read in advance.
    #[cfg(target_os = "none")]
    pub(crate) const NONE: Pre = Pre;

    /// From a number of `len` bytes matching `-?(0|[1-9][0-9]*)(\.[0-9]+)?`
    /// whose digits, read in order, gave `m` (wrapped if too many), `scale`
    /// of them after the `.`: the shortest form for `len ≤ 18` (at most 18
    /// digits, below 10^18: `m` is exact), [`Pre::NONE`] otherwise.
    #[cfg(not(target_os = "none"))]
    #[inline(always)]
    pub(crate) fn of_digits(len: usize, negative: bool, mut m: u64, mut scale: usize) -> Pre {
        if len > 18 {
            return Pre::NONE;
        }
        let integer = !negative && scale == 0;
        while scale > 0 && m.is_multiple_of(10) {
            m /= 10;
            scale -= 1;
        }
        // Below 10^18 < 2^63: the cast cannot wrap; scale < 18.
        let m = m as i64;
        Pre {
            mantissa: if negative { -m } else { m },
            scale: scale as u8,
            integer,
        }
    }

    /// The value read in advance, if the text is digits alone.
    #[cfg(not(target_os = "none"))]
    #[inline(always)]
    pub(crate) fn integer(self) -> Option<i64> {
        self.integer.then_some(self.mantissa)
    }

    /// The value read in advance, if any.
    #[cfg(not(target_os = "none"))]
    #[inline(always)]
    pub(crate) fn get(self) -> Option<Parsed> {
        (self.scale != u8::MAX).then_some(Parsed {
            mantissa: self.mantissa,
            scale: self.scale,
        })
    }
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
        if scale > MAX_PRODUCT_SCALE || mantissa.unsigned_abs() >= MANTISSA_BOUND {
            return None;
        }
        // Strip trailing zeros on the magnitude (see `div_rem_10`).
        let (mut m, mut s) = (mantissa.unsigned_abs(), scale);
        while s > 0 {
            let (q, r) = div_rem_10(m);
            if r != 0 {
                break;
            }
            m = q;
            s -= 1;
        }
        // `m` < 10^38 < 2^127: the cast cannot wrap.
        Some(Decimal::from_parts_unchecked(mantissa < 0, m as i128, s))
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
    /// Exponents are accepted when the value fits the [`BOUNDS`]:
    /// `999999999999999999`, `1e17`, `0.000000000000000001` and `1.5e-17`
    /// are in; `1e18`, `1000000000000000000`, `1e-19` and
    /// `1.0000000000000000001` are out. `+1`, `.5`, `1.`, `007`, `NaN`,
    /// `Infinity`, surrounding spaces: all `None`.
    pub fn parse(text: &str) -> Option<Decimal> {
        Self::parse_bytes(text.as_bytes())
    }

    /// [`Decimal::parse`] over bytes.
    pub fn parse_bytes(s: &[u8]) -> Option<Decimal> {
        Self::parse_parts(s).map(Parsed::decimal)
    }

    /// [`Decimal::parse_bytes`], returning the value as a signed mantissa
    /// below 10^18 in magnitude and a scale: two registers, which callers
    /// can test (sign, range) before storing the 17-byte [`Decimal`]. (A
    /// `Decimal` returned through memory and read back as other widths
    /// stalls store forwarding on the host.)
    #[cfg_attr(not(target_os = "none"), inline(always))]
    pub(crate) fn parse_parts(s: &[u8]) -> Option<Parsed> {
        let (negative, s) = match s {
            [b'-', rest @ ..] => (true, rest),
            _ => (false, s),
        };
        // One pass over the text: the grammar is checked while the
        // significant digits (integer and fraction digits without the whole
        // number's leading and trailing zeros) are accumulated. A run of
        // zeros is only multiplied in once a non-zero digit follows it;
        // whatever is still pending at the end is trailing. At most
        // MAX_DIGITS (18) digits, so below 10^18 < 2^63: a `u64` is enough
        // and cheaper than 128-bit arithmetic on 32-bit targets.
        let mut acc = Digits {
            mantissa: 0,
            significant: 0,
            zeros: 0,
        };
        // Integer part: `0` or a digit run without a leading zero (a digit
        // after a leading `0` is caught by the end-of-text check below).
        let mut i = match s.first() {
            Some(b'0') => 1,
            Some(b'1'..=b'9') => acc.run(s, 0)?,
            _ => return None,
        };
        // Fraction.
        let mut frac_len = 0;
        if s.get(i) == Some(&b'.') {
            let end = acc.run(s, i + 1)?;
            frac_len = end - (i + 1);
            if frac_len == 0 {
                return None;
            }
            i = end;
        }
        // Exponent, clamped while reading so huge exponents cannot overflow.
        let mut exp: i32 = 0;
        if let Some(b'e' | b'E') = s.get(i) {
            i += 1;
            let exp_negative = s.get(i) == Some(&b'-');
            if let Some(b'+' | b'-') = s.get(i) {
                i += 1;
            }
            let start = i;
            while let Some(&d @ b'0'..=b'9') = s.get(i) {
                exp = (exp * 10 + i32::from(d - b'0')).min(1_000_000);
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

        let Digits {
            mut mantissa,
            significant,
            zeros,
        } = acc;
        if significant == 0 {
            return Some(Parsed {
                mantissa: 0,
                scale: 0,
            });
        }
        // value = mantissa × 10^(exp - frac_len + trailing zeros)
        let power = i64::from(exp) - frac_len as i64 + zeros as i64;
        if power >= 0 {
            // Integer value: the whole number must still have at most
            // MAX_DIGITS digits, so it stays below 10^18 too.
            if significant as i64 + power > i64::from(MAX_DIGITS) {
                return None;
            }
            for _ in 0..power {
                mantissa *= 10;
            }
            Some(Parsed::new(negative, mantissa, 0))
        } else {
            let scale = -power;
            if scale > i64::from(MAX_SCALE) {
                return None;
            }
            Some(Parsed::new(negative, mantissa, scale as u8))
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
        let (a, b) = (self.mantissa(), other.mantissa());
        // Below 2^127 (checked), so the cast cannot wrap.
        let m = mul_magnitudes(a.unsigned_abs(), b.unsigned_abs())? as i128;
        Decimal::new(
            if (a < 0) != (b < 0) { -m } else { m },
            self.scale + other.scale,
        )
    }
}

/// `a × b` if it is below 2^127 (so it fits an `i128`).
///
/// Two widening 64 × 64-bit products: `i128::checked_mul` inlines a generic
/// 128-bit overflow check several times this size on a 32-bit MCU.
fn mul_magnitudes(a: u128, b: u128) -> Option<u128> {
    let wide = |x: u64, y: u64| u128::from(x) * u128::from(y);
    let (big, small) = if a >= b { (a, b) } else { (b, a) };
    // Both at least 2^64: the product is at least 2^128.
    let small = u64::try_from(small).ok()?;
    let low = wide(big as u64, small);
    let high = u64::try_from(wide((big >> 64) as u64, small)).ok()?;
    let product = (u128::from(high) << 64).checked_add(low)?;
    (product >> 127 == 0).then_some(product)
}

/// Compares `a × 10^shift` with `b`, where `|a|, |b| < 10^38`.
///
/// Multiplications by ten only: no 128-bit division routine is linked (see
/// `div_rem_10`), nor a 128-bit overflow check. Once the magnitude of `a`
/// reaches 10^37 with a multiplication left, the product's magnitude is at
/// least 10^38 > |b|, so the sign of `a` decides.
///
/// Out of line on bare-metal targets: inlined, the compiler makes one copy
/// per operand order (about 200 bytes of flash on a Cortex-M).
#[cfg_attr(target_os = "none", inline(never))]
fn cmp_scaled(a: i128, shift: u8, b: i128) -> Ordering {
    let mut m = a.unsigned_abs();
    for _ in 0..shift {
        if m >= MANTISSA_BOUND / 10 {
            return if a < 0 {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        m *= 10;
    }
    // Below 10^38 < 2^127: the cast cannot wrap.
    let a = if a < 0 { -(m as i128) } else { m as i128 };
    a.cmp(&b)
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        // On bare-metal targets, the references are made opaque: otherwise
        // the compiler passes both decimals by value (ten words), and every
        // comparison site loads and stacks them, about 40 bytes of flash
        // each on a Cortex-M instead of two pointers. No effect on the
        // result.
        #[cfg(target_os = "none")]
        let (this, other) = (core::hint::black_box(self), core::hint::black_box(other));
        #[cfg(not(target_os = "none"))]
        let this = self;
        // Bring both mantissas to the larger scale.
        let (a, b) = (this.mantissa(), other.mantissa());
        // One call site, so one inlined copy of the rescale.
        let (x, shift, y, swapped) = if this.scale <= other.scale {
            (a, other.scale - this.scale, b, false)
        } else {
            (b, this.scale - other.scale, a, true)
        };
        let ord = cmp_scaled(x, shift, y);
        if swapped {
            ord.reverse()
        } else {
            ord
        }
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Digits are produced with `div_rem_10` into a buffer, right to
        // left, so no 128-bit division and no integer formatting is linked.
        // At most 38 digits, the leading "0." of a value below one, a sign.
        let mut buf = [0u8; 41];
        let mut at = buf.len();
        let mut m = self.mantissa().unsigned_abs();
        let mut places = self.scale;
        // Fraction digits (zeros included), then at least one integer digit.
        while places > 0 || m > 0 || at == buf.len() || buf[at] == b'.' {
            let (q, r) = div_rem_10(m);
            at -= 1;
            buf[at] = b'0' + r;
            m = q;
            if places > 0 {
                places -= 1;
                if places == 0 {
                    at -= 1;
                    buf[at] = b'.';
                }
            }
        }
        if self.is_negative() {
            at -= 1;
            buf[at] = b'-';
        }
        // ASCII by construction.
        f.write_str(core::str::from_utf8(&buf[at..]).unwrap_or_default())
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

/// Read from a JSON string in [`Decimal::parse`]'s syntax and bounds, so
/// every parsed decimal reads back from what [`Serialize`](serde::Serialize)
/// wrote for it (`"67000.5"` → 67000.5). A JSON number is refused: it would
/// reach here as a float, already rounded.
impl<'de> serde::Deserialize<'de> for Decimal {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = Decimal;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a decimal string {BOUNDS}")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Decimal, E> {
                Decimal::parse(text)
                    .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(text), &self))
            }
        }
        deserializer.deserialize_str(Text)
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use num_bigint::BigInt;

    #[test]
    fn parsed_parts_agree_with_decimals() {
        for text in [
            "0",
            "-0",
            "1",
            "1.0",
            "0.999999999999999999",
            "1.00000000000000001",
            "-1",
            "2",
            "0.85",
            "1e0",
            "10e-1",
            "100000000000000000e-17",
            "-0.5",
            "999999999999999999",
            "0.000000000000000001",
            "1e17",
        ] {
            let parsed = Decimal::parse_parts(text.as_bytes()).unwrap();
            let d = Decimal::parse(text).unwrap();
            assert_eq!(parsed.decimal(), d, "{text}");
            assert_eq!(parsed.above_one(), d > Decimal::ONE, "{text}");
            assert_eq!(parsed.mantissa > 0, d.is_positive(), "{text}");
        }
    }
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
        // The bounds' edges (see `BOUNDS`).
        assert_eq!(d("999999999999999999").to_string(), "999999999999999999");
        assert_eq!(
            d("-9.99999999999999999e17").to_string(),
            "-999999999999999999"
        );
        assert_eq!(d("1e17").to_string(), "100000000000000000");
        assert_eq!(d("1.5e-17").to_string(), "0.000000000000000015");
        assert_eq!(d("1.000000000000000000000").to_string(), "1");
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
            "1e18",
            "1000000000000000000",
            "-1000000000000000000",
            "1000000000000000000.0",
            "10e17",
            "0.1e19",
            "1.0000000000000000001",
            "1234567890123456789",
            "0.0000000000000000001",
            "1e-19",
            "99999999999999999999e-2",
        ] {
            assert_eq!(Decimal::parse(bad), None, "{bad:?} must not parse");
        }
    }

    #[test]
    fn displays_extremes() {
        let max = 10i128.pow(38) - 1;
        assert_eq!(
            Decimal::new(max, 0).unwrap().to_string(),
            "99999999999999999999999999999999999999"
        );
        assert_eq!(
            Decimal::new(-max, 36).unwrap().to_string(),
            "-99.999999999999999999999999999999999999"
        );
        assert_eq!(
            Decimal::new(-1, 36).unwrap().to_string(),
            "-0.000000000000000000000000000000000001"
        );
        assert_eq!(Decimal::new(-5, 1).unwrap().to_string(), "-0.5");
        assert_eq!(Decimal::new(120, 1).unwrap().to_string(), "12");
        assert_eq!(Decimal::ZERO.to_string(), "0");
        assert_eq!(std::format!("{:?}", Decimal::ONE), "Decimal(1)");
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

    /// Any mantissa a `Decimal` can hold (|m| < 10^38), weighted towards the
    /// magnitudes where products and rescales start to overflow.
    fn any_mantissa() -> impl Strategy<Value = i128> {
        const MAX: i128 = 99_999_999_999_999_999_999_999_999_999_999_999_999;
        prop_oneof![
            -MAX..=MAX,
            -(1i128 << 70)..(1i128 << 70),
            -(1i128 << 64)..(1i128 << 64),
            -10_000_000_000_000_000_000i128..10_000_000_000_000_000_000,
            -1_000_000i128..1_000_000,
            Just(MAX),
            Just(-MAX),
            Just(1i128 << 64),
            Just((1i128 << 64) - 1),
        ]
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

    #[test]
    fn serde_reads_the_string_it_writes_and_nothing_else() {
        for text in ["0", "0.1", "-2.5", "67000.5", "0.000000000000000001"] {
            let json = serde_json::to_string(&d(text)).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<Decimal>(&json).unwrap(), d(text));
        }
        // `parse`'s syntax: an exponent reads, the value is what counts.
        assert_eq!(
            serde_json::from_str::<Decimal>("\"1e-1\"").unwrap(),
            d("0.1")
        );
        for bad in ["0.1", "1", "\"\"", "\" 1\"", "\"NaN\"", "\"1e18\"", "null"] {
            let e = serde_json::from_str::<Decimal>(bad)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("expected a decimal string below 10^18"),
                "{bad}: {e}"
            );
        }
    }

    proptest! {
        #[test]
        fn parse_is_exact(text in number_text()) {
            if let Some(x) = Decimal::parse(&text) {
                let (n, dd) = rational(&x);
                let (en, ed) = exact(&text);
                prop_assert_eq!(n * ed, en * dd);
                // Display round-trips, and so does serde's string.
                prop_assert_eq!(Decimal::parse(&x.to_string()), Some(x));
                let json = serde_json::to_string(&x).unwrap();
                prop_assert_eq!(serde_json::from_str::<Decimal>(&json).unwrap(), x);
            }
        }

        /// `parse` accepts exactly the values [`BOUNDS`] describes: `m ×
        /// 10^-s` in shortest form with `|m| < 10^18` and `s ≤ 18`.
        #[test]
        fn parse_accepts_exactly_the_bounds(
            text in prop_oneof![
                number_text(),
                "-?(0|[1-9][0-9]{0,20})(\\.[0-9]{1,22})?([eE][+-]?[0-9]{1,2})?",
                "-?[19]0{0,3}[09]{0,18}(\\.0{1,3})?(e-?[0-9])?",
            ]
        ) {
            let (mut n, mut d) = exact(&text);
            let (ten, zero) = (BigInt::from(10u8), BigInt::from(0u8));
            let mut scale = 0u32;
            while d > BigInt::from(1u8) {
                if &n % &ten != zero {
                    // d = 10^k: count its places.
                    while d > BigInt::from(1u8) {
                        d /= &ten;
                        scale += 1;
                    }
                    break;
                }
                n /= &ten;
                d /= &ten;
            }
            let fits = n.magnitude() < ten.pow(MAX_DIGITS).magnitude() && scale <= u32::from(MAX_SCALE);
            prop_assert_eq!(Decimal::parse(&text).is_some(), fits, "{}", text);
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
        fn compare_any_representable_values(
            am in any_mantissa(),
            bm in any_mantissa(),
            a_scale in 0u8..=36,
            b_scale in 0u8..=36,
        ) {
            // Beyond parsed values: products carry up to 36 places and 38
            // digits, which makes the rescale in `cmp` overflow.
            let (x, y) = (Decimal::new(am, a_scale).unwrap(), Decimal::new(bm, b_scale).unwrap());
            let (xn, xd) = rational(&x);
            let (yn, yd) = rational(&y);
            prop_assert_eq!(x.cmp(&y), (&xn * &yd).cmp(&(&yn * &xd)));
            prop_assert_eq!(y.cmp(&x), (&yn * &xd).cmp(&(&xn * &yd)));
            // Display is exact: the text is the same rational.
            let text = x.to_string();
            let (tn, td) = exact(&text);
            prop_assert_eq!(tn * &xd, &xn * td);
            // The product exists exactly when its mantissa and scale fit.
            let product = BigInt::from(x.mantissa()) * BigInt::from(y.mantissa());
            let fits = product.magnitude() < BigInt::from(10u8).pow(38).magnitude()
                && x.scale() + y.scale() <= 36;
            match x.checked_mul(y) {
                Some(p) => {
                    prop_assert!(fits);
                    let (pn, pd) = rational(&p);
                    prop_assert_eq!(pn * (&xd * &yd), (xn * yn) * pd);
                }
                None => prop_assert!(!fits, "{x:?} * {y:?}"),
            }
        }

        #[test]
        fn div_rem_10_matches_native(n in any::<u128>()) {
            prop_assert_eq!(div_rem_10(n), (n / 10, (n % 10) as u8));
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = Decimal::parse_bytes(&bytes);
        }
    }
}
