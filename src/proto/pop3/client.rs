//! POP3 client machine (RFC 1939; CAPA and response codes from RFC 2449; SASL from RFC 5034;
//! STLS from RFC 2595), sans-I/O.
//!
//! Every server line is reported as [`Event::Line`] as soon as it is complete. A response ends
//! with [`Event::Complete`] (`+OK` / `-ERR`, or the `.` closing a multi-line body) or with
//! [`Event::Continue`] (a SASL challenge `+ `, after which the input mode is
//! [`InputMode::Auth`] and typed lines are sent as SASL responses). Multi-line bodies are
//! streamed line by line: memory does not grow with the size of a message.

use std::collections::VecDeque;

use super::syntax::{apop_timestamp, Command, Indicator, StatusLine};
use crate::proto::dot::{unstuff_line, DataLine};
use crate::proto::line::RawLine;

/// A multi-line body is reported in blocks of whole lines of about this size.
const MAX_BLOCK: usize = 256 * 1024;
use crate::proto::{
    check_line, classify, crlf, redact, sniff_greeting, Capabilities, CommandError, Core,
    DataBlock, Ending, Event, InputMode, LineContext, LineKind, Machine, Outcome, Outgoing,
    ProtoError, Protocol, Reply, ServerLine, REDACTED,
};

/// At most this many CAPA lines are kept as capabilities.
const MAX_CAPA_ITEMS: usize = 1000;
/// At most this many bytes of CAPA lines are kept as capabilities.
const MAX_CAPA_BYTES: usize = 64 * 1024;

/// How the next typed line is interpreted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A POP3 command.
    Command,
    /// After a `+ ` challenge: lines are SASL responses (base64, or `*` to cancel).
    Auth,
}

/// What the command behind an awaited response was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verb {
    Greeting,
    Capa,
    Auth,
    SaslResponse,
    Stls,
    Other,
}

/// One awaited response.
#[derive(Clone, Copy, Debug)]
struct Expect {
    verb: Verb,
    /// `+OK` opens a multi-line body ended by a lone `.`.
    multi: bool,
}

/// A multi-line body in progress.
#[derive(Debug)]
struct Body {
    /// The `+OK` line that opened it.
    status: Vec<u8>,
    /// The capabilities being collected (CAPA only).
    capa: Option<CapaList>,
    /// A line with a single leading `.` was already flagged in this body.
    warned_dot: bool,
    /// A block of it was reported.
    started: bool,
    /// The size the status line announced (`+OK 1234 octets`).
    size: Option<u64>,
}

#[derive(Debug, Default)]
struct CapaList {
    items: Vec<String>,
    bytes: usize,
    truncated: bool,
}

/// The POP3 client state machine.
#[derive(Debug)]
pub struct Pop3 {
    core: Core,
    expects: VecDeque<Expect>,
    body: Option<Body>,
    mode: Mode,
    apop: Option<Vec<u8>>,
    /// A bare LF was already flagged in the current response.
    warned_lf: bool,
    /// STLS was accepted: nothing more is parsed until [`Machine::reset_for_tls`].
    tls_pending: bool,
}

impl Default for Pop3 {
    fn default() -> Self {
        Self::new()
    }
}

