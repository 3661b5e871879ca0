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

    /// Parses a command line (without CRLF) as a server reads it.
    pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
        let (verb, rest) = split_word(line);
        if verb.is_empty() {
            return Err(ParseError::Empty);
        }
        let rest = rest.unwrap_or(&[]);
        let text = String::from_utf8_lossy(rest).into_owned();
        let mut args = text.split(' ').filter(|w| !w.is_empty());
        let num = |w: Option<&str>, verb: &'static str| -> Result<u32, ParseError> {
            w.and_then(|w| w.parse().ok()).ok_or(ParseError::Syntax {
                verb,
                why: "needs a message number",
            })
        };
        let upper = verb.to_ascii_uppercase();
        Ok(match upper.as_slice() {
            b"USER" => Command::User(text.trim().to_string()),
            b"PASS" => Command::Pass(text),
            b"APOP" => {
                let name = args.next().unwrap_or_default().to_string();
                let digest = args.next().unwrap_or_default().to_string();
                if name.is_empty() || digest.is_empty() {
                    return Err(ParseError::Syntax {
                        verb: "APOP",
                        why: "needs a name and a digest",
                    });
                }
                Command::Apop { name, digest }
            }
            b"AUTH" => Command::Auth {
                mechanism: args.next().map(str::to_string),
                initial: args.next().map(str::to_string),
            },
            b"STAT" => Command::Stat,
            b"LIST" => Command::List(match args.next() {
                Some(w) => Some(num(Some(w), "LIST")?),
                None => None,
            }),
            b"UIDL" => Command::Uidl(match args.next() {
                Some(w) => Some(num(Some(w), "UIDL")?),
                None => None,
            }),
            b"RETR" => Command::Retr(num(args.next(), "RETR")?),
            b"DELE" => Command::Dele(num(args.next(), "DELE")?),
            b"TOP" => {
                let msg = num(args.next(), "TOP")?;
                let lines = args
                    .next()
                    .and_then(|w| w.parse().ok())
                    .ok_or(ParseError::Syntax {
                        verb: "TOP",
                        why: "needs a message number and a number of lines",
                    })?;
                Command::Top { msg, lines }
            }
            b"NOOP" => Command::Noop,
            b"RSET" => Command::Rset,
            b"QUIT" => Command::Quit,
            b"CAPA" => Command::Capa,
            b"STLS" => Command::Stls,
            b"UTF8" => Command::Utf8,
            _ => Command::Other {
                verb: String::from_utf8_lossy(verb).into_owned(),
                rest: rest.to_vec(),
            },
        })
    }
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
        for bad in [&b"RETR"[..], b"RETR x", b"TOP 1", b"DELE -1", b"APOP a"] {
            assert!(Command::parse(bad).is_err(), "{bad:?}");
        }
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
