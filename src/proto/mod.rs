//! Sans-I/O protocols: bytes in, typed items out; typed commands and replies out as bytes.
//! No sockets, no TLS, no colours. Each grammar lives here once, and everything else (the
//! session, the highlighter, the explanations, the tests, the embedded server) asks here.
//!
//! - [`smtp`], [`imap`], [`pop3`]: commands and replies as values that parse and write their
//!   own bytes, and a client [`Machine`] each.
//! - [`ext`]: which commands and parameters need which advertised extension.
//! - [`dot`]: message data (dot-stuffing, CRLF normalisation) in both directions.
//! - [`line`]: the bounded line buffer every machine reads through.
//! - [`sasl`]: SASL client mechanisms; [`sasl_server`]: the server side of the same mechanisms.
//! - [`server`]: what the server machines share (output, log events, backends).
//!
//! Every machine follows the same shape ([`Machine`]): `command(line)` turns one line the user
//! typed into [`Outgoing`] bytes; `feed(bytes)` hands it what the server sent; `next_event()`
//! returns the next [`Event`], `Ok(None)` when it needs more input; `awaiting()` says whether a
//! response is still expected; `input_mode()` what the next typed line means.

pub mod content;
pub mod dot;
pub mod ext;
pub mod imap;
pub mod line;
pub mod pop3;
pub mod raw;
pub mod sasl;
pub mod sasl_server;
pub mod server;
pub mod smtp;

use std::collections::VecDeque;
use std::fmt;
use std::ops::Range;

use line::LineBuffer;

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

    /// SMTP or LMTP.
    pub fn is_smtp(self) -> bool {
        matches!(self, Protocol::Smtp | Protocol::Lmtp)
    }

    /// The name in capitals with its article, as said in a sentence: "an SMTP", "a POP3".
    pub fn a_name(self) -> &'static str {
        match self {
            Protocol::Smtp => "an SMTP",
            Protocol::Lmtp => "an LMTP",
            Protocol::Imap => "an IMAP",
            Protocol::Pop3 => "a POP3",
        }
    }

    /// The command that ends a session: QUIT, or LOGOUT for IMAP.
    pub fn quit_verb(self) -> &'static str {
        match self {
            Protocol::Imap => "LOGOUT",
            _ => "QUIT",
        }
    }

    /// The command that starts TLS: STARTTLS, or STLS for POP3.
    pub fn starttls_verb(self) -> &'static str {
        match self {
            Protocol::Pop3 => "STLS",
            _ => "STARTTLS",
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

impl Ending {
    /// How many bytes the ending took on the wire.
    pub fn len(self) -> usize {
        match self {
            Ending::CrLf => 2,
            Ending::Lf => 1,
            Ending::None => 0,
        }
    }

    /// The bytes of the ending, as they came.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Ending::CrLf => b"\r\n",
            Ending::Lf => b"\n",
            Ending::None => b"",
        }
    }

    pub fn is_empty(self) -> bool {
        self == Ending::None
    }
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

    /// How bad an outcome is, for combining several replies into one (LMTP).
    pub fn severity(self) -> u8 {
        match self {
            Outcome::Ok => 0,
            Outcome::Continue => 1,
            Outcome::Unknown => 2,
            Outcome::TempFail | Outcome::No => 3,
            Outcome::PermFail | Outcome::Bad | Outcome::Bye => 4,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Continue => "continue",
            Outcome::TempFail => "tempfail",
            Outcome::PermFail => "permfail",
            Outcome::No => "no",
            Outcome::Bad => "bad",
            Outcome::Bye => "bye",
            Outcome::Unknown => "unknown",
        }
    }
}

/// A complete response (the thing a script's `:expect` looks at).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub outcome: Outcome,
    /// SMTP/LMTP: the reply code.
    pub code: Option<smtp::Code>,
    /// SMTP/LMTP: the enhanced status code of the last line, if any.
    pub enhanced: Option<smtp::EnhancedCode>,
    /// IMAP: the tag of the tagged response (`A001`), or `+` / `*` for continuation / greeting.
    pub tag: Option<String>,
    /// The status line(s) of the response, exactly as sent, without line endings. For SMTP every
    /// line of a multi-line reply; for IMAP the tagged (or continuation) line; for POP3 the
    /// status line.
    pub lines: Vec<Vec<u8>>,
    /// LMTP, after the end of the data: the reply for each accepted recipient, in order. This
    /// reply is then the last of the worst of them.
    pub parts: Vec<Reply>,
}

