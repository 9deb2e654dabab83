//! The 16-byte readers against the plain ones: `f64::from_str` and
//! `str::parse::<i64>` for values, a byte loop for where fields end; at the
//! boundaries where the word arithmetic changes (7, 8, 9, 15, 16, 17
//! digits), with leading zeros, and on whatever follows a number.

use proptest::prelude::*;

use super::{decimal, eight, integer, row, skip, value, Row, SKIP};

/// `text` then `after`, padded to at least 16 bytes with `pad`.
fn padded(text: &str, after: &[u8], pad: u8) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    bytes.extend_from_slice(after);
    while bytes.len() < 16 {
        bytes.push(pad);
    }
    bytes
}

/// What `decimal` must answer for `text` followed by a byte that ends it:
/// its value and length if it is `[0-9]{1,15}` or `[0-9]+\.[0-9]+` of 15
/// characters at most, else `None`.
fn expected(text: &str) -> Option<(f64, usize)> {
    let digit_run = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let plain = match text.split_once('.') {
        None => digit_run(text) && text.len() <= 15,
        Some((int, fraction)) => digit_run(int) && digit_run(fraction) && text.len() <= 15,
    };
    plain.then(|| (text.parse().unwrap(), text.len()))
}

fn decimal_of(bytes: &[u8]) -> Option<(f64, usize)> {
    decimal(bytes[..16].try_into().unwrap())
}

#[test]
fn decimals_at_the_boundaries_of_the_words() {
    let mut texts = Vec::new();
    for n in [1, 2, 7, 8, 9, 13, 14, 15, 16, 17] {
        let digits: String = (0..n).map(|i| char::from(b'1' + (i % 9) as u8)).collect();
        texts.push(digits.clone());
        texts.push(format!("0{}", &digits[1..]));
        for point in 1..n {
            texts.push(format!("{}.{}", &digits[..point], &digits[point..]));
        }
    }
    texts.extend(
        [
            "0",
            "0.0",
            "000000",
            "0000001.5",
            "0.00000000001",
            "99999999999999",
            "999999999999999",
            "9999999.999999",
            "1.",
            ".5",
            "00.10",
        ]
        .map(String::from),
    );
    for text in &texts {
        for after in [
            b",".as_slice(),
            b"\n",
            b"\r\n",
            b"e5,",
            b"E-3",
            b" ,",
            b"\"",
            b"\xC3\x80",
        ] {
            // What follows a number is the caller's to judge.
            let bytes = padded(text, after, b'7');
            assert_eq!(
                decimal_of(&bytes),
                expected(text),
                "{text:?} then {after:?}"
            );
        }
    }
}

#[test]
fn what_is_not_a_short_decimal() {
    for text in [
        "", ",", ".5", "+1", "-1", " 1", "\t1", "e5", "\"1\"", "é", "1.,", "1.e5",
    ] {
        let bytes = padded(text, b",", b',');
        assert_eq!(decimal_of(&bytes), None, "{text:?}");
    }
    // A second point ends the number: the caller refuses what follows.
    assert_eq!(decimal_of(b"1.2.3,0000000000"), Some((1.2, 3)));
    assert_eq!(decimal_of(b"1..2,00000000000"), None);
    // 16 digits, or a point and 15 characters more: the general path's.
    assert_eq!(decimal_of(b"1234567890123456,"), None);
    assert_eq!(decimal_of(b"123456789012345.6"), None);
    assert_eq!(decimal_of(b"12345678901234.56"), None);
}

#[test]
fn integers_of_1_to_18_digits() {
    for n in 1..=20 {
        let text: String = (0..n)
            .map(|i| char::from(b'0' + ((i * 7 + 3) % 10) as u8))
            .collect();
        for after in [b",".as_slice(), b"\n", b"x"] {
            let bytes = padded(&text, after, b',');
            let want = (n <= 18).then(|| (text.parse::<i64>().unwrap(), n));
            assert_eq!(integer(&bytes, 0), want, "{text}");
        }
    }
    // µs times: 16 digits, then the line ends or the file does.
    assert_eq!(
        integer(b"1735689600000007\n", 0),
        Some((1_735_689_600_000_007, 16))
    );
    assert_eq!(
        integer(b"1735689600000007", 0),
        Some((1_735_689_600_000_007, 16))
    );
    assert_eq!(
        integer(b"17356896000000079", 0),
        Some((17_356_896_000_000_079, 17))
    );
    // Fewer than 16 bytes left: the general path's.
    assert_eq!(integer(b"1704067200000,1\n", 0).map(|t| t.1), Some(13));
    assert_eq!(integer(b"1704067200000\n", 0), None);
    assert_eq!(integer(b",1704067200000,1\n", 0), None);
}

