//! POP3 commands and status lines (RFC 1939, RFC 2449 response codes, RFC 5034 SASL) in both
//! directions: commands are values that write their own bytes and parse from a line; status
//! lines parse into their parts with positions (for the machine, the highlighter and the
//! explanations).

use std::ops::Range;

/// One POP3 command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    User(String),
    /// The password itself: the caller keeps the value out of logs.
    Pass(String),
    Apop {
        name: String,
        digest: String,
    },
    /// `AUTH [mechanism [initial-response]]`; without a mechanism it lists them.
    Auth {
        mechanism: Option<String>,
        initial: Option<String>,
    },
    Stat,
    List(Option<u32>),
    Retr(u32),
    Dele(u32),
    Noop,
    Rset,
    Quit,
    Top {
        msg: u32,
        lines: u32,
    },
    Uidl(Option<u32>),
    Capa,
    Stls,
    Utf8,
    /// Anything else, as sent.
    Other {
        verb: String,
        rest: Vec<u8>,
    },
}

/// Why a command line does not parse (server side).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty command line")]
    Empty,
    #[error("{verb}: {why}")]
    Syntax {
        verb: &'static str,
        why: &'static str,
    },
}

impl Command {
    pub fn verb(&self) -> &str {
        match self {
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Apop { .. } => "APOP",
            Command::Auth { .. } => "AUTH",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Retr(_) => "RETR",
            Command::Dele(_) => "DELE",
            Command::Noop => "NOOP",
            Command::Rset => "RSET",
            Command::Quit => "QUIT",
            Command::Top { .. } => "TOP",
            Command::Uidl(_) => "UIDL",
            Command::Capa => "CAPA",
            Command::Stls => "STLS",
            Command::Utf8 => "UTF8",
            Command::Other { verb, .. } => verb,
        }
    }

    /// The command line without CRLF.
    pub fn line(&self) -> Vec<u8> {
        let arg = |s: String| {
            let mut v = self.verb().as_bytes().to_vec();
            v.push(b' ');
            v.extend_from_slice(s.as_bytes());
            v
        };
        match self {
            Command::User(s) | Command::Pass(s) => arg(s.clone()),
            Command::Apop { name, digest } => arg(format!("{name} {digest}")),
            Command::Auth { mechanism, initial } => match (mechanism, initial) {
                (Some(m), Some(i)) => arg(format!("{m} {i}")),
                (Some(m), None) => arg(m.clone()),
                _ => b"AUTH".to_vec(),
            },
            Command::List(Some(n)) | Command::Uidl(Some(n)) => arg(n.to_string()),
            Command::Retr(n) | Command::Dele(n) => arg(n.to_string()),
            Command::Top { msg, lines } => arg(format!("{msg} {lines}")),
            Command::Other { verb, rest } => {
                let mut v = verb.as_bytes().to_vec();
                if !rest.is_empty() {
                    v.push(b' ');
                    v.extend_from_slice(rest);
                }
                v
            }
            _ => self.verb().as_bytes().to_vec(),
        }
    }