impl Reply {
    /// A reply with one status line and no code.
    pub fn line(outcome: Outcome, line: Vec<u8>) -> Reply {
        Reply {
            outcome,
            code: None,
            enhanced: None,
            tag: None,
            lines: vec![line],
            parts: Vec::new(),
        }
    }

    /// The text of the last status line, lossily decoded (for explanations and expectations).
    pub fn last_text(&self) -> String {
        self.lines
            .last()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .unwrap_or_default()
    }

    /// The last status line.
    pub fn last_line(&self) -> &[u8] {
        self.lines.last().map(Vec::as_slice).unwrap_or(&[])
    }

    /// The SMTP reply code as a number.
    pub fn code_value(&self) -> Option<u16> {
        self.code.map(smtp::Code::value)
    }
}

/// Content the server sent (an IMAP literal, a POP3 multi-line body), many lines at a time, so
/// that a large body costs per block, not per line. `bytes` holds whole lines, each with the
/// ending it had on the wire (POP3: after dot-unstuffing). Only the last line may lack an
/// ending: the literal ended in the middle of a line, or a run of more than a piece without a
/// line feed was cut there (the next block goes on with it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DataBlock {
    pub bytes: Vec<u8>,
    /// The first block of its literal or body.
    pub first: bool,
    /// The last block of its literal or body (an empty content is one empty block, first and
    /// last).
    pub last: bool,
    /// The size announced for the whole content (an IMAP literal's `{n}`, a POP3 `+OK n
    /// octets`), when known: for progress.
    pub size: Option<u64>,
}

impl DataBlock {
    /// The lines of the block: each with its bytes (without the ending) and its ending.
    pub fn lines(&self) -> impl Iterator<Item = (&[u8], Ending)> + '_ {
        data_lines(&self.bytes)
    }
}

/// Splits content into lines: each with its bytes (without the ending) and its ending (CRLF, a
/// bare LF, or none for bytes after the last line feed).
pub fn data_lines(bytes: &[u8]) -> impl Iterator<Item = (&[u8], Ending)> + '_ {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match memchr::memchr(b'\n', rest) {
            Some(pos) => {
                let (line, after) = rest.split_at(pos);
                rest = after.get(1..).unwrap_or(&[]);
                Some(match line.split_last() {
                    Some((b'\r', text)) => (text, Ending::CrLf),
                    _ => (line, Ending::Lf),
                })
            }
            None => Some((std::mem::take(&mut rest), Ending::None)),
        }
    })
}

/// Whether a line feed in `bytes` is not preceded by a CR (a bare LF).
pub fn has_bare_lf(bytes: &[u8]) -> bool {
    memchr::memchr_iter(b'\n', bytes)
        .any(|p| p.checked_sub(1).and_then(|q| bytes.get(q)) != Some(&b'\r'))
}

