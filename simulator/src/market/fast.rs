//! The fast loader: one pass over a file's bytes (read whole, or
//! decompressed into one buffer), no allocation per row. Rows of the plain
//! shape (short decimals, integer times, no blanks: nearly every row of
//! every format) are read 16 bytes at a time by [`swar`]; any other line is
//! split by hand on `,` and `\n` / `\r\n` / `\r`, its integers read by hand
//! and its floats by [`fast_float2`] (correctly rounded, so every value
//! equals what `f64::from_str` gives; chosen over `lexical-core` because it
//! does this one thing, from bytes, with no features to configure). Both
//! paths give the same values wherever both read a row.
//!
//! It reads only what is plainly right, and answers `None` for anything
//! else: a quote or a non-ASCII byte in a data row (none of the formats
//! quotes its fields or writes non-ASCII numbers; such a file may still be
//! valid CSV), a value outside the strict forms below, a row of another
//! width, any value the checks of [`super::rows`] refuse. The caller then
//! reads the file with the [`reference`](super::reference) reader, which
//! gives the value or the error (file, line, field): errors are rare, so
//! reading such a file twice costs nothing where speed matters, and both
//! readers agree on every error because only one of them words errors.
//!
//! Accepted forms: times `[0-9]{1,18}` or RFC 3339 (as the reference reads
//! it); numbers `[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?`. Fields are trimmed
//! of ASCII blanks, as the reference trims them. The unit of integer times
//! is the column's first integer's (every integer must have it,
//! [`TimeUnit::of`]): each is scaled to ms and checked in order as its row
//! is read, so a file that switches units is handed over at that row.

use alertgate_validator::time::parse_rfc3339;

use super::detect::{self, Columns, Layout};
use super::times::TimeUnit;
use super::{Bar, MarketFormat, MarketKind};

mod swar;

/// Not one of the six values a row gives.
const SKIP: u8 = u8::MAX;

/// Reads `bytes` in `format`; `None` when the reference reader must decide.
pub(super) fn parse(bytes: &[u8], format: MarketFormat) -> Option<(MarketKind, Vec<Bar>)> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut lines = Lines { rest: bytes };
    let first = lines.next()?;
    let layout = layout_of(first, format)?;
    let plan = Plan::new(&layout, field_count(first));
    let estimate = bytes.len() / (first.len() + 1) + 1;
    let mut reader = RowReader {
        plan,
        bars: Vec::with_capacity(estimate),
        unit: None,
    };
    if !layout.header {
        reader.push(first)?;
    }
    // Lines read the general way since the last plain row: after a few in
    // a row, the file's rows are of another shape (text times, blanks), and
    // trying each as a plain row first would only cost, so only every
    // 128th is tried.
    let mut misses = 0u32;
    loop {
        // Rows of the plain shape in one pass over their bytes; any other
        // line (blanks, long numbers, text times, the file's last bytes…)
        // split first, then read field by field.
        if misses < 8 || misses.is_multiple_of(128) {
            if let Some((row, next)) = swar::row(lines.rest, 0, &reader.plan.slot_of) {
                reader.append(row.time, row.values, true)?;
                lines.rest = lines.rest.get(next..)?;
                misses = 0;
                continue;
            }
        }
        let Some(line) = lines.next() else {
            break;
        };
        reader.push(line)?;
        misses = misses.wrapping_add(1);
    }
    reader.finish()
}

/// The first record's layout, as [`detect::layout`] finds it in the record
/// the reference reader would build (fields trimmed as `str::trim` does).
fn layout_of(first: &[u8], format: MarketFormat) -> Option<Layout> {
    let text = std::str::from_utf8(first).ok()?;
    if text.contains('"') {
        return None;
    }
    let record: csv::StringRecord = text.split(',').map(str::trim).collect();
    detect::layout(&record, 1, "", format).ok()
}

fn field_count(line: &[u8]) -> usize {
    memchr::memchr_iter(b',', line).count() + 1
}

/// Records: lines without their terminator, empty ones skipped (as the
/// `csv` crate skips them).
struct Lines<'b> {
    rest: &'b [u8],
}

impl<'b> Iterator for Lines<'b> {
    type Item = &'b [u8];

    fn next(&mut self) -> Option<&'b [u8]> {
        while !self.rest.is_empty() {
            let end = memchr::memchr2(b'\n', b'\r', self.rest).unwrap_or(self.rest.len());
            let line = &self.rest[..end];
            let crlf = self.rest.get(end) == Some(&b'\r') && self.rest.get(end + 1) == Some(&b'\n');
            self.rest = &self.rest[(end + 1 + usize::from(crlf)).min(self.rest.len())..];
            if !line.is_empty() {
                return Some(line);
            }
        }
        None
    }
}