    /// Appends the command line and CRLF.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.line());
        out.extend_from_slice(b"\r\n");
    }

    /// Whether a successful reply to this command is a multi-line body ended by `.`.
    pub fn multi_line(&self) -> bool {
        match self {
            Command::Capa | Command::Retr(_) | Command::Top { .. } => true,
            Command::List(n) | Command::Uidl(n) => n.is_none(),
            Command::Auth { mechanism, .. } => mechanism.is_none(),
            _ => false,
        }
    }

    /// Parses a command line (without CRLF) as a server reads it: the verb in any case,
    /// arguments separated by spaces, message numbers and line counts as plain decimal digits
    /// that fit in 32 bits, and no words beyond what the command takes. The `PASS` argument is
    /// everything after the first space (a password may hold spaces).
    pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
        let (verb, rest) = split_word(line);
        if verb.is_empty() {
            return Err(ParseError::Empty);
        }
        let upper = verb.to_ascii_uppercase();
        let Some(name) = KNOWN
            .iter()
            .copied()
            .find(|k| k.as_bytes() == upper.as_slice())
        else {
            return Ok(Command::Other {
                verb: String::from_utf8_lossy(verb).into_owned(),
                rest: rest.unwrap_or(&[]).to_vec(),
            });
        };
        let text = String::from_utf8_lossy(rest.unwrap_or(&[])).into_owned();
        if name == "PASS" {
            return match rest {
                Some(_) => Ok(Command::Pass(text)),
                None => Err(syntax(name, "needs a password")),
            };
        }
        let mut args = text.split(' ').filter(|w| !w.is_empty());
        let mut word = |why: &'static str| args.next().ok_or(syntax(name, why));
        let cmd = match name {
            "USER" => Command::User(word("needs a user name")?.to_string()),
            "APOP" => {
                let name = word("needs a name and a digest")?.to_string();
                let digest = word("needs a name and a digest")?.to_string();
                Command::Apop { name, digest }
            }
            "AUTH" => {
                let mechanism = args.next().map(str::to_string);
                let initial = args.next().map(str::to_string);
                Command::Auth { mechanism, initial }
            }
            "LIST" => Command::List(args.next().map(|w| number(name, w)).transpose()?),
            "UIDL" => Command::Uidl(args.next().map(|w| number(name, w)).transpose()?),
            "RETR" => Command::Retr(number(name, word("needs a message number")?)?),
            "DELE" => Command::Dele(number(name, word("needs a message number")?)?),
            "TOP" => {
                let why = "needs a message number and a number of lines";
                let msg = number(name, word(why)?)?;
                let lines = number(name, word(why)?)?;
                Command::Top { msg, lines }
            }
            "STAT" => Command::Stat,
            "NOOP" => Command::Noop,
            "RSET" => Command::Rset,
            "QUIT" => Command::Quit,
            "CAPA" => Command::Capa,
            "STLS" => Command::Stls,
            // "UTF8", the last of KNOWN.
            _ => Command::Utf8,
        };
        if args.next().is_some() {
            return Err(syntax(name, "too many arguments"));
        }
        Ok(cmd)
    }
}

/// The verbs [`Command::parse`] knows (anything else is [`Command::Other`]).
const KNOWN: [&str; 16] = [
    "USER", "PASS", "APOP", "AUTH", "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "QUIT", "TOP",
    "UIDL", "CAPA", "STLS", "UTF8",
];

fn syntax(verb: &'static str, why: &'static str) -> ParseError {
    ParseError::Syntax { verb, why }
}

/// A message number or line count: decimal digits only (no sign), within 32 bits.
fn number(verb: &'static str, word: &str) -> Result<u32, ParseError> {
    if !word.bytes().all(|b| b.is_ascii_digit()) {
        return Err(syntax(verb, "a number must be decimal digits"));
    }
    word.parse()
        .map_err(|_| syntax(verb, "number is too large"))
}

/// The first word and, if there was a space, everything after the first space.
pub fn split_word(line: &[u8]) -> (&[u8], Option<&[u8]>) {
    match line.iter().position(|&b| b == b' ') {
        Some(pos) => (
            line.get(..pos).unwrap_or(&[]),
            Some(line.get(pos.saturating_add(1)..).unwrap_or(&[])),
        ),
        None => (line, None),
    }
}

/// The status indicator of a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Indicator {
    /// `+OK`
    Ok,
    /// `-ERR`
    Err,
    /// `+ ` or a lone `+`: a SASL challenge.
    Continue,
}

/// The parts of a status line, as positions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusLine {
    pub indicator: Indicator,
    /// Where the indicator is (`0..3` for `+OK`).
    pub word: Range<usize>,
    /// Whether `+OK` / `-ERR` was in upper case, as RFC 1939 requires.
    pub exact: bool,
    /// The RFC 2449 response code `[CODE]` after the indicator, brackets included.
    pub code: Option<Range<usize>>,
}