/// Events with every content block replaced by one [`LineKind::Data`] line per line of it (an
/// empty block by nothing): what the machines reported before content came in blocks, for
/// tests about the lines rather than the blocks.
#[cfg(test)]
pub(crate) fn blocks_as_lines(events: Vec<Event>) -> Vec<Event> {
    let mut out = Vec::new();
    for ev in events {
        match ev {
            Event::Data(block) => {
                for (bytes, ending) in block.lines() {
                    out.push(Event::Line(ServerLine {
                        bytes: bytes.to_vec(),
                        kind: LineKind::Data,
                        ending,
                    }));
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// What a machine reports, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A line the server sent, to show now.
    Line(ServerLine),
    /// Content lines (literal, body), to show now.
    Data(DataBlock),
    /// A protocol oddity that is shown but does not end the session (mixed codes in a
    /// multi-line reply, a bare LF, a line that is not a valid reply).
    Warning(String),
    /// The awaited response is complete: the next command can be sent.
    Complete(Reply),
    /// The server waits for more from the client (SMTP 354/334, IMAP `+`, POP3 `+ `).
    Continue(Reply),
}

/// How credentials travel in a line the user typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    /// SMTP `AUTH`, IMAP `AUTHENTICATE`, POP3 `AUTH` with this mechanism (`None` when mailtalk
    /// does not know the mechanism).
    Sasl(Option<sasl::Mechanism>),
    /// IMAP `LOGIN`.
    ImapLogin,
    /// POP3 `PASS`.
    Pop3Pass,
    /// POP3 `APOP`.
    Apop,
}

impl Credential {
    /// Whether the password (or token) itself travels, so that only TLS protects it.
    pub fn cleartext(self) -> bool {
        match self {
            Credential::Sasl(Some(m)) => m.plaintext_equivalent(),
            // An unknown mechanism may well be a cleartext one.
            Credential::Sasl(None) => true,
            Credential::ImapLogin | Credential::Pop3Pass => true,
            Credential::Apop => false,
        }
    }
}

/// What the next line the user types means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputMode {
    /// A command.
    Command,
    /// SMTP message text after 354, until a lone ".".
    Message,
    /// SMTP BDAT chunk content: this many bytes (typed lines and their CRLF) are left.
    Chunk { left: u64 },
    /// IMAP literal content: this many bytes (typed lines and their CRLF) are left.
    Literal { left: u64 },
    /// IMAP: the literal is complete; the next line is the rest of its command line (an empty
    /// line ends the command).
    LiteralRest,
    /// IMAP IDLE: only DONE ends it.
    Idle,
    /// The server asked for more (`+`) for a command mailtalk does not know.
    Continuation,
    /// A SASL response (SMTP 334, IMAP `+` to AUTHENTICATE, POP3 `+`): secret.
    Auth,
}

impl InputMode {
    /// Lines are content (message text, literal or chunk data), not commands.
    pub fn is_content(self) -> bool {
        matches!(
            self,
            InputMode::Message | InputMode::Chunk { .. } | InputMode::Literal { .. }
        )
    }
}

/// What the meaning of a typed line depends on: the protocol, the input mode, and whether the
/// command in progress carries credentials (the lines of a LOGIN literal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineContext {
    pub protocol: Protocol,
    pub mode: InputMode,
    pub secret_command: bool,
}

impl LineContext {
    /// A fresh session of `protocol`, before anything was typed.
    pub fn new(protocol: Protocol) -> LineContext {
        LineContext {
            protocol,
            mode: InputMode::Command,
            secret_command: false,
        }
    }
}

/// What a typed line means, known before it is sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineInfo {
    /// The command's verb, upper-cased (after an IMAP tag); empty for content lines.
    pub verb: String,
    /// The arguments after the verb (and its blanks).
    pub args: Vec<u8>,
    /// The IMAP tag the user typed, if any.
    pub tag: Option<String>,
    /// QUIT / LOGOUT.
    pub ends_session: bool,
    /// STARTTLS / STLS.
    pub starttls: bool,
    /// The line sends credentials, this way.
    pub credentials: Option<Credential>,
    /// Where the secret is in the line: it is shown as `<redacted>` once sent, masked while
    /// typed, and kept out of history, transcripts and logs.
    pub secret: Option<Range<usize>>,
}

/// What `line` means in `ctx` (see [`LineInfo`]). Pure: the session, the REPL's masking and
/// erasing, completion and the warnings all ask here.
pub fn classify(ctx: &LineContext, line: &[u8]) -> LineInfo {
    match ctx.mode {
        InputMode::Command => match ctx.protocol {
            Protocol::Smtp | Protocol::Lmtp => smtp::classify(line),
            Protocol::Imap => imap::classify(line),
            Protocol::Pop3 => pop3::classify(line),
        },
        InputMode::Auth => LineInfo {
            secret: (line != b"*").then_some(0..line.len()),
            ..LineInfo::default()
        },
        InputMode::Literal { .. } if ctx.secret_command => LineInfo {
            secret: Some(0..line.len()),
            ..LineInfo::default()
        },
        InputMode::LiteralRest if ctx.secret_command => LineInfo {
            secret: imap::secret_in_rest(line),
            ..LineInfo::default()
        },
        InputMode::Message
        | InputMode::Chunk { .. }
        | InputMode::Literal { .. }
        | InputMode::LiteralRest
        | InputMode::Idle
        | InputMode::Continuation => LineInfo::default(),
    }
}

/// `line` with the range `secret` replaced by `<redacted>`.
pub fn redact(line: &[u8], secret: Option<&Range<usize>>) -> Vec<u8> {
    let Some(r) = secret else {
        return line.to_vec();
    };
    let mut out = Vec::with_capacity(line.len());
    out.extend_from_slice(line.get(..r.start).unwrap_or(&[]));
    out.extend_from_slice(REDACTED.as_bytes());
    out.extend_from_slice(line.get(r.end..).unwrap_or(&[]));
    out
}

