//! Sans-I/O protocol machines: bytes in, events out. No sockets, no TLS, no colours.
//!
//! Each machine ([`smtp::Smtp`], [`imap::Imap`], [`pop3::Pop3`]) follows the same shape:
//! - `command(line)` turns one line the user typed into [`Outgoing`] bytes for the wire;
//! - `feed(bytes)` hands it what the server sent;
//! - `next_event()` returns the next [`Event`], `Ok(None)` when it needs more input;
//! - `awaiting()` says whether a response is still expected.

pub mod dot;
pub mod imap;
pub mod line;
pub mod pop3;
pub mod sasl;
pub mod smtp;

use std::fmt;

/// The application protocols mailtalk speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    Smtp,
    Lmtp,
    Imap,
    Pop3,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Smtp => "smtp",
            Protocol::Lmtp => "lmtp",
            Protocol::Imap => "imap",
            Protocol::Pop3 => "pop3",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a line the server sent ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// `\r\n`, as the protocols require.
    CrLf,
    /// A bare `\n` (a protocol violation, shown and flagged).
    Lf,
    /// No line ending: a piece of an IMAP literal, or bytes cut off by the end of the stream.
    None,
}

/// What a server line is, for display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    /// A status or response line: an SMTP reply line, an IMAP tagged, untagged or
    /// continuation line, a POP3 status line.
    Status,
    /// Content: a POP3 multi-line body line (already dot-unstuffed), IMAP literal content.
    Data,
}

/// One line (or literal piece) exactly as the server sent it, without its line ending. POP3
/// multi-line body lines are the one exception: they are dot-unstuffed (`..x` arrives as `.x`),
/// as the protocol defines their content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerLine {
    pub bytes: Vec<u8>,
    pub kind: LineKind,
    pub ending: Ending,
}

/// The outcome of a complete response, across protocols.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// SMTP 2xx, IMAP OK/PREAUTH, POP3 +OK.
    Ok,
    /// SMTP 3xx, IMAP `+`, POP3 `+ `: the server waits for more from the client.
    Continue,
    /// SMTP 4xx.
    TempFail,
    /// SMTP 5xx, POP3 -ERR.
    PermFail,
    /// IMAP NO.
    No,
    /// IMAP BAD.
    Bad,
    /// IMAP BYE (as the response that ended the wait, e.g. greeting or LOGOUT).
    Bye,
    /// Something that is none of the above (malformed status).
    Unknown,
}

impl Outcome {
    pub fn is_ok(self) -> bool {
        matches!(self, Outcome::Ok)
    }
}

/// A complete response (the thing a script's `:expect` looks at).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub outcome: Outcome,
    /// SMTP/LMTP: the three-digit reply code.
    pub code: Option<u16>,
    /// SMTP/LMTP: the enhanced status code of the last line (`5.1.1`), if any.
    pub enhanced: Option<String>,
    /// IMAP: the tag of the tagged response (`A001`), or `+` / `*` for continuation / greeting.
    pub tag: Option<String>,
    /// The status line(s) of the response, exactly as sent, without line endings. For SMTP every
    /// line of a multi-line reply; for IMAP the tagged (or continuation) line; for POP3 the
    /// status line.
    pub lines: Vec<Vec<u8>>,
}

impl Reply {
    /// The text of the last status line, lossily decoded (for explanations and expectations).
    pub fn last_text(&self) -> String {
        self.lines
            .last()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .unwrap_or_default()
    }
}

/// What a machine reports, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A line the server sent, to show now.
    Line(ServerLine),
    /// A protocol oddity that is shown but does not end the session (mixed codes in a
    /// multi-line reply, a bare LF, a line that is not a valid reply).
    Warning(String),
    /// The awaited response is complete: the next command can be sent.
    Complete(Reply),
    /// The server waits for more from the client (SMTP 354/334, IMAP `+`, POP3 `+ `).
    Continue(Reply),
}

