//! The IMAP4 client machine (RFC 3501, RFC 9051): tags, literals, continuation requests and
//! capabilities, without I/O.
//!
//! Server side: every line is reported as soon as it arrives; literal content (`{n}`, `{n+}`,
//! `~{n}`) is reported as [`LineKind::Data`] pieces as it streams in, never buffered whole. A
//! response is complete when its last line announces no literal; it is classified by its first
//! line (tagged `OK`/`NO`/`BAD`, untagged `*`, continuation `+`).
//!
//! Client side: [`Imap::command`] adds tags (never one the user typed before), follows
//! synchronising and non-synchronising literals the user types (counted with
//! [`crate::proto::content`]), asks for the rest of the command line after a literal, passes
//! lines raw after a `+` continuation request (IDLE `DONE`, AUTHENTICATE responses) and
//! redacts LOGIN / AUTHENTICATE secrets for display.

use std::collections::VecDeque;

use super::syntax::{
    literal_at_end, only_literal, skip_spaces, split_word, valid_tag, words, CommandLine, Kind,
    ResponseLine, Status, MAX_LITERAL,
};
use crate::proto::content::{self, Fit};
use crate::proto::line::{RawLine, MAX_LINE};
use crate::proto::{
    check_line, classify, crlf, ext, has_bare_lf, redact, sniff_greeting, Capabilities,
    CommandError, Core, DataBlock, Ending, Event, InputMode, LineContext, LineKind, Machine,
    Outcome, Outgoing, ProtoError, Protocol, Reply, ServerLine, REDACTED,
};

/// The most text (literals excluded) one response may carry before it is an error.
pub const MAX_RESPONSE: usize = 1024 * 1024;
/// Literal content without a line feed is reported in pieces of this size.
pub const MAX_PIECE: usize = 64 * 1024;
/// Literal content is reported in blocks of whole lines of at most this size.
pub const MAX_BLOCK: usize = 256 * 1024;
/// How many earlier, still unanswered tags are remembered (pipelined commands).
const MAX_OTHER_TAGS: usize = 64;

/// Where the client is in sending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Send {
    /// Ready for a new command.
    Command,
    /// A synchronising literal of this size was announced: waiting for `+`.
    WaitPlus(u64),
    /// Sending literal content: bytes left.
    Literal(u64),
    /// A literal ended: the next line continues the command line.
    Rest,
    /// After a `+`: lines go raw.
    Continuation,
}

/// The command in progress.
#[derive(Clone, Debug)]
struct Current {
    tag: String,
    /// Upper-cased command name.
    verb: String,
}

/// A literal the server is sending.
#[derive(Clone, Copy, Debug)]
struct ServerLiteral {
    remaining: u64,
    /// The announced size.
    size: u64,
    /// No block of it was reported yet.
    first: bool,
    /// `~{n}` (RFC 3516 literal8): binary content, bare LF is not a violation.
    binary: bool,
    warned: bool,
}

/// The IMAP client protocol machine.
#[derive(Debug)]
pub struct Imap {
    core: Core,
    /// Still waiting for the greeting.
    greeting: bool,
    /// A command waits for its tagged response or a `+`.
    awaiting: bool,
    send: Send,
    current: Option<Current>,
    /// Tags of earlier commands still unanswered (the user pipelined).
    others: VecDeque<String>,
    last_tag: Option<String>,
    /// The number of the next automatic tag (`A001` …); always above every tag of that form the
    /// user typed, so the two never collide.
    next_tag: u64,
    preauth: bool,
    saw_bye: bool,
    /// The first line of a response whose last line so far announced a literal.
    first: Option<Vec<u8>>,
    /// Text bytes (literals excluded) of the response in progress.
    text: usize,
    literal: Option<ServerLiteral>,
    /// The size of a synchronising literal whose command ended without the `+`.
    refused_literal: Option<u64>,
}

impl Default for Imap {
    fn default() -> Self {
        Self::new()
    }
}

/// The automatic tag with number `n`.
fn auto_tag(n: u64) -> String {
    format!("A{n:03}")
}

/// The number of `tag` if it has the form of an automatic tag.
fn auto_number(tag: &[u8]) -> Option<u64> {
    let digits = tag.strip_prefix(b"A")?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    (auto_tag(n).as_bytes() == tag).then_some(n)
}

impl Imap {
    /// A machine waiting for the server greeting.
    pub fn new() -> Imap {
        Imap {
            core: Core::with_line_limit(MAX_LINE),
            greeting: true,
            awaiting: false,
            send: Send::Command,
            current: None,
            others: VecDeque::new(),
            last_tag: None,
            next_tag: 1,
            preauth: false,
            saw_bye: false,
            first: None,
            text: 0,
            literal: None,
            refused_literal: None,
        }
    }

    /// The tag of the command in progress, or of the last command sent.
    pub fn last_tag(&self) -> Option<&str> {
        self.last_tag.as_deref()
    }

    // ----- client side -----

    fn verb_is(&self, verbs: &[&str]) -> bool {
        self.current
            .as_ref()
            .is_some_and(|c| verbs.contains(&c.verb.as_str()))
    }

    fn continuation_line(&mut self, line: &[u8]) -> Result<Outgoing, CommandError> {
        if self.verb_is(&["IDLE"]) && !line.eq_ignore_ascii_case(b"DONE") {
            return Err(CommandError::Invalid(
                "IDLE is active: only DONE ends it, and the server takes nothing else until \
                 then; type DONE first (nothing was sent)"
                    .into(),
            ));
        }
        let auth = self.verb_is(&["AUTHENTICATE"]);
        let (display, secret) = if auth && line != b"*" {
            (REDACTED.as_bytes().to_vec(), true)
        } else {
            (line.to_vec(), false)
        };
        self.awaiting = true;
        Ok(Outgoing {
            wire: crlf(line),
            display,
            secret,
            expects_reply: true,
            ..Outgoing::default()
        })
    }

    fn literal_line(&mut self, line: &[u8], remaining: u64) -> Result<Outgoing, CommandError> {
        let secret = self.secret_command();
        let split = match content::fit(line.len(), remaining) {
            Fit::Within { left } => {
                self.send = if left == 0 {
                    Send::Rest
                } else {
                    Send::Literal(left)
                };
                let display = if secret {
                    REDACTED.as_bytes().to_vec()
                } else {
                    line.to_vec()
                };
                return Ok(Outgoing {
                    wire: crlf(line),
                    display,
                    secret,
                    content: true,
                    ..Outgoing::default()
                });
            }
            Fit::SplitsCrLf => {
                return Err(CommandError::Invalid(content::splits_crlf_message(
                    "literal",
                    remaining,
                    line.len(),
                )))
            }
            Fit::Exact => line.len(),
            // Here left < the line's length, so it fits in usize.
            Fit::Beyond { left } => usize::try_from(left).unwrap_or(line.len()),
        };
        let rest = line.get(split..).unwrap_or(&[]);
        let expects_reply = self.continue_command(rest)?;
        let display = if secret {
            let mut d = REDACTED.as_bytes().to_vec();
            d.extend_from_slice(&redact_rest(rest));
            d
        } else {
            line.to_vec()
        };
        Ok(Outgoing {
            wire: crlf(line),
            display,
            secret,
            expects_reply,
            content: true,
            ..Outgoing::default()
        })
    }

    fn rest_line(&mut self, line: &[u8]) -> Result<Outgoing, CommandError> {
        let expects_reply = self.continue_command(line)?;
        let (display, secret) = if self.secret_command() && !only_literal(line) {
            (redact_rest(line), true)
        } else {
            (line.to_vec(), false)
        };
        Ok(Outgoing {
            wire: crlf(line),
            display,
            secret,
            expects_reply,
            ..Outgoing::default()
        })
    }

