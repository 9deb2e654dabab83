//! The host's fast path: a scanner for the common shape of an alert only.
//!
//! Most alerts are a flat object of plain ASCII strings, short numbers and
//! literals. This scanner reads just that shape, without the strict
//! scanner's generality (escapes, UTF-8, nesting, error positions), and
//! reads short numbers' values on the way (`decimal::Pre`). On anything
//! else it gives up, and the strict scanner (`scan`) reads the body from
//! the start: results and errors are always the strict scanner's. Not
//! built for bare-metal targets, where flash counts more than nanoseconds.

use super::scan::{plain_run, word_stops};
use super::string::same_bytes;
use super::{JsonStr, Members, RawValue, MAX_MEMBERS};
use crate::decimal::Pre;

/// Most top-level keys the fast path ([`scan_simple`]) takes that the sink
/// does not track; a body with more goes to the general scanner.
const SIMPLE_UNTRACKED: usize = 8;

/// The host's fast path for the common shape of an alert: a top-level
/// object whose keys and string values are plain printable ASCII (no
/// escapes), whose other values are numbers without an exponent, `true`,
/// `false` or `null`, with optional whitespace between tokens.
///
/// Returns `true` when the whole body has that shape, is valid and every
/// member was handed to `members` without an error: `members` then saw
/// exactly the calls [`scan_members`](super::scan_members) would have made,
/// and `scan_members` would have returned `Ok`. Returns `false` on anything
/// else (an escape, a non-ASCII or control byte, a nested value, an
/// exponent, a repeated key, more than [`SIMPLE_UNTRACKED`] untracked keys,
/// an error from the sink, any syntax error): the sink may then have seen
/// some members, and the caller resets it and runs `scan_members` from the
/// start, which produces the result and the error.
///
/// Why: the general scanner's generality (escapes, UTF-8, nesting, error
/// positions) costs about a quarter of its time on a typical alert. Not on
/// bare-metal targets, where flash counts more than the nanoseconds.
#[inline(always)]
pub(crate) fn scan_simple<'a, M: Members<'a>>(body: &'a [u8], members: &mut M) -> bool {
    simple(body, members).is_some()
}

/// Index of the first non-whitespace byte at or after `i`.
#[inline(always)]
fn simple_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = b.get(i) {
        i += 1;
    }
    i
}

/// A plain string whose opening quote is at `i - 1`: its bytes and the
/// index after its closing quote. `None` at the first byte that is not
/// printable ASCII (or `"`, `\`).
#[inline(always)]
fn simple_string(b: &[u8], i: usize) -> Option<(&[u8], usize)> {
    let rest = b.get(i..)?;
    let n = plain_run(rest);
    if rest.get(n) != Some(&b'"') {
        return None;
    }
    Some((rest.get(..n)?, i + n + 1))
}

/// [`simple_string`] for a key: keys are short (every alias fits in 11
/// bytes), so two words read at once find the closing quote without the
/// general run's loop; a longer key, or one near the body's end, goes to
/// [`simple_string`]. Same result.
#[inline(always)]
fn simple_key(b: &[u8], i: usize) -> Option<(&[u8], usize)> {
    const W: usize = core::mem::size_of::<usize>();
    let word = |at: usize| {
        b.get(at..at + W)
            .and_then(|w| <[u8; W]>::try_from(w).ok())
            .map(usize::from_le_bytes)
    };
    let (Some(first), Some(second)) = (word(i), word(i + W)) else {
        return simple_string(b, i);
    };
    let stops = word_stops(first);
    let n = if stops != 0 {
        (stops.trailing_zeros() / 8) as usize
    } else {
        let stops = word_stops(second);
        if stops == 0 {
            return simple_string(b, i);
        }
        W + (stops.trailing_zeros() / 8) as usize
    };
    if b.get(i + n) != Some(&b'"') {
        return None;
    }
    Some((b.get(i..i + n)?, i + n + 1))
}