/// What to put on the wire for one line the user typed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outgoing {
    /// The exact bytes to write (line ending included).
    pub wire: Vec<u8>,
    /// What to show and record, without line ending: the wire form (a dot-stuffed line as
    /// stuffed, an automatic IMAP tag included), secrets replaced by `<redacted>`.
    pub display: Vec<u8>,
    /// The line carried a secret: it must never reach history, transcripts or logs.
    pub secret: bool,
    /// A response is expected before the next command (false for lines inside SMTP DATA, the
    /// content of an IMAP literal, LITERAL+ pieces …).
    pub expects_reply: bool,
    /// This is a STARTTLS/STLS command: only the protocol's go-ahead upgrades the transport.
    pub starttls: bool,
    /// QUIT / LOGOUT: the session ends when it is answered.
    pub ends_session: bool,
    /// Content (message text, literal or chunk data) rather than a command.
    pub content: bool,
}

/// Errors a command line can have before anything is sent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CommandError {
    #[error("a line may not contain {0} (nothing was sent)")]
    ForbiddenByte(&'static str),
    #[error("{0}")]
    Invalid(String),
}

/// Fatal protocol errors: the session cannot go on.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtoError {
    #[error("line longer than {limit} bytes without a line ending")]
    LineTooLong { limit: usize },
    #[error("response longer than {limit} {unit}")]
    ResponseTooLong { limit: usize, unit: &'static str },
    #[error("invalid literal: {0}")]
    BadLiteral(String),
    /// The greeting is not one of this protocol; `other` names the protocol it belongs to,
    /// when it is recognisably another one.
    #[error("{}", greeting_text(*.expected, *.other, .shown))]
    NotAGreeting {
        expected: Protocol,
        other: Option<Protocol>,
        shown: String,
    },
    #[error("protocol violation: {0}")]
    Violation(String),
}

fn greeting_text(expected: Protocol, other: Option<Protocol>, shown: &str) -> String {
    let want = expected.name().to_ascii_uppercase();
    match other {
        Some(p) => format!(
            "this is {} server, not {want}: its greeting was \"{shown}\"",
            p.a_name()
        ),
        None => format!("not a valid {want} greeting: \"{shown}\""),
    }
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

/// What a secret is shown as.
pub const REDACTED: &str = crate::secret::REDACTED;

/// Which protocol a server line belongs to, by its grammar: an SMTP reply line, a POP3 status
/// line, or an IMAP status line (tagged or untagged).
pub fn line_protocol(line: &[u8]) -> Option<Protocol> {
    if smtp::ReplyLine::parse(line).is_some() {
        return Some(Protocol::Smtp);
    }
    if pop3::syntax::StatusLine::parse(line)
        .is_some_and(|s| s.indicator != pop3::syntax::Indicator::Continue)
    {
        return Some(Protocol::Pop3);
    }
    imap::syntax::ResponseLine::parse(line)
        .status
        .map(|_| Protocol::Imap)
}

/// Which protocol a greeting line belongs to, when it is recognisably one (SMTP/LMTP `220`,
/// IMAP `* OK`, POP3 `+OK`), so that a wrong port or scheme can be named at once.
pub fn sniff_greeting(line: &[u8]) -> Option<Protocol> {
    match line_protocol(line)? {
        Protocol::Imap
            if imap::syntax::ResponseLine::parse(line).kind != imap::syntax::Kind::Untagged =>
        {
            None
        }
        p => Some(p),
    }
}

/// A response code `[...]` after the space at `at`, brackets included (IMAP RFC 3501 `resp-text`,
/// POP3 RFC 2449). `blanks`: more blanks may come before the `[` (POP3 servers put them).
pub(crate) fn bracket_code_at(line: &[u8], at: usize, blanks: bool) -> Option<Range<usize>> {
    let rest = line.get(at..)?.strip_prefix(b" ")?;
    let spaces = if blanks {
        rest.iter().take_while(|b| b.is_ascii_whitespace()).count()
    } else {
        0
    };
    let rest = rest.get(spaces..)?;
    if rest.first() != Some(&b'[') {
        return None;
    }
    let close = rest.iter().position(|&b| b == b']')?;
    let start = at.saturating_add(1).saturating_add(spaces);
    Some(start..start.saturating_add(close).saturating_add(1))
}

/// A line quoted in a message: cut at 80 characters (made visible where it is shown).
pub fn shown(line: &[u8]) -> String {
    crate::excerpt::excerpt(line, 80)
}

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
        self.items.iter().any(|i| {
            i.split_ascii_whitespace()
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case(keyword))
        })
    }

    /// The first value after a keyword: `SIZE 35882577` gives `35882577`.
    pub fn value(&self, keyword: &str) -> Option<&str> {
        self.items.iter().find_map(|i| {
            let mut words = i.split_ascii_whitespace();
            let k = words.next()?;
            k.eq_ignore_ascii_case(keyword).then(|| words.next())?
        })
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
        // In the order advertised, each once (a set: a long AUTH line costs linear time).
        let mut seen = std::collections::HashSet::new();
        out.retain(|m| seen.insert(m.clone()));
        out
    }

    /// Items advertised here and not in `before`, and items in `before` that are gone.
    pub fn diff(&self, before: &Capabilities) -> (Vec<String>, Vec<String>) {
        use std::collections::HashSet;
        let set = |c: &Capabilities| -> HashSet<String> {
            c.items.iter().map(|i| i.to_ascii_uppercase()).collect()
        };
        let (now, then) = (set(self), set(before));
        let added = self
            .items
            .iter()
            .filter(|i| !then.contains(&i.to_ascii_uppercase()))
            .cloned()
            .collect();
        let removed = before
            .items
            .iter()
            .filter(|b| !now.contains(&b.to_ascii_uppercase()))
            .cloned()
            .collect();
        (added, removed)
    }
}