/// Which field of a row goes where: slot 0 is the time, 1 to 4 open, high,
/// low and close (a trade's price in all four), 5 the volume.
struct Plan {
    kind: MarketKind,
    fields: usize,
    slot_of: Vec<u8>,
    has_volume: bool,
}

impl Plan {
    fn new(layout: &Layout, fields: usize) -> Plan {
        let mut slot_of = vec![SKIP; fields];
        let mut set = |index: usize, slot: u8| {
            if let Some(s) = slot_of.get_mut(index) {
                *s = slot;
            }
        };
        let has_volume = match &layout.columns {
            Columns::Bars(c) => {
                for (slot, f) in [c.time, c.open, c.high, c.low, c.close].iter().enumerate() {
                    set(f.index, slot as u8);
                }
                if let Some(v) = c.volume {
                    set(v.index, 5);
                }
                c.volume.is_some()
            }
            Columns::Trades(c) => {
                set(c.time.index, 0);
                set(c.price.index, 1);
                set(c.qty.index, 5);
                true
            }
        };
        Plan {
            kind: layout.columns.kind(),
            fields,
            slot_of,
            has_volume,
        }
    }
}

/// The rows read so far, their times in ms.
struct RowReader {
    plan: Plan,
    bars: Vec<Bar>,
    /// The unit of the column's first integer time.
    unit: Option<TimeUnit>,
}

impl RowReader {
    /// Reads one data row; `None` if it is not plainly right.
    fn push(&mut self, line: &[u8]) -> Option<()> {
        let mut values: [&[u8]; 6] = [&[]; 6];
        let mut n = 0;
        let mut start = 0;
        // The line's commas as bit masks, 64 bytes at a time: a loop the
        // compiler vectorizes, where splitting byte by byte does not.
        for (c, chunk) in line.chunks(64).enumerate() {
            let (mut commas, odd) = scan_chunk(chunk);
            if odd {
                return None;
            }
            while commas != 0 {
                let at = c * 64 + commas.trailing_zeros() as usize;
                commas &= commas - 1;
                self.take(&mut values, n, &line[start..at])?;
                (n, start) = (n + 1, at + 1);
            }
        }
        self.take(&mut values, n, &line[start..])?;
        if n + 1 != self.plan.fields {
            return None;
        }
        let (time, integer) = match integer(values[0]) {
            Some(value) => (value, true),
            // Not 1 to 18 digits: RFC 3339, or (19 digits or more, which
            // no RFC 3339 time is) handed over.
            None => (parse_rfc3339(std::str::from_utf8(values[0]).ok()?)?, false),
        };
        let mut numbers = [0.0; 6];
        let read = match self.plan.kind {
            MarketKind::Bars if self.plan.has_volume => 1..6,
            MarketKind::Bars => 1..5,
            MarketKind::Trades => 1..2,
        };
        for slot in read {
            numbers[slot] = number(values[slot])?;
        }
        if self.plan.kind == MarketKind::Trades {
            numbers[5] = number(values[5])?;
        }
        self.append(time, numbers, integer)
    }

    /// Keeps field `n` in its slot, trimmed, if the row's values need it.
    fn take<'l>(&self, values: &mut [&'l [u8]; 6], n: usize, field: &'l [u8]) -> Option<()> {
        let slot = *self.plan.slot_of.get(n)?;
        if slot != SKIP {
            values[usize::from(slot)] = trim(field);
        }
        Some(())
    }

    /// Appends the row whose time is `time` (a raw integer of the column's
    /// unit if `integer`, else ms) and whose numbers are `v` (by slot), if
    /// its values and its place in the order are right.
    fn append(&mut self, time: i64, v: [f64; 6], integer: bool) -> Option<()> {
        let time_ms = if integer { self.time_ms(time)? } else { time };
        let bar = match self.plan.kind {
            MarketKind::Bars => bar(time_ms, v)?,
            MarketKind::Trades => trade(time_ms, v[1], v[5])?,
        };
        let ordered = match (self.bars.last(), self.plan.kind) {
            (None, _) => true,
            (Some(last), MarketKind::Bars) => last.time_ms < time_ms,
            (Some(last), MarketKind::Trades) => last.time_ms <= time_ms,
        };
        ordered.then(|| self.bars.push(bar))
    }

    /// An integer time as ms: the column's unit is its first integer's,
    /// and every integer must have it.
    fn time_ms(&mut self, value: i64) -> Option<i64> {
        let unit = TimeUnit::of(value);
        match self.unit {
            None => self.unit = Some(unit),
            Some(first) if first != unit => return None,
            Some(_) => {}
        }
        unit.to_ms(value)
    }

    fn finish(self) -> Option<(MarketKind, Vec<Bar>)> {
        (!self.bars.is_empty()).then_some((self.plan.kind, self.bars))
    }
}