/// [`scan_simple`], with `?` for "not handled".
#[inline(always)]
fn simple<'a, M: Members<'a>>(b: &'a [u8], members: &mut M) -> Option<()> {
    // Untracked keys so far, to refuse repeats (plain text: equal decoded
    // exactly when equal as written). Uninitialized storage: nothing to
    // clear per call.
    let mut untracked = heapless::Vec::<&[u8], SIMPLE_UNTRACKED>::new();
    let mut count = 0usize;
    let mut i = simple_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = simple_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return (simple_ws(b, i + 1) == b.len()).then_some(());
    }
    loop {
        // The key, at its quote (whitespace already skipped).
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let (raw, end) = simple_key(b, i + 1)?;
        let key = JsonStr {
            raw,
            decoded_len: raw.len(),
        };
        i = end;
        if b.get(i) != Some(&b':') {
            i = simple_ws(b, i);
            if b.get(i) != Some(&b':') {
                return None;
            }
        }
        i += 1;
        // (With the sinks of this crate, at most 12 tracked and 8 untracked
        // keys get this far; the bound is for any other sink.)
        count += 1;
        if count > MAX_MEMBERS {
            return None;
        }
        if !members.key(&key).ok()? {
            if untracked.iter().any(|k| same_bytes(k, raw)) {
                return None;
            }
            untracked.push(raw).ok()?;
        }
        // The value.
        let mut c = *b.get(i)?;
        if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
            i = simple_ws(b, i);
            c = *b.get(i)?;
        }
        let (value, end) = simple_value(b, i, c)?;
        i = end;
        members.member(key, value).ok()?;
        // After the value: `,` and the next key, or `}` and the end.
        let mut c = b.get(i).copied();
        if let Some(b' ' | b'\n' | b'\r' | b'\t') = c {
            i = simple_ws(b, i);
            c = b.get(i).copied();
        }
        match c {
            Some(b',') => i = simple_ws(b, i + 1),
            Some(b'}') => return (simple_ws(b, i + 1) == b.len()).then_some(()),
            _ => return None,
        }
    }
}

/// The value starting at `b[i] == c` (not whitespace) and the index after
/// it; `None` for what the fast path does not handle.
#[inline(always)]
fn simple_value(b: &[u8], i: usize, c: u8) -> Option<(RawValue<'_>, usize)> {
    Some(match c {
        b'"' => {
            let (raw, end) = simple_string(b, i + 1)?;
            let value = RawValue::String(JsonStr {
                raw,
                decoded_len: raw.len(),
            });
            (value, end)
        }
        b'-' | b'0'..=b'9' => simple_number(b, i, c)?,
        b't' if b.get(i..i + 4) == Some(b"true") => (RawValue::Bool(true), i + 4),
        b'f' if b.get(i..i + 5) == Some(b"false") => (RawValue::Bool(false), i + 5),
        b'n' if b.get(i..i + 4) == Some(b"null") => (RawValue::Null, i + 4),
        _ => return None,
    })
}

/// The number starting at `b[start] == c` (`-` or a digit) and the index
/// after it.
#[inline(always)]
fn simple_number(b: &[u8], start: usize, c: u8) -> Option<(RawValue<'_>, usize)> {
    let mut i = start;
    if c == b'-' {
        i += 1;
    }
    // A leading zero followed by a digit is not handled: the digit is
    // neither `,` nor `}` after the value.
    // The digits are read into `m` on the way (wrapping: only texts of at
    // most 18 bytes, below 10^18, keep it).
    let mut m: u64 = 0;
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = simple_digits(b, i, &mut m),
        _ => return None,
    }
    let mut scale = 0;
    if b.get(i) == Some(&b'.') {
        if !matches!(b.get(i + 1), Some(b'0'..=b'9')) {
            return None;
        }
        let end = simple_digits(b, i + 1, &mut m);
        scale = end - i - 1;
        i = end;
    }
    // An exponent is not handled either (`e` is neither).
    let text = b.get(start..i)?;
    let pre = Pre::of_digits(text.len(), c == b'-', m, scale);
    Some((RawValue::Number(text, pre), i))
}

