//! The rows of the common shape, read 16 bytes at a time in a `u128`
//! ("SIMD within a register", safe code): a field's digits are found with a
//! few additions and masks, and up to 16 of them become an integer with two
//! multiplications per 8 digits, where a loop over the bytes costs a compare,
//! a branch and a multiply-add each.
//!
//! Only the plainest form is read here: integer times of 1 to 18 digits;
//! numbers `[0-9]{1,15}` or `[0-9]+\.[0-9]+` with 15 digits or fewer in all
//! (whose value is exact, as in [`super::short_decimal`]); skipped fields
//! without a quote or a non-ASCII byte; no blanks; `,` between fields and a
//! line end after the last. Everything else (blanks, long or exponent
//! numbers, RFC 3339 times, a row within 16 bytes of the end of the file)
//! answers `None`, and the caller reads that row the general way, which
//! gives the same values wherever this does (the tests check it).

/// Not one of the six values a row gives (as in the plan's `slot_of`).
use super::SKIP;

/// `byte` in each of the 16 bytes.
const fn splat(byte: u8) -> u128 {
    u128::from_le_bytes([byte; 16])
}

/// `10^k` for the fraction digits of a short decimal: all exact in `f64`.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// A row's values: the raw integer time, and the numbers by slot (1 to 4
/// the prices, 5 the volume; slots the row does not have stay 0).
pub(super) struct Row {
    /// The time as written, in the column's unit.
    pub time: i64,
    /// The numbers by slot.
    pub values: [f64; 6],
}

/// Reads the row starting at `at` whose fields go to `slots` (one slot a
/// field, [`SKIP`] for a field not read): the row and where the next line
/// starts, or `None` when the row is not of the plain shape.
pub(super) fn row(bytes: &[u8], mut at: usize, slots: &[u8]) -> Option<(Row, usize)> {
    let mut row = Row {
        time: 0,
        values: [0.0; 6],
    };
    let last = slots.len().checked_sub(1)?;
    for (i, &slot) in slots.iter().enumerate() {
        let end = match slot {
            0 => {
                let (time, end) = integer(bytes, at)?;
                row.time = time;
                end
            }
            SKIP => skip(bytes, at)?,
            _ => {
                let (value, len) = decimal(window(bytes, at)?)?;
                *row.values.get_mut(usize::from(slot))? = value;
                at + len
            }
        };
        at = match (*bytes.get(end)?, i == last) {
            (b',', false) => end + 1,
            (b'\n', true) => end + 1,
            (b'\r', true) => end + 1 + usize::from(bytes.get(end + 1) == Some(&b'\n')),
            _ => return None,
        };
    }
    Some((row, at))
}

/// The 16 bytes from `at`, if the file has them.
fn window(bytes: &[u8], at: usize) -> Option<&[u8; 16]> {
    bytes.get(at..at.checked_add(16)?)?.try_into().ok()
}

/// Bit 7 of each byte that is not an ASCII digit, no other bit. Computed on
/// the low 7 bits, so that no byte carries into the next.
fn non_digits(x: u128) -> u128 {
    let low = x & splat(0x7F);
    let above_nine = low + splat(0x80 - b'9' - 1);
    let from_zero = low + splat(0x80 - b'0');
    (above_nine | !from_zero | x) & splat(0x80)
}

/// Bit 7 of each byte that may end a skipped field or make the row odd:
/// those below `-` (`,`, line ends, `"`, blanks…) and non-ASCII ones.
fn specials(x: u128) -> u128 {
    let low = x & splat(0x7F);
    (!(low + splat(0x80 - b'-')) | x) & splat(0x80)
}

/// `byte` in each of 8 bytes.
const fn splat8(byte: u8) -> u64 {
    u64::from_le_bytes([byte; 8])
}

/// [`non_digits`] of 8 bytes.
fn non_digits8(x: u64) -> u64 {
    let low = x & splat8(0x7F);
    let above_nine = low + splat8(0x80 - b'9' - 1);
    let from_zero = low + splat8(0x80 - b'0');
    (above_nine | !from_zero | x) & splat8(0x80)
}

/// [`first`] of 8 bytes (8: none).
fn first8(mask: u64) -> usize {
    mask.trailing_zeros() as usize / 8
}

/// [`value`] of 1 to 8 digits.
fn value8(digits: u64, n: usize) -> u64 {
    eight(digits << (8 * (8 - n)))
}

/// The index of the first byte flagged in `mask` (16: none).
fn first(mask: u128) -> usize {
    mask.trailing_zeros() as usize / 8
}