impl StatusLine {
    /// Parses a status line; `None` when it is not one.
    pub fn parse(line: &[u8]) -> Option<StatusLine> {
        for (word, indicator) in [(&b"+OK"[..], Indicator::Ok), (&b"-ERR"[..], Indicator::Err)] {
            let Some(head) = line.get(..word.len()) else {
                continue;
            };
            if !head.eq_ignore_ascii_case(word) {
                continue;
            }
            let rest = line.get(word.len()..).unwrap_or(&[]);
            if rest.is_empty() || rest.starts_with(b" ") {
                return Some(StatusLine {
                    indicator,
                    word: 0..word.len(),
                    exact: head == word,
                    code: crate::proto::bracket_code_at(line, word.len(), true),
                });
            }
        }
        if line == b"+" || line.starts_with(b"+ ") {
            return Some(StatusLine {
                indicator: Indicator::Continue,
                word: 0..1,
                exact: true,
                code: None,
            });
        }
        None
    }

    /// The response code without brackets: `IN-USE`, `SYS/TEMP`, `LOGIN-DELAY 900`.
    pub fn code_text<'a>(&self, line: &'a [u8]) -> Option<&'a [u8]> {
        let r = self.code.clone()?;
        let inner = line.get(r)?.strip_prefix(b"[")?.strip_suffix(b"]")?;
        (!inner.is_empty()).then_some(inner)
    }
}

/// The RFC 2449 response code of a status line, without brackets: `IN-USE` for
/// `-ERR [IN-USE] Mailbox locked`.
pub fn response_code(line: &[u8]) -> Option<&[u8]> {
    let status = StatusLine::parse(line)?;
    if status.indicator == Indicator::Continue {
        return None;
    }
    status.code_text(line)
}