#[test]
fn skipped_fields_end_at_a_comma_or_line_end_and_refuse_quotes_and_non_ascii() {
    let long = b"abc def+ghi!jklmnopqrstuvwxyz0123456789,x,0123456789012345";
    assert_eq!(skip(long, 0), Some(39));
    assert_eq!(skip(b"True\r\nTrue,True,True,True", 0), Some(4));
    assert_eq!(skip(b"True\nTrue,True,True,True", 0), Some(4));
    assert_eq!(skip(b",True,True,True,True,True", 0), Some(0));
    assert_eq!(skip(b"Tr\"ue,True,True,True,True", 0), None);
    assert_eq!(skip("Trüe,True,True,True,True".as_bytes(), 0), None);
    // Its end beyond the file's last 16 bytes: the general path's.
    assert_eq!(skip(b"0123456789abcdefghij", 0), None);
}

#[test]
fn rows_of_the_plain_shape() {
    let slots = [0, 1, 2, 3, 4, 5];
    let text = b"1704067200000,100.00,100.04,99.91,99.93,2.204\r\n1704067260000,99.93,";
    let (r, next) = row(text, 0, &slots).unwrap();
    assert_eq!(r.time, 1_704_067_200_000);
    assert_eq!(r.values, [0.0, 100.0, 100.04, 99.91, 99.93, 2.204]);
    assert_eq!(next, 47);
    // A line end after a field not the last, or a comma after the last.
    assert!(row(b"1704067200000,1,1,1,1\n0000000000000000", 0, &slots).is_none());
    assert!(row(b"1704067200000,1,1,1,1,1,1\n00000000000000", 0, &slots).is_none());
    // Blanks, an exponent, a quote: the general path's.
    assert!(row(b"1704067200000, 1,1,1,1,1\n000000000000", 0, &slots).is_none());
    assert!(row(b"1704067200000,1e2,1,1,1,1\n000000000000", 0, &slots).is_none());
    // Skipped fields (Binance klines' last six), a lone `\r` ending it.
    let klines = b"1704067200000,1.5,2,1,1.5,10,1704067259999,15.0,3,5,7.5,0\r1704067260000,1";
    let slots = [0, 1, 2, 3, 4, 5, SKIP, SKIP, SKIP, SKIP, SKIP, SKIP];
    let (r, next) = row(klines, 0, &slots).unwrap();
    assert_eq!(
        (r.time, r.values),
        (1_704_067_200_000, [0.0, 1.5, 2.0, 1.0, 1.5, 10.0])
    );
    assert_eq!(&klines[next..], b"1704067260000,1");
    let Row { time, .. } = row(b"5,1.5,17\n0000000000000000", 0, &[5, 1, 0]).unwrap().0;
    assert_eq!(time, 17);
}

proptest! {
    /// Eight digits and up to 16 read as their decimal integer.
    #[test]
    fn digit_words_read_as_their_integer(digits in prop::collection::vec(0u8..10, 1..=16), junk in any::<u128>()) {
        let n = digits.len();
        let mut bytes = [0u8; 16];
        bytes[..n].copy_from_slice(&digits);
        let want = digits.iter().fold(0u64, |v, d| v * 10 + u64::from(*d));
        // The bytes after the `n` digits do not count.
        let word = u128::from_le_bytes(bytes) | if n < 16 { junk << (8 * n) } else { 0 };
        prop_assert_eq!(value(word, n), want);
        if n == 8 {
            prop_assert_eq!(eight(u64::from_le_bytes(bytes[..8].try_into().unwrap())), want);
        }
    }

    /// Any short decimal, leading zeros included, reads as `f64::from_str`
    /// reads it; anything longer is handed over.
    #[test]
    fn decimals_read_as_from_str_reads_them(
        int in "[0-9]{1,17}", fraction in prop::option::of("[0-9]{0,17}"),
        after in prop::sample::select(vec![b',', b'\n', b'\r', b'e', b' ', b'-']),
    ) {
        let text = match &fraction {
            Some(f) => format!("{int}.{f}"),
            None => int,
        };
        let bytes = padded(&text, &[after], b'0');
        prop_assert_eq!(decimal_of(&bytes), expected(&text), "{}", text);
    }

    /// Integer times read as `str::parse` reads them.
    #[test]
    fn integers_read_as_parse_reads_them(text in "[0-9]{1,20}", after in prop::sample::select(vec![b',', b'\n', b'T'])) {
        let bytes = padded(&text, &[after], b',');
        let want = (text.len() <= 18).then(|| (text.parse::<i64>().unwrap(), text.len()));
        prop_assert_eq!(integer(&bytes, 0), want);
    }
}