/// A bar from the numbers by slot (open, high, low, close, volume): its
/// prices above 0 and its open and close within `[low, high]` (numbers are
/// never negative: no sign is read).
fn bar(time_ms: i64, v: [f64; 6]) -> Option<Bar> {
    let [_, open, high, low, close, volume] = v;
    let inside = |x: f64| low <= x && x <= high;
    (low > 0.0 && high > 0.0 && open > 0.0 && close > 0.0 && inside(open) && inside(close))
        .then_some(Bar {
            time_ms,
            open,
            high,
            low,
            close,
            volume,
        })
}

/// A trade as a bar: its price above 0.
fn trade(time_ms: i64, price: f64, volume: f64) -> Option<Bar> {
    (price > 0.0).then_some(Bar {
        time_ms,
        open: price,
        high: price,
        low: price,
        close: price,
        volume,
    })
}

/// Where a chunk of at most 64 bytes has commas (bit `i` for byte `i`),
/// and whether it has a quote or a non-ASCII byte. Written on a fixed
/// 64-byte block, 16 bytes at a time, so that it compiles to vector
/// compares and mask moves.
fn scan_chunk(chunk: &[u8]) -> (u64, bool) {
    let mut block = [0u8; 64];
    block[..chunk.len()].copy_from_slice(chunk);
    let mut commas = 0u64;
    let mut odd = 0u8;
    for (q, lane) in block.chunks_exact(16).enumerate() {
        let mut mask = 0u16;
        for (i, &b) in lane.iter().enumerate() {
            mask |= u16::from(b == b',') << i;
            odd |= (b & 0x80) | u8::from(b == b'"');
        }
        commas |= u64::from(mask) << (q * 16);
    }
    (commas, odd != 0)
}

/// A finite number in the strict form (never negative: no sign).
fn number(text: &[u8]) -> Option<f64> {
    if let Some(v) = short_decimal(text) {
        return Some(v);
    }
    if !plain_decimal(text) {
        return None;
    }
    let v: f64 = fast_float2::parse(text).ok()?;
    v.is_finite().then_some(v)
}

/// `[0-9]+(\.[0-9]+)?` with at most 15 digits in all, exactly: the digits
/// as an integer and a power of ten are both exact in `f64`, so their
/// quotient is the correctly rounded value, as `f64::from_str` gives.
/// `None` for anything else (the general path decides).
fn short_decimal(text: &[u8]) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    if text.is_empty() || text.len() > 16 {
        return None;
    }
    let (mut mantissa, mut digits, mut point) = (0u64, 0usize, None);
    for (i, &b) in text.iter().enumerate() {
        let d = b.wrapping_sub(b'0');
        if d <= 9 {
            mantissa = mantissa * 10 + u64::from(d);
            digits += 1;
        } else if b == b'.' && point.is_none() && i > 0 {
            point = Some(i);
        } else {
            return None;
        }
    }
    let fraction = match point {
        Some(p) if p + 1 == text.len() => return None,
        Some(p) => text.len() - p - 1,
        None => 0,
    };
    (digits <= 15).then(|| mantissa as f64 / POW10[fraction])
}

/// `[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?`, a subset of what `f64::from_str`
/// reads.
fn plain_decimal(text: &[u8]) -> bool {
    let digits = |from: usize| {
        text[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let mut i = digits(0);
    if i == 0 {
        return false;
    }
    if text.get(i) == Some(&b'.') {
        i += 1;
        i += digits(i);
    }
    if matches!(text.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(text.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exponent = digits(i);
        if exponent == 0 {
            return false;
        }
        i += exponent;
    }
    i == text.len()
}

/// 1 to 18 ASCII digits (never overflows `i64`).
fn integer(text: &[u8]) -> Option<i64> {
    if text.is_empty() || text.len() > 18 {
        return None;
    }
    let mut v = 0i64;
    for &b in text {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + i64::from(d);
    }
    Some(v)
}

/// `text` without the blanks `str::trim` removes that a record can hold
/// (line ends end the record).
fn trim(text: &[u8]) -> &[u8] {
    let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\x0B' | b'\x0C');
    match (text.first(), text.last()) {
        (Some(first), Some(last)) if !blank(first) && !blank(last) => return text,
        _ => {}
    }
    let start = text.iter().position(|b| !blank(b)).unwrap_or(text.len());
    let end = text
        .iter()
        .rposition(|b| !blank(b))
        .map_or(start, |e| e + 1);
    &text[start..end]
}

#[cfg(test)]
mod tests;