    /// The rest of a command line after a literal: it may announce another literal. Returns
    /// whether a reply is expected after sending it.
    fn continue_command(&mut self, rest: &[u8]) -> Result<bool, CommandError> {
        let literal = literal_at_end(rest).map_err(|e| CommandError::Invalid(e.to_string()))?;
        Ok(self.after_line(literal))
    }

    /// What follows a command line (or the rest of one) that ends with `literal`, or with
    /// none: the `+` of a synchronising literal, the literal's bytes, or the tagged reply.
    /// Returns whether a reply is awaited now.
    fn after_line(&mut self, literal: Option<super::syntax::Literal>) -> bool {
        let (send, expects_reply) = match literal {
            Some(lit) if lit.sync => (Send::WaitPlus(lit.size), true),
            Some(lit) if lit.size == 0 => (Send::Rest, false),
            Some(lit) => (Send::Literal(lit.size), false),
            None => (Send::Command, true),
        };
        self.send = send;
        self.awaiting = expects_reply;
        expects_reply
    }

    fn new_command(&mut self, line: &[u8]) -> Result<Outgoing, CommandError> {
        if line.iter().all(|&b| b == b' ') {
            return Err(CommandError::Invalid("empty command".into()));
        }
        let info = classify(&LineContext::new(Protocol::Imap), line);
        let typed = CommandLine::parse(line);
        // A literal size that does not fit is refused before a tag is used up.
        let literal = literal_at_end(line).map_err(|e| CommandError::Invalid(e.to_string()))?;
        let (tag, full, offset) = match typed.tag {
            Some(t) => {
                if let Some(n) = auto_number(t) {
                    // Automatic tags go on above every one typed in their form.
                    self.next_tag = self.next_tag.max(n.saturating_add(1));
                }
                (String::from_utf8_lossy(t).into_owned(), line.to_vec(), 0)
            }
            None => {
                let tag = auto_tag(self.next_tag);
                self.next_tag = self.next_tag.saturating_add(1);
                let mut full =
                    Vec::with_capacity(tag.len().saturating_add(1).saturating_add(line.len()));
                full.extend_from_slice(tag.as_bytes());
                full.push(b' ');
                full.extend_from_slice(line);
                let offset = tag.len().saturating_add(1);
                (tag, full, offset)
            }
        };
        let secret = info
            .secret
            .as_ref()
            .map(|r| r.start.saturating_add(offset)..r.end.saturating_add(offset));
        let display = redact(&full, secret.as_ref());

        if let Some(prev) = self.current.take() {
            if self.others.len() >= MAX_OTHER_TAGS {
                self.others.pop_front();
            }
            self.others.push_back(prev.tag);
        }
        self.current = Some(Current {
            tag: tag.clone(),
            verb: info.verb.clone(),
        });
        self.last_tag = Some(tag);
        let expects_reply = self.after_line(literal);
        Ok(Outgoing {
            wire: crlf(&full),
            display,
            secret: secret.is_some(),
            expects_reply,
            starttls: info.starttls,
            ends_session: info.ends_session,
            content: false,
        })
    }

    // ----- server side -----

    fn step_literal(&mut self, mut lit: ServerLiteral) -> bool {
        let Some(bytes) = self
            .core
            .input
            .take_block(lit.remaining, MAX_PIECE, MAX_BLOCK)
        else {
            self.literal = Some(lit);
            return false;
        };
        lit.remaining = lit
            .remaining
            .saturating_sub(u64::try_from(bytes.len()).unwrap_or(u64::MAX));
        let bare_lf = !lit.binary && !lit.warned && has_bare_lf(&bytes);
        let first = std::mem::take(&mut lit.first);
        self.core.events.push_back(Event::Data(DataBlock {
            bytes,
            first,
            last: lit.remaining == 0,
            size: Some(lit.size),
        }));
        if bare_lf {
            lit.warned = true;
            self.core
                .warn("literal content uses a bare LF line ending (CRLF expected)");
        }
        self.literal = if lit.remaining == 0 { None } else { Some(lit) };
        true
    }

    fn on_line(&mut self, raw: RawLine) -> Result<(), ProtoError> {
        let RawLine { bytes, ending } = raw;
        let continuing = self.first.is_some();
        if self.greeting && !continuing && !(bytes == b"*" || bytes.starts_with(b"* ")) {
            // Not an IMAP server at all (or not on this port): say so at once.
            return Err(ProtoError::NotAGreeting {
                expected: Protocol::Imap,
                other: sniff_greeting(&bytes),
                shown: crate::proto::shown(&bytes),
            });
        }
        let size = bytes.len().saturating_add(2);
        self.text = if continuing {
            self.text.saturating_add(size)
        } else {
            size
        };
        let announced = literal_at_end(&bytes).map_err(|e| {
            ProtoError::BadLiteral(format!(
                "announced size {} does not fit in 64 bits",
                e.digits
            ))
        });
        self.core.events.push_back(Event::Line(ServerLine {
            bytes: bytes.clone(),
            kind: LineKind::Status,
            ending,
        }));
        if ending == Ending::Lf {
            self.core.warn("line ends with a bare LF (CRLF expected)");
        }
        if self.text > MAX_RESPONSE {
            self.first = None;
            return Err(ProtoError::ResponseTooLong {
                limit: MAX_RESPONSE,
                unit: "bytes",
            });
        }
        match announced? {
            Some(lit) => {
                if lit.size > MAX_LITERAL {
                    return Err(ProtoError::BadLiteral(format!(
                        "announced size {} is above the limit of {MAX_LITERAL} bytes (4 GiB)",
                        lit.size
                    )));
                }
                if !continuing {
                    self.first = Some(bytes);
                }
                if lit.size > 0 {
                    self.literal = Some(ServerLiteral {
                        remaining: lit.size,
                        size: lit.size,
                        binary: lit.binary,
                        warned: false,
                        first: true,
                    });
                } else {
                    // An empty literal is still a (last) literal.
                    self.core.events.push_back(Event::Data(DataBlock {
                        bytes: Vec::new(),
                        first: true,
                        last: true,
                        size: Some(0),
                    }));
                }
            }
            None => {
                let first = match self.first.take() {
                    Some(first) => first,
                    None => bytes,
                };
                self.text = 0;
                self.classify_response(first);
            }
        }
        Ok(())
    }

    /// Acts on a complete response, given its first line.
    fn classify_response(&mut self, first: Vec<u8>) {
        let parsed = ResponseLine::parse(&first);
        match parsed.kind {
            Kind::Continuation => self.on_continuation(first),
            Kind::Untagged => self.on_untagged(first, &parsed),
            Kind::Tagged(_) | Kind::Other => self.on_tagged(first, &parsed),
        }
    }

