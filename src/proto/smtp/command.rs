//! SMTP/LMTP commands as values (RFC 5321 §4.1, with the parameters of the common
//! extensions). [`Command::write`] gives the exact bytes a client sends; [`Command::parse`]
//! reads a command line as a server receives it. A line the user types is sent as typed; it is
//! parsed only to learn what it means.

use std::fmt;

/// An ESMTP parameter of MAIL or RCPT: `SIZE=1000`, `BODY=8BITMIME`, `SMTPUTF8`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// As written; compare with [`Param::is`].
    pub keyword: String,
    pub value: Option<String>,
}

impl Param {
    pub fn new(keyword: &str, value: Option<&str>) -> Param {
        Param {
            keyword: keyword.to_string(),
            value: value.map(str::to_string),
        }
    }

    /// Whether this is the parameter `keyword` (case-insensitive).
    pub fn is(&self, keyword: &str) -> bool {
        self.keyword.eq_ignore_ascii_case(keyword)
    }
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}={v}", self.keyword),
            None => f.write_str(&self.keyword),
        }
    }
}

/// One command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Ehlo(String),
    Helo(String),
    /// LMTP's EHLO (RFC 2033).
    Lhlo(String),
    /// `MAIL FROM:<path> params`; the path without `<>` (empty for the null sender).
    Mail {
        from: String,
        params: Vec<Param>,
    },
    /// `RCPT TO:<path> params`.
    Rcpt {
        to: String,
        params: Vec<Param>,
    },
    Data,
    /// `BDAT size [LAST]` (RFC 3030).
    Bdat {
        size: u64,
        last: bool,
    },
    Rset,
    Noop,
    Quit,
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954); the response is base64 text or `=`.
    Auth {
        mechanism: String,
        initial: Option<String>,
    },
    Vrfy(String),
    Expn(String),
    Help(String),
    /// Anything else: the verb and the rest of the line, as sent.
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
    Syntax { verb: &'static str, why: String },
}

fn syntax(verb: &'static str, why: impl Into<String>) -> ParseError {
    ParseError::Syntax {
        verb,
        why: why.into(),
    }
}

impl Command {
    /// The verb as it goes on the wire (`MAIL`, `BDAT`, or the unknown verb as sent).
    pub fn verb(&self) -> &str {
        match self {
            Command::Ehlo(_) => "EHLO",
            Command::Helo(_) => "HELO",
            Command::Lhlo(_) => "LHLO",
            Command::Mail { .. } => "MAIL",
            Command::Rcpt { .. } => "RCPT",
            Command::Data => "DATA",
            Command::Bdat { .. } => "BDAT",
            Command::Rset => "RSET",
            Command::Noop => "NOOP",
            Command::Quit => "QUIT",
            Command::StartTls => "STARTTLS",
            Command::Auth { .. } => "AUTH",
            Command::Vrfy(_) => "VRFY",
            Command::Expn(_) => "EXPN",
            Command::Help(_) => "HELP",
            Command::Other { verb, .. } => verb,
        }
    }

    /// The command line, without CRLF.
    pub fn line(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_line(&mut out);
        out
    }

    /// Appends the command line and CRLF.
    pub fn write(&self, out: &mut Vec<u8>) {
        self.write_line(out);
        out.extend_from_slice(b"\r\n");
    }

    fn write_line(&self, out: &mut Vec<u8>) {
        let mut push = |s: &str| out.extend_from_slice(s.as_bytes());
        match self {
            Command::Ehlo(name) | Command::Helo(name) | Command::Lhlo(name) => {
                push(self.verb());
                push(" ");
                push(name);
            }
            Command::Mail { from, params } => {
                push("MAIL FROM:<");
                push(from);
                push(">");
                for p in params {
                    push(" ");
                    push(&p.to_string());
                }
            }
            Command::Rcpt { to, params } => {
                push("RCPT TO:<");
                push(to);
                push(">");
                for p in params {
                    push(" ");
                    push(&p.to_string());
                }
            }
            Command::Bdat { size, last } => {
                push(&format!("BDAT {size}"));
                if *last {
                    push(" LAST");
                }
            }
            Command::Auth { mechanism, initial } => {
                push("AUTH ");
                push(mechanism);
                if let Some(ir) = initial {
                    push(" ");
                    push(ir);
                }
            }
            Command::Vrfy(arg) | Command::Expn(arg) | Command::Help(arg) => {
                push(self.verb());
                if !arg.is_empty() {
                    push(" ");
                    push(arg);
                }
            }
            Command::Other { verb, rest } => {
                push(verb);
                if !rest.is_empty() {
                    out.push(b' ');
                    out.extend_from_slice(rest);
                }
            }
            Command::Data | Command::Rset | Command::Noop | Command::Quit | Command::StartTls => {
                push(self.verb())
            }
        }
    }

