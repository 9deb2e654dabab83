//! Secrets out of what is written to disk, and back in for a replay.
//!
//! The `passphrase` scheme carries its secret in the body, and a sender may
//! put a secret anywhere (a header, another field, a body that is not even
//! JSON). What the gateway journals goes through a [`Redactor`] first:
//!
//! - every JSON string literal of the body whose decoded text *is* the
//!   `i`-th configured secret becomes `"<redacted secret i>"`, so a replay
//!   that knows the secrets can put it back ([`restore`]) and decide as the
//!   gateway did;
//! - any other literal that contains a secret, and (for a `passphrase`
//!   gate) the value of every `passphrase` member whatever it is, becomes
//!   `"<redacted>"`, which matches no secret: a wrong passphrase stays
//!   wrong;
//! - a secret outside any literal (a body that is not JSON) is cut out;
//! - header values that hold a secret, and credentials headers
//!   (`Authorization`, `Proxy-Authorization`, `Cookie`), become
//!   `<redacted>`.
//!
//! Literals are found by a small tokenizer rather than a JSON parser: the
//! body may be malformed (the gate refused it), and a secret in it must be
//! hidden all the same.

use std::borrow::Cow;
use std::fmt;

/// What a redacted value reads as.
pub const REDACTED: &str = "<redacted>";

/// The literal's text that stands for the `index`-th secret.
fn placeholder(index: usize) -> String {
    format!("<redacted secret {index}>")
}

/// The text a body holds in place of the `index`-th configured secret,
/// which [`restore`] puts back: `<redacted secret 0>`. A stream written
/// with it (an imported backtest's `passphrase`) replays against the
/// configuration's secrets without ever holding one.
///
/// ```
/// use alertgate_simulator::redact::{restore, secret_placeholder};
/// let body = format!("{{\"passphrase\":\"{}\"}}", secret_placeholder(0));
/// assert_eq!(restore(&body, &["pass"]), r#"{"passphrase":"pass"}"#);
/// ```
pub fn secret_placeholder(index: usize) -> String {
    placeholder(index)
}

/// Masks secrets in bodies and headers before they are written.
#[derive(Clone)]
pub struct Redactor {
    secrets: Vec<Vec<u8>>,
    passphrase_member: bool,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("secrets", &self.secrets.len())
            .field("passphrase_member", &self.passphrase_member)
            .finish()
    }
}

impl Redactor {
    /// Masks `secrets` (in [`restore`]'s order: the gate's own secrets
    /// first) and, when `passphrase_member`, every `passphrase` value.
    pub fn new<'s>(secrets: impl IntoIterator<Item = &'s [u8]>, passphrase_member: bool) -> Self {
        let secrets = secrets
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        Redactor {
            secrets,
            passphrase_member,
        }
    }

    /// `body` as it may be written.
    pub fn body<'b>(&self, body: &'b str) -> Cow<'b, str> {
        let mut out = String::new();
        let mut done = 0;
        let mut previous: Option<(String, usize)> = None;
        let mut at = 0;
        while let Some(start) = body[at..].find('"').map(|i| at + i) {
            let end = literal_end(body.as_bytes(), start);
            let literal = &body[start..end];
            let decoded: Option<String> = serde_json::from_str(literal).ok();
            let gap = &body[previous.as_ref().map_or(start, |p| p.1)..start];
            let is_passphrase = previous
                .as_ref()
                .is_some_and(|(key, _)| key == "passphrase")
                && gap.trim() == ":";
            if let Some(text) = self.literal(literal, decoded.as_deref(), is_passphrase) {
                out.push_str(&self.cut(&body[done..start]));
                out.push_str(&text);
                done = end;
            }
            previous = decoded.map(|d| (d, end));
            at = end;
        }
        if done == 0 && !self.contains_secret(body.as_bytes()) {
            return Cow::Borrowed(body);
        }
        out.push_str(&self.cut(&body[done..]));
        Cow::Owned(out)
    }

    /// The value of header `name` as it may be written.
    pub fn header<'v>(&self, name: &str, value: &'v str) -> Cow<'v, str> {
        let credentials = ["authorization", "proxy-authorization", "cookie"];
        if credentials.iter().any(|c| name.eq_ignore_ascii_case(c))
            || self.contains_secret(value.as_bytes())
        {
            Cow::Borrowed(REDACTED)
        } else {
            Cow::Borrowed(value)
        }
    }

    /// The replacement of one string literal (quotes included), if it
    /// needs one.
    fn literal(&self, raw: &str, decoded: Option<&str>, is_passphrase: bool) -> Option<String> {
        let text = decoded.map(str::as_bytes);
        if let Some(i) = text.and_then(|t| self.secrets.iter().position(|s| s == t)) {
            return Some(quoted(&placeholder(i)));
        }
        let holds_secret =
            self.contains_secret(raw.as_bytes()) || text.is_some_and(|t| self.contains_secret(t));
        (holds_secret || (is_passphrase && self.passphrase_member)).then(|| quoted(REDACTED))
    }

    /// `text` (outside any literal) with every secret cut out.
    fn cut<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if !self.contains_secret(text.as_bytes()) {
            return Cow::Borrowed(text);
        }
        let mut out = text.to_string();
        for s in &self.secrets {
            if let Ok(s) = std::str::from_utf8(s) {
                out = out.replace(s, REDACTED);
            }
        }
        // A secret that is not UTF-8 cannot be cut out of text piecewise.
        if self.contains_secret(out.as_bytes()) {
            return Cow::Borrowed(REDACTED);
        }
        Cow::Owned(out)
    }

    fn contains_secret(&self, text: &[u8]) -> bool {
        self.secrets
            .iter()
            .any(|s| text.windows(s.len()).any(|w| w == s.as_slice()))
    }
}

