//! Test support shared by the tests of this module's files and by those of
//! the modules that read alerts (`alert`, `gate`, `auth::passphrase`):
//! proptest generators of JSON text (strings written every allowed way,
//! numbers, nested values, objects, JSON-ish bytes) and one-byte edits.
//! Only built for tests.

use proptest::prelude::*;
use std::collections::BTreeSet;

/// Optional JSON whitespace.
pub(crate) fn ws() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec![" ", "\t", "\n", "\r"]), 0..2)
        .prop_map(|v| v.concat())
}

/// A string's characters, biased towards what needs care.
pub(crate) fn text_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range(' ', '~'),
        1 => proptest::char::range('\0', '\u{1f}'),
        1 => prop::sample::select(vec![
            '"', '\\', '/', '\u{7f}', '\u{80}', '\u{e9}', '\u{7ff}', '\u{800}',
            '\u{20ac}', '\u{d7ff}', '\u{e000}', '\u{fffd}', '\u{ffff}', '\u{10000}',
            '\u{1f600}', '\u{10ffff}',
        ]),
        1 => any::<char>(),
    ]
}

/// Writes `c` into a JSON string literal in one of the allowed ways,
/// picked by `how`: 0, its short escape (`\n`, `\/`, ...) if it has one;
/// 0 or 1, the character itself if it may stand raw; otherwise a `\u`
/// escape (a surrogate pair above U+FFFF), hex in upper case for 3.
fn write_char(text: &mut String, c: char, how: u8) {
    let short = match c {
        '"' => Some("\\\""),
        '\\' => Some("\\\\"),
        '/' => Some("\\/"),
        '\u{8}' => Some("\\b"),
        '\u{c}' => Some("\\f"),
        '\n' => Some("\\n"),
        '\r' => Some("\\r"),
        '\t' => Some("\\t"),
        _ => None,
    };
    let must_escape = c == '"' || c == '\\' || c < ' ';
    match (how, short) {
        (0, Some(s)) => text.push_str(s),
        (0 | 1, _) if !must_escape => text.push(c),
        _ => {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                if how == 3 {
                    text.push_str(&format!("\\u{u:04X}"));
                } else {
                    text.push_str(&format!("\\u{u:04x}"));
                }
            }
        }
    }
}

/// `s` as a JSON string literal (quotes included), character `i`
/// written as [`write_char`] with `hows[i]` (1, raw if it may be, past
/// the end of `hows`).
pub(crate) fn literal(s: &str, hows: &[u8]) -> String {
    let mut text = String::from("\"");
    for (i, c) in s.chars().enumerate() {
        write_char(&mut text, c, hows.get(i).copied().unwrap_or(1));
    }
    text.push('"');
    text
}

/// A JSON string literal: (decoded text, text as written), each
/// character written raw or escaped in one of the allowed ways.
pub(crate) fn json_string() -> impl Strategy<Value = (String, String)> {
    prop::collection::vec((text_char(), 0u8..4), 0..12).prop_map(|chars| {
        let decoded: String = chars.iter().map(|&(c, _)| c).collect();
        let hows: Vec<u8> = chars.iter().map(|&(_, how)| how).collect();
        let text = literal(&decoded, &hows);
        (decoded, text)
    })
}

/// A JSON number's text.
pub(crate) fn json_number() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        prop_oneof!["0", "[1-9][0-9]{0,24}"],
        proptest::option::of("[0-9]{1,20}"),
        proptest::option::of(("[eE]", "[+-]?", "[0-9]{1,5}")),
    )
        .prop_map(|(neg, int, frac, exp)| {
            let mut s = String::new();
            if neg {
                s.push('-');
            }
            s.push_str(&int);
            if let Some(f) = frac {
                s.push('.');
                s.push_str(&f);
            }
            if let Some((e, sign, digits)) = exp {
                s.push_str(&e);
                s.push_str(&sign);
                s.push_str(&digits);
            }
            s
        })
}

/// Any JSON value's text (nested objects may repeat keys).
pub(crate) fn json_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        Just("false".to_string()),
        json_number(),
        json_string().prop_map(|(_, text)| text),
    ];
    leaf.prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec((ws(), inner.clone(), ws()), 0..6).prop_map(|items| {
                let items: Vec<String> = items.into_iter().map(|(a, v, b)| a + &v + &b).collect();
                format!("[{}]", items.join(","))
            }),
            prop::collection::vec((ws(), json_string(), ws(), inner), 0..6).prop_map(|members| {
                let members: Vec<String> = members
                    .into_iter()
                    .map(|(a, (_, k), b, v)| format!("{a}{k}{b}:{v}"))
                    .collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

/// A top-level object with distinct (decoded) keys.
pub(crate) fn json_object() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((ws(), json_string(), ws(), ws(), json_value(), ws()), 0..12),
        ws(),
        ws(),
    )
        .prop_map(|(members, before, after)| {
            let mut seen = BTreeSet::new();
            let members: Vec<String> = members
                .into_iter()
                .filter(|(_, (key, _), ..)| seen.insert(key.clone()))
                .map(|(a, (_, k), b, c, v, d)| format!("{a}{k}{b}:{c}{v}{d}"))
                .collect();
            format!("{before}{{{}}}{after}", members.join(","))
        })
}

/// Bytes that make up JSON, to reach deeper than random bytes do.
pub(crate) fn json_ish_bytes() -> impl Strategy<Value = Vec<u8>> {
    let alphabet: Vec<u8> = b"{}[]\",:0123456789-+.eE \t\n\rtruefalsnl\\u/bxAD\x00\x1f\x7f\x80\xbf\xc3\xa9\xed\xf0\xf4\xff"
        .to_vec();
    prop::collection::vec(prop::sample::select(alphabet), 0..48)
}

/// A small edit of `text`: delete, insert or replace one byte.
pub(crate) fn mutate(text: &str, at: usize, op: u8, byte: u8) -> Vec<u8> {
    let mut b = text.as_bytes().to_vec();
    let at = at % (b.len() + 1);
    match op % 3 {
        0 if at < b.len() => {
            b.remove(at);
        }
        1 => b.insert(at, byte),
        _ if at < b.len() => b[at] = byte,
        _ => b.push(byte),
    }
    b
}
