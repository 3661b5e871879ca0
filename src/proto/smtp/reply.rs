//! SMTP/LMTP reply lines (RFC 5321 §4.2) and enhanced status codes (RFC 3463), in both
//! directions: [`ReplyLine::parse`] reads what a server sent, [`write_reply`] writes what a
//! server sends. Every other module that needs a reply code or an enhanced code asks here.

use std::fmt;

use crate::proto::Outcome;

/// A three-digit reply code: `class` (2 to 5 for valid codes), `subject` (the second digit,
/// 0 to 5 in RFC 5321) and `detail`. Any three digits parse; [`Code::is_valid`] says whether
/// the class is one RFC 5321 defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code {
    pub class: u8,
    pub subject: u8,
    pub detail: u8,
}

impl Code {
    /// The code of a number from 0 to 999.
    pub fn new(n: u16) -> Option<Code> {
        if n > 999 {
            return None;
        }
        let digit = |d: u16| u8::try_from(d % 10).ok();
        Some(Code {
            class: digit(n / 100)?,
            subject: digit(n / 10)?,
            detail: digit(n)?,
        })
    }

    /// Three ASCII digits.
    pub fn parse(digits: &[u8]) -> Option<Code> {
        let [a, b, c] = <[u8; 3]>::try_from(digits).ok()?;
        let d = |x: u8| x.is_ascii_digit().then(|| x.wrapping_sub(b'0'));
        Some(Code {
            class: d(a)?,
            subject: d(b)?,
            detail: d(c)?,
        })
    }

    /// The code as a number (`550`).
    pub fn value(self) -> u16 {
        u16::from(self.class)
            .saturating_mul(100)
            .saturating_add(u16::from(self.subject).saturating_mul(10))
            .saturating_add(u16::from(self.detail))
    }

    /// Class 2 to 5.
    pub fn is_valid(self) -> bool {
        (2..=5).contains(&self.class)
    }

    /// What the class says about the command.
    pub fn outcome(self) -> Outcome {
        match self.class {
            2 => Outcome::Ok,
            3 => Outcome::Continue,
            4 => Outcome::TempFail,
            5 => Outcome::PermFail,
            _ => Outcome::Unknown,
        }
    }

    /// The three ASCII digits.
    pub fn digits(self) -> [u8; 3] {
        [
            b'0'.saturating_add(self.class.min(9)),
            b'0'.saturating_add(self.subject.min(9)),
            b'0'.saturating_add(self.detail.min(9)),
        ]
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}", self.value())
    }
}

/// An RFC 3463 enhanced status code, `class.subject.detail`: class 2, 4 or 5, subject and
/// detail of one to three digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnhancedCode {
    pub class: u8,
    pub subject: u16,
    pub detail: u16,
}

impl EnhancedCode {
    /// Parses an enhanced code at the start of `text`; returns it and its length. The code must
    /// be followed by a space or the end of the text (`5.1.1 User unknown`, `2.0.0`).
    pub fn parse_prefix(text: &[u8]) -> Option<(EnhancedCode, usize)> {
        let (&class, rest) = text.split_first()?;
        if !matches!(class, b'2' | b'4' | b'5') {
            return None;
        }
        let rest = rest.strip_prefix(b".")?;
        let (subject, s_len) = number(rest)?;
        let rest = rest.get(s_len..)?.strip_prefix(b".")?;
        let (detail, d_len) = number(rest)?;
        let after = rest.get(d_len..)?;
        if !matches!(after.first(), None | Some(b' ')) {
            return None;
        }
        let len = 1usize
            .saturating_add(1)
            .saturating_add(s_len)
            .saturating_add(1)
            .saturating_add(d_len);
        Some((
            EnhancedCode {
                class: class.wrapping_sub(b'0'),
                subject,
                detail,
            },
            len,
        ))
    }