/// Index just past the literal opening at `start` (its closing quote, or
/// the end of the text when it is not closed).
fn literal_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// `body` with each `"<redacted secret i>"` replaced by the `i`-th of
/// `secrets` (as a JSON string); the body itself when it has none.
pub fn restore<'b, S: AsRef<[u8]>>(body: &'b str, secrets: &[S]) -> Cow<'b, str> {
    if !body.contains("\"<redacted secret ") {
        return Cow::Borrowed(body);
    }
    let mut out = body.to_string();
    for (i, secret) in secrets.iter().enumerate() {
        let secret = quoted(&String::from_utf8_lossy(secret.as_ref()));
        out = out.replace(&quoted(&placeholder(i)), &secret);
    }
    Cow::Owned(out)
}

/// `body` with every `"<redacted secret i>"`, whatever `i`, replaced by
/// `secret`: what a sender that knows one secret sends.
pub fn restore_any<'b>(body: &'b str, secret: &[u8]) -> Cow<'b, str> {
    const OPEN: &str = "\"<redacted secret ";
    if !body.contains(OPEN) {
        return Cow::Borrowed(body);
    }
    let secret = quoted(&String::from_utf8_lossy(secret));
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = rest.find(OPEN) {
        let tail = &rest[at + OPEN.len()..];
        let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        out.push_str(&rest[..at]);
        if digits > 0 && tail[digits..].starts_with(">\"") {
            out.push_str(&secret);
            rest = &tail[digits + 2..];
        } else {
            out.push_str(OPEN);
            rest = tail;
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cret-Passphrase";

    fn redactor() -> Redactor {
        Redactor::new([SECRET.as_bytes(), b"old-secret-2"], true)
    }

    #[test]
    fn a_matching_passphrase_becomes_its_placeholder_and_comes_back() {
        let body = format!(r#"{{"passphrase":"{SECRET}","symbol":"BTCUSDT"}}"#);
        let written = redactor().body(&body);
        assert_eq!(
            written,
            r#"{"passphrase":"<redacted secret 0>","symbol":"BTCUSDT"}"#
        );
        let secrets = [SECRET.as_bytes(), b"old-secret-2".as_slice()];
        assert_eq!(restore(&written, &secrets), body);
        let rotated = r#"{"passphrase" : "old-secret-2"}"#;
        assert_eq!(
            redactor().body(rotated),
            r#"{"passphrase" : "<redacted secret 1>"}"#
        );
    }

    #[test]
    fn a_sender_puts_its_one_secret_back_whatever_the_index() {
        let body = r#"{"passphrase":"<redacted secret 1>","x":"<redacted secret z>"}"#;
        assert_eq!(
            restore_any(body, b"mine"),
            r#"{"passphrase":"mine","x":"<redacted secret z>"}"#
        );
        assert!(matches!(restore_any("{}", b"mine"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_wrong_passphrase_is_hidden_and_stays_wrong() {
        let written = redactor().body(r#"{"passphrase":"s3cret-Passphras","x":1}"#);
        assert_eq!(written, r#"{"passphrase":"<redacted>","x":1}"#);
        assert_eq!(restore(&written, &[SECRET.as_bytes()]), written);
        // Only for a passphrase gate: a signed body is left alone.
        let signed = Redactor::new([SECRET.as_bytes()], false);
        let body = r#"{"passphrase":"not-a-secret"}"#;
        assert!(matches!(signed.body(body), Cow::Borrowed(_)));
    }

    #[test]
    fn a_secret_anywhere_is_hidden() {
        let r = redactor();
        let cases = [
            // Escaped: decoded, it is the secret.
            r#"{"passphrase":"s3cret\u002dPassphrase"}"#.to_string(),
            format!(r#"{{"comment":"my passphrase is {SECRET}!"}}"#),
            format!(r#"{{"{SECRET}":1}}"#),
            format!(r#"{{"passphrase": {SECRET}, "#),
            format!(r#"not json at all {SECRET} {SECRET}"#),
            format!(r#"{{"unterminated":"{SECRET}"#),
            format!(r#"{{"a":["x",{{"passphrase":"{SECRET}"}}]}}"#),
        ];
        for body in cases {
            let written = r.body(&body);
            assert!(!written.contains(SECRET), "{body} -> {written}");
            assert!(!written.contains("s3cret\\u002d"), "{written}");
        }
    }

    #[test]
    fn bodies_without_secrets_are_written_as_they_are() {
        let body = r#"{"symbol":"BTCUSDT","side":"buy","quantity":"0.1","event_id":"e\"1"}"#;
        assert!(matches!(redactor().body(body), Cow::Borrowed(_)));
        assert!(matches!(restore::<&[u8]>(body, &[]), Cow::Borrowed(_)));
    }

    #[test]
    fn credentials_headers_and_secret_values_are_hidden() {
        let r = redactor();
        assert_eq!(r.header("Authorization", "Bearer x"), REDACTED);
        assert_eq!(r.header("cookie", "a=b"), REDACTED);
        assert_eq!(r.header("X-Token", &format!("t {SECRET}")), REDACTED);
        assert_eq!(r.header("X-Tradeeon-Signature", "t=1,s=ab"), "t=1,s=ab");
    }

    #[test]
    fn debug_shows_no_secret() {
        assert!(!format!("{:?}", redactor()).contains("s3cret"));
    }
}