/// The first `<...>` in a greeting with something inside and no white space: the input of an
/// APOP digest.
pub fn apop_timestamp(line: &[u8]) -> Option<&[u8]> {
    // One pass: the candidate is the last `<` with no blank since; the first `>` after a
    // candidate with something between ends it.
    let mut start = None;
    for (i, &b) in line.iter().enumerate() {
        match b {
            b'<' => start = Some(i),
            b'>' => match start.take() {
                Some(s) if i > s.saturating_add(1) => return line.get(s..=i),
                _ => {}
            },
            b if b.is_ascii_whitespace() => start = None,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip() {
        let cmds = [
            Command::User("alice".into()),
            Command::Pass("secret word".into()),
            Command::Apop {
                name: "alice".into(),
                digest: "c4c9334bac560ecc979e58001b3e22fb".into(),
            },
            Command::Auth {
                mechanism: Some("PLAIN".into()),
                initial: Some("AGEAYg==".into()),
            },
            Command::Auth {
                mechanism: None,
                initial: None,
            },
            Command::Stat,
            Command::List(None),
            Command::List(Some(3)),
            Command::Retr(1),
            Command::Dele(2),
            Command::Noop,
            Command::Rset,
            Command::Quit,
            Command::Top { msg: 1, lines: 0 },
            Command::Uidl(None),
            Command::Capa,
            Command::Stls,
            Command::Utf8,
            Command::Other {
                verb: "XTND".into(),
                rest: b"XMIT".to_vec(),
            },
        ];
        for c in cmds {
            assert_eq!(Command::parse(&c.line()).unwrap(), c, "{c:?}");
        }
        let mut out = Vec::new();
        Command::Top { msg: 3, lines: 10 }.write(&mut out);
        assert_eq!(out, b"TOP 3 10\r\n");
    }

    #[test]
    fn multi_line_replies() {
        assert!(Command::Capa.multi_line());
        assert!(Command::List(None).multi_line());
        assert!(!Command::List(Some(1)).multi_line());
        assert!(Command::Retr(1).multi_line());
        assert!(!Command::Stat.multi_line());
        assert!(!Command::Auth {
            mechanism: Some("PLAIN".into()),
            initial: None
        }
        .multi_line());
    }

    #[test]
    fn parse_errors() {
        assert_eq!(Command::parse(b""), Err(ParseError::Empty));
        assert_eq!(Command::parse(b" STAT"), Err(ParseError::Empty));
        for bad in [
            &b"RETR"[..],
            b"RETR x",
            b"TOP 1",
            b"DELE -1",
            b"DELE +1",
            b"LIST 0x1",
            b"RETR 4294967296",
            b"TOP 1 99999999999999999999",
            b"APOP a",
            b"USER",
            b"USER ",
            b"PASS",
            b"STAT 1",
            b"QUIT now",
            b"RETR 1 2",
            b"LIST 1 2",
            b"UIDL 1 x",
            b"TOP 1 2 3",
            b"AUTH PLAIN x y",
            b"USER a b",
            b"CAPA x",
        ] {
            assert!(Command::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Command::parse(b"RETR 4294967296").unwrap_err().to_string(),
            "RETR: number is too large"
        );
        assert_eq!(
            Command::parse(b"dele -1").unwrap_err().to_string(),
            "DELE: a number must be decimal digits"
        );
        assert_eq!(
            Command::parse(b"noop x").unwrap_err().to_string(),
            "NOOP: too many arguments"
        );
    }

    #[test]
    fn parses_as_a_server_reads() {
        assert_eq!(
            Command::parse(b"retr 4294967295"),
            Ok(Command::Retr(u32::MAX))
        );
        assert_eq!(Command::parse(b"LIST  2 "), Ok(Command::List(Some(2))));
        assert_eq!(
            Command::parse(b"Top 1 0"),
            Ok(Command::Top { msg: 1, lines: 0 })
        );
        // A password is the whole rest of the line, spaces and all; it may be empty.
        assert_eq!(
            Command::parse(b"PASS  two words "),
            Ok(Command::Pass(" two words ".into()))
        );
        assert_eq!(Command::parse(b"PASS "), Ok(Command::Pass(String::new())));
        assert_eq!(
            Command::parse(b"user alice"),
            Ok(Command::User("alice".into()))
        );
        assert_eq!(
            Command::parse(b"AUTH"),
            Ok(Command::Auth {
                mechanism: None,
                initial: None
            })
        );
        assert_eq!(
            Command::parse(b"XTND  a b"),
            Ok(Command::Other {
                verb: "XTND".into(),
                rest: b" a b".to_vec()
            })
        );
    }

    #[test]
    fn status_lines_and_codes() {
        let s = StatusLine::parse(b"+OK ready").unwrap();
        assert_eq!((s.indicator, s.word, s.exact), (Indicator::Ok, 0..3, true));
        let s = StatusLine::parse(b"-err no").unwrap();
        assert_eq!((s.indicator, s.exact), (Indicator::Err, false));
        assert_eq!(
            StatusLine::parse(b"+ ").map(|s| s.indicator),
            Some(Indicator::Continue)
        );
        assert_eq!(StatusLine::parse(b"+OKAY"), None);
        assert_eq!(StatusLine::parse(b"* OK"), None);
        assert_eq!(
            response_code(b"-ERR [IN-USE] Mailbox locked"),
            Some(&b"IN-USE"[..])
        );
        assert_eq!(
            response_code(b"-ERR [SYS/TEMP] try later"),
            Some(&b"SYS/TEMP"[..])
        );
        assert_eq!(response_code(b"-ERR [AUTH]"), Some(&b"AUTH"[..]));
        assert_eq!(
            response_code(b"+OK [LOGIN-DELAY 900] ok"),
            Some(&b"LOGIN-DELAY 900"[..])
        );
        assert_eq!(response_code(b"-ERR no code"), None);
        assert_eq!(response_code(b"-ERR [unclosed"), None);
        assert_eq!(response_code(b"-ERR []"), None);
        let s = StatusLine::parse(b"-ERR  [IN-USE] x").unwrap();
        assert_eq!(s.code, Some(6..14));
    }

    #[test]
    fn apop_timestamps() {
        assert_eq!(
            apop_timestamp(b"+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>"),
            Some(&b"<1896.697170952@dbc.mtview.ca.us>"[..])
        );
        assert_eq!(apop_timestamp(b"+OK <> <a b> ready"), None);
        assert_eq!(apop_timestamp(b"+OK <<x>"), Some(&b"<x>"[..]));
        assert_eq!(apop_timestamp(b"+OK <a\tb> <ok@x>"), Some(&b"<ok@x>"[..]));
        // A greeting made of `<` (one pass over it, not one per `<`).
        assert_eq!(apop_timestamp(&[b'<'; 64 * 1024]), None);
    }
}
