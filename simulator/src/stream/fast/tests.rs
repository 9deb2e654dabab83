use proptest::prelude::*;

use super::parse;
use crate::stream::{parse_line_fully, write_line};

/// The one-pass reader took `line`: the full path reads the same request.
fn agrees(line: &str) -> Option<bool> {
    let fast = parse(line, 7)?;
    Some(parse_line_fully(line, "s.jsonl", 7).ok() == Some(fast))
}

#[test]
fn a_written_line_is_taken_and_read_as_the_full_path_reads_it() {
    let line = write_line(
        "1699113600250",
        &[("B", "2"), ("A", "1"), ("B", "3")],
        "{\"ticker\":\"BTCUSDT\"}",
        Some("10.0.0.1".parse().unwrap()),
        Some("{\"accepted\":true}"),
    );
    assert_eq!(agrees(&line), Some(true));
    let r = parse(&line, 7).unwrap();
    assert_eq!(r.headers.len(), 3);
    assert_eq!(r.headers[2], ("B".into(), "3".into()));
    assert_eq!(r.line, 7);
}

#[test]
fn lines_the_full_path_refuses_or_words_are_left_to_it() {
    for line in [
        "{",
        "[1699113600250,null,\"x\"]",
        r#"{"received_at":1699113600,"body":"x"}"#,
        r#"{"received_at":1.5e12,"body":"x"}"#,
        r#"{"received_at":18446744073709551615,"body":"x"}"#,
        r#"{"received_at":1699113600000}"#,
        r#"{"received_at":1699113600000,"body":null}"#,
        r#"{"received_at":1699113600000,"body":"","headers":{"A":1}}"#,
        r#"{"received_at":1699113600000,"body":"","headers":{"":"1"}}"#,
        r#"{"received_at":1699113600000,"body":"","headers":[]}"#,
        r#"{"received_at":1699113600000,"body":"","source_ip":"1.2.3"}"#,
        r#"{"received_at":1699113600000,"body":"","sourceip":"1.2.3.4"}"#,
        // Repeated keys: the full path keeps the last.
        r#"{"received_at":1699113600000,"body":"a","body":"b"}"#,
        r#"{"received_at":1699113600000,"body":"a"} x"#,
        r#"{"rec\u0065ived_at":1699113600000,"body":"a"}"#,
    ] {
        assert!(parse(line, 1).is_none(), "{line}");
    }
}

#[test]
fn optional_fields_null_or_absent_read_as_the_full_path_reads_them() {
    for line in [
        r#"{"body":"x","received_at":"2023-11-04T16:00:01Z"}"#,
        r#"{"received_at":" 1699113600250 ","body":"x","headers":null,"source_ip":null}"#,
        r#"{"received_at":1699113600250,"body":"é\n\"","headers":{},"decision":null}"#,
        r#"{"received_at":1699113600250,"body":"","headers":{"X-\u00e9":"v\\"}}"#,
    ] {
        assert_eq!(agrees(line), Some(true), "{line}");
    }
}

fn json_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_string()),
        Just("{}".to_string()),
        Just("[]".to_string()),
        Just("1.5".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        (1_000_000_000_000i64..1_000_000_000_000_000).prop_map(|n| n.to_string()),
        "[a-zA-Z0-9 :.\\-]{0,24}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        "(10\\.0\\.0\\.[0-9]|::1|2023-11-04T16:00:0[0-9]Z)"
            .prop_map(|s| serde_json::to_string(&s).unwrap()),
        proptest::collection::vec(("[A-Za-z\\-]{0,6}", "[a-z0-9=,]{0,8}"), 0..4).prop_map(|h| {
            let members: Vec<String> = h.iter().map(|(n, v)| format!("{:?}:{:?}", n, v)).collect();
            format!("{{{}}}", members.join(","))
        }),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("received_at"),
        Just("headers"),
        Just("body"),
        Just("source_ip"),
        Just("decision"),
        Just("other"),
    ]
    .prop_map(str::to_string)
}

proptest! {
    /// Whatever line the one-pass reader takes, the full path reads the
    /// same request from it.
    #[test]
    fn the_one_pass_reader_never_disagrees_with_the_full_path(
        members in proptest::collection::vec((key(), json_value()), 0..7),
        tail in prop_oneof![Just(""), Just(" "), Just("x"), Just("}")],
    ) {
        let body: Vec<String> = members.iter().map(|(k, v)| format!("{k:?}:{v}")).collect();
        let line = format!("{{{}}}{tail}", body.join(","));
        prop_assert_ne!(agrees(&line), Some(false), "{}", line);
    }

    /// Every line `write_line` writes is taken by the one-pass reader.
    #[test]
    fn written_lines_take_the_one_pass_path(
        at in 1_000_000_000_000i64..253_402_300_799_999,
        headers in proptest::collection::vec(("[A-Za-z\\-]{1,8}", "[ -~]{0,12}"), 0..4),
        body in "\\PC{0,40}",
        ip in proptest::option::of(Just("192.168.1.2".parse().unwrap())),
    ) {
        let pairs: Vec<(&str, &str)> =
            headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let line = write_line(&at.to_string(), &pairs, &body, ip, None);
        prop_assert_eq!(agrees(&line), Some(true), "{}", line);
    }
}
