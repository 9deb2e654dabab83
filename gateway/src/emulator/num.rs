//! Exact decimal arithmetic the emulator needs beyond what
//! [`Decimal`] offers (it only multiplies): sums, differences and a
//! quotient at a fixed scale for average prices. `None` is an overflow,
//! which the callers turn into a refusal, never a panic.

use alertgate_validator::Decimal;

/// The scale quotients are computed at (Binance shows 8 decimals).
const QUOTIENT_SCALE: u8 = 8;

/// Both mantissas at their common scale.
fn aligned(a: Decimal, b: Decimal) -> Option<(i128, i128, u8)> {
    let scale = a.scale().max(b.scale());
    Some((at_scale(a, scale)?, at_scale(b, scale)?, scale))
}

/// The mantissa of `d` at `scale` (at least its own).
fn at_scale(d: Decimal, scale: u8) -> Option<i128> {
    let shift = u32::from(scale.checked_sub(d.scale())?);
    d.mantissa().checked_mul(10i128.checked_pow(shift)?)
}

/// `a + b`.
pub fn add(a: Decimal, b: Decimal) -> Option<Decimal> {
    let (x, y, s) = aligned(a, b)?;
    Decimal::new(x.checked_add(y)?, s)
}

/// `a - b`.
pub fn sub(a: Decimal, b: Decimal) -> Option<Decimal> {
    let (x, y, s) = aligned(a, b)?;
    Decimal::new(x.checked_sub(y)?, s)
}

/// `-a`.
pub fn neg(a: Decimal) -> Decimal {
    // The mantissa bound is symmetric, so the negation always fits.
    Decimal::new(-a.mantissa(), a.scale()).unwrap_or(a)
}

/// `|a|`.
pub fn abs(a: Decimal) -> Decimal {
    if a.is_negative() {
        neg(a)
    } else {
        a
    }
}

/// `a × b`.
pub fn mul(a: Decimal, b: Decimal) -> Option<Decimal> {
    a.checked_mul(b)
}

/// `a / b` truncated to 8 decimals; `None` for a zero divisor.
pub fn div(a: Decimal, b: Decimal) -> Option<Decimal> {
    if b.mantissa() == 0 {
        return None;
    }
    let (x, y, _) = aligned(a, b)?;
    let scaled = x.checked_mul(10i128.pow(u32::from(QUOTIENT_SCALE)))?;
    Decimal::new(scaled / y, QUOTIENT_SCALE)
}

/// Whether `value` is a whole multiple of `increment` (always, for a zero
/// increment: no rule).
pub fn is_multiple(value: Decimal, increment: Decimal) -> bool {
    if increment.mantissa() == 0 {
        return true;
    }
    match aligned(value, increment) {
        Some((v, i, _)) => v % i == 0,
        None => false,
    }
}

/// `d` with exactly `places` decimals (`"0.10000000"`), as Binance Spot
/// prints amounts; fewer places than `d` has are not cut.
pub fn fixed(d: Decimal, places: u8) -> String {
    let text = d.to_string();
    let have = u8::try_from(text.split('.').nth(1).map_or(0, str::len)).unwrap_or(u8::MAX);
    if have >= places {
        return text;
    }
    let mut out = text;
    if have == 0 {
        out.push('.');
    }
    out.extend(std::iter::repeat_n('0', usize::from(places - have)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn arithmetic_is_exact() {
        assert_eq!(add(d("0.1"), d("0.2")), Some(d("0.3")));
        assert_eq!(sub(d("1"), d("0.001")), Some(d("0.999")));
        assert_eq!(sub(d("0.5"), d("1.5")), Some(d("-1")));
        assert_eq!(neg(d("2.5")), d("-2.5"));
        assert_eq!(abs(d("-2.5")), d("2.5"));
        assert_eq!(div(d("10"), d("4")), Some(d("2.5")));
        assert_eq!(div(d("1"), d("3")), Some(d("0.33333333")));
        assert_eq!(div(d("1"), Decimal::ZERO), None);
        assert!(is_multiple(d("0.012"), d("0.001")));
        assert!(!is_multiple(d("0.0125"), d("0.001")));
        assert!(is_multiple(d("15"), d("5")));
        assert!(!is_multiple(d("12.5"), d("5")));
    }

    #[test]
    fn fixed_pads_to_places() {
        assert_eq!(fixed(d("0.1"), 8), "0.10000000");
        assert_eq!(fixed(d("50000"), 2), "50000.00");
        assert_eq!(fixed(d("0.123456789"), 8), "0.123456789");
    }
}