/// Index of the first non-digit at or after `i`, with the digits from `i`
/// on appended to `m` (wrapping).
#[inline(always)]
fn simple_digits(b: &[u8], mut i: usize, m: &mut u64) -> usize {
    while let Some(&c) = b.get(i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        *m = m.wrapping_mul(10).wrapping_add(u64::from(d));
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::scan::EveryKey;
    use crate::json::tests::{json_number, json_value, mutate, ws};
    use crate::json::{for_each_member, Value};
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;

    /// If the fast path takes `body` (with a sink that tracks no key), the
    /// general scanner accepts it too and hands over the same members, as
    /// the same spans of the body.
    fn check_simple(body: &[u8]) -> Result<bool, TestCaseError> {
        let mut fast = Vec::new();
        let taken = scan_simple(
            body,
            &mut EveryKey(|k, v| {
                fast.push((k, v));
                Ok(())
            }),
        );
        if !taken {
            return Ok(false);
        }
        let mut general = Vec::new();
        let verdict = for_each_member(body, |k, v| {
            general.push((k, v));
            Ok(())
        });
        prop_assert_eq!(verdict, Ok(()));
        prop_assert_eq!(fast.len(), general.len());
        for ((k, v), (gk, gv)) in fast.iter().zip(&general) {
            prop_assert!(core::ptr::eq(k.raw(), gk.raw()));
            prop_assert_eq!(k.decoded_len(), gk.decoded_len());
            prop_assert_eq!(v, gv);
            if let (Value::String(a), Value::String(b)) = (v, gv) {
                prop_assert!(core::ptr::eq(a.raw(), b.raw()));
                prop_assert_eq!(a.decoded_len(), b.decoded_len());
            }
            if let (Value::Number(a), Value::Number(b)) = (v, gv) {
                prop_assert!(core::ptr::eq(*a, *b));
            }
        }
        Ok(true)
    }

    /// A flat object of the fast path's shape, keys from a small set (so
    /// they repeat), now and then a value it leaves to the general scanner.
    fn simple_object() -> impl Strategy<Value = String> {
        let value = prop_oneof![
            4 => json_number(),
            4 => "\"[ !#-\\[\\]-~]{0,6}\"",
            2 => prop::sample::select(vec!["true", "false", "null"]).prop_map(str::to_string),
            1 => json_value(),
        ];
        (
            prop::collection::vec((ws(), "\"[a-c]{0,2}\"", ws(), ws(), value, ws()), 0..12),
            ws(),
            ws(),
        )
            .prop_map(|(members, before, after)| {
                let members: Vec<String> = members
                    .into_iter()
                    .map(|(a, k, b, c, v, d)| format!("{a}{k}{b}:{c}{v}{d}"))
                    .collect();
                format!("{before}{{{}}}{after}", members.join(","))
            })
    }

    #[test]
    fn fast_path_examples() {
        let taken = |body: &[u8]| check_simple(body).unwrap();
        assert!(!taken(br#" { "a" : 1 , "b":"x","c":[]} "#));
        assert!(taken(
            br#" { "a" : -1.5 , "b":"x y","c":null,"d":true,"e":false} "#
        ));
        assert!(taken(b"{}") && taken(b" {\t}\n"));
        assert!(!taken(br#"{"a":1,"a":2}"#));
        assert!(!taken(
            br#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9}"#
        ));
        assert!(taken(
            br#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8}"#
        ));
        assert!(!taken(b"{\"a\":1}x") && !taken(b"{\"a\":1,}") && !taken(b"{\"a\":01}"));
    }

    proptest! {
        #[test]
        fn fast_path_agrees_on_simple_objects(doc in simple_object()) {
            check_simple(doc.as_bytes())?;
        }

        #[test]
        fn fast_path_agrees_on_edited_objects(
            doc in simple_object(),
            at in any::<usize>(),
            op in any::<u8>(),
            byte in prop::sample::select(b"{}[]\",:0-+.eE \t\x01\\u/xtn\x7f\x80\xc3\xff".to_vec()),
        ) {
            check_simple(&mutate(&doc, at, op, byte))?;
        }

        /// The key reader agrees with the string reader it shortcuts, from
        /// any start (short and long runs, stops, the body's end).
        #[test]
        fn key_reader_agrees_with_the_string_reader(
            bytes in prop::collection::vec(
                prop_oneof![8 => b'a'..=b'z', 1 => Just(b'"'), 1 => Just(b'\\'), 1 => any::<u8>()],
                0..40,
            ),
            at in 0usize..42,
        ) {
            prop_assert_eq!(simple_key(&bytes, at), simple_string(&bytes, at));
        }

        #[test]
        fn fast_path_agrees_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            check_simple(&bytes)?;
        }
    }
}