/// What to put on the wire for one line the user typed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outgoing {
    /// The exact bytes to write (line ending included).
    pub wire: Vec<u8>,
    /// What to show and record, without line ending: secrets replaced by `<redacted>`.
    pub display: Vec<u8>,
    /// The line carried a secret: it must never reach history, transcripts or logs.
    pub secret: bool,
    /// A response is expected before the next command (false for lines inside SMTP DATA, the
    /// content of an IMAP literal, LITERAL+ pieces …).
    pub expects_reply: bool,
    /// This is a STARTTLS/STLS command: on a positive reply the transport must be upgraded.
    pub starttls: bool,
}

/// Errors a command line can have before anything is sent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CommandError {
    #[error("a line may not contain {0}")]
    ForbiddenByte(&'static str),
    #[error("{0}")]
    Invalid(String),
}

/// Fatal protocol errors: the session cannot go on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtoError {
    #[error("line longer than {limit} bytes without a line ending")]
    LineTooLong { limit: usize },
    #[error("response longer than {limit} {unit}")]
    ResponseTooLong { limit: usize, unit: &'static str },
    #[error("invalid literal: {0}")]
    BadLiteral(String),
    #[error("protocol violation: {0}")]
    Violation(String),
}

/// Rejects CR, LF and NUL in a line the user typed (security.md item 14).
pub fn check_line(line: &[u8]) -> Result<(), CommandError> {
    if line.contains(&b'\r') {
        return Err(CommandError::ForbiddenByte("CR"));
    }
    if line.contains(&b'\n') {
        return Err(CommandError::ForbiddenByte("LF"));
    }
    if line.contains(&0) {
        return Err(CommandError::ForbiddenByte("NUL"));
    }
    Ok(())
}

/// Builds `line` + CRLF.
pub fn crlf(line: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(line.len().saturating_add(2));
    v.extend_from_slice(line);
    v.extend_from_slice(b"\r\n");
    v
}

pub const REDACTED: &str = "<redacted>";

/// What the server advertised (EHLO keywords, IMAP CAPABILITY atoms, POP3 CAPA lines), in the
/// order it advertised them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Each entry is one capability as sent, e.g. `SIZE 35882577`, `AUTH PLAIN LOGIN`,
    /// `AUTH=PLAIN`, `LITERAL+`, `SASL PLAIN`, `STLS`.
    pub items: Vec<String>,
}

impl Capabilities {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The keyword of each item, upper-cased: `SIZE`, `AUTH`, `AUTH=PLAIN`, `LITERAL+`.
    pub fn keywords(&self) -> impl Iterator<Item = String> + '_ {
        self.items.iter().map(|i| {
            i.split_ascii_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase()
        })
    }

    /// Whether a keyword is advertised (case-insensitive; `AUTH=PLAIN` style atoms match whole).
    pub fn has(&self, keyword: &str) -> bool {
        self.keywords().any(|k| k.eq_ignore_ascii_case(keyword))
    }

    /// The SASL mechanisms advertised: SMTP `AUTH A B`, IMAP `AUTH=A`, POP3 `SASL A B`.
    pub fn auth_mechanisms(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for item in &self.items {
            let mut words = item.split_ascii_whitespace();
            let first = words.next().unwrap_or("");
            let upper = first.to_ascii_uppercase();
            if upper == "AUTH" || upper == "SASL" {
                out.extend(words.map(|w| w.to_ascii_uppercase()));
            } else if let Some(m) = upper.strip_prefix("AUTH=") {
                out.push(m.to_string());
            }
        }
        out.dedup();
        out
    }

    /// Items advertised here and not in `before`, and items in `before` that are gone.
    pub fn diff(&self, before: &Capabilities) -> (Vec<String>, Vec<String>) {
        let norm = |s: &String| s.to_ascii_uppercase();
        let added = self
            .items
            .iter()
            .filter(|i| !before.items.iter().any(|b| norm(b) == norm(i)))
            .cloned()
            .collect();
        let removed = before
            .items
            .iter()
            .filter(|b| !self.items.iter().any(|i| norm(i) == norm(b)))
            .cloned()
            .collect();
        (added, removed)
    }
}