    fn on_continuation(&mut self, line: Vec<u8>) {
        if !self.awaiting || self.current.is_none() {
            self.core
                .warn("continuation request (+) while no command waits for one");
            return;
        }
        let continue_reply = |line| Reply {
            outcome: Outcome::Continue,
            tag: Some("+".into()),
            ..Reply::line(Outcome::Continue, line)
        };
        if self.verb_is(&["STARTTLS"]) {
            // Not the go-ahead: the wait ends at once, and the caller sees a `+` reply.
            self.awaiting = false;
            self.send = Send::Command;
            self.current = None;
            self.core
                .events
                .push_back(Event::Complete(continue_reply(line)));
            return;
        }
        // Only a literal, IDLE, AUTHENTICATE (and commands mailtalk does not know) take a
        // continuation. Anywhere else a `+` must not turn the next typed command into raw
        // continuation data (it would go out untagged, and a LOGIN unredacted).
        let accepts = matches!(self.send, Send::WaitPlus(_))
            || self.current.as_ref().is_some_and(|c| {
                matches!(c.verb.as_str(), "IDLE" | "AUTHENTICATE")
                    || !ext::is_command(Protocol::Imap, c.verb.as_bytes())
            });
        if !accepts {
            let verb = self
                .current
                .as_ref()
                .map(|c| c.verb.clone())
                .unwrap_or_default();
            self.core.warn(format!(
                "continuation request (+) to {verb}, which takes none: ignored, still waiting \
                 for the tagged reply"
            ));
            return;
        }
        self.awaiting = false;
        self.send = match self.send {
            Send::WaitPlus(0) => Send::Rest,
            Send::WaitPlus(n) => Send::Literal(n),
            _ => Send::Continuation,
        };
        self.core
            .events
            .push_back(Event::Continue(continue_reply(line)));
    }

    fn on_untagged(&mut self, line: Vec<u8>, parsed: &ResponseLine) {
        let status = parsed.status.as_ref().map(|(s, _)| *s);
        let code_caps = parsed.code_parts(&line).and_then(|(name, args)| {
            name.eq_ignore_ascii_case(b"CAPABILITY")
                .then(|| words(args))
        });
        match status {
            Some(Status::Ok | Status::Preauth) => {
                if let Some(items) = code_caps {
                    self.core.caps = Capabilities { items };
                }
            }
            Some(Status::Bye) => self.saw_bye = true,
            _ => {
                let rest = line.get(1..).map(skip_spaces).unwrap_or(&[]);
                let (word, text) = split_word(rest);
                if word.eq_ignore_ascii_case(b"CAPABILITY") {
                    self.core.caps = Capabilities { items: words(text) };
                }
            }
        }
        if self.greeting {
            let outcome = match status {
                Some(Status::Ok | Status::Preauth) => Outcome::Ok,
                Some(Status::Bye) => Outcome::Bye,
                _ => {
                    self.core
                        .warn("expected a greeting (* OK, * PREAUTH or * BYE)");
                    return;
                }
            };
            self.greeting = false;
            self.preauth = status == Some(Status::Preauth);
            self.core.events.push_back(Event::Complete(Reply {
                tag: Some("*".into()),
                ..Reply::line(outcome, line)
            }));
            return;
        }
        if self.awaiting && self.verb_is(&["STARTTLS"]) {
            // Untagged data in answer to STARTTLS is not the go-ahead: the wait ends at once.
            self.awaiting = false;
            self.current = None;
            self.send = Send::Command;
            self.core.events.push_back(Event::Complete(Reply {
                tag: Some("*".into()),
                ..Reply::line(Outcome::Unknown, line)
            }));
        }
    }

    fn on_tagged(&mut self, line: Vec<u8>, parsed: &ResponseLine) {
        let (tag, rest) = split_word(&line);
        let (status, _) = split_word(rest);
        if !valid_tag(tag) || status.is_empty() {
            self.core
                .warn("not an IMAP response (expected `TAG OK|NO|BAD`, `* …` or `+ …`)");
            return;
        }
        let outcome = match parsed.status.as_ref().map(|(s, _)| *s) {
            Some(Status::Ok) => Outcome::Ok,
            Some(Status::No) => Outcome::No,
            Some(Status::Bad) => Outcome::Bad,
            _ => Outcome::Unknown,
        };
        if outcome == Outcome::Ok {
            if let Some((name, args)) = parsed.code_parts(&line) {
                if name.eq_ignore_ascii_case(b"CAPABILITY") {
                    self.core.caps = Capabilities { items: words(args) };
                }
            }
        }
        let tag = String::from_utf8_lossy(tag).into_owned();
        if outcome == Outcome::Unknown {
            self.core.warn(format!(
                "tagged response with status `{}` (expected OK, NO or BAD)",
                String::from_utf8_lossy(status)
            ));
        }
        if self.current.as_ref().is_some_and(|c| c.tag == tag) {
            self.current = None;
            self.awaiting = false;
            if let Send::WaitPlus(n) = self.send {
                // The command ended instead of the `+`: the literal's bytes were not asked for.
                self.refused_literal = Some(n);
            }
            self.send = Send::Command;
            self.core.events.push_back(Event::Complete(Reply {
                tag: Some(tag),
                ..Reply::line(outcome, line)
            }));
        } else if let Some(pos) = self.others.iter().position(|t| *t == tag) {
            self.others.remove(pos);
        } else {
            self.core.warn(format!(
                "tagged response for `{tag}`, which is not a command in progress"
            ));
        }
    }
}

impl Machine for Imap {
    fn protocol(&self) -> Protocol {
        Protocol::Imap
    }

    fn take_refused_literal(&mut self) -> Option<u64> {
        self.refused_literal.take()
    }

    fn core(&self) -> &Core {
        &self.core
    }

    fn core_mut(&mut self) -> &mut Core {
        &mut self.core
    }

    /// Turns one typed line into wire bytes (see the module documentation for the modes).
    fn command(&mut self, line: &[u8]) -> Result<Outgoing, CommandError> {
        check_line(line)?;
        match self.send {
            Send::WaitPlus(n) => Err(CommandError::Invalid(format!(
                "the command announced a synchronising literal of {n} bytes: wait for the \
                 server's + (or its tagged NO/BAD) before sending more"
            ))),
            Send::Continuation => self.continuation_line(line),
            Send::Literal(remaining) => self.literal_line(line, remaining),
            Send::Rest => self.rest_line(line),
            Send::Command => self.new_command(line),
        }
    }