/// What every client machine has: the bounded input, the events not yet taken, what the server
/// advertised, and the fatal error once there was one. [`Machine::next_event`] runs the loop
/// over it that all three protocols share.
#[derive(Debug, Default)]
pub struct Core {
    pub input: LineBuffer,
    pub events: VecDeque<Event>,
    pub caps: Capabilities,
    pub failed: Option<ProtoError>,
}

impl Core {
    pub fn with_line_limit(max_line: usize) -> Core {
        Core {
            input: LineBuffer::new(max_line),
            ..Core::default()
        }
    }

    pub fn warn(&mut self, text: impl Into<String>) {
        self.events.push_back(Event::Warning(text.into()));
    }

    /// Forgets what was learned and received before a TLS handshake.
    pub fn reset(&mut self) {
        self.input.clear();
        self.events.clear();
        self.caps = Capabilities::default();
        self.failed = None;
    }
}

/// A client protocol machine (see the module documentation).
pub trait Machine: Send {
    fn protocol(&self) -> Protocol;
    fn core(&self) -> &Core;
    fn core_mut(&mut self) -> &mut Core;

    /// Turns one typed line (without CRLF) into what goes on the wire, according to the mode.
    fn command(&mut self, line: &[u8]) -> Result<Outgoing, CommandError>;

    /// Processes what is buffered: one line or literal piece. `Ok(false)` when more input is
    /// needed.
    fn step(&mut self) -> Result<bool, ProtoError>;

    /// Whether a response is still expected.
    fn awaiting(&self) -> bool;

    /// What the next typed line means.
    fn input_mode(&self) -> InputMode;

    /// Whether the command in progress carries credentials in its following lines (the
    /// literals of an IMAP LOGIN).
    fn secret_command(&self) -> bool {
        false
    }

    /// Forgets the protocol state of before a TLS handshake (the [`Core`] is reset by
    /// [`Machine::reset_for_tls`]).
    fn reset_state(&mut self);

    /// At the end of the stream: the bytes left without a line ending.
    fn end_of_stream(&mut self) -> Option<ServerLine>;

    /// The command that asks for capabilities: EHLO/LHLO (with the last name sent, else
    /// `name`), CAPABILITY, CAPA.
    fn capability_command(&self, name: &str) -> Vec<u8>;

    /// IMAP: the size of a synchronising literal whose command the server ended (NO, BAD)
    /// instead of asking for the literal with `+`; taken once. Its typed lines are then not
    /// sent.
    fn take_refused_literal(&mut self) -> Option<u64> {
        None
    }

    /// IMAP: the greeting was PREAUTH.
    fn preauth(&self) -> bool {
        false
    }

    /// IMAP: an untagged BYE arrived, so the server closing is expected.
    fn saw_bye(&self) -> bool {
        false
    }