impl Pop3 {
    /// A machine awaiting the server greeting.
    pub fn new() -> Pop3 {
        let mut expects = VecDeque::new();
        expects.push_back(Expect {
            verb: Verb::Greeting,
            multi: false,
        });
        Pop3 {
            core: Core::default(),
            expects,
            body: None,
            mode: Mode::Command,
            apop: None,
            warned_lf: false,
            tls_pending: false,
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    fn process(&mut self, raw: RawLine) -> Result<(), ProtoError> {
        let RawLine { bytes, ending } = raw;
        if let Some(body) = self.body.take() {
            self.body_line(body, bytes, ending);
            return Ok(());
        }
        let Some(expect) = self.expects.front().copied() else {
            self.push_line(bytes, LineKind::Status, ending);
            self.warn("unsolicited line: no response was awaited");
            return Ok(());
        };
        let status = StatusLine::parse(&bytes);
        if expect.verb == Verb::Greeting
            && status
                .as_ref()
                .is_none_or(|s| s.indicator == Indicator::Continue)
        {
            // Not a POP3 server at all (or not on this port): say so at once.
            return Err(ProtoError::NotAGreeting {
                expected: Protocol::Pop3,
                other: sniff_greeting(&bytes),
                shown: crate::proto::shown(&bytes),
            });
        }
        self.push_line(bytes.clone(), LineKind::Status, ending);
        match status {
            Some(StatusLine {
                indicator: indicator @ (Indicator::Ok | Indicator::Err),
                exact,
                ..
            }) => {
                let outcome = if indicator == Indicator::Ok {
                    Outcome::Ok
                } else {
                    Outcome::PermFail
                };
                if !exact {
                    self.warn("status indicator not in upper case");
                }
                self.expects.pop_front();
                self.mode = Mode::Command;
                if outcome == Outcome::Ok && expect.multi {
                    self.body = Some(Body {
                        size: announced_octets(&bytes),
                        status: bytes,
                        capa: (expect.verb == Verb::Capa).then(CapaList::default),
                        warned_dot: false,
                        started: false,
                    });
                    return Ok(());
                }
                if outcome == Outcome::Ok {
                    match expect.verb {
                        Verb::Greeting => self.apop = apop_timestamp(&bytes).map(<[u8]>::to_vec),
                        Verb::Stls => self.tls_pending = true,
                        _ => {}
                    }
                }
                self.finish(Event::Complete(Reply::line(outcome, bytes)));
            }
            Some(_) => {
                self.expects.pop_front();
                if expect.verb == Verb::Stls {
                    // A challenge is not the go-ahead: the wait ends at once.
                    self.finish(Event::Complete(Reply::line(Outcome::Continue, bytes)));
                    return Ok(());
                }
                self.mode = Mode::Auth;
                if !matches!(expect.verb, Verb::Auth | Verb::SaslResponse) {
                    self.warn("SASL continuation in reply to a command other than AUTH");
                }
                self.finish(Event::Continue(Reply::line(Outcome::Continue, bytes)));
            }
            None => self.warn("not a POP3 status line"),
        }
        Ok(())
    }

    fn push_line(&mut self, bytes: Vec<u8>, kind: LineKind, ending: Ending) {
        self.core.events.push_back(Event::Line(ServerLine {
            bytes,
            kind,
            ending,
        }));
        self.flag_lf(ending);
    }

    fn body_line(&mut self, mut body: Body, mut bytes: Vec<u8>, ending: Ending) {
        let single_dot = match unstuff_line(&bytes) {
            DataLine::End => {
                self.push_line(bytes, LineKind::Status, ending);
                if let Some(capa) = body.capa {
                    self.core.caps = Capabilities { items: capa.items };
                }
                self.finish(Event::Complete(Reply::line(Outcome::Ok, body.status)));
                return;
            }
            DataLine::Content {
                bytes: kept,
                single_dot,
            } => {
                // Unstuffed in place: the stuffing dot comes off the front, nothing is copied.
                let stuffed = bytes.len().saturating_sub(kept.len());
                bytes.drain(..stuffed);
                single_dot
            }
        };
        let data = bytes;
        if let Some(capa) = body.capa.as_mut() {
            if capa.add(&data) {
                self.warn("capability list truncated (at most 1000 lines / 64 KiB are kept)");
            }
        }
        self.push_line(data, LineKind::Data, ending);
        if single_dot && !body.warned_dot {
            body.warned_dot = true;
            self.warn("body line starts with a single '.' (not dot-stuffed); kept as sent");
        }
        self.body = Some(body);
    }

    /// A multi-line body (other than CAPA's) in blocks: every whole line buffered, unstuffed,
    /// up to the `.` line. `Ok(false)` when no whole line is buffered.
    fn step_body(&mut self) -> Result<bool, ProtoError> {
        let Some(mut body) = self.body.take() else {
            return Ok(false);
        };
        let mut block = Vec::new();
        let mut end = None;
        let mut bare_lf = false;
        let mut single_dot = false;
        while block.len() < MAX_BLOCK {
            let (len, ending) = match self.core.input.peek_line() {
                Ok(Some(found)) => found,
                Ok(None) => break,
                Err(e) => {
                    self.body = Some(body);
                    return Err(e);
                }
            };
            let line = self.core.input.peek().get(..len).unwrap_or(&[]);
            match unstuff_line(line) {
                DataLine::End => end = Some(ending),
                DataLine::Content {
                    bytes,
                    single_dot: single,
                } => {
                    block.extend_from_slice(bytes);
                    single_dot |= single;
                    block.extend_from_slice(match ending {
                        Ending::CrLf => b"\r\n",
                        Ending::Lf => b"\n",
                        Ending::None => b"",
                    });
                }
            }
            bare_lf |= ending == Ending::Lf;
            self.core.input.consume(len.saturating_add(ending.len()));
            if end.is_some() {
                break;
            }
        }
        if block.is_empty() && end.is_none() {
            self.body = Some(body);
            return Ok(false);
        }
        // Here the block has bytes or the body ended: at the end there is always a block
        // (maybe empty), which says the body is complete.
        self.core.events.push_back(Event::Data(DataBlock {
            bytes: block,
            first: !body.started,
            last: end.is_some(),
            size: body.size,
        }));
        body.started = true;
        if bare_lf {
            self.flag_lf(Ending::Lf);
        }
        if single_dot && !body.warned_dot {
            body.warned_dot = true;
            self.warn("body line starts with a single '.' (not dot-stuffed); kept as sent");
        }
        match end {
            Some(ending) => {
                self.push_line(b".".to_vec(), LineKind::Status, ending);
                self.finish(Event::Complete(Reply::line(Outcome::Ok, body.status)));
            }
            None => self.body = Some(body),
        }
        Ok(true)
    }

    /// Queues the event that ends a response; the next response gets its own warnings.
    fn finish(&mut self, ev: Event) {
        self.core.events.push_back(ev);
        self.warned_lf = false;
    }

    fn flag_lf(&mut self, ending: Ending) {
        if ending == Ending::Lf && !self.warned_lf {
            self.warned_lf = true;
            self.warn("bare LF line ending (POP3 requires CRLF)");
        }
    }

    fn warn(&mut self, msg: &str) {
        self.core.warn(msg);
    }
}

/// The size in `+OK 1234 octets` (RETR, TOP), when the status line says it that way.
fn announced_octets(status: &[u8]) -> Option<u64> {
    let (ok, rest) = status.split_at_checked(4)?;
    if !ok.eq_ignore_ascii_case(b"+OK ") {
        return None;
    }
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let (number, after) = rest.split_at(digits);
    if digits == 0 || !after.starts_with(b" octets") {
        return None;
    }
    std::str::from_utf8(number).ok()?.parse().ok()
}

impl Machine for Pop3 {
    fn protocol(&self) -> Protocol {
        Protocol::Pop3
    }

    fn core(&self) -> &Core {
        &self.core
    }

    fn core_mut(&mut self) -> &mut Core {
        &mut self.core
    }

    /// Turns one typed line into bytes for the wire. In [`Mode::Auth`] the line is a SASL
    /// response; otherwise a POP3 command (unknown verbs are sent as typed). Passwords, APOP
    /// digests, SASL initial responses and SASL responses are redacted in `display`. Every line
    /// expects a reply; commands may be pipelined, their replies are matched in order.
    fn command(&mut self, line: &[u8]) -> Result<Outgoing, CommandError> {
        check_line(line)?;
        if self.mode == Mode::Auth {
            let display = if line == b"*" {
                b"*".to_vec()
            } else {
                REDACTED.as_bytes().to_vec()
            };
            self.expects.push_back(Expect {
                verb: Verb::SaslResponse,
                multi: false,
            });
            return Ok(Outgoing {
                wire: crlf(line),
                display,
                secret: true,
                expects_reply: true,
                ..Outgoing::default()
            });
        }
        let info = classify(&LineContext::new(Protocol::Pop3), line);
        // What the command is decides whether its reply is a multi-line body.
        let multi = Command::parse(line).is_ok_and(|c| c.multi_line());
        let verb = match info.verb.as_str() {
            "AUTH" => Verb::Auth,
            "STLS" => Verb::Stls,
            "CAPA" => Verb::Capa,
            _ => Verb::Other,
        };
        self.expects.push_back(Expect { verb, multi });
        Ok(Outgoing {
            wire: crlf(line),
            display: redact(line, info.secret.as_ref()),
            secret: info.secret.is_some(),
            expects_reply: true,
            starttls: info.starttls,
            ends_session: info.ends_session,
            content: false,
        })
    }

    /// After a positive reply to STLS nothing is parsed until [`Machine::reset_for_tls`]:
    /// bytes that arrived before the handshake stay unparsed and are counted by
    /// [`Machine::buffered`].
    fn step(&mut self) -> Result<bool, ProtoError> {
        if self.tls_pending {
            return Ok(false);
        }
        if self.body.as_ref().is_some_and(|b| b.capa.is_none()) {
            return self.step_body();
        }
        match self.core.input.next_line()? {
            Some(raw) => {
                self.process(raw)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Whether a response (or the rest of a multi-line body) is still expected.
    fn awaiting(&self) -> bool {
        !self.expects.is_empty() || self.body.is_some()
    }

    fn input_mode(&self) -> InputMode {
        match self.mode {
            Mode::Command => InputMode::Command,
            Mode::Auth => InputMode::Auth,
        }
    }

    /// The APOP timestamp is kept (it belongs to the server's greeting, which is not repeated
    /// after STLS).
    fn reset_state(&mut self) {
        self.expects.clear();
        self.body = None;
        self.mode = Mode::Command;
        self.warned_lf = false;
        self.tls_pending = false;
    }

    /// The bytes left without a line ending when the stream ended, as a line with
    /// [`Ending::None`]: [`LineKind::Data`] (dot-unstuffed) inside a multi-line body, else
    /// [`LineKind::Status`]. What is awaited does not change, so `awaiting()` still tells
    /// whether a response was cut off.
    fn end_of_stream(&mut self) -> Option<ServerLine> {
        let rest = self.core.input.take_rest()?;
        let (bytes, kind) = if self.body.is_some() {
            let mut rest = rest;
            if let DataLine::Content { bytes, .. } = unstuff_line(&rest) {
                let stuffed = rest.len().saturating_sub(bytes.len());
                rest.drain(..stuffed);
            }
            (rest, LineKind::Data)
        } else {
            (rest, LineKind::Status)
        };
        Some(ServerLine {
            bytes,
            kind,
            ending: Ending::None,
        })
    }

    fn capability_command(&self, _name: &str) -> Vec<u8> {
        Command::Capa.line()
    }

    fn apop_timestamp(&self) -> Option<&[u8]> {
        self.apop.as_deref()
    }
}

impl CapaList {
    /// Adds one CAPA line; returns true the first time the limits drop a line.
    fn add(&mut self, line: &[u8]) -> bool {
        let item = String::from_utf8_lossy(line);
        let item = item.trim();
        if item.is_empty() {
            return false;
        }
        let bytes = self.bytes.saturating_add(item.len());
        if self.items.len() >= MAX_CAPA_ITEMS || bytes > MAX_CAPA_BYTES {
            let first = !self.truncated;
            self.truncated = true;
            return first;
        }
        self.bytes = bytes;
        self.items.push(item.to_string());
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::pop3::syntax::response_code;

    fn reply(outcome: Outcome, line: Vec<u8>) -> Reply {
        Reply::line(outcome, line)
    }

    fn status(b: &[u8]) -> Event {
        Event::Line(ServerLine {
            bytes: b.to_vec(),
            kind: LineKind::Status,
            ending: Ending::CrLf,
        })
    }

    fn data(b: &[u8]) -> Event {
        Event::Line(ServerLine {
            bytes: b.to_vec(),
            kind: LineKind::Data,
            ending: Ending::CrLf,
        })
    }

    fn complete(outcome: Outcome, line: &[u8]) -> Event {
        Event::Complete(reply(outcome, line.to_vec()))
    }

    /// The events, content blocks as lines.
    fn drain(p: &mut Pop3) -> Vec<Event> {
        crate::proto::blocks_as_lines(drain_blocks(p))
    }

    fn drain_blocks(p: &mut Pop3) -> Vec<Event> {
        let mut out = Vec::new();
        while let Some(ev) = p.next_event().unwrap() {
            out.push(ev);
        }
        out
    }

    fn feed_all(p: &mut Pop3, bytes: &[u8]) -> Vec<Event> {
        p.feed(bytes);
        drain(p)
    }

    fn feed_bytewise(p: &mut Pop3, bytes: &[u8]) -> Vec<Event> {
        let mut out = Vec::new();
        for b in bytes {
            p.feed(std::slice::from_ref(b));
            out.extend(drain(p));
        }
        out
    }

    /// A machine past a `+OK` greeting.
    fn ready() -> Pop3 {
        let mut p = Pop3::new();
        feed_all(&mut p, b"+OK ready\r\n");
        assert!(!p.awaiting());
        p
    }

    #[test]
    fn greeting_with_apop_timestamp() {
        let mut p = Pop3::new();
        assert!(p.awaiting());
        assert_eq!(p.next_event().unwrap(), None);
        let g = b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>";
        p.feed(b"+OK POP3 server ready <1896.6971");
        assert_eq!(p.next_event().unwrap(), None);
        let evs = feed_all(&mut p, b"70952@dbc.mtview.ca.us>\r\n");
        assert_eq!(evs, vec![status(g), complete(Outcome::Ok, g)]);
        assert!(!p.awaiting());
        assert_eq!(
            p.apop_timestamp(),
            Some(&b"<1896.697170952@dbc.mtview.ca.us>"[..])
        );
    }

    #[test]
    fn greeting_without_timestamp_and_negative_greeting() {
        let mut p = Pop3::new();
        feed_all(&mut p, b"+OK Dovecot ready. <no stamp>\r\n");
        assert_eq!(p.apop_timestamp(), None);

        let mut p = Pop3::new();
        let evs = feed_all(&mut p, b"-ERR [SYS/TEMP] go away\r\n");
        assert_eq!(
            evs,
            vec![
                status(b"-ERR [SYS/TEMP] go away"),
                complete(Outcome::PermFail, b"-ERR [SYS/TEMP] go away")
            ]
        );
        assert!(!p.awaiting());
    }

    #[test]
    fn not_a_status_line_warns_and_keeps_waiting() {
        // A greeting that is not POP3 at all is reported at once, naming what came.
        let mut p = Pop3::new();
        p.feed(b"220 smtp.example\r\n+OK\r\n");
        assert_eq!(
            p.next_event(),
            Err(ProtoError::NotAGreeting {
                expected: Protocol::Pop3,
                other: Some(Protocol::Smtp),
                shown: "220 smtp.example".into(),
            })
        );
        let mut p = Pop3::new();
        p.feed(b"+ \r\n");
        assert!(matches!(
            p.next_event(),
            Err(ProtoError::NotAGreeting { other: None, .. })
        ));
        let mut p = Pop3::new();
        let evs = feed_all(&mut p, b"+OK\r\n");
        assert_eq!(evs, vec![status(b"+OK"), complete(Outcome::Ok, b"+OK")]);
        let evs = feed_all(&mut p, b"+OK late\r\n");
        assert_eq!(
            evs,
            vec![
                status(b"+OK late"),
                Event::Warning("unsolicited line: no response was awaited".into())
            ]
        );
        let mut p = ready();
        p.command(b"NOOP").unwrap();
        let evs = feed_all(&mut p, b"+okay\r\n+ok fine\r\n");
        assert_eq!(
            evs,
            vec![
                status(b"+okay"),
                Event::Warning("not a POP3 status line".into()),
                status(b"+ok fine"),
                Event::Warning("status indicator not in upper case".into()),
                complete(Outcome::Ok, b"+ok fine"),
            ]
        );
    }

    const CAPA_REPLY: &[u8] = b"+OK Capability list follows\r\nTOP\r\nUIDL\r\nUSER\r\nSASL PLAIN LOGIN\r\nSTLS\r\nPIPELINING\r\nIMPLEMENTATION Dovecot\r\n.\r\n";

    fn capa_expected() -> Vec<Event> {
        vec![
            status(b"+OK Capability list follows"),
            data(b"TOP"),
            data(b"UIDL"),
            data(b"USER"),
            data(b"SASL PLAIN LOGIN"),
            data(b"STLS"),
            data(b"PIPELINING"),
            data(b"IMPLEMENTATION Dovecot"),
            status(b"."),
            complete(Outcome::Ok, b"+OK Capability list follows"),
        ]
    }

    fn check_caps(p: &Pop3) {
        let caps = p.capabilities();
        assert_eq!(
            caps.items,
            vec![
                "TOP",
                "UIDL",
                "USER",
                "SASL PLAIN LOGIN",
                "STLS",
                "PIPELINING",
                "IMPLEMENTATION Dovecot"
            ]
        );
        assert!(caps.has("stls"));
        assert!(caps.has("IMPLEMENTATION"));
        assert_eq!(caps.auth_mechanisms(), vec!["PLAIN", "LOGIN"]);
    }

    #[test]
    fn capa_in_one_chunk() {
        let mut p = ready();
        let out = p.command(b"CAPA").unwrap();
        assert_eq!(out.wire, b"CAPA\r\n".to_vec());
        assert_eq!(out.display, b"CAPA".to_vec());
        assert!(out.expects_reply && !out.secret && !out.starttls);
        assert!(p.awaiting());
        assert_eq!(feed_all(&mut p, CAPA_REPLY), capa_expected());
        assert!(!p.awaiting());
        check_caps(&p);
    }

    #[test]
    fn capa_byte_by_byte() {
        let mut p = ready();
        p.command(b"capa").unwrap();
        let (head, tail) = CAPA_REPLY.split_at(CAPA_REPLY.len() - 3);
        assert_eq!(tail, b".\r\n");
        let mut evs = feed_bytewise(&mut p, head);
        // Capabilities only change when the list is complete.
        assert!(p.capabilities().is_empty());
        assert!(p.awaiting());
        evs.extend(feed_bytewise(&mut p, tail));
        assert_eq!(evs, capa_expected());
        assert!(!p.awaiting());
        check_caps(&p);
    }

    #[test]
    fn capa_replaces_earlier_list_and_is_bounded() {
        let mut p = ready();
        p.command(b"CAPA").unwrap();
        feed_all(&mut p, CAPA_REPLY);
        p.command(b"CAPA").unwrap();
        let mut reply = b"+OK\r\n".to_vec();
        for i in 0..1005 {
            reply.extend_from_slice(format!("X-CAP-{i}\r\n").as_bytes());
        }
        reply.extend_from_slice(b".\r\n");
        let evs = feed_all(&mut p, &reply);
        let warnings: Vec<_> = evs
            .iter()
            .filter(|e| matches!(e, Event::Warning(_)))
            .collect();
        assert_eq!(
            warnings,
            vec![&Event::Warning(
                "capability list truncated (at most 1000 lines / 64 KiB are kept)".into()
            )]
        );
        let caps = p.capabilities();
        assert_eq!(caps.items.len(), 1000);
        assert_eq!(caps.items.first().unwrap(), "X-CAP-0");
        assert_eq!(caps.items.last().unwrap(), "X-CAP-999");
        assert!(!caps.has("STLS"));

        // 64 KiB of items: long lines hit the byte limit first.
        p.command(b"CAPA").unwrap();
        let long = "L".repeat(30_000);
        let reply = format!("+OK\r\nA {long}\r\nB {long}\r\nC {long}\r\nD\r\n.\r\n");
        feed_all(&mut p, reply.as_bytes());
        let kw: Vec<String> = p.capabilities().keywords().collect();
        assert_eq!(kw, vec!["A", "B", "D"]);
    }

    #[test]
    fn list_with_and_without_argument() {
        let mut p = ready();
        p.command(b"LIST 2").unwrap();
        let evs = feed_all(&mut p, b"+OK 2 200\r\n");
        assert_eq!(
            evs,
            vec![status(b"+OK 2 200"), complete(Outcome::Ok, b"+OK 2 200")]
        );
        assert!(!p.awaiting());

        p.command(b"LIST").unwrap();
        let evs = feed_all(&mut p, b"+OK 2 messages (320 octets)\r\n1 120\r\n");
        assert_eq!(
            evs,
            vec![status(b"+OK 2 messages (320 octets)"), data(b"1 120")]
        );
        assert!(p.awaiting());
        let evs = feed_all(&mut p, b"2 200\r\n.\r\n");
        assert_eq!(
            evs,
            vec![
                data(b"2 200"),
                status(b"."),
                complete(Outcome::Ok, b"+OK 2 messages (320 octets)")
            ]
        );
        assert!(!p.awaiting());
        // The body did not touch capabilities.
        assert!(p.capabilities().is_empty());

        p.command(b"uidl 1").unwrap();
        let evs = feed_all(&mut p, b"+OK 1 whqtswO00WBw418f9t5JxYwZ\r\n");
        assert_eq!(evs.len(), 2);
        assert!(!p.awaiting());
        p.command(b"UIDL").unwrap();
        feed_all(&mut p, b"+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n");
        assert!(p.awaiting());
        feed_all(&mut p, b".\r\n");
        assert!(!p.awaiting());
    }

    #[test]
    fn retr_dot_unstuffing() {
        let mut p = ready();
        p.command(b"RETR 1").unwrap();
        let evs = feed_all(
            &mut p,
            b"+OK 120 octets\r\nSubject: x\r\n\r\n..foo\r\n..\r\n...\r\n. \r\nend\r\n.\r\n",
        );
        assert_eq!(
            evs,
            vec![
                status(b"+OK 120 octets"),
                data(b"Subject: x"),
                data(b""),
                data(b".foo"),
                data(b"."),
                data(b".."),
                data(b". "),
                data(b"end"),
                // Said once per block, after it.
                Event::Warning(
                    "body line starts with a single '.' (not dot-stuffed); kept as sent".into()
                ),
                status(b"."),
                complete(Outcome::Ok, b"+OK 120 octets"),
            ]
        );
        assert!(!p.awaiting());
    }

    #[test]
    fn a_body_comes_in_blocks_whose_flags_say_where_they_are() {
        let mut p = ready();
        p.command(b"RETR 1").unwrap();
        p.feed(b"+OK 12 octets\r\nab\r\n..c\r\n");
        let evs = drain_blocks(&mut p);
        assert_eq!(evs.len(), 2);
        assert_eq!(
            evs[1],
            Event::Data(DataBlock {
                bytes: b"ab\r\n.c\r\n".to_vec(),
                first: true,
                last: false,
                size: Some(12),
            })
        );
        // A partial line waits; the end comes as a last (here empty) block.
        p.feed(b"d");
        assert!(drain_blocks(&mut p).is_empty());
        p.feed(b"\n.\r\n");
        let evs = drain_blocks(&mut p);
        assert_eq!(
            evs[0],
            Event::Data(DataBlock {
                bytes: b"d\n".to_vec(),
                first: false,
                last: true,
                size: Some(12),
            })
        );
        assert!(matches!(evs.last(), Some(Event::Complete(_))));
        // An empty body is one empty block, first and last; LIST's octets are not a size.
        p.command(b"LIST").unwrap();
        p.feed(b"+OK 2 messages (320 octets)\r\n.\r\n");
        let evs = drain_blocks(&mut p);
        assert_eq!(
            evs[1],
            Event::Data(DataBlock {
                bytes: Vec::new(),
                first: true,
                last: true,
                size: None,
            })
        );
        assert_eq!(announced_octets(b"+ok 7 octets"), Some(7));
        assert_eq!(announced_octets(b"+OK octets"), None);
        assert_eq!(announced_octets(b"+OK"), None);
    }

    #[test]
    fn err_to_retr_is_single_line() {
        let mut p = ready();
        p.command(b"RETR 9").unwrap();
        let evs = feed_all(&mut p, b"-ERR no such message\r\n");
        assert_eq!(
            evs,
            vec![
                status(b"-ERR no such message"),
                complete(Outcome::PermFail, b"-ERR no such message")
            ]
        );
        assert!(!p.awaiting());
        p.command(b"NOOP").unwrap();
        let evs = feed_all(&mut p, b"+OK\r\n");
        assert_eq!(evs, vec![status(b"+OK"), complete(Outcome::Ok, b"+OK")]);
    }

    #[test]
    fn top_is_multi_line() {
        let mut p = ready();
        p.command(b"TOP 1 0").unwrap();
        let evs = feed_all(
            &mut p,
            b"+OK top of message follows\r\nFrom: a@b\r\n\r\n.\r\n",
        );
        assert_eq!(
            evs,
            vec![
                status(b"+OK top of message follows"),
                data(b"From: a@b"),
                data(b""),
                status(b"."),
                complete(Outcome::Ok, b"+OK top of message follows"),
            ]
        );
    }

    #[test]
    fn pipelined_replies_in_order() {
        let mut p = ready();
        p.command(b"STAT").unwrap();
        p.command(b"LIST").unwrap();
        p.command(b"NOOP").unwrap();
        let evs = feed_all(&mut p, b"+OK 1 5\r\n+OK\r\n1 5\r\n.\r\n-ERR no\r\n");
        assert_eq!(
            evs,
            vec![
                status(b"+OK 1 5"),
                complete(Outcome::Ok, b"+OK 1 5"),
                status(b"+OK"),
                data(b"1 5"),
                status(b"."),
                complete(Outcome::Ok, b"+OK"),
                status(b"-ERR no"),
                complete(Outcome::PermFail, b"-ERR no"),
            ]
        );
        assert!(!p.awaiting());
    }

    #[test]
    fn auth_plain_exchange() {
        let mut p = ready();
        let out = p.command(b"AUTH PLAIN").unwrap();
        assert_eq!(out.wire, b"AUTH PLAIN\r\n".to_vec());
        assert_eq!(out.display, b"AUTH PLAIN".to_vec());
        assert!(!out.secret && out.expects_reply);
        let evs = feed_all(&mut p, b"+ \r\n");
        assert_eq!(
            evs,
            vec![
                status(b"+ "),
                Event::Continue(reply(Outcome::Continue, b"+ ".to_vec()))
            ]
        );
        assert_eq!(p.mode(), Mode::Auth);
        assert!(!p.awaiting());

        let out = p.command(b"AHRlc3QAcGFzcw==").unwrap();
        assert_eq!(out.wire, b"AHRlc3QAcGFzcw==\r\n".to_vec());
        assert_eq!(out.display, b"<redacted>".to_vec());
        assert!(out.secret && out.expects_reply && !out.starttls);
        assert!(p.awaiting());
        assert_eq!(p.mode(), Mode::Auth);
        let evs = feed_all(&mut p, b"+OK Logged in.\r\n");
        assert_eq!(
            evs,
            vec![
                status(b"+OK Logged in."),
                complete(Outcome::Ok, b"+OK Logged in.")
            ]
        );
        assert_eq!(p.mode(), Mode::Command);
        assert!(!p.awaiting());
    }

    #[test]
    fn auth_login_steps_and_cancel() {
        let mut p = ready();
        p.command(b"AUTH LOGIN").unwrap();
        feed_all(&mut p, b"+ VXNlcm5hbWU6\r\n");
        assert_eq!(p.mode(), Mode::Auth);
        p.command(b"dXNlcg==").unwrap();
        let evs = feed_all(&mut p, b"+\r\n");
        assert_eq!(
            evs,
            vec![
                status(b"+"),
                Event::Continue(reply(Outcome::Continue, b"+".to_vec()))
            ]
        );
        assert_eq!(p.mode(), Mode::Auth);
        let out = p.command(b"*").unwrap();
        assert_eq!(out.wire, b"*\r\n".to_vec());
        assert_eq!(out.display, b"*".to_vec());
        let evs = feed_all(&mut p, b"-ERR [AUTH] cancelled\r\n");
        assert_eq!(
            evs.last(),
            Some(&complete(Outcome::PermFail, b"-ERR [AUTH] cancelled"))
        );
        assert_eq!(p.mode(), Mode::Command);
        // Back in command mode: a line is a command again.
        let out = p.command(b"USER bob").unwrap();
        assert_eq!(out.display, b"USER bob".to_vec());
        assert!(!out.secret);
    }

    #[test]
    fn auth_initial_response_and_mechanism_list() {
        let mut p = ready();
        let out = p.command(b"AUTH PLAIN AHRlc3QAcGFzcw==").unwrap();
        assert_eq!(out.wire, b"AUTH PLAIN AHRlc3QAcGFzcw==\r\n".to_vec());
        assert_eq!(out.display, b"AUTH PLAIN <redacted>".to_vec());
        assert!(out.secret);
        feed_all(&mut p, b"+OK\r\n");
        assert!(!p.awaiting());

        p.command(b"AUTH").unwrap();
        let evs = feed_all(&mut p, b"+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n");
        assert_eq!(
            evs,
            vec![
                status(b"+OK"),
                data(b"PLAIN"),
                data(b"LOGIN"),
                status(b"."),
                complete(Outcome::Ok, b"+OK"),
            ]
        );
        assert_eq!(p.mode(), Mode::Command);
    }

    #[test]
    fn continuation_to_other_command_is_flagged() {
        let mut p = ready();
        p.command(b"USER bob").unwrap();
        let evs = feed_all(&mut p, b"+ \r\n");
        assert_eq!(
            evs,
            vec![
                status(b"+ "),
                Event::Warning("SASL continuation in reply to a command other than AUTH".into()),
                Event::Continue(reply(Outcome::Continue, b"+ ".to_vec())),
            ]
        );
        assert_eq!(p.mode(), Mode::Auth);
    }

    #[test]
    fn pass_and_apop_redaction() {
        let mut p = ready();
        let out = p.command(b"PASS my secret  pass ").unwrap();
        assert_eq!(out.wire, b"PASS my secret  pass \r\n".to_vec());
        assert_eq!(out.display, b"PASS <redacted>".to_vec());
        assert!(out.secret && out.expects_reply && !out.starttls);

        let out = p.command(b"pass x").unwrap();
        assert_eq!(out.display, b"pass <redacted>".to_vec());
        assert!(out.secret);

        let out = p
            .command(b"APOP mrose c4c9334bac560ecc979e58001b3e22fb")
            .unwrap();
        assert_eq!(
            out.wire,
            b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n".to_vec()
        );
        assert_eq!(out.display, b"APOP mrose <redacted>".to_vec());
        assert!(out.secret);

        let out = p.command(b"PASS").unwrap();
        assert_eq!(out.display, b"PASS".to_vec());
        assert!(!out.secret);
    }

    #[test]
    fn command_basics() {
        let mut p = ready();
        assert_eq!(
            p.command(b"PASS a\rb"),
            Err(CommandError::ForbiddenByte("CR"))
        );
        assert_eq!(
            p.command(b"USER a\nb"),
            Err(CommandError::ForbiddenByte("LF"))
        );
        assert_eq!(
            p.command(b"USER \0"),
            Err(CommandError::ForbiddenByte("NUL"))
        );
        assert!(!p.awaiting());

        let out = p.command(b"XFOO bar  baz").unwrap();
        assert_eq!(out.wire, b"XFOO bar  baz\r\n".to_vec());
        assert_eq!(out.display, b"XFOO bar  baz".to_vec());
        assert!(out.expects_reply && !out.secret && !out.starttls);
        assert!(p.awaiting());
    }

    #[test]
    fn response_codes() {
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
        assert_eq!(response_code(b"-ERR[IN-USE]"), None);
        assert_eq!(response_code(b"* [IN-USE]"), None);
        assert_eq!(response_code(b""), None);
        assert_eq!(response_code(b"-E"), None);
    }

    #[test]
    fn end_of_stream_inside_body() {
        let mut p = ready();
        p.command(b"RETR 1").unwrap();
        let evs = feed_all(&mut p, b"+OK\r\nline\r\n..partial");
        assert_eq!(evs, vec![status(b"+OK"), data(b"line")]);
        assert_eq!(p.buffered(), 9);
        assert_eq!(
            p.end_of_stream(),
            Some(ServerLine {
                bytes: b".partial".to_vec(),
                kind: LineKind::Data,
                ending: Ending::None
            })
        );
        assert!(p.awaiting());
        assert_eq!(p.buffered(), 0);
        assert_eq!(p.end_of_stream(), None);
    }

    #[test]
    fn end_of_stream_outside_body() {
        let mut p = ready();
        p.command(b"STAT").unwrap();
        feed_all(&mut p, b"+OK 2 3");
        assert_eq!(
            p.end_of_stream(),
            Some(ServerLine {
                bytes: b"+OK 2 3".to_vec(),
                kind: LineKind::Status,
                ending: Ending::None
            })
        );
        assert!(p.awaiting());
    }

    #[test]
    fn bare_lf_warns_once_per_response() {
        let mut p = ready();
        p.command(b"RETR 1").unwrap();
        p.command(b"NOOP").unwrap();
        let evs = feed_all(&mut p, b"+OK\na\nb\r\n.\n+OK\n");
        let lf = |b: &[u8], kind| {
            Event::Line(ServerLine {
                bytes: b.to_vec(),
                kind,
                ending: Ending::Lf,
            })
        };
        let warning = Event::Warning("bare LF line ending (POP3 requires CRLF)".into());
        assert_eq!(
            evs,
            vec![
                lf(b"+OK", LineKind::Status),
                warning.clone(),
                lf(b"a", LineKind::Data),
                data(b"b"),
                lf(b".", LineKind::Status),
                complete(Outcome::Ok, b"+OK"),
                lf(b"+OK", LineKind::Status),
                warning,
                complete(Outcome::Ok, b"+OK"),
            ]
        );
    }

    #[test]
    fn stls_and_reset_for_tls() {
        let mut p = ready();
        p.command(b"CAPA").unwrap();
        feed_all(&mut p, CAPA_REPLY);
        assert!(p.capabilities().has("STLS"));
        let out = p.command(b"STLS").unwrap();
        assert!(out.starttls && out.expects_reply && !out.secret);
        assert_eq!(out.wire, b"STLS\r\n".to_vec());
        let evs = feed_all(&mut p, b"+OK Begin TLS negotiation\r\n+OK injected\r\n");
        assert_eq!(
            evs,
            vec![
                status(b"+OK Begin TLS negotiation"),
                complete(Outcome::Ok, b"+OK Begin TLS negotiation")
            ]
        );
        // Bytes after the STLS reply are left unparsed and visible.
        assert_eq!(p.next_event().unwrap(), None);
        assert_eq!(p.buffered(), 14);

        p.reset_for_tls();
        assert_eq!(p.buffered(), 0);
        assert!(p.capabilities().is_empty());
        assert!(!p.awaiting());
        assert_eq!(p.mode(), Mode::Command);
        assert_eq!(p.next_event().unwrap(), None);

        p.command(b"CAPA").unwrap();
        assert_eq!(feed_all(&mut p, CAPA_REPLY), capa_expected());
        check_caps(&p);
    }

    #[test]
    fn reset_for_tls_leaves_auth_mode_and_body() {
        let mut p = ready();
        p.command(b"AUTH PLAIN").unwrap();
        feed_all(&mut p, b"+ \r\n");
        p.command(b"RETR 1").unwrap();
        assert_eq!(p.mode(), Mode::Auth);
        p.reset_for_tls();
        assert_eq!(p.mode(), Mode::Command);
        p.command(b"RETR 1").unwrap();
        feed_all(&mut p, b"+OK\r\nx\r\n");
        assert!(p.awaiting());
        p.reset_for_tls();
        assert!(!p.awaiting());
        let evs = feed_all(&mut p, b"+OK\r\n");
        assert_eq!(
            evs,
            vec![
                status(b"+OK"),
                Event::Warning("unsolicited line: no response was awaited".into())
            ]
        );
    }

    #[test]
    fn stls_refused_continues_normally() {
        let mut p = ready();
        p.command(b"STLS").unwrap();
        let evs = feed_all(&mut p, b"-ERR no TLS\r\n");
        assert_eq!(
            evs.last(),
            Some(&complete(Outcome::PermFail, b"-ERR no TLS"))
        );
        p.command(b"NOOP").unwrap();
        assert_eq!(feed_all(&mut p, b"+OK\r\n").len(), 2);
    }

    #[test]
    fn long_line_is_an_error() {
        let mut p = ready();
        p.command(b"RETR 1").unwrap();
        p.feed(b"+OK\r\n");
        p.feed(&vec![b'a'; crate::proto::line::MAX_LINE + 1]);
        assert_eq!(p.next_event().unwrap(), Some(status(b"+OK")));
        assert!(matches!(
            p.next_event(),
            Err(ProtoError::LineTooLong { .. })
        ));
    }

    #[test]
    fn ten_megabyte_body_keeps_memory_bounded() {
        let mut p = ready();
        p.command(b"RETR 1").unwrap();
        let line =
            b"..0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\r\n";
        let lines = 10 * 1024 * 1024 / line.len() + 1;
        let mut stream = b"+OK big\r\n".to_vec();
        for _ in 0..lines {
            stream.extend_from_slice(line);
        }
        stream.extend_from_slice(b".\r\n");
        assert!(stream.len() > 10 * 1024 * 1024);

        let mut data_lines = 0usize;
        let mut max_buffered = 0usize;
        let mut max_queue = 0usize;
        let mut completed = false;
        // Chunks that do not line up with line boundaries.
        for chunk in stream.chunks(4093) {
            p.feed(chunk);
            max_buffered = max_buffered.max(p.buffered());
            while let Some(ev) = p.next_event().unwrap() {
                max_queue = max_queue.max(p.core.events.capacity());
                match ev {
                    Event::Data(b) => {
                        assert!(b.bytes.len() <= MAX_BLOCK + line.len());
                        for (l, ending) in b.lines() {
                            assert_eq!(l, &line[1..line.len() - 2]);
                            assert_eq!(ending, Ending::CrLf);
                            data_lines += 1;
                        }
                    }
                    Event::Complete(r) => {
                        assert_eq!(r, reply(Outcome::Ok, b"+OK big".to_vec()));
                        completed = true;
                    }
                    Event::Line(_) => {}
                    other => panic!("unexpected {other:?}"),
                }
            }
            assert!(p.buffered() < line.len());
        }
        assert!(completed);
        assert_eq!(data_lines, lines);
        assert!(max_buffered < 4093 + line.len());
        assert!(max_queue <= 8, "event queue grew to {max_queue}");
        assert!(p.expects.capacity() <= 8);
        assert!(!p.awaiting());
    }
}