    /// Processes one line or literal piece; `Ok(false)` when more input is needed.
    fn step(&mut self) -> Result<bool, ProtoError> {
        if let Some(lit) = self.literal {
            return Ok(self.step_literal(lit));
        }
        match self.core.input.next_line()? {
            Some(raw) => {
                self.on_line(raw)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Whether a response is still expected: the greeting, or the answer (tagged response or
    /// `+`) to a command sent with `expects_reply`.
    fn awaiting(&self) -> bool {
        self.greeting || self.awaiting
    }

    fn input_mode(&self) -> InputMode {
        match self.send {
            Send::Command | Send::WaitPlus(_) => InputMode::Command,
            Send::Rest => InputMode::LiteralRest,
            Send::Literal(left) => InputMode::Literal { left },
            Send::Continuation if self.verb_is(&["IDLE"]) => InputMode::Idle,
            Send::Continuation if self.verb_is(&["AUTHENTICATE"]) => InputMode::Auth,
            Send::Continuation => InputMode::Continuation,
        }
    }

    fn secret_command(&self) -> bool {
        self.verb_is(&["LOGIN", "AUTHENTICATE"])
    }

    /// Nothing is awaited afterwards; tag numbering goes on.
    fn reset_state(&mut self) {
        self.greeting = false;
        self.awaiting = false;
        self.send = Send::Command;
        self.current = None;
        self.others.clear();
        self.first = None;
        self.text = 0;
        self.literal = None;
    }

    /// What is left when the stream ended: bytes without a line ending ([`LineKind::Data`]
    /// inside a literal, [`LineKind::Status`] otherwise). [`Machine::awaiting`] still tells
    /// whether a response was cut off.
    fn end_of_stream(&mut self) -> Option<ServerLine> {
        let in_literal = self.literal.take().is_some();
        let bytes = self.core.input.take_rest()?;
        let kind = if in_literal {
            LineKind::Data
        } else {
            LineKind::Status
        };
        Some(ServerLine {
            bytes,
            kind,
            ending: Ending::None,
        })
    }

    fn capability_command(&self, _name: &str) -> Vec<u8> {
        b"CAPABILITY".to_vec()
    }

    fn preauth(&self) -> bool {
        self.preauth
    }

    fn saw_bye(&self) -> bool {
        self.saw_bye
    }
}

/// The rest of a LOGIN / AUTHENTICATE line after a secret literal, for display.
fn redact_rest(rest: &[u8]) -> Vec<u8> {
    if only_literal(rest) {
        rest.to_vec()
    } else {
        format!(" {REDACTED}").into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The events, content blocks as lines.
    fn drain(m: &mut Imap) -> Vec<Event> {
        crate::proto::blocks_as_lines(drain_blocks(m))
    }

    fn drain_blocks(m: &mut Imap) -> Vec<Event> {
        let mut out = Vec::new();
        while let Some(ev) = m.next_event().unwrap() {
            out.push(ev);
        }
        out
    }

    fn status(bytes: &[u8]) -> Event {
        Event::Line(ServerLine {
            bytes: bytes.to_vec(),
            kind: LineKind::Status,
            ending: Ending::CrLf,
        })
    }

    fn data(bytes: &[u8], ending: Ending) -> Event {
        Event::Line(ServerLine {
            bytes: bytes.to_vec(),
            kind: LineKind::Data,
            ending,
        })
    }

    fn reply(outcome: Outcome, tag: &str, line: &[u8]) -> Reply {
        Reply {
            tag: Some(tag.to_string()),
            ..Reply::line(outcome, line.to_vec())
        }
    }

    fn greeted() -> Imap {
        let mut m = Imap::new();
        m.feed(b"* OK ready\r\n");
        drain(&mut m);
        assert!(!m.awaiting());
        m
    }

    fn caps(items: &[&str]) -> Capabilities {
        Capabilities {
            items: items.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn greeting_ok_with_capability() {
        let mut m = Imap::new();
        assert!(m.awaiting());
        m.feed(b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] Dovecot ready.\r\n");
        let line = b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] Dovecot ready.";
        assert_eq!(
            drain(&mut m),
            vec![status(line), Event::Complete(reply(Outcome::Ok, "*", line))]
        );
        assert!(!m.awaiting());
        assert!(!m.preauth());
        assert_eq!(
            m.capabilities(),
            &caps(&["IMAP4rev1", "STARTTLS", "LOGINDISABLED"])
        );
        assert_eq!(m.input_mode(), InputMode::Command);
    }

    #[test]
    fn greeting_preauth() {
        let mut m = Imap::new();
        m.feed(b"* PREAUTH IMAP4rev1 server logged in as Smith\r\n");
        let line = b"* PREAUTH IMAP4rev1 server logged in as Smith";
        assert_eq!(
            drain(&mut m),
            vec![status(line), Event::Complete(reply(Outcome::Ok, "*", line))]
        );
        assert!(m.preauth());
        assert!(!m.awaiting());
        assert!(m.capabilities().is_empty());
    }

    #[test]
    fn greeting_bye() {
        let mut m = Imap::new();
        m.feed(b"* BYE Autologout; idle for too long\r\n");
        let line = b"* BYE Autologout; idle for too long";
        assert_eq!(
            drain(&mut m),
            vec![
                status(line),
                Event::Complete(reply(Outcome::Bye, "*", line))
            ]
        );
        assert!(m.saw_bye());
        assert!(!m.preauth());
    }

    #[test]
    fn junk_before_greeting_is_flagged_and_greeting_still_awaited() {
        let mut m = Imap::new();
        m.feed(b"* 3 EXISTS\r\n");
        let evs = drain(&mut m);
        assert_eq!(evs.len(), 2);
        assert!(matches!(evs[1], Event::Warning(_)));
        assert!(m.awaiting());
    }

    #[test]
    fn capability_response_and_code_on_tagged_ok() {
        let mut m = greeted();
        let out = m.command(b"CAPABILITY").unwrap();
        assert_eq!(out.wire, b"A001 CAPABILITY\r\n".to_vec());
        m.feed(b"* CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN  SASL-IR\r\nA001 OK Pre-login capabilities listed\r\n");
        let evs = drain(&mut m);
        assert_eq!(
            evs,
            vec![
                status(b"* CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN  SASL-IR"),
                status(b"A001 OK Pre-login capabilities listed"),
                Event::Complete(reply(
                    Outcome::Ok,
                    "A001",
                    b"A001 OK Pre-login capabilities listed"
                )),
            ]
        );
        assert_eq!(
            m.capabilities(),
            &caps(&["IMAP4rev1", "LITERAL+", "AUTH=PLAIN", "SASL-IR"])
        );
        assert_eq!(m.capabilities().auth_mechanisms(), vec!["PLAIN"]);

        m.command(b"LOGIN u p").unwrap();
        m.feed(b"A002 OK [CAPABILITY IMAP4rev1 IDLE MOVE] Logged in\r\n");
        drain(&mut m);
        assert_eq!(m.capabilities(), &caps(&["IMAP4rev1", "IDLE", "MOVE"]));
        // A NO with a CAPABILITY code does not change them.
        m.command(b"NOOP").unwrap();
        m.feed(b"A003 NO [CAPABILITY X] no\r\n");
        drain(&mut m);
        assert_eq!(m.capabilities(), &caps(&["IMAP4rev1", "IDLE", "MOVE"]));
    }

    #[test]
    fn automatic_and_user_tags() {
        let mut m = greeted();
        let o = m.command(b"noop").unwrap();
        assert_eq!(o.wire, b"A001 noop\r\n".to_vec());
        assert_eq!(o.display, b"A001 noop".to_vec());
        assert!(o.expects_reply && !o.secret && !o.starttls);
        assert_eq!(m.last_tag(), Some("A001"));
        m.feed(b"A001 OK done\r\n");
        drain(&mut m);

        // Known command first: automatic tag even with arguments.
        let o = m.command(b"uid fetch 1:* FLAGS").unwrap();
        assert_eq!(o.wire, b"A002 uid fetch 1:* FLAGS\r\n".to_vec());
        m.feed(b"A002 OK done\r\n");
        drain(&mut m);

        // The user's own tag.
        let o = m.command(b"t1 SELECT INBOX").unwrap();
        assert_eq!(o.wire, b"t1 SELECT INBOX\r\n".to_vec());
        assert_eq!(m.last_tag(), Some("t1"));
        m.feed(b"t1 OK [READ-WRITE] SELECT completed\r\n");
        let evs = drain(&mut m);
        assert_eq!(
            evs.last(),
            Some(&Event::Complete(reply(
                Outcome::Ok,
                "t1",
                b"t1 OK [READ-WRITE] SELECT completed"
            )))
        );

        // One unknown word: automatic tag (and the counter went on from A002).
        let o = m.command(b"XYZZY").unwrap();
        assert_eq!(o.wire, b"A003 XYZZY\r\n".to_vec());
        m.feed(b"A003 BAD unknown\r\n");
        drain(&mut m);

        // Not a valid tag (`+`, `*`): automatic tag.
        let o = m.command(b"a+b NOOP").unwrap();
        assert_eq!(o.wire, b"A004 a+b NOOP\r\n".to_vec());
        m.feed(b"A004 BAD x\r\n");
        drain(&mut m);
        let o = m.command(b"* NOOP").unwrap();
        assert_eq!(o.wire, b"A005 * NOOP\r\n".to_vec());
        m.feed(b"A005 BAD x\r\n");
        drain(&mut m);
        // `]` is allowed in a tag.
        let o = m.command(b"x] NOOP").unwrap();
        assert_eq!(o.wire, b"x] NOOP\r\n".to_vec());
        m.feed(b"x] OK\r\n");
        drain(&mut m);

        m.next_tag = 999;
        assert_eq!(m.command(b"NOOP").unwrap().wire, b"A999 NOOP\r\n".to_vec());
        m.feed(b"A999 OK\r\n");
        drain(&mut m);
        assert_eq!(m.command(b"NOOP").unwrap().wire, b"A1000 NOOP\r\n".to_vec());

        assert_eq!(
            m.command(b""),
            Err(CommandError::Invalid("empty command".into()))
        );
        assert_eq!(m.command(b"NOOP\r"), Err(CommandError::ForbiddenByte("CR")));
    }

    #[test]
    fn tagged_ok_no_bad_complete() {
        for (resp, outcome) in [
            (&b"A001 OK SELECT completed"[..], Outcome::Ok),
            (
                &b"A001 no [NONEXISTENT] Mailbox doesn't exist"[..],
                Outcome::No,
            ),
            (&b"A001 BAD Error in IMAP command"[..], Outcome::Bad),
        ] {
            let mut m = greeted();
            m.command(b"SELECT INBOX").unwrap();
            assert!(m.awaiting());
            m.feed(b"* 172 EXISTS\r\n* OK [UIDVALIDITY 3857529045] UIDs valid\r\n");
            let evs = drain(&mut m);
            assert_eq!(
                evs,
                vec![
                    status(b"* 172 EXISTS"),
                    status(b"* OK [UIDVALIDITY 3857529045] UIDs valid")
                ]
            );
            assert!(m.awaiting());
            let mut wire = resp.to_vec();
            wire.extend_from_slice(b"\r\n");
            m.feed(&wire);
            assert_eq!(
                drain(&mut m),
                vec![status(resp), Event::Complete(reply(outcome, "A001", resp))]
            );
            assert!(!m.awaiting());
        }
    }

    #[test]
    fn unknown_status_and_foreign_tag_are_flagged() {
        let mut m = greeted();
        m.command(b"NOOP").unwrap();
        m.feed(b"B7 OK stray\r\nA001 HUH what\r\n");
        let evs = drain(&mut m);
        assert_eq!(evs.len(), 5);
        assert_eq!(evs[0], status(b"B7 OK stray"));
        assert!(matches!(&evs[1], Event::Warning(w) if w.contains("`B7`")));
        assert_eq!(evs[2], status(b"A001 HUH what"));
        assert!(matches!(&evs[3], Event::Warning(w) if w.contains("HUH")));
        assert_eq!(
            evs[4],
            Event::Complete(reply(Outcome::Unknown, "A001", b"A001 HUH what"))
        );
    }

    #[test]
    fn pipelined_earlier_tag_is_not_flagged() {
        let mut m = greeted();
        m.command(b"NOOP").unwrap();
        m.command(b"NOOP").unwrap();
        m.feed(b"A001 OK first\r\nA002 OK second\r\n");
        assert_eq!(
            drain(&mut m),
            vec![
                status(b"A001 OK first"),
                status(b"A002 OK second"),
                Event::Complete(reply(Outcome::Ok, "A002", b"A002 OK second")),
            ]
        );
    }

    const FETCH: &[u8] = b"* 12 FETCH (FLAGS (\\Seen) BODY[HEADER] {29}\r\nA001 OK fake\r\nSubject: hi\r\n\r\n)\r\nA001 OK FETCH completed\r\n";

    fn fetch_expected() -> Vec<Event> {
        vec![
            status(b"* 12 FETCH (FLAGS (\\Seen) BODY[HEADER] {29}"),
            data(b"A001 OK fake", Ending::CrLf),
            data(b"Subject: hi", Ending::CrLf),
            data(b"", Ending::CrLf),
            status(b")"),
            status(b"A001 OK FETCH completed"),
            Event::Complete(reply(Outcome::Ok, "A001", b"A001 OK FETCH completed")),
        ]
    }

    #[test]
    fn fetch_literal_in_one_chunk() {
        assert_eq!(b"A001 OK fake\r\nSubject: hi\r\n\r\n".len(), 29);
        let mut m = greeted();
        m.command(b"FETCH 12 (FLAGS BODY[HEADER])").unwrap();
        m.feed(FETCH);
        assert_eq!(drain(&mut m), fetch_expected());
        assert!(!m.awaiting());
        assert_eq!(m.buffered(), 0);
    }

    #[test]
    fn fetch_literal_byte_by_byte() {
        let mut m = greeted();
        m.command(b"FETCH 12 (FLAGS BODY[HEADER])").unwrap();
        let mut evs = Vec::new();
        for (i, b) in FETCH.iter().enumerate() {
            m.feed(&[*b]);
            evs.extend(drain(&mut m));
            // The fake tagged line inside the literal never completes the command.
            if i < FETCH.len() - 1 {
                assert!(m.awaiting(), "completed early at byte {i}");
            }
        }
        assert_eq!(evs, fetch_expected());
        assert!(!m.awaiting());
    }

    #[test]
    fn literal_without_final_newline_and_second_literal() {
        let mut m = greeted();
        m.command(b"FETCH 1 (BODY[1] BODY[2])").unwrap();
        m.feed(b"* 1 FETCH (BODY[1] {3}\r\nabc BODY[2] ~{3}\r\nx\ny)\r\nA001 OK\r\n");
        assert_eq!(
            drain(&mut m),
            vec![
                status(b"* 1 FETCH (BODY[1] {3}"),
                data(b"abc", Ending::None),
                status(b" BODY[2] ~{3}"),
                data(b"x", Ending::Lf),
                data(b"y", Ending::None),
                status(b")"),
                status(b"A001 OK"),
                Event::Complete(reply(Outcome::Ok, "A001", b"A001 OK")),
            ]
        );
    }

    #[test]
    fn bare_lf_inside_text_literal_warns_once() {
        let mut m = greeted();
        m.feed(b"* 1 FETCH (BODY[] {6}\r\na\nb\nc\n)\r\n");
        let evs = drain(&mut m);
        let warnings = evs
            .iter()
            .filter(|e| matches!(e, Event::Warning(_)))
            .count();
        assert_eq!(warnings, 1);
        assert_eq!(evs[1], data(b"a", Ending::Lf));
        assert_eq!(evs.len(), 6);
    }

    #[test]
    fn zero_length_literal() {
        let mut m = greeted();
        m.command(b"FETCH 1 BODY[]").unwrap();
        m.feed(b"* 1 FETCH (BODY[] {0}\r\n)\r\nA001 OK done\r\n");
        assert_eq!(
            drain(&mut m),
            vec![
                status(b"* 1 FETCH (BODY[] {0}"),
                status(b")"),
                status(b"A001 OK done"),
                Event::Complete(reply(Outcome::Ok, "A001", b"A001 OK done")),
            ]
        );
    }

    #[test]
    fn negative_or_non_numeric_braces_are_text() {
        let mut m = greeted();
        m.command(b"NOOP").unwrap();
        m.feed(b"* OK {-1}\r\n* OK {abc}\r\n* OK {}\r\nA001 OK {5+x}\r\n");
        let evs = drain(&mut m);
        assert_eq!(
            evs,
            vec![
                status(b"* OK {-1}"),
                status(b"* OK {abc}"),
                status(b"* OK {}"),
                status(b"A001 OK {5+x}"),
                Event::Complete(reply(Outcome::Ok, "A001", b"A001 OK {5+x}")),
            ]
        );
    }

    #[test]
    fn overflowing_literal_size_is_an_error() {
        let mut m = greeted();
        m.feed(b"* 1 FETCH (BODY[] {18446744073709551616}\r\n");
        assert_eq!(
            m.next_event().unwrap(),
            Some(status(b"* 1 FETCH (BODY[] {18446744073709551616}"))
        );
        let err = m.next_event().unwrap_err();
        assert!(
            matches!(&err, ProtoError::BadLiteral(s) if s.contains("64 bits")),
            "{err}"
        );
        // The machine stays failed.
        assert!(m.next_event().is_err());
    }

    #[test]
    fn literal_above_4_gib_is_an_error() {
        let mut m = greeted();
        m.feed(b"* 1 FETCH (BODY[] {4294967297}\r\n");
        assert!(m.next_event().unwrap().is_some());
        assert!(matches!(
            m.next_event(),
            Err(ProtoError::BadLiteral(s)) if s.contains("4294967297")
        ));
        // Exactly 4 GiB is accepted (and nothing is allocated for it).
        let mut m = greeted();
        m.feed(b"* 1 FETCH (BODY[] {4294967296}\r\nab");
        assert_eq!(
            drain(&mut m),
            vec![status(b"* 1 FETCH (BODY[] {4294967296}")]
        );
        assert_eq!(m.buffered(), 2);
    }

    #[test]
    fn literal_cut_short_by_end_of_stream() {
        let mut m = greeted();
        m.command(b"FETCH 1 BODY[]").unwrap();
        m.feed(b"* 1 FETCH (BODY[] {20}\r\nline one\r\npart");
        assert_eq!(
            drain(&mut m),
            vec![
                status(b"* 1 FETCH (BODY[] {20}"),
                data(b"line one", Ending::CrLf),
            ]
        );
        assert_eq!(
            m.end_of_stream(),
            Some(ServerLine {
                bytes: b"part".to_vec(),
                kind: LineKind::Data,
                ending: Ending::None,
            })
        );
        assert!(m.awaiting());
        assert_eq!(m.end_of_stream(), None);

        // Outside a literal the rest is a status line.
        let mut m = greeted();
        m.feed(b"* 1 EXI");
        assert_eq!(drain(&mut m), vec![]);
        assert_eq!(
            m.end_of_stream(),
            Some(ServerLine {
                bytes: b"* 1 EXI".to_vec(),
                kind: LineKind::Status,
                ending: Ending::None,
            })
        );
    }

    #[test]
    fn untagged_flood_keeps_memory_bounded() {
        let mut m = greeted();
        let line =
            b"* 1 EXISTS aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
        let mut chunk = Vec::new();
        for _ in 0..64 {
            chunk.extend_from_slice(line);
        }
        let mut total = 0usize;
        let mut lines = 0usize;
        while total < 1024 * 1024 {
            m.feed(&chunk);
            total += chunk.len();
            while let Some(ev) = m.next_event().unwrap() {
                assert!(matches!(ev, Event::Line(_)));
                lines += 1;
                assert!(m.core.events.capacity() <= 16);
            }
            assert_eq!(m.buffered(), 0);
            assert!(m.first.is_none());
        }
        assert_eq!(lines, total / line.len());
        assert!(m.core.events.capacity() <= 16);
        assert_eq!(m.text, 0);
    }

    #[test]
    fn response_text_is_bounded() {
        let mut m = greeted();
        m.feed(b"* 1 FETCH (X {1}\r\n");
        let piece = b"a X {1}\r\n";
        let mut result: Result<Option<Event>, ProtoError> = Ok(None);
        for _ in 0..(MAX_RESPONSE / (piece.len() - 1) + 10) {
            m.feed(piece);
            result = (|| {
                while m.next_event()?.is_some() {}
                Ok(None)
            })();
            if result.is_err() {
                break;
            }
            assert!(m.first.as_ref().unwrap().capacity() < 64);
        }
        assert_eq!(
            result,
            Err(ProtoError::ResponseTooLong {
                limit: MAX_RESPONSE,
                unit: "bytes"
            })
        );
    }

    #[test]
    fn literal_blocks_say_where_they_are() {
        let mut m = greeted();
        m.command(b"FETCH 1 BODY[]").unwrap();
        m.feed(b"* 1 FETCH (BODY[] {10}\r\nab\r\nc");
        let evs = drain_blocks(&mut m);
        assert_eq!(
            evs[1],
            Event::Data(DataBlock {
                bytes: b"ab\r\n".to_vec(),
                first: true,
                last: false,
                size: Some(10),
            })
        );
        m.feed(b"d\r\nef)\r\nA001 OK\r\n");
        let evs = drain_blocks(&mut m);
        assert_eq!(
            evs[0],
            Event::Data(DataBlock {
                bytes: b"cd\r\nef".to_vec(),
                first: false,
                last: true,
                size: Some(10),
            })
        );
        // An empty literal is one empty block.
        m.command(b"FETCH 1 BODY[]").unwrap();
        m.feed(b"* 1 FETCH (BODY[] {0}\r\n)\r\nA002 OK\r\n");
        let evs = drain_blocks(&mut m);
        assert_eq!(
            evs[1],
            Event::Data(DataBlock {
                bytes: Vec::new(),
                first: true,
                last: true,
                size: Some(0),
            })
        );
    }

    #[test]
    fn huge_literal_streams_in_flat_pieces() {
        let mut m = greeted();
        m.command(b"FETCH 1 BODY[]").unwrap();
        m.feed(b"* 1 FETCH (BODY[] {4294967296}\r\n");
        drain(&mut m);
        let chunk = vec![b'x'; 16 * 1024];
        let mut pieces = 0;
        for _ in 0..(4 * 1024) {
            // 64 MiB in all
            m.feed(&chunk);
            while let Some(ev) = m.next_event().unwrap() {
                match ev {
                    // A run without LF: one piece per block.
                    Event::Data(b) => {
                        assert_eq!(b.bytes.len(), MAX_PIECE);
                        assert!(b.first == (pieces == 0) && !b.last);
                        pieces += 1;
                    }
                    other => panic!("{other:?}"),
                }
            }
            assert!(m.buffered() < MAX_PIECE + 2 + chunk.len());
        }
        assert_eq!(pieces, 64 * 1024 * 1024 / MAX_PIECE - 1);
        assert_eq!(m.input_mode(), InputMode::Command);
        assert!(m.awaiting());
    }

    #[test]
    fn crlf_is_not_split_between_pieces() {
        let mut m = greeted();
        let mut body = vec![b'y'; MAX_PIECE];
        body.extend_from_slice(b"\r\nz");
        m.feed(format!("* 1 FETCH (BODY[] {{{}}}\r\n", body.len()).as_bytes());
        m.feed(&body);
        m.feed(b")\r\n");
        let evs = drain(&mut m);
        assert_eq!(evs.len(), 4);
        assert_eq!(evs[1], data(&vec![b'y'; MAX_PIECE], Ending::CrLf));
        assert_eq!(evs[2], data(b"z", Ending::None));
        assert_eq!(evs[3], status(b")"));
    }

    #[test]
    fn bare_lf_status_line_is_kept_and_flagged() {
        let mut m = Imap::new();
        m.feed(b"* OK hi\n");
        let evs = drain(&mut m);
        assert_eq!(
            evs[0],
            Event::Line(ServerLine {
                bytes: b"* OK hi".to_vec(),
                kind: LineKind::Status,
                ending: Ending::Lf,
            })
        );
        assert!(matches!(&evs[1], Event::Warning(w) if w.contains("bare LF")));
        assert_eq!(evs[2], Event::Complete(reply(Outcome::Ok, "*", b"* OK hi")));
    }

    #[test]
    fn idle_continuation_done_and_completion() {
        let mut m = greeted();
        let o = m.command(b"IDLE").unwrap();
        assert_eq!(o.wire, b"A001 IDLE\r\n".to_vec());
        assert!(o.expects_reply);
        m.feed(b"+ idling\r\n");
        assert_eq!(
            drain(&mut m),
            vec![
                status(b"+ idling"),
                Event::Continue(reply(Outcome::Continue, "+", b"+ idling"))
            ]
        );
        assert_eq!(m.input_mode(), InputMode::Idle);
        assert!(!m.awaiting());
        m.feed(b"* 4 EXISTS\r\n");
        assert_eq!(drain(&mut m), vec![status(b"* 4 EXISTS")]);
        let o = m.command(b"DONE").unwrap();
        assert_eq!(
            o,
            Outgoing {
                wire: b"DONE\r\n".to_vec(),
                display: b"DONE".to_vec(),
                secret: false,
                expects_reply: true,
                starttls: false,
                ends_session: false,
                content: false,
            }
        );
        assert!(m.awaiting());
        m.feed(b"A001 OK Idle completed (0.001 + 4.000 secs).\r\n");
        let evs = drain(&mut m);
        assert_eq!(
            evs[1],
            Event::Complete(reply(
                Outcome::Ok,
                "A001",
                b"A001 OK Idle completed (0.001 + 4.000 secs)."
            ))
        );
        assert_eq!(m.input_mode(), InputMode::Command);
        assert!(!m.awaiting());
        assert_eq!(m.command(b"NOOP").unwrap().wire, b"A002 NOOP\r\n".to_vec());
    }

    #[test]
    fn unsolicited_continuation_is_flagged() {
        let mut m = greeted();
        m.feed(b"+ nobody asked\r\n");
        let evs = drain(&mut m);
        assert_eq!(evs.len(), 2);
        assert!(matches!(&evs[1], Event::Warning(w) if w.contains("continuation")));
        assert_eq!(m.input_mode(), InputMode::Command);
    }

    #[test]
    fn authenticate_plain_redacted() {
        let mut m = greeted();
        let o = m.command(b"AUTHENTICATE PLAIN").unwrap();
        assert_eq!(o.wire, b"A001 AUTHENTICATE PLAIN\r\n".to_vec());
        assert_eq!(o.display, b"A001 AUTHENTICATE PLAIN".to_vec());
        assert!(!o.secret);
        m.feed(b"+ \r\n");
        assert_eq!(
            drain(&mut m),
            vec![
                status(b"+ "),
                Event::Continue(reply(Outcome::Continue, "+", b"+ "))
            ]
        );
        assert_eq!(m.input_mode(), InputMode::Auth);
        let o = m.command(b"AHVzZXIAcGFzcw==").unwrap();
        assert_eq!(
            o,
            Outgoing {
                wire: b"AHVzZXIAcGFzcw==\r\n".to_vec(),
                display: b"<redacted>".to_vec(),
                secret: true,
                expects_reply: true,
                starttls: false,
                ends_session: false,
                content: false,
            }
        );
        m.feed(b"A001 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n");
        let evs = drain(&mut m);
        assert!(matches!(&evs[1], Event::Complete(r) if r.outcome == Outcome::Ok));
        assert_eq!(m.input_mode(), InputMode::Command);
        assert_eq!(m.capabilities(), &caps(&["IMAP4rev1", "IDLE"]));

        // A lone `*` cancels and is shown.
        m.command(b"AUTHENTICATE LOGIN").unwrap();
        m.feed(b"+ VXNlcm5hbWU6\r\n");
        drain(&mut m);
        let o = m.command(b"*").unwrap();
        assert_eq!(o.display, b"*".to_vec());
        assert_eq!(o.wire, b"*\r\n".to_vec());
        m.feed(b"A002 BAD canceled\r\n");
        let evs = drain(&mut m);
        assert!(matches!(&evs[1], Event::Complete(r) if r.outcome == Outcome::Bad));
    }

    #[test]
    fn authenticate_initial_response_redacted() {
        let mut m = greeted();
        let o = m
            .command(b"x1 authenticate PLAIN AHVzZXIAcGFzcw==")
            .unwrap();
        assert_eq!(
            o.wire,
            b"x1 authenticate PLAIN AHVzZXIAcGFzcw==\r\n".to_vec()
        );
        assert_eq!(o.display, b"x1 authenticate PLAIN <redacted>".to_vec());
        assert!(o.secret && o.expects_reply);
    }

    #[test]
    fn login_redaction() {
        let mut m = greeted();
        let o = m
            .command(br#"LOGIN "jo \"x\" doe" "my secret \\ pass""#)
            .unwrap();
        assert_eq!(
            o.wire,
            b"A001 LOGIN \"jo \\\"x\\\" doe\" \"my secret \\\\ pass\"\r\n".to_vec()
        );
        assert_eq!(
            o.display,
            br#"A001 LOGIN "jo \"x\" doe" <redacted>"#.to_vec()
        );
        assert!(o.secret && o.expects_reply);
        m.feed(b"A001 OK\r\n");
        drain(&mut m);

        let o = m.command(b"LOGIN alice \"pass word\"").unwrap();
        assert_eq!(o.display, b"A002 LOGIN alice <redacted>".to_vec());
        m.feed(b"A002 OK\r\n");
        drain(&mut m);

        // Unterminated quoted user: everything after LOGIN is hidden.
        let o = m.command(b"LOGIN \"alice secret").unwrap();
        assert_eq!(o.display, b"A003 LOGIN <redacted>".to_vec());
        assert!(o.secret);
        m.feed(b"A003 BAD\r\n");
        drain(&mut m);

        // No password on the line: nothing to hide.
        let o = m.command(b"LOGIN alice").unwrap();
        assert_eq!(o.display, b"A004 LOGIN alice".to_vec());
        assert!(!o.secret);
    }

    #[test]
    fn login_with_literals_redacts_literal_content() {
        let mut m = greeted();
        let o = m.command(b"LOGIN {5}").unwrap();
        assert_eq!(o.display, b"A001 LOGIN {5}".to_vec());
        assert!(o.expects_reply);
        m.feed(b"+ go\r\n");
        drain(&mut m);
        assert_eq!(m.input_mode(), InputMode::Literal { left: 5 });
        let o = m.command(b"alice {6}").unwrap();
        assert_eq!(o.wire, b"alice {6}\r\n".to_vec());
        assert_eq!(o.display, b"<redacted> {6}".to_vec());
        assert!(o.secret && o.expects_reply);
        assert_eq!(m.input_mode(), InputMode::Command);
        assert!(matches!(
            m.command(b"secret"),
            Err(CommandError::Invalid(_))
        ));
        m.feed(b"+ go\r\n");
        drain(&mut m);
        let o = m.command(b"secret").unwrap();
        assert_eq!(o.wire, b"secret\r\n".to_vec());
        assert_eq!(o.display, b"<redacted>".to_vec());
        assert!(o.secret && o.expects_reply);
        m.feed(b"A001 OK\r\n");
        let evs = drain(&mut m);
        assert!(matches!(&evs[1], Event::Complete(r) if r.outcome == Outcome::Ok));

        // Password literal after a plain user name; rest of line after the user literal.
        let o = m.command(b"LOGIN alice {6+}").unwrap();
        assert_eq!(o.display, b"A002 LOGIN alice {6+}".to_vec());
        assert!(!o.expects_reply);
        let o = m.command(b"secret").unwrap();
        assert_eq!(o.display, b"<redacted>".to_vec());
        assert!(o.expects_reply);
    }

    #[test]
    fn append_synchronising_literal() {
        let mut m = greeted();
        let o = m.command(b"APPEND INBOX {11}").unwrap();
        assert_eq!(o.wire, b"A001 APPEND INBOX {11}\r\n".to_vec());
        assert!(o.expects_reply);
        assert!(m.awaiting());
        assert_eq!(m.input_mode(), InputMode::Command);
        // Nothing may be sent before the `+`.
        assert!(matches!(m.command(b"Hi"), Err(CommandError::Invalid(_))));
        m.feed(b"+ Ready for literal data\r\n");
        assert_eq!(
            drain(&mut m),
            vec![
                status(b"+ Ready for literal data"),
                Event::Continue(reply(Outcome::Continue, "+", b"+ Ready for literal data"))
            ]
        );
        assert_eq!(m.input_mode(), InputMode::Literal { left: 11 });
        assert!(!m.awaiting());
        let o = m.command(b"Hi").unwrap();
        assert_eq!(
            o,
            Outgoing {
                wire: b"Hi\r\n".to_vec(),
                display: b"Hi".to_vec(),
                secret: false,
                expects_reply: false,
                starttls: false,
                ends_session: false,
                content: true,
            }
        );
        assert_eq!(m.input_mode(), InputMode::Literal { left: 7 });
        let o = m.command(b"there").unwrap();
        assert_eq!(o.wire, b"there\r\n".to_vec());
        assert!(!o.expects_reply);
        // The literal is complete; the next line is the rest of the command line.
        assert_eq!(m.input_mode(), InputMode::LiteralRest);
        assert!(!m.awaiting());
        // The next line continues the command line (here: ends it).
        let o = m.command(b"").unwrap();
        assert_eq!(o.wire, b"\r\n".to_vec());
        assert!(o.expects_reply);
        assert!(m.awaiting());
        m.feed(b"A001 OK [APPENDUID 38505 3955] APPEND completed\r\n");
        let evs = drain(&mut m);
        assert_eq!(
            evs[1],
            Event::Complete(reply(
                Outcome::Ok,
                "A001",
                b"A001 OK [APPENDUID 38505 3955] APPEND completed"
            ))
        );
        assert!(!m.awaiting());
        assert_eq!(m.command(b"NOOP").unwrap().wire, b"A002 NOOP\r\n".to_vec());
    }

    #[test]
    fn literal_split_inside_a_line_continues_the_command() {
        let mut m = greeted();
        m.command(b"APPEND INBOX (\\Seen) {5}").unwrap();
        m.feed(b"+ OK\r\n");
        drain(&mut m);
        // `Hello` is the literal, ` {3}` continues the command line with another literal.
        let o = m.command(b"Hello {3}").unwrap();
        assert_eq!(o.wire, b"Hello {3}\r\n".to_vec());
        assert_eq!(o.display, b"Hello {3}".to_vec());
        assert!(o.expects_reply);
        assert!(m.awaiting());
        m.feed(b"+ OK\r\n");
        drain(&mut m);
        assert_eq!(m.input_mode(), InputMode::Literal { left: 3 });
        let o = m.command(b"abc").unwrap();
        assert!(o.expects_reply);
        assert_eq!(m.input_mode(), InputMode::Command);
        assert!(m.awaiting());
    }

    #[test]
    fn synchronising_literal_cancelled_by_no() {
        let mut m = greeted();
        m.command(b"APPEND Nope {11}").unwrap();
        m.feed(b"A001 NO [TRYCREATE] no such mailbox\r\n");
        let evs = drain(&mut m);
        assert!(matches!(&evs[1], Event::Complete(r) if r.outcome == Outcome::No));
        assert_eq!(m.input_mode(), InputMode::Command);
        assert_eq!(m.command(b"NOOP").unwrap().wire, b"A002 NOOP\r\n".to_vec());
    }

    #[test]
    fn non_synchronising_literal_sent_without_waiting() {
        let mut m = greeted();
        let o = m.command(b"APPEND INBOX {5+}").unwrap();
        assert_eq!(o.wire, b"A001 APPEND INBOX {5+}\r\n".to_vec());
        assert!(!o.expects_reply);
        assert!(!m.awaiting());
        assert_eq!(m.input_mode(), InputMode::Literal { left: 5 });
        let o = m.command(b"hello").unwrap();
        assert_eq!(o.wire, b"hello\r\n".to_vec());
        assert!(o.expects_reply);
        assert!(m.awaiting());
        assert_eq!(m.input_mode(), InputMode::Command);
        m.feed(b"A001 OK done\r\n");
        let evs = drain(&mut m);
        assert!(matches!(&evs[1], Event::Complete(_)));

        let o = m.command(b"x APPEND INBOX ~{3-}").unwrap();
        assert!(!o.expects_reply);
        assert_eq!(m.input_mode(), InputMode::Literal { left: 3 });
    }

    #[test]
    fn literal_ending_between_cr_and_lf_is_rejected() {
        let mut m = greeted();
        m.command(b"APPEND INBOX {6+}").unwrap();
        let err = m.command(b"hello").unwrap_err();
        assert!(
            matches!(&err, CommandError::Invalid(s) if s.contains("between CR and LF")),
            "{err}"
        );
        // Nothing changed: a valid line still works.
        assert_eq!(m.input_mode(), InputMode::Literal { left: 6 });
        let o = m.command(b"hell").unwrap();
        assert!(!o.expects_reply);
        assert_eq!(m.input_mode(), InputMode::LiteralRest);
    }

    #[test]
    fn literal_size_overflow_typed_is_rejected() {
        let mut m = greeted();
        assert!(matches!(
            m.command(b"APPEND INBOX {18446744073709551616}"),
            Err(CommandError::Invalid(_))
        ));
        assert_eq!(m.last_tag(), None);
        assert_eq!(m.command(b"NOOP").unwrap().wire, b"A001 NOOP\r\n".to_vec());
    }

    #[test]
    fn starttls_and_reset_for_tls() {
        let mut m = Imap::new();
        m.feed(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n");
        drain(&mut m);
        assert!(m.capabilities().has("STARTTLS"));
        let o = m.command(b"STARTTLS").unwrap();
        assert!(o.starttls && o.expects_reply);
        assert_eq!(o.wire, b"A001 STARTTLS\r\n".to_vec());
        m.feed(b"A001 OK Begin TLS negotiation now\r\n* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n");
        assert_eq!(
            m.next_event().unwrap(),
            Some(status(b"A001 OK Begin TLS negotiation now"))
        );
        assert!(matches!(m.next_event().unwrap(), Some(Event::Complete(_))));
        // Injected bytes stay unprocessed and visible.
        assert_eq!(
            m.buffered(),
            b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n".len()
        );
        m.reset_for_tls();
        assert_eq!(m.buffered(), 0);
        assert!(m.capabilities().is_empty());
        assert!(!m.awaiting());
        assert_eq!(m.input_mode(), InputMode::Command);
        assert_eq!(m.next_event().unwrap(), None);
        assert_eq!(
            m.command(b"CAPABILITY").unwrap().wire,
            b"A002 CAPABILITY\r\n".to_vec()
        );
        assert_eq!(m.last_tag(), Some("A002"));
    }

    #[test]
    fn untagged_bye_sets_flag() {
        let mut m = greeted();
        m.command(b"LOGOUT").unwrap();
        m.feed(b"* BYE IMAP4rev1 Server logging out\r\nA001 OK LOGOUT completed\r\n");
        let evs = drain(&mut m);
        assert!(m.saw_bye());
        assert_eq!(evs.len(), 3);
        assert!(matches!(&evs[2], Event::Complete(r) if r.tag.as_deref() == Some("A001")));
    }

    #[test]
    fn over_long_line_is_an_error() {
        let mut m = greeted();
        m.feed(&vec![b'a'; MAX_LINE + 10]);
        assert_eq!(
            m.next_event(),
            Err(ProtoError::LineTooLong { limit: MAX_LINE })
        );
    }
}