    /// POP3: the `<...>` timestamp of the greeting, the input of an APOP digest.
    fn apop_timestamp(&self) -> Option<&[u8]> {
        None
    }

    /// SMTP: accounts for `len` bytes of BDAT chunk content sent as raw bytes; whether the
    /// chunk is now complete.
    fn chunk_sent(&mut self, len: u64) -> Result<bool, CommandError> {
        let _ = len;
        Err(CommandError::Invalid("no BDAT chunk is in progress".into()))
    }

    /// Bytes looked at while searching for line ends, in all: the work done on the input,
    /// which must grow with the bytes received and not with the bytes held (see the tests).
    fn scan_work(&self) -> u64 {
        self.core().input.work()
    }

    /// Hands over bytes the server sent.
    fn feed(&mut self, data: &[u8]) {
        self.core_mut().input.push(data);
    }

    /// The next event, or `Ok(None)` when more bytes are needed. After an error the machine
    /// stays failed: events queued before it are still returned, then the error again.
    fn next_event(&mut self) -> Result<Option<Event>, ProtoError> {
        loop {
            if let Some(ev) = self.core_mut().events.pop_front() {
                return Ok(Some(ev));
            }
            if let Some(e) = &self.core().failed {
                return Err(e.clone());
            }
            match self.step() {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                Err(e) => self.core_mut().failed = Some(e),
            }
        }
    }

    /// What the server advertised last.
    fn capabilities(&self) -> &Capabilities {
        &self.core().caps
    }

    /// Bytes fed but not consumed yet. Bytes left after the reply to STARTTLS are an injection
    /// attempt (security.md item 2).
    fn buffered(&self) -> usize {
        self.core().input.buffered()
    }

    /// After a TLS handshake: forget the capabilities, every buffered byte, any response in
    /// progress and every awaited response; back to command mode.
    fn reset_for_tls(&mut self) {
        self.core_mut().reset();
        self.reset_state();
    }

    /// What a line typed now would mean (see [`classify`]).
    fn line_context(&self) -> LineContext {
        LineContext {
            protocol: self.protocol(),
            mode: self.input_mode(),
            secret_command: self.secret_command(),
        }
    }
}

/// RFC 5034 §4: a POP3 `AUTH` command line is at most 255 octets, CRLF included.
pub const POP3_MAX_AUTH_LINE: usize = 253;

/// The text of a SASL challenge in the last line of `reply`: after `334 ` (SMTP/LMTP) or
/// `+ ` (IMAP, POP3); empty when there is none.
pub fn challenge_text(protocol: Protocol, reply: &Reply) -> &[u8] {
    let line = reply.last_line();
    match protocol {
        Protocol::Smtp | Protocol::Lmtp => smtp::ReplyLine::parse(line).map_or(&[], |l| l.text),
        Protocol::Imap | Protocol::Pop3 => {
            let rest = line.strip_prefix(b"+").unwrap_or(&[]);
            rest.strip_prefix(b" ").unwrap_or(rest)
        }
    }
}

/// The command that starts a SASL exchange: `AUTH MECH [IR]` (SMTP, LMTP, POP3) or
/// `AUTHENTICATE MECH [IR]` (IMAP; the machine adds the tag), `initial` already base64 (or
/// `=`). The caller wipes the line after sending it; the copies made here are wiped too.
pub fn auth_command(protocol: Protocol, mechanism: &str, initial: Option<&str>) -> Vec<u8> {
    use zeroize::Zeroize as _;
    match protocol {
        Protocol::Smtp | Protocol::Lmtp => {
            let mut cmd = smtp::Command::Auth {
                mechanism: mechanism.to_string(),
                initial: initial.map(str::to_string),
            };
            let line = cmd.line();
            if let smtp::Command::Auth {
                initial: Some(ir), ..
            } = &mut cmd
            {
                ir.zeroize();
            }
            line
        }
        Protocol::Pop3 => {
            let mut cmd = pop3::syntax::Command::Auth {
                mechanism: Some(mechanism.to_string()),
                initial: initial.map(str::to_string),
            };
            let line = cmd.line();
            if let pop3::syntax::Command::Auth {
                initial: Some(ir), ..
            } = &mut cmd
            {
                ir.zeroize();
            }
            line
        }
        Protocol::Imap => {
            let mut line = format!("AUTHENTICATE {mechanism}").into_bytes();
            if let Some(ir) = initial {
                line.push(b' ');
                line.extend_from_slice(ir.as_bytes());
            }
            line
        }
    }
}