/// The integer of the digit values (0 to 9 each) in the low `n` bytes of
/// `digits` (1 to 16 bytes, the first one the most significant); the
/// bytes from `n` on are ignored.
fn value(digits: u128, n: usize) -> u64 {
    // Right-aligned in the 16 bytes (the bytes after the `n` shifted out),
    // the zeros shifted in before them are leading zeros.
    let aligned = digits << (8 * (16 - n));
    eight(aligned as u64) * 100_000_000 + eight((aligned >> 64) as u64)
}

/// The integer of eight digit values, the first (most significant) in the
/// lowest byte: pairs, then fours, then the eight (the well-known trick,
/// as in `fast_float`).
fn eight(v: u64) -> u64 {
    let pairs = v.wrapping_mul(10).wrapping_add(v >> 8);
    let lo = (pairs & 0x0000_00FF_0000_00FF).wrapping_mul(100 + (1_000_000 << 32));
    let hi = ((pairs >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32));
    lo.wrapping_add(hi) >> 32
}

/// A short decimal at the start of `w` and its length (the byte after it,
/// still within `w`, is for the caller to judge).
fn decimal(w: &[u8; 16]) -> Option<(f64, usize)> {
    // Most prices and volumes end within 8 bytes: read in a `u64`, at half
    // the instructions of a `u128` (its shifts by a variable count
    // especially).
    let (head, _) = w.split_first_chunk::<8>()?;
    let x = u64::from_le_bytes(*head);
    let other = non_digits8(x);
    let int = first8(other);
    if int == 0 {
        return None;
    }
    if int < 8 {
        let digits = x & splat8(0x0F);
        if w[int] != b'.' {
            return Some((exact(value8(digits, int)), int));
        }
        let end = first8(other & (other - 1));
        if end < 8 {
            let fraction = end.checked_sub(int + 1).filter(|f| *f > 0)?;
            let behind = ((other & other.wrapping_neg()) << 1).wrapping_neg();
            let packed = (digits & behind) | ((digits << 8) & !behind);
            return Some((exact(value8(packed, end)) / POW10[fraction], end));
        }
    }
    decimal16(w)
}

/// [`decimal`] for a number that ends after its first 8 bytes.
fn decimal16(w: &[u8; 16]) -> Option<(f64, usize)> {
    let x = u128::from_le_bytes(*w);
    let other = non_digits(x);
    let int = first(other);
    if int == 0 || int == 16 {
        return None;
    }
    let digits = x & splat(0x0F);
    if w[int] != b'.' {
        return Some((exact(value(digits, int)), int));
    }
    // The digits after the point, and those before it moved one byte up
    // over the point: one run of `end - 1` digits after a leading 0.
    let point = other & other.wrapping_neg();
    let after = other & (other - 1);
    let end = first(after);
    // At most 14 digits (`end` < 16): exact, as in `short_decimal`.
    let fraction = end.checked_sub(int + 1)?;
    if end == 16 || fraction == 0 {
        return None;
    }
    let behind = (point << 1).wrapping_neg();
    let packed = (digits & behind) | ((digits << 8) & !behind);
    Some((exact(value(packed, end)) / POW10[fraction], end))
}

/// An integer below 2^53 (15 digits at most), exactly, as `f64`; through
/// `i64`, which converts in one instruction where `u64` does not.
fn exact(v: u64) -> f64 {
    v as i64 as f64
}

/// An integer time of 1 to 18 digits at `at`, and where it ends.
fn integer(bytes: &[u8], at: usize) -> Option<(i64, usize)> {
    let x = u128::from_le_bytes(*window(bytes, at)?);
    let n = first(non_digits(x));
    let digits = x & splat(0x0F);
    if n == 0 {
        return None;
    }
    if n < 16 {
        return Some((value(digits, n) as i64, at + n));
    }
    // 16 digits so far (µs times have 16): two more at most.
    let mut v = value(digits, 16);
    let mut end = at + 16;
    while let Some(d) = bytes
        .get(end)
        .map(|b| b.wrapping_sub(b'0'))
        .filter(|d| *d <= 9)
    {
        if end - at == 18 {
            return None;
        }
        v = v * 10 + u64::from(d);
        end += 1;
    }
    Some((i64::try_from(v).ok()?, end))
}

/// The end of a skipped field at `at` (its `,` or line end), if it has no
/// quote and no non-ASCII byte.
fn skip(bytes: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let mut mask = specials(u128::from_le_bytes(*window(bytes, at)?));
        while mask != 0 {
            let end = at + first(mask);
            match bytes.get(end)? {
                b',' | b'\n' | b'\r' => return Some(end),
                b'"' => return None,
                b if *b >= 0x80 => return None,
                _ => mask &= mask - 1,
            }
        }
        at += 16;
    }
}

#[cfg(test)]
mod tests;