    /// Parses a whole enhanced code (`5.7.1`).
    pub fn parse(text: &str) -> Option<EnhancedCode> {
        match EnhancedCode::parse_prefix(text.as_bytes()) {
            Some((code, len)) if len == text.len() => Some(code),
            _ => None,
        }
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// One to three leading digits as a number, and how many there were.
fn number(s: &[u8]) -> Option<(u16, usize)> {
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if !(1..=3).contains(&n) {
        return None;
    }
    let value = s.get(..n)?.iter().try_fold(0u16, |acc, d| {
        acc.checked_mul(10)?
            .checked_add(u16::from(d.wrapping_sub(b'0')))
    })?;
    Some((value, n))
}

/// One line of a reply: `250-text`, `250 text`, `250`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyLine<'a> {
    pub code: Code,
    /// The last line of its reply (a space or nothing after the code).
    pub last: bool,
    /// The enhanced status code at the start of the text, if any.
    pub enhanced: Option<EnhancedCode>,
    /// Everything after the code and its separator (the enhanced code included).
    pub text: &'a [u8],
    /// The length of the enhanced code at the start of `text` (0 when none).
    pub enhanced_len: usize,
}

impl<'a> ReplyLine<'a> {
    /// Parses `ddd`, `ddd text` or `ddd-text` (without the line ending). `None` for anything
    /// else: then the line is not a reply line at all.
    pub fn parse(line: &'a [u8]) -> Option<ReplyLine<'a>> {
        let (digits, rest) = line.split_at_checked(3)?;
        let code = Code::parse(digits)?;
        let last = match rest.first() {
            None | Some(b' ') => true,
            Some(b'-') => false,
            Some(_) => return None,
        };
        let text = rest.get(1..).unwrap_or(&[]);
        let (enhanced, enhanced_len) = match EnhancedCode::parse_prefix(text) {
            Some((c, len)) => (Some(c), len),
            None => (None, 0),
        };
        Some(ReplyLine {
            code,
            last,
            enhanced,
            text,
            enhanced_len,
        })
    }

    /// The text after the enhanced code (and the space after it), or the whole text.
    pub fn message(&self) -> &'a [u8] {
        let n = self.enhanced_len;
        let rest = self.text.get(n..).unwrap_or(&[]);
        if n > 0 {
            rest.strip_prefix(b" ").unwrap_or(rest)
        } else {
            rest
        }
    }
}

/// Writes a whole reply the way a server sends it: every line but the last as `ddd-`, the
/// last as `ddd `, the enhanced code (when given) at the start of each line's text, CRLF after
/// each. An empty `lines` writes one line with the code (and the enhanced code) only. Lines are
/// written as given: the caller keeps CR and LF out of them.
pub fn write_reply(code: Code, enhanced: Option<EnhancedCode>, lines: &[&[u8]], out: &mut Vec<u8>) {
    let digits = code.digits();
    let empty: [&[u8]; 1] = [b""];
    let lines = if lines.is_empty() { &empty[..] } else { lines };
    let count = lines.len();
    for (i, text) in lines.iter().enumerate() {
        out.extend_from_slice(&digits);
        let last = i.saturating_add(1) == count;
        let has_text = enhanced.is_some() || !text.is_empty();
        if !last {
            out.push(b'-');
        } else if has_text {
            out.push(b' ');
        }
        if let Some(e) = enhanced {
            out.extend_from_slice(e.to_string().as_bytes());
            if !text.is_empty() {
                out.push(b' ');
            }
        }
        out.extend_from_slice(text);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_parse_and_print() {
        let c = Code::parse(b"550").unwrap();
        assert_eq!(
            c,
            Code {
                class: 5,
                subject: 5,
                detail: 0
            }
        );
        assert_eq!(c.value(), 550);
        assert_eq!(c.to_string(), "550");
        assert_eq!(c.outcome(), Outcome::PermFail);
        assert_eq!(Code::new(250), Code::parse(b"250"));
        assert_eq!(Code::new(7).map(|c| c.to_string()), Some("007".into()));
        assert!(!Code::new(7).unwrap().is_valid());
        assert_eq!(Code::new(1000), None);
        assert_eq!(Code::parse(b"25"), None);
        assert_eq!(Code::parse(b"2a0"), None);
        assert_eq!(Code::new(354).unwrap().outcome(), Outcome::Continue);
        assert_eq!(Code::new(199).unwrap().outcome(), Outcome::Unknown);
    }

    #[test]
    fn enhanced_codes() {
        assert_eq!(
            EnhancedCode::parse_prefix(b"5.1.1 User unknown"),
            Some((
                EnhancedCode {
                    class: 5,
                    subject: 1,
                    detail: 1
                },
                5
            ))
        );
        assert_eq!(EnhancedCode::parse("4.7.28").unwrap().to_string(), "4.7.28");
        assert_eq!(EnhancedCode::parse("5.123.456").unwrap().detail, 456);
        for bad in [
            "3.1.1", "5.1", "5..1", "5.1.1x", "5.1234.1", "5.1.", "", "x.1.1", "5.1.1 ",
        ] {
            assert_eq!(EnhancedCode::parse(bad), None, "{bad:?}");
        }
        assert_eq!(EnhancedCode::parse_prefix(b"5.1.1x"), None);
        assert_eq!(
            EnhancedCode::parse_prefix(b"2.0.0").map(|(_, n)| n),
            Some(5)
        );
    }

    #[test]
    fn reply_lines() {
        let l = ReplyLine::parse(b"550 5.1.1 <a@b>: User unknown").unwrap();
        assert_eq!(l.code.value(), 550);
        assert!(l.last);
        assert_eq!(l.enhanced, EnhancedCode::parse("5.1.1"));
        assert_eq!(l.text, b"5.1.1 <a@b>: User unknown");
        assert_eq!(l.message(), b"<a@b>: User unknown");
        assert_eq!(l.enhanced_len, 5);
        let l = ReplyLine::parse(b"250-PIPELINING").unwrap();
        assert!(!l.last);
        assert_eq!(l.enhanced, None);
        assert_eq!(l.message(), b"PIPELINING");
        let l = ReplyLine::parse(b"250").unwrap();
        assert!(l.last && l.text.is_empty());
        for bad in [&b"25"[..], b"250x", b"abc def", b"", b"* OK"] {
            assert_eq!(ReplyLine::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn writes_replies_a_parser_reads_back() {
        let mut out = Vec::new();
        write_reply(
            Code::new(250).unwrap(),
            None,
            &[b"mx.example greets you", b"PIPELINING", b"SIZE 1000"],
            &mut out,
        );
        assert_eq!(
            out,
            b"250-mx.example greets you\r\n250-PIPELINING\r\n250 SIZE 1000\r\n"
        );
        out.clear();
        write_reply(
            Code::new(550).unwrap(),
            EnhancedCode::parse("5.1.1"),
            &[b"<a@b>: User unknown"],
            &mut out,
        );
        assert_eq!(out, b"550 5.1.1 <a@b>: User unknown\r\n");
        let line = out.strip_suffix(b"\r\n").unwrap();
        let parsed = ReplyLine::parse(line).unwrap();
        assert_eq!(parsed.code.value(), 550);
        assert_eq!(parsed.enhanced, EnhancedCode::parse("5.1.1"));
        out.clear();
        write_reply(Code::new(354).unwrap(), None, &[], &mut out);
        assert_eq!(out, b"354\r\n");
    }
}