/// The commands of each protocol, for completion and for highlighting what the user types.
pub fn commands(protocol: Protocol) -> &'static [&'static str] {
    match protocol {
        Protocol::Smtp => SMTP_COMMANDS,
        Protocol::Lmtp => LMTP_COMMANDS,
        Protocol::Imap => IMAP_COMMANDS,
        Protocol::Pop3 => POP3_COMMANDS,
    }
}

pub const SMTP_COMMANDS: &[&str] = &[
    "EHLO", "HELO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "VRFY", "EXPN", "HELP", "NOOP", "QUIT",
    "STARTTLS", "AUTH", "ETRN", "ATRN", "TURN", "BURL", "XCLIENT", "XFORWARD",
];

pub const LMTP_COMMANDS: &[&str] = &[
    "LHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "VRFY", "HELP", "NOOP", "QUIT", "STARTTLS",
    "AUTH",
];

pub const IMAP_COMMANDS: &[&str] = &[
    "CAPABILITY",
    "NOOP",
    "LOGOUT",
    "STARTTLS",
    "AUTHENTICATE",
    "LOGIN",
    "ENABLE",
    "SELECT",
    "EXAMINE",
    "CREATE",
    "DELETE",
    "RENAME",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "LIST",
    "LSUB",
    "NAMESPACE",
    "STATUS",
    "APPEND",
    "IDLE",
    "CHECK",
    "CLOSE",
    "UNSELECT",
    "EXPUNGE",
    "SEARCH",
    "FETCH",
    "STORE",
    "COPY",
    "MOVE",
    "UID",
    "ID",
    "GETQUOTA",
    "GETQUOTAROOT",
    "SETQUOTA",
    "GETACL",
    "SETACL",
    "DELETEACL",
    "LISTRIGHTS",
    "MYRIGHTS",
    "GETMETADATA",
    "SETMETADATA",
    "COMPRESS",
    "SORT",
    "THREAD",
    "ESEARCH",
    "REPLACE",
    "UNAUTHENTICATE",
    "XLIST",
    "DONE",
];

pub const POP3_COMMANDS: &[&str] = &[
    "USER", "PASS", "APOP", "AUTH", "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "QUIT", "TOP",
    "UIDL", "CAPA", "STLS", "UTF8", "LANG",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_line_rejects_cr_lf_nul() {
        assert_eq!(check_line(b"MAIL FROM:<a@b>"), Ok(()));
        assert_eq!(check_line(b"a\rb"), Err(CommandError::ForbiddenByte("CR")));
        assert_eq!(check_line(b"a\nb"), Err(CommandError::ForbiddenByte("LF")));
        assert_eq!(check_line(b"a\0b"), Err(CommandError::ForbiddenByte("NUL")));
    }

    #[test]
    fn capabilities_queries() {
        let caps = Capabilities {
            items: vec![
                "PIPELINING".into(),
                "SIZE 1000".into(),
                "AUTH PLAIN LOGIN".into(),
                "AUTH=CRAM-MD5".into(),
                "sasl scram-sha-1".into(),
            ],
        };
        assert!(caps.has("size"));
        assert!(caps.has("AUTH=cram-md5"));
        assert!(!caps.has("STARTTLS"));
        assert_eq!(
            caps.auth_mechanisms(),
            vec!["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1"]
        );
        let before = Capabilities {
            items: vec!["PIPELINING".into(), "STARTTLS".into()],
        };
        let (added, removed) = caps.diff(&before);
        assert_eq!(added.len(), 4);
        assert_eq!(removed, vec!["STARTTLS".to_string()]);
    }
}