    /// Parses a command line (without CRLF) as a server reads it. Unknown verbs are
    /// [`Command::Other`]; known verbs with malformed arguments are errors.
    pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
        let (verb, rest) = split_verb(line);
        if verb.is_empty() {
            return Err(ParseError::Empty);
        }
        let upper = verb.to_ascii_uppercase();
        let text = || String::from_utf8_lossy(rest).into_owned();
        Ok(match upper.as_slice() {
            b"EHLO" | b"HELO" | b"LHLO" => {
                let name = text();
                let name = name.trim();
                if name.is_empty() || name.contains(' ') {
                    return Err(syntax(
                        static_verb(&upper),
                        "needs exactly one argument, the client's name",
                    ));
                }
                match upper.as_slice() {
                    b"EHLO" => Command::Ehlo(name.to_string()),
                    b"HELO" => Command::Helo(name.to_string()),
                    _ => Command::Lhlo(name.to_string()),
                }
            }
            b"MAIL" => {
                let (from, params) = parse_path(rest, b"FROM:").map_err(|w| syntax("MAIL", w))?;
                Command::Mail { from, params }
            }
            b"RCPT" => {
                let (to, params) = parse_path(rest, b"TO:").map_err(|w| syntax("RCPT", w))?;
                Command::Rcpt { to, params }
            }
            b"DATA" => no_args(rest, "DATA", Command::Data)?,
            b"RSET" => no_args(rest, "RSET", Command::Rset)?,
            b"QUIT" => no_args(rest, "QUIT", Command::Quit)?,
            b"STARTTLS" => no_args(rest, "STARTTLS", Command::StartTls)?,
            b"NOOP" => Command::Noop,
            b"BDAT" => {
                let (size, last) = parse_bdat(rest).ok_or_else(|| {
                    syntax(
                        "BDAT",
                        "expected BDAT SIZE [LAST] with SIZE a number of bytes",
                    )
                })?;
                Command::Bdat { size, last }
            }
            b"AUTH" => {
                let mut w = words(rest);
                let mechanism = w
                    .next()
                    .map(|m| String::from_utf8_lossy(m).into_owned())
                    .ok_or_else(|| syntax("AUTH", "needs a mechanism"))?;
                let initial = w.next().map(|i| String::from_utf8_lossy(i).into_owned());
                if w.next().is_some() {
                    return Err(syntax("AUTH", "too many arguments"));
                }
                Command::Auth { mechanism, initial }
            }
            b"VRFY" => Command::Vrfy(text().trim().to_string()),
            b"EXPN" => Command::Expn(text().trim().to_string()),
            b"HELP" => Command::Help(text().trim().to_string()),
            _ => Command::Other {
                verb: String::from_utf8_lossy(verb).into_owned(),
                rest: rest.to_vec(),
            },
        })
    }

    /// The parameters of MAIL or RCPT (empty for other commands).
    pub fn params(&self) -> &[Param] {
        match self {
            Command::Mail { params, .. } | Command::Rcpt { params, .. } => params,
            _ => &[],
        }
    }
}

fn static_verb(upper: &[u8]) -> &'static str {
    match upper {
        b"EHLO" => "EHLO",
        b"HELO" => "HELO",
        _ => "LHLO",
    }
}

fn no_args(rest: &[u8], verb: &'static str, cmd: Command) -> Result<Command, ParseError> {
    if rest.iter().all(|b| *b == b' ' || *b == b'\t') {
        Ok(cmd)
    } else {
        Err(syntax(verb, "takes no arguments"))
    }
}

/// Words separated by spaces or tabs.
pub(crate) fn words(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|b| *b == b' ' || *b == b'\t')
        .filter(|w| !w.is_empty())
}

/// The first word (leading blanks skipped) and the rest after the blanks that follow it.
pub(crate) fn split_verb(line: &[u8]) -> (&[u8], &[u8]) {
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = line.iter().position(|b| !blank(b)).unwrap_or(line.len());
    let body = line.get(start..).unwrap_or(&[]);
    let end = body.iter().position(blank).unwrap_or(body.len());
    let verb = body.get(..end).unwrap_or(&[]);
    let rest = body.get(end..).unwrap_or(&[]);
    let skip = rest.iter().take_while(|b| blank(b)).count();
    (verb, rest.get(skip..).unwrap_or(&[]))
}

/// `FROM:<path> params` / `TO:<path> params` (RFC 5321 allows no space after the colon, but
/// one is accepted, as most servers do).
fn parse_path(rest: &[u8], prefix: &[u8]) -> Result<(String, Vec<Param>), String> {
    let head = rest.get(..prefix.len()).unwrap_or(&[]);
    if !head.eq_ignore_ascii_case(prefix) {
        return Err(format!(
            "expected {}<address>",
            String::from_utf8_lossy(prefix)
        ));
    }
    let after = rest.get(prefix.len()..).unwrap_or(&[]);
    let after = after.strip_prefix(b" ").unwrap_or(after);
    let inner = after
        .strip_prefix(b"<")
        .ok_or_else(|| "the address must be in angle brackets".to_string())?;
    let close = inner
        .iter()
        .position(|b| *b == b'>')
        .ok_or_else(|| "no closing > after the address".to_string())?;
    let path = String::from_utf8_lossy(inner.get(..close).unwrap_or(&[])).into_owned();
    let tail = inner.get(close.saturating_add(1)..).unwrap_or(&[]);
    if !tail.is_empty() && !tail.starts_with(b" ") {
        return Err("expected a space before the parameters".to_string());
    }
    let params = words(tail)
        .map(|w| {
            let w = String::from_utf8_lossy(w);
            match w.split_once('=') {
                Some((k, v)) => Param::new(k, Some(v)),
                None => Param::new(&w, None),
            }
        })
        .collect();
    Ok((path, params))
}