/// A machine for a new connection: it awaits the greeting.
pub fn machine(protocol: Protocol) -> Box<dyn Machine> {
    match protocol {
        Protocol::Smtp => Box::new(smtp::Smtp::new(false)),
        Protocol::Lmtp => Box::new(smtp::Smtp::new(true)),
        Protocol::Imap => Box::new(imap::Imap::new()),
        Protocol::Pop3 => Box::new(pop3::Pop3::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sasl_framing() {
        let r = |line: &[u8]| Reply {
            lines: vec![line.to_vec()],
            ..Reply::line(Outcome::Continue, Vec::new())
        };
        assert_eq!(challenge_text(Protocol::Smtp, &r(b"334 abc=")), b"abc=");
        assert_eq!(challenge_text(Protocol::Smtp, &r(b"334 ")), b"");
        assert_eq!(challenge_text(Protocol::Smtp, &r(b"334")), b"");
        assert_eq!(challenge_text(Protocol::Imap, &r(b"+ abc=")), b"abc=");
        assert_eq!(challenge_text(Protocol::Imap, &r(b"+")), b"");
        assert_eq!(challenge_text(Protocol::Pop3, &r(b"+ ")), b"");
        assert_eq!(challenge_text(Protocol::Pop3, &r(b"+ x y")), b"x y");
    }

    #[test]
    fn auth_commands() {
        assert_eq!(auth_command(Protocol::Smtp, "PLAIN", None), b"AUTH PLAIN");
        assert_eq!(
            auth_command(Protocol::Lmtp, "PLAIN", Some("AGEAYg==")),
            b"AUTH PLAIN AGEAYg=="
        );
        assert_eq!(
            auth_command(Protocol::Pop3, "LOGIN", Some("=")),
            b"AUTH LOGIN ="
        );
        assert_eq!(
            auth_command(Protocol::Imap, "SCRAM-SHA-1", None),
            b"AUTHENTICATE SCRAM-SHA-1"
        );
        assert_eq!(
            auth_command(Protocol::Imap, "PLAIN", Some("x")),
            b"AUTHENTICATE PLAIN x"
        );
    }

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
                "AUTH PLAIN".into(),
            ],
        };
        assert!(caps.has("size"));
        assert_eq!(caps.value("SIZE"), Some("1000"));
        assert_eq!(caps.value("PIPELINING"), None);
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
        assert_eq!(added.len(), 5);
        assert_eq!(removed, vec!["STARTTLS".to_string()]);
    }

    #[test]
    fn greetings_are_recognised() {
        assert_eq!(sniff_greeting(b"220 mx ESMTP"), Some(Protocol::Smtp));
        assert_eq!(
            sniff_greeting(b"* OK [CAPABILITY IMAP4rev1] Dovecot ready."),
            Some(Protocol::Imap)
        );
        assert_eq!(sniff_greeting(b"+OK Dovecot ready."), Some(Protocol::Pop3));
        assert_eq!(sniff_greeting(b"SSH-2.0-OpenSSH_9.2"), None);
        assert_eq!(
            ProtoError::NotAGreeting {
                expected: Protocol::Smtp,
                other: Some(Protocol::Imap),
                shown: "* OK ready".into()
            }
            .to_string(),
            "this is an IMAP server, not SMTP: its greeting was \"* OK ready\""
        );
    }

    #[test]
    fn classify_and_redact() {
        let ctx = LineContext::new(Protocol::Smtp);
        let info = classify(&ctx, b"AUTH PLAIN AGEAYg==");
        assert_eq!(info.verb, "AUTH");
        assert_eq!(info.secret, Some(11..19));
        assert_eq!(
            redact(b"AUTH PLAIN AGEAYg==", info.secret.as_ref()),
            b"AUTH PLAIN <redacted>"
        );
        let auth = LineContext {
            mode: InputMode::Auth,
            ..ctx
        };
        assert_eq!(classify(&auth, b"dXNlcg==").secret, Some(0..8));
        assert_eq!(classify(&auth, b"*").secret, None);
        let msg = LineContext {
            mode: InputMode::Message,
            ..ctx
        };
        assert_eq!(classify(&msg, b"PASS x"), LineInfo::default());
    }
}