/// `SIZE [LAST]` after BDAT: the size and whether this is the last chunk.
pub(crate) fn parse_bdat(rest: &[u8]) -> Option<(u64, bool)> {
    let mut w = words(rest);
    let size = w.next()?;
    if !size.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let size: u64 = std::str::from_utf8(size).ok()?.parse().ok()?;
    let last = match w.next() {
        None => false,
        Some(x) if x.eq_ignore_ascii_case(b"LAST") => true,
        Some(_) => return None,
    };
    if w.next().is_some() {
        return None;
    }
    Some((size, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_write_their_bytes() {
        let mut out = Vec::new();
        Command::Mail {
            from: "a@example.org".into(),
            params: vec![
                Param::new("SIZE", Some("1000")),
                Param::new("BODY", Some("8BITMIME")),
                Param::new("SMTPUTF8", None),
            ],
        }
        .write(&mut out);
        assert_eq!(
            out,
            b"MAIL FROM:<a@example.org> SIZE=1000 BODY=8BITMIME SMTPUTF8\r\n"
        );
        assert_eq!(
            Command::Rcpt {
                to: "b@example.org".into(),
                params: vec![Param::new("NOTIFY", Some("SUCCESS,FAILURE"))]
            }
            .line(),
            b"RCPT TO:<b@example.org> NOTIFY=SUCCESS,FAILURE"
        );
        assert_eq!(
            Command::Mail {
                from: String::new(),
                params: vec![]
            }
            .line(),
            b"MAIL FROM:<>"
        );
        assert_eq!(
            Command::Bdat {
                size: 12,
                last: true
            }
            .line(),
            b"BDAT 12 LAST"
        );
        assert_eq!(Command::Lhlo("c.test".into()).line(), b"LHLO c.test");
        assert_eq!(
            Command::Auth {
                mechanism: "PLAIN".into(),
                initial: Some("AGEAYg==".into())
            }
            .line(),
            b"AUTH PLAIN AGEAYg=="
        );
        assert_eq!(Command::Help(String::new()).line(), b"HELP");
    }

    #[test]
    fn parse_reads_back_what_write_wrote() {
        let cmds = [
            Command::Ehlo("client.test".into()),
            Command::Helo("client.test".into()),
            Command::Lhlo("client.test".into()),
            Command::Mail {
                from: "a@x.test".into(),
                params: vec![Param::new("SIZE", Some("10"))],
            },
            Command::Mail {
                from: String::new(),
                params: vec![],
            },
            Command::Rcpt {
                to: "b@x.test".into(),
                params: vec![Param::new("ORCPT", Some("rfc822;b@x.test"))],
            },
            Command::Data,
            Command::Bdat {
                size: 0,
                last: true,
            },
            Command::Bdat {
                size: 99,
                last: false,
            },
            Command::Rset,
            Command::Noop,
            Command::Quit,
            Command::StartTls,
            Command::Auth {
                mechanism: "LOGIN".into(),
                initial: None,
            },
            Command::Vrfy("postmaster".into()),
            Command::Other {
                verb: "XCLIENT".into(),
                rest: b"ADDR=192.0.2.1".to_vec(),
            },
        ];
        for c in cmds {
            assert_eq!(Command::parse(&c.line()).unwrap(), c, "{c:?}");
        }
    }

    #[test]
    fn parse_is_lenient_where_servers_are() {
        assert_eq!(
            Command::parse(b"mail from: <a@b>").unwrap(),
            Command::Mail {
                from: "a@b".into(),
                params: vec![]
            }
        );
        assert_eq!(Command::parse(b"  quit").unwrap(), Command::Quit);
        assert_eq!(Command::parse(b"noop anything").unwrap(), Command::Noop);
    }

    #[test]
    fn parse_errors() {
        assert_eq!(Command::parse(b""), Err(ParseError::Empty));
        assert_eq!(Command::parse(b"   "), Err(ParseError::Empty));
        for bad in [
            &b"MAIL a@b"[..],
            b"MAIL FROM:a@b",
            b"MAIL FROM:<a@b",
            b"MAIL FROM:<a@b>SIZE=1",
            b"RCPT FROM:<a@b>",
            b"EHLO",
            b"EHLO a b",
            b"DATA x",
            b"BDAT",
            b"BDAT x",
            b"BDAT 5 NOW",
            b"BDAT 99999999999999999999",
            b"AUTH",
            b"AUTH PLAIN a b",
        ] {
            assert!(
                Command::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
