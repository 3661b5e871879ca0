//! The SMTP and LMTP client machine (RFC 5321, RFC 2033, RFC 3030 CHUNKING, RFC 4954 AUTH).
//!
//! Sans-I/O: [`Smtp::command`] turns a typed line into wire bytes, [`Machine::feed`] takes what
//! the server sent and [`Machine::next_event`] reports it line by line, followed by one
//! [`Event::Complete`] (or [`Event::Continue`] for 3xx) per awaited reply.
//!
//! Every reply line is reported as soon as it arrives. Oddities (mixed codes within one
//! multi-line reply, lines that are not reply lines, bare LF endings) are reported as
//! [`Event::Warning`] and do not end the session; a reply over the bounds ([`MAX_REPLY_LINES`],
//! [`MAX_REPLY_BYTES`]) or a line over [`MAX_LINE`](crate::proto::line::MAX_LINE) is a fatal
//! [`ProtoError`], and so is a greeting that is not a reply line at all.

use std::collections::VecDeque;

use super::command::parse_bdat;
use super::reply::ReplyLine;
use crate::proto::content::{self, Fit};
use crate::proto::dot;
use crate::proto::{
    check_line, classify, crlf, redact, sniff_greeting, Capabilities, CommandError, Core, Ending,
    Event, InputMode, LineContext, LineKind, Machine, Outcome, Outgoing, ProtoError, Protocol,
    Reply, ServerLine,
};

/// The most lines one reply may have.
pub const MAX_REPLY_LINES: usize = 10_000;
/// The most bytes (line endings included) one reply may have.
pub const MAX_REPLY_BYTES: usize = 1024 * 1024;

/// How the next typed line is interpreted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A command.
    Command,
    /// A line of message content after a 354 reply to DATA; `.` ends the content.
    Data,
    /// A SASL response after a 334 reply to AUTH.
    Auth,
    /// Raw chunk content after `BDAT n`: `remaining` bytes are still to be sent.
    Bdat { remaining: u64 },
}

/// What an awaited reply answers; decides what the reply changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    Greeting,
    Ehlo,
    Mail,
    Rcpt,
    Data,
    /// The `.` after message content, or the last chunk of a BDAT transfer.
    DataEnd,
    Auth,
    StartTls,
    Other,
}

/// A reply (or, in LMTP, a run of per-recipient replies) still to come.
#[derive(Clone, Debug)]
struct Pending {
    answer: Answer,
    /// Replies still expected for this command (more than one only for LMTP data ends).
    replies_left: u32,
    /// The replies already received for this command (LMTP data ends).
    parts: Vec<Reply>,
}

impl Pending {
    fn one(answer: Answer) -> Self {
        Pending {
            answer,
            replies_left: 1,
            parts: Vec::new(),
        }
    }
}

/// The reply being assembled from its lines.
#[derive(Clone, Debug, Default)]
struct Partial {
    /// The code of the first line.
    first_code: Option<super::Code>,
    lines: Vec<Vec<u8>>,
    /// Lines (valid or not) and bytes counted against the bounds.
    line_count: usize,
    byte_count: usize,
    mixed_warned: bool,
    lf_warned: bool,
}

/// The SMTP/LMTP client machine.
#[derive(Debug)]
pub struct Smtp {
    lmtp: bool,
    core: Core,
    mode: Mode,
    /// Whether the BDAT chunk being sent is the LAST one.
    bdat_last: bool,
    helo_name: Option<String>,
    pending: VecDeque<Pending>,
    partial: Partial,
    /// RCPT commands answered 2xx since the last MAIL (LMTP sends one reply for each).
    accepted_rcpts: u32,
}

impl Smtp {
    /// A machine for a new connection: it awaits the greeting.
    pub fn new(lmtp: bool) -> Smtp {
        let mut pending = VecDeque::new();
        pending.push_back(Pending::one(Answer::Greeting));
        Smtp {
            lmtp,
            core: Core::default(),
            mode: Mode::Command,
            bdat_last: false,
            helo_name: None,
            pending,
            partial: Partial::default(),
            accepted_rcpts: 0,
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The argument of the last EHLO/LHLO sent, to send again after STARTTLS.
    pub fn helo_name(&self) -> Option<&str> {
        self.helo_name.as_deref()
    }

    pub fn lmtp(&self) -> bool {
        self.lmtp
    }

    fn protocol_of(&self) -> Protocol {
        if self.lmtp {
            Protocol::Lmtp
        } else {
            Protocol::Smtp
        }
    }

    fn command_line(&mut self, line: &[u8]) -> Outgoing {
        let info = classify(&LineContext::new(self.protocol_of()), line);
        let secret = info.secret.is_some();
        let mut out = Outgoing {
            wire: crlf(line),
            display: redact(line, info.secret.as_ref()),
            secret,
            expects_reply: true,
            starttls: info.starttls,
            ends_session: info.ends_session,
            content: false,
        };
        let answer = match info.verb.as_str() {
            "EHLO" | "LHLO" => {
                let name = String::from_utf8_lossy(&info.args).trim().to_string();
                self.helo_name = (!name.is_empty()).then_some(name);
                self.accepted_rcpts = 0;
                Answer::Ehlo
            }
            "HELO" => {
                self.core.caps = Capabilities::default();
                self.accepted_rcpts = 0;
                Answer::Other
            }
            "STARTTLS" => Answer::StartTls,
            "AUTH" => Answer::Auth,
            "DATA" => Answer::Data,
            "MAIL" | "RSET" => {
                self.accepted_rcpts = 0;
                if info.verb == "MAIL" {
                    Answer::Mail
                } else {
                    Answer::Other
                }
            }
            "RCPT" => Answer::Rcpt,
            "BDAT" => match parse_bdat(&info.args) {
                Some((size, last)) => {
                    if size == 0 {
                        self.pending.push_back(self.data_end(last));
                    } else {
                        self.mode = Mode::Bdat { remaining: size };
                        self.bdat_last = last;
                        out.expects_reply = false;
                    }
                    return out;
                }
                None => Answer::Other,
            },
            _ => Answer::Other,
        };
        self.pending.push_back(Pending::one(answer));
        out
    }

    fn data_line(&mut self, line: &[u8]) -> Outgoing {
        if line == b"." {
            self.mode = Mode::Command;
            self.pending.push_back(self.data_end(true));
            return Outgoing {
                wire: b".\r\n".to_vec(),
                display: b".".to_vec(),
                expects_reply: true,
                content: true,
                ..Outgoing::default()
            };
        }
        // What goes on the wire is what is shown: a leading dot doubled.
        let stuffed = dot::stuff_line(line);
        Outgoing {
            wire: crlf(&stuffed),
            display: stuffed,
            content: true,
            ..Outgoing::default()
        }
    }

    fn auth_line(&mut self, line: &[u8]) -> Outgoing {
        self.pending.push_back(Pending::one(Answer::Auth));
        let cancel = line == b"*";
        Outgoing {
            wire: crlf(line),
            display: if cancel {
                b"*".to_vec()
            } else {
                crate::proto::REDACTED.as_bytes().to_vec()
            },
            secret: !cancel,
            expects_reply: true,
            ..Outgoing::default()
        }
    }

    fn bdat_line(&mut self, line: &[u8], remaining: u64) -> Result<Outgoing, CommandError> {
        let wire = match content::fit(line.len(), remaining) {
            Fit::Within { left } => {
                self.chunk_progress(left);
                crlf(line)
            }
            Fit::Exact => {
                self.chunk_progress(0);
                line.to_vec()
            }
            Fit::SplitsCrLf => {
                return Err(CommandError::Invalid(content::splits_crlf_message(
                    "BDAT chunk",
                    remaining,
                    line.len(),
                )))
            }
            Fit::Beyond { left } => {
                return Err(CommandError::Invalid(format!(
                    "this line is longer than the {left} bytes left in the BDAT chunk"
                )))
            }
        };
        Ok(Outgoing {
            wire,
            display: line.to_vec(),
            expects_reply: self.mode == Mode::Command,
            content: true,
            ..Outgoing::default()
        })
    }

    /// The chunk now has `left` bytes to go; at 0 its reply is awaited.
    fn chunk_progress(&mut self, left: u64) {
        if left == 0 {
            self.mode = Mode::Command;
            self.pending.push_back(self.data_end(self.bdat_last));
            self.bdat_last = false;
        } else {
            self.mode = Mode::Bdat { remaining: left };
        }
    }

    /// What the end of message content awaits: in LMTP, after the final `.` or the LAST chunk,
    /// one reply per accepted recipient.
    fn data_end(&self, last: bool) -> Pending {
        let replies_left = if self.lmtp && last {
            self.accepted_rcpts.max(1)
        } else {
            1
        };
        Pending {
            answer: Answer::DataEnd,
            replies_left,
            parts: Vec::new(),
        }
    }

    /// Reports one line and, when it ends a reply, the reply.
    fn take_line(&mut self, bytes: Vec<u8>, ending: Ending) -> Result<(), ProtoError> {
        let p = &mut self.partial;
        p.line_count = p.line_count.saturating_add(1);
        p.byte_count = p
            .byte_count
            .saturating_add(bytes.len())
            .saturating_add(ending.len());
        if p.line_count > MAX_REPLY_LINES {
            return Err(ProtoError::ResponseTooLong {
                limit: MAX_REPLY_LINES,
                unit: "lines",
            });
        }
        if p.byte_count > MAX_REPLY_BYTES {
            return Err(ProtoError::ResponseTooLong {
                limit: MAX_REPLY_BYTES,
                unit: "bytes",
            });
        }
        let parsed = ReplyLine::parse(&bytes).map(|l| (l.code, l.last, l.enhanced));
        let greeting =
            self.pending.front().map(|p| p.answer) == Some(Answer::Greeting) && p.line_count == 1;
        if parsed.is_none() && greeting {
            // Not an SMTP server at all (or not on this port): say so at once.
            return Err(ProtoError::NotAGreeting {
                expected: self.protocol_of(),
                other: sniff_greeting(&bytes),
                shown: crate::proto::shown(&bytes),
            });
        }
        if parsed.is_some() {
            p.lines.push(bytes.clone());
        }
        self.core.events.push_back(Event::Line(ServerLine {
            bytes,
            kind: LineKind::Status,
            ending,
        }));
        let p = &mut self.partial;
        if ending == Ending::Lf && !p.lf_warned {
            p.lf_warned = true;
            self.core
                .warn("reply line ends with a bare LF instead of CRLF");
        }
        let Some((code, last, enhanced)) = parsed else {
            self.core.warn(
                "not a valid reply line: expected a three-digit code followed by a space, a \
                 hyphen or the end of the line",
            );
            return Ok(());
        };
        let p = &mut self.partial;
        match p.first_code {
            None => p.first_code = Some(code),
            Some(first) if first != code && !p.mixed_warned => {
                p.mixed_warned = true;
                self.core
                    .warn(format!("multi-line reply mixes codes {first} and {code}"));
            }
            Some(_) => {}
        }
        if last {
            let lines = std::mem::take(&mut self.partial).lines;
            self.complete(code, enhanced, lines);
        }
        Ok(())
    }

    /// Applies a complete reply to the state and reports it.
    fn complete(
        &mut self,
        code: super::Code,
        enhanced: Option<super::EnhancedCode>,
        lines: Vec<Vec<u8>>,
    ) {
        let outcome = code.outcome();
        let mut reply = Reply {
            outcome,
            code: Some(code),
            enhanced,
            tag: None,
            lines,
            parts: Vec::new(),
        };
        let answer = match self.pending.front_mut() {
            Some(front) if front.answer == Answer::DataEnd && self.lmtp => {
                front.parts.push(reply.clone());
                front.replies_left = front.replies_left.saturating_sub(1);
                if front.replies_left > 0 {
                    // An LMTP per-recipient reply that is not the last one.
                    return;
                }
                let parts = std::mem::take(&mut front.parts);
                // The last of the worst replies stands for all of them.
                let worst = parts
                    .iter()
                    .fold(None::<&Reply>, |w, r| match w {
                        Some(w) if w.outcome.severity() > r.outcome.severity() => Some(w),
                        _ => Some(r),
                    })
                    .cloned();
                if let Some(w) = worst {
                    reply = w;
                }
                reply.parts = parts;
                self.pending.pop_front();
                Some(Answer::DataEnd)
            }
            Some(front) => {
                let answer = front.answer;
                self.pending.pop_front();
                Some(answer)
            }
            None => None,
        };
        match answer {
            Some(Answer::Ehlo) if code.value() == 250 => {
                self.core.caps = Capabilities {
                    items: reply
                        .lines
                        .iter()
                        .skip(1)
                        .filter_map(|l| ReplyLine::parse(l).map(|r| r.text))
                        .filter(|t| !t.is_empty())
                        .map(|t| String::from_utf8_lossy(t).into_owned())
                        .collect(),
                };
            }
            Some(Answer::Rcpt) if outcome == Outcome::Ok => {
                self.accepted_rcpts = self.accepted_rcpts.saturating_add(1);
            }
            Some(Answer::Data) if code.value() == 354 => self.mode = Mode::Data,
            Some(Answer::Auth) => {
                self.mode = if code.value() == 334 {
                    Mode::Auth
                } else {
                    Mode::Command
                };
            }
            _ => {}
        }
        self.core
            .events
            .push_back(if reply.outcome == Outcome::Continue {
                Event::Continue(reply)
            } else {
                Event::Complete(reply)
            });
    }
}

impl Machine for Smtp {
    fn protocol(&self) -> Protocol {
        self.protocol_of()
    }

    fn core(&self) -> &Core {
        &self.core
    }

    fn core_mut(&mut self) -> &mut Core {
        &mut self.core
    }

    /// Turns one typed line (without CRLF) into what goes on the wire, according to the mode.
    fn command(&mut self, line: &[u8]) -> Result<Outgoing, CommandError> {
        check_line(line)?;
        match self.mode {
            Mode::Command => Ok(self.command_line(line)),
            Mode::Data => Ok(self.data_line(line)),
            Mode::Auth => Ok(self.auth_line(line)),
            Mode::Bdat { remaining } => self.bdat_line(line, remaining),
        }
    }

    fn step(&mut self) -> Result<bool, ProtoError> {
        match self.core.input.next_line()? {
            Some(raw) => {
                self.take_line(raw.bytes, raw.ending)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn awaiting(&self) -> bool {
        !self.pending.is_empty()
    }

    fn input_mode(&self) -> InputMode {
        match self.mode {
            Mode::Command => InputMode::Command,
            Mode::Data => InputMode::Message,
            Mode::Auth => InputMode::Auth,
            Mode::Bdat { remaining } => InputMode::Chunk { left: remaining },
        }
    }

    /// The EHLO/LHLO name is kept.
    fn reset_state(&mut self) {
        self.mode = Mode::Command;
        self.bdat_last = false;
        self.pending.clear();
        self.partial = Partial::default();
        self.accepted_rcpts = 0;
    }

    /// The bytes left without a line ending, as a status line with [`Ending::None`].
    fn end_of_stream(&mut self) -> Option<ServerLine> {
        self.core.input.take_rest().map(|bytes| ServerLine {
            bytes,
            kind: LineKind::Status,
            ending: Ending::None,
        })
    }

    fn capability_command(&self, name: &str) -> Vec<u8> {
        let name = self.helo_name.as_deref().unwrap_or(name).to_string();
        let cmd = if self.lmtp {
            super::Command::Lhlo(name)
        } else {
            super::Command::Ehlo(name)
        };
        cmd.line()
    }

    /// Accounts for `len` bytes of BDAT chunk content sent as raw bytes rather than typed
    /// lines (a message streamed from a file, which may hold any bytes). Only in
    /// [`Mode::Bdat`], and `len` must not exceed what is left of the chunk. Returns whether the
    /// chunk is now complete: its reply is then awaited, like after the last typed line.
    fn chunk_sent(&mut self, len: u64) -> Result<bool, CommandError> {
        let Mode::Bdat { remaining } = self.mode else {
            return Err(CommandError::Invalid("no BDAT chunk is in progress".into()));
        };
        let Some(left) = remaining.checked_sub(len) else {
            return Err(CommandError::Invalid(format!(
                "{len} bytes is more than the {remaining} bytes left in the BDAT chunk"
            )));
        };
        self.chunk_progress(left);
        Ok(left == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(s: &mut Smtp) -> Vec<Event> {
        let mut v = Vec::new();
        while let Some(e) = s.next_event().unwrap() {
            v.push(e);
        }
        v
    }

    fn line(b: &[u8]) -> Event {
        Event::Line(ServerLine {
            bytes: b.to_vec(),
            kind: LineKind::Status,
            ending: Ending::CrLf,
        })
    }

    fn reply(outcome: Outcome, code: u16, enhanced: Option<&str>, lines: &[&[u8]]) -> Reply {
        Reply {
            outcome,
            code: super::super::Code::new(code),
            enhanced: enhanced.and_then(super::super::EnhancedCode::parse),
            tag: None,
            lines: lines.iter().map(|l| l.to_vec()).collect(),
            parts: Vec::new(),
        }
    }

    fn greeted(lmtp: bool) -> Smtp {
        let mut s = Smtp::new(lmtp);
        s.feed(b"220 mx.example ESMTP\r\n");
        drain(&mut s);
        assert!(!s.awaiting());
        s
    }

    /// Sends `cmd`, feeds `server` and returns the events.
    fn exchange(s: &mut Smtp, cmd: &[u8], server: &[u8]) -> Vec<Event> {
        let out = s.command(cmd).unwrap();
        assert!(out.expects_reply);
        s.feed(server);
        drain(s)
    }

    fn last_reply(events: &[Event]) -> Reply {
        match events.last() {
            Some(Event::Complete(r)) | Some(Event::Continue(r)) => r.clone(),
            other => panic!("no reply at the end: {other:?}"),
        }
    }

    const EHLO_REPLY: &[u8] = b"250-mx.example Hello\r\n250-SIZE 10240000\r\n250-AUTH PLAIN LOGIN\r\n250-STARTTLS\r\n250 8BITMIME\r\n";

    #[test]
    fn greeting() {
        let mut s = Smtp::new(false);
        assert!(s.awaiting());
        assert!(!s.lmtp());
        assert_eq!(s.mode(), Mode::Command);
        assert_eq!(s.next_event().unwrap(), None);
        s.feed(b"220 mx.example");
        assert_eq!(s.next_event().unwrap(), None);
        assert_eq!(s.buffered(), 14);
        s.feed(b" ESMTP\r\n");
        assert_eq!(
            drain(&mut s),
            vec![
                line(b"220 mx.example ESMTP"),
                Event::Complete(reply(Outcome::Ok, 220, None, &[b"220 mx.example ESMTP"])),
            ]
        );
        assert!(!s.awaiting());
        assert_eq!(s.buffered(), 0);
    }

    #[test]
    fn refusing_greeting_is_permfail() {
        let mut s = Smtp::new(false);
        s.feed(b"554 5.3.2 go away\r\n");
        let ev = drain(&mut s);
        assert_eq!(
            last_reply(&ev),
            reply(
                Outcome::PermFail,
                554,
                Some("5.3.2"),
                &[b"554 5.3.2 go away"]
            )
        );
    }

    fn ehlo_events() -> Vec<Event> {
        vec![
            line(b"250-mx.example Hello"),
            line(b"250-SIZE 10240000"),
            line(b"250-AUTH PLAIN LOGIN"),
            line(b"250-STARTTLS"),
            line(b"250 8BITMIME"),
            Event::Complete(reply(
                Outcome::Ok,
                250,
                None,
                &[
                    b"250-mx.example Hello",
                    b"250-SIZE 10240000",
                    b"250-AUTH PLAIN LOGIN",
                    b"250-STARTTLS",
                    b"250 8BITMIME",
                ],
            )),
        ]
    }

    #[test]
    fn ehlo_reply_in_one_chunk() {
        let mut s = greeted(false);
        let out = s.command(b"EHLO client.example").unwrap();
        assert_eq!(out.wire, b"EHLO client.example\r\n");
        assert_eq!(out.display, b"EHLO client.example");
        assert!(out.expects_reply && !out.secret && !out.starttls);
        assert!(s.awaiting());
        s.feed(EHLO_REPLY);
        assert_eq!(drain(&mut s), ehlo_events());
        assert!(!s.awaiting());
    }

    #[test]
    fn ehlo_reply_byte_by_byte_reports_each_line_at_once() {
        let mut s = greeted(false);
        s.command(b"EHLO client.example").unwrap();
        let mut events = Vec::new();
        let mut lines_seen = 0;
        for &b in EHLO_REPLY {
            s.feed(&[b]);
            let ev = drain(&mut s);
            if b == b'\n' {
                // Each line is reported as soon as its ending arrives.
                assert!(matches!(ev.first(), Some(Event::Line(_))), "{ev:?}");
                lines_seen += 1;
                if lines_seen < 5 {
                    assert_eq!(ev.len(), 1);
                    assert!(s.awaiting());
                }
            } else {
                assert!(ev.is_empty());
            }
            events.extend(ev);
        }
        assert_eq!(events, ehlo_events());
        assert!(!s.awaiting());
        assert_eq!(s.capabilities().items.len(), 4);
    }

    #[test]
    fn capabilities_from_ehlo() {
        let mut s = greeted(false);
        assert!(s.capabilities().is_empty());
        assert_eq!(s.helo_name(), None);
        exchange(&mut s, b"ehlo  client.example ", EHLO_REPLY);
        assert_eq!(
            s.capabilities().items,
            vec!["SIZE 10240000", "AUTH PLAIN LOGIN", "STARTTLS", "8BITMIME"]
        );
        assert!(s.capabilities().has("starttls"));
        assert_eq!(s.capabilities().auth_mechanisms(), vec!["PLAIN", "LOGIN"]);
        assert_eq!(s.helo_name(), Some("client.example"));

        // A failed EHLO leaves them alone; HELO forgets them.
        exchange(&mut s, b"EHLO other", b"500 5.5.1 no\r\n");
        assert_eq!(s.capabilities().items.len(), 4);
        exchange(&mut s, b"HELO other", b"250 mx.example\r\n");
        assert!(s.capabilities().is_empty());

        // A single-line 250 has no capabilities.
        exchange(&mut s, b"EHLO x", EHLO_REPLY);
        exchange(&mut s, b"EHLO x", b"250 mx.example\r\n");
        assert!(s.capabilities().is_empty());
    }

    #[test]
    fn mixed_codes_are_flagged_once_and_the_last_code_decides() {
        let mut s = greeted(false);
        let ev = exchange(&mut s, b"NOOP", b"250-a\r\n550-b\r\n451 c\r\n");
        assert_eq!(
            ev,
            vec![
                line(b"250-a"),
                line(b"550-b"),
                Event::Warning("multi-line reply mixes codes 250 and 550".into()),
                line(b"451 c"),
                Event::Complete(reply(
                    Outcome::TempFail,
                    451,
                    None,
                    &[b"250-a", b"550-b", b"451 c"]
                )),
            ]
        );
        // The next reply starts clean.
        let ev = exchange(&mut s, b"NOOP", b"250-a\r\n250 b\r\n");
        assert_eq!(ev.len(), 3);
        assert!(!ev.iter().any(|e| matches!(e, Event::Warning(_))));
    }

    #[test]
    fn invalid_lines_are_shown_flagged_and_skipped() {
        let mut s = greeted(false);
        s.command(b"NOOP").unwrap();
        s.feed(b"hello\r\n25\r\n250x\r\n2a0 x\r\n\r\n");
        let ev = drain(&mut s);
        assert_eq!(ev.len(), 10);
        for pair in ev.chunks(2) {
            assert!(matches!(&pair[0], Event::Line(l) if l.kind == LineKind::Status));
            assert!(
                matches!(&pair[1], Event::Warning(w) if w.starts_with("not a valid reply line"))
            );
        }
        assert_eq!(ev[0], line(b"hello"));
        assert_eq!(ev[8], line(b""));
        assert!(s.awaiting());
        s.feed(b"250\r\n");
        assert_eq!(
            drain(&mut s),
            vec![
                line(b"250"),
                Event::Complete(reply(Outcome::Ok, 250, None, &[b"250"]))
            ]
        );
        assert!(!s.awaiting());
    }

    #[test]
    fn invalid_line_inside_a_multi_line_reply_is_not_part_of_it() {
        let mut s = greeted(false);
        let ev = exchange(&mut s, b"NOOP", b"250-a\r\njunk\r\n250 b\r\n");
        assert_eq!(
            last_reply(&ev),
            reply(Outcome::Ok, 250, None, &[b"250-a", b"250 b"])
        );
        assert_eq!(ev.len(), 5);
    }

    #[test]
    fn bare_lf_is_kept_and_flagged_once_per_reply() {
        let mut s = greeted(false);
        let ev = exchange(&mut s, b"NOOP", b"250-a\n250 b\n");
        let lf = |b: &[u8]| {
            Event::Line(ServerLine {
                bytes: b.to_vec(),
                kind: LineKind::Status,
                ending: Ending::Lf,
            })
        };
        assert_eq!(
            ev,
            vec![
                lf(b"250-a"),
                Event::Warning("reply line ends with a bare LF instead of CRLF".into()),
                lf(b"250 b"),
                Event::Complete(reply(Outcome::Ok, 250, None, &[b"250-a", b"250 b"])),
            ]
        );
        let ev = exchange(&mut s, b"NOOP", b"250 c\n");
        assert_eq!(ev.len(), 3);
        assert!(matches!(ev[1], Event::Warning(_)));
    }

    #[test]
    fn outcomes_by_class() {
        let mut s = greeted(false);
        for (bytes, outcome, code) in [
            (&b"250 ok\r\n"[..], Outcome::Ok, 250),
            (b"354 go\r\n", Outcome::Continue, 354),
            (b"421 bye\r\n", Outcome::TempFail, 421),
            (b"552 big\r\n", Outcome::PermFail, 552),
            (b"199 odd\r\n", Outcome::Unknown, 199),
            (b"999 odd\r\n", Outcome::Unknown, 999),
            (b"000\r\n", Outcome::Unknown, 0),
        ] {
            let ev = exchange(&mut s, b"NOOP", bytes);
            let r = last_reply(&ev);
            assert_eq!((r.outcome, r.code_value()), (outcome, Some(code)));
            if outcome == Outcome::Continue {
                assert!(matches!(ev.last(), Some(Event::Continue(_))));
            } else {
                assert!(matches!(ev.last(), Some(Event::Complete(_))));
            }
            assert_eq!(s.mode(), Mode::Command);
        }
    }

    #[test]
    fn enhanced_status_codes() {
        let mut s = greeted(false);
        for (bytes, want) in [
            (&b"250 2.1.0 Ok\r\n"[..], Some("2.1.0")),
            (b"550 5.7.1\r\n", Some("5.7.1")),
            (b"451 4.123.456 later\r\n", Some("4.123.456")),
            (b"250-2.0.0 first\r\n250 done\r\n", None),
            (b"250-first\r\n250 2.6.0 done\r\n", Some("2.6.0")),
            (b"250 2.0\r\n", None),
            (b"250 1.2.3 x\r\n", None),
            (b"250 3.2.3 x\r\n", None),
            (b"250 2.1.0x\r\n", None),
            (b"250 2.1.0\tx\r\n", None),
            (b"550 5.1234.1 x\r\n", None),
            (b"550 5.1.1234 x\r\n", None),
            (b"550 5..1 x\r\n", None),
            (b"550 5.1. x\r\n", None),
            (b"550  5.1.1 x\r\n", None),
            (b"250 ok\r\n", None),
            (b"250\r\n", None),
            (b"250 \r\n", None),
            (b"250 2\r\n", None),
        ] {
            let ev = exchange(&mut s, b"NOOP", bytes);
            assert_eq!(
                last_reply(&ev).enhanced.map(|e| e.to_string()).as_deref(),
                want,
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn data_mode_stuffs_dots_and_ends_with_a_lone_dot() {
        let mut s = greeted(false);
        exchange(&mut s, b"MAIL FROM:<a@example.org>", b"250 2.1.0 Ok\r\n");
        exchange(&mut s, b"RCPT TO:<b@example.org>", b"250 2.1.5 Ok\r\n");
        let out = s.command(b"DATA").unwrap();
        assert_eq!(out.wire, b"DATA\r\n");
        assert_eq!(s.mode(), Mode::Command);
        s.feed(b"354 End data with <CR><LF>.<CR><LF>\r\n");
        let ev = drain(&mut s);
        assert_eq!(
            ev.last(),
            Some(&Event::Continue(reply(
                Outcome::Continue,
                354,
                None,
                &[b"354 End data with <CR><LF>.<CR><LF>"]
            )))
        );
        assert_eq!(s.mode(), Mode::Data);
        assert!(!s.awaiting());

        let out = s.command(b"Subject: hi").unwrap();
        assert_eq!(
            out,
            Outgoing {
                wire: b"Subject: hi\r\n".to_vec(),
                display: b"Subject: hi".to_vec(),
                secret: false,
                expects_reply: false,
                starttls: false,
                ends_session: false,
                content: true,
            }
        );
        assert_eq!(s.command(b"").unwrap().wire, b"\r\n");
        let out = s.command(b".hidden").unwrap();
        assert_eq!(out.wire, b"..hidden\r\n");
        // Shown as it went on the wire.
        assert_eq!(out.display, b"..hidden");
        assert!(!out.expects_reply);
        assert_eq!(s.command(b"..").unwrap().wire, b"...\r\n");
        assert_eq!(s.command(b"QUIT").unwrap().wire, b"QUIT\r\n");
        assert!(!s.awaiting());
        assert_eq!(s.mode(), Mode::Data);

        let out = s.command(b".").unwrap();
        assert_eq!(out.wire, b".\r\n");
        assert_eq!(out.display, b".");
        assert!(out.expects_reply);
        assert!(s.awaiting());
        s.feed(b"250 2.0.0 Ok: queued as 4XyZ\r\n");
        let ev = drain(&mut s);
        assert_eq!(
            ev,
            vec![
                line(b"250 2.0.0 Ok: queued as 4XyZ"),
                Event::Complete(reply(
                    Outcome::Ok,
                    250,
                    Some("2.0.0"),
                    &[b"250 2.0.0 Ok: queued as 4XyZ"]
                )),
            ]
        );
        assert_eq!(s.mode(), Mode::Command);
        assert!(!s.awaiting());
        assert_eq!(s.command(b".").unwrap().wire, b".\r\n");
    }

    #[test]
    fn refused_data_stays_in_command_mode() {
        let mut s = greeted(false);
        exchange(&mut s, b"DATA", b"503 5.5.1 need RCPT\r\n");
        assert_eq!(s.mode(), Mode::Command);
        let out = s.command(b".x").unwrap();
        assert_eq!(out.wire, b".x\r\n");
        assert!(out.expects_reply);
    }

    #[test]
    fn auth_with_initial_response_is_redacted() {
        let mut s = greeted(false);
        let out = s.command(b"auth  PLAIN AGFsaWNlAHNlY3JldA==").unwrap();
        assert_eq!(out.wire, b"auth  PLAIN AGFsaWNlAHNlY3JldA==\r\n");
        // Shown as it went on the wire, the secret redacted.
        assert_eq!(out.display, b"auth  PLAIN <redacted>");
        assert!(out.secret);
        assert!(out.expects_reply);
        s.feed(b"235 2.7.0 Authentication successful\r\n");
        let ev = drain(&mut s);
        assert_eq!(last_reply(&ev).outcome, Outcome::Ok);
        assert_eq!(s.mode(), Mode::Command);
    }

    #[test]
    fn auth_exchange_after_334_is_redacted() {
        let mut s = greeted(false);
        let out = s.command(b"AUTH LOGIN").unwrap();
        assert_eq!(out.display, b"AUTH LOGIN");
        assert!(!out.secret);
        s.feed(b"334 VXNlcm5hbWU6\r\n");
        let ev = drain(&mut s);
        assert!(matches!(ev.last(), Some(Event::Continue(r)) if r.code_value() == Some(334)));
        assert_eq!(s.mode(), Mode::Auth);
        assert!(!s.awaiting());

        let out = s.command(b"YWxpY2U=").unwrap();
        assert_eq!(
            out,
            Outgoing {
                wire: b"YWxpY2U=\r\n".to_vec(),
                display: b"<redacted>".to_vec(),
                secret: true,
                expects_reply: true,
                starttls: false,
                ends_session: false,
                content: false,
            }
        );
        s.feed(b"334 UGFzc3dvcmQ6\r\n");
        drain(&mut s);
        assert_eq!(s.mode(), Mode::Auth);
        let out = s.command(b"c2VjcmV0").unwrap();
        assert_eq!(out.display, b"<redacted>");
        assert!(out.secret);
        s.feed(b"535 5.7.8 Authentication failed\r\n");
        let ev = drain(&mut s);
        assert_eq!(last_reply(&ev).outcome, Outcome::PermFail);
        assert_eq!(s.mode(), Mode::Command);
        assert!(!s.command(b"AUTH x").unwrap().secret);
    }

    #[test]
    fn auth_cancel_is_shown() {
        let mut s = greeted(false);
        exchange(&mut s, b"AUTH CRAM-MD5", b"334 PDEyMzQ1Pg==\r\n");
        assert_eq!(s.mode(), Mode::Auth);
        let out = s.command(b"*").unwrap();
        assert_eq!(out.wire, b"*\r\n");
        assert_eq!(out.display, b"*");
        assert!(!out.secret);
        assert!(out.expects_reply);
        s.feed(b"501 5.7.0 Authentication aborted\r\n");
        drain(&mut s);
        assert_eq!(s.mode(), Mode::Command);
    }

    /// Greets, LHLO, MAIL and RCPT for each entry of `rcpts` (the server's reply to it).
    fn lmtp_transaction(rcpts: &[&[u8]]) -> Smtp {
        let mut s = greeted(true);
        assert!(s.lmtp());
        exchange(
            &mut s,
            b"LHLO client",
            b"250-lmtp.example\r\n250 PIPELINING\r\n",
        );
        assert_eq!(s.capabilities().items, vec!["PIPELINING"]);
        assert_eq!(s.helo_name(), Some("client"));
        exchange(&mut s, b"MAIL FROM:<a@example.org>", b"250 2.1.0 Ok\r\n");
        for (i, r) in rcpts.iter().enumerate() {
            exchange(&mut s, format!("RCPT TO:<r{i}@example.org>").as_bytes(), r);
        }
        s
    }

    #[test]
    fn lmtp_one_reply_per_accepted_recipient_one_complete() {
        let mut s = lmtp_transaction(&[
            b"250 2.1.5 Ok\r\n",
            b"550 5.1.1 unknown\r\n",
            b"250 2.1.5 Ok\r\n",
        ]);
        exchange(&mut s, b"DATA", b"354 go\r\n");
        assert_eq!(s.mode(), Mode::Data);
        s.command(b"hello").unwrap();
        assert!(s.command(b".").unwrap().expects_reply);
        s.feed(b"250 2.0.0 <r0@example.org> delivered\r\n");
        assert_eq!(
            drain(&mut s),
            vec![line(b"250 2.0.0 <r0@example.org> delivered")]
        );
        assert!(s.awaiting());
        s.feed(b"452 4.2.2 <r2@example.org> over quota\r\n");
        let over_quota = reply(
            Outcome::TempFail,
            452,
            Some("4.2.2"),
            &[b"452 4.2.2 <r2@example.org> over quota"],
        );
        // The worst reply stands for all; each recipient's reply is kept, in order.
        let mut all = over_quota.clone();
        all.parts = vec![
            reply(
                Outcome::Ok,
                250,
                Some("2.0.0"),
                &[b"250 2.0.0 <r0@example.org> delivered"],
            ),
            over_quota,
        ];
        assert_eq!(
            drain(&mut s),
            vec![
                line(b"452 4.2.2 <r2@example.org> over quota"),
                Event::Complete(all),
            ]
        );
        assert!(!s.awaiting());
        assert_eq!(s.mode(), Mode::Command);
    }

    #[test]
    fn lmtp_worst_outcome_wins_even_when_first() {
        let mut s = lmtp_transaction(&[b"250 ok\r\n", b"250 ok\r\n"]);
        exchange(&mut s, b"DATA", b"354 go\r\n");
        s.command(b".").unwrap();
        s.feed(b"550 5.2.1 a refused\r\n250 2.0.0 b ok\r\n");
        let ev = drain(&mut s);
        let completes: Vec<_> = ev
            .iter()
            .filter(|e| matches!(e, Event::Complete(_)))
            .collect();
        assert_eq!(completes.len(), 1);
        let r = last_reply(&ev);
        // The refusal stands for the whole: `:expect 5xx` sees it.
        assert_eq!(r.outcome, Outcome::PermFail);
        assert_eq!(r.code_value(), Some(550));
        assert_eq!(r.last_text(), "550 5.2.1 a refused");
        assert_eq!(r.parts.len(), 2);
        assert_eq!(r.parts[1].last_text(), "250 2.0.0 b ok");
        assert!(!s.awaiting());
    }

    #[test]
    fn lmtp_without_accepted_recipients_expects_one_reply() {
        let mut s = lmtp_transaction(&[b"550 no\r\n"]);
        exchange(&mut s, b"DATA", b"354 go\r\n");
        s.command(b".").unwrap();
        s.feed(b"554 5.5.1 no valid recipients\r\n");
        let ev = drain(&mut s);
        assert_eq!(last_reply(&ev).outcome, Outcome::PermFail);
        assert!(!s.awaiting());
    }

    #[test]
    fn lmtp_new_mail_resets_the_recipient_count() {
        let mut s = lmtp_transaction(&[b"250 ok\r\n", b"250 ok\r\n"]);
        exchange(&mut s, b"RSET", b"250 ok\r\n");
        exchange(&mut s, b"MAIL FROM:<>", b"250 ok\r\n");
        exchange(&mut s, b"RCPT TO:<x@example.org>", b"250 ok\r\n");
        exchange(&mut s, b"DATA", b"354 go\r\n");
        s.command(b".").unwrap();
        s.feed(b"250 done\r\n");
        let ev = drain(&mut s);
        assert!(matches!(ev.last(), Some(Event::Complete(_))));
        assert!(!s.awaiting());
    }

    #[test]
    fn smtp_data_end_is_one_reply_whatever_the_recipients() {
        let mut s = greeted(false);
        exchange(&mut s, b"MAIL FROM:<a@example.org>", b"250 ok\r\n");
        exchange(&mut s, b"RCPT TO:<b@example.org>", b"250 ok\r\n");
        exchange(&mut s, b"RCPT TO:<c@example.org>", b"250 ok\r\n");
        exchange(&mut s, b"DATA", b"354 go\r\n");
        s.command(b".").unwrap();
        s.feed(b"250 queued\r\n");
        let ev = drain(&mut s);
        assert!(matches!(ev.last(), Some(Event::Complete(_))));
        assert!(!s.awaiting());
    }

    #[test]
    fn bdat_counts_chunk_bytes() {
        let mut s = greeted(false);
        let out = s.command(b"BDAT 12").unwrap();
        assert_eq!(out.wire, b"BDAT 12\r\n");
        assert!(!out.expects_reply);
        assert!(!s.awaiting());
        assert_eq!(s.mode(), Mode::Bdat { remaining: 12 });

        let out = s.command(b".abc").unwrap();
        assert_eq!(out.wire, b".abc\r\n");
        assert_eq!(out.display, b".abc");
        assert!(!out.expects_reply);
        assert_eq!(s.mode(), Mode::Bdat { remaining: 6 });

        // Counted as on the wire: the line and its CRLF, like an IMAP literal.
        assert_eq!(
            s.command(b"abcde"),
            Err(CommandError::Invalid(
                "the BDAT chunk has 6 bytes left but this line and its CRLF are 7 bytes: it \
                 would end between CR and LF (type one byte more or one fewer)"
                    .into()
            ))
        );
        assert_eq!(
            s.command(b"abcdefg"),
            Err(CommandError::Invalid(
                "this line is longer than the 6 bytes left in the BDAT chunk".into()
            ))
        );
        assert_eq!(s.mode(), Mode::Bdat { remaining: 6 });

        let out = s.command(b"abcd").unwrap();
        assert_eq!(out.wire, b"abcd\r\n");
        assert!(out.expects_reply);
        assert!(s.awaiting());
        s.feed(b"250 2.0.0 12 octets received\r\n");
        let ev = drain(&mut s);
        assert_eq!(last_reply(&ev).outcome, Outcome::Ok);
        assert_eq!(s.mode(), Mode::Command);
        assert!(!s.awaiting());

        let out = s.command(b"BDAT 0 LAST").unwrap();
        assert!(out.expects_reply);
        assert_eq!(s.mode(), Mode::Command);
        s.feed(b"250 ok\r\n");
        drain(&mut s);
        assert!(!s.awaiting());

        // Malformed BDAT lines go out as typed and await a reply.
        for bad in [
            &b"BDAT"[..],
            b"BDAT x",
            b"BDAT -1",
            b"BDAT 5 NOW",
            b"BDAT 99999999999999999999",
        ] {
            let out = s.command(bad).unwrap();
            assert!(out.expects_reply);
            assert_eq!(s.mode(), Mode::Command);
            s.feed(b"501 5.5.4 syntax\r\n");
            drain(&mut s);
        }
    }

    #[test]
    fn raw_chunk_bytes_are_counted() {
        let mut s = lmtp_transaction(&[b"250 ok\r\n", b"250 ok\r\n"]);
        assert_eq!(
            s.chunk_sent(1),
            Err(CommandError::Invalid("no BDAT chunk is in progress".into()))
        );
        assert!(!s.command(b"BDAT 5 LAST").unwrap().expects_reply);
        assert_eq!(s.chunk_sent(2), Ok(false));
        assert_eq!(s.mode(), Mode::Bdat { remaining: 3 });
        assert!(!s.awaiting());
        assert_eq!(
            s.chunk_sent(4),
            Err(CommandError::Invalid(
                "4 bytes is more than the 3 bytes left in the BDAT chunk".into()
            ))
        );
        assert_eq!(s.mode(), Mode::Bdat { remaining: 3 });
        assert_eq!(s.chunk_sent(3), Ok(true));
        assert_eq!(s.mode(), Mode::Command);
        assert!(s.awaiting());
        s.feed(b"250 2.0.0 r0 ok\r\n");
        assert_eq!(drain(&mut s), vec![line(b"250 2.0.0 r0 ok")]);
        assert!(s.awaiting());
        s.feed(b"250 2.0.0 r1 ok\r\n");
        assert!(matches!(drain(&mut s).last(), Some(Event::Complete(_))));
        assert!(!s.awaiting());

        // A chunk that is not the last gets one reply, in LMTP too.
        s.command(b"BDAT 1").unwrap();
        assert_eq!(s.chunk_sent(1), Ok(true));
        s.feed(b"250 2.0.0 chunk\r\n");
        assert!(matches!(drain(&mut s).last(), Some(Event::Complete(_))));
        assert!(!s.awaiting());
    }

    #[test]
    fn bdat_last_in_lmtp_awaits_one_reply_per_recipient() {
        let mut s = lmtp_transaction(&[b"250 ok\r\n", b"250 ok\r\n"]);
        assert!(!s.command(b"BDAT 3").unwrap().expects_reply);
        assert!(s.command(b"a").unwrap().expects_reply);
        s.feed(b"250 2.0.0 chunk\r\n");
        let ev = drain(&mut s);
        assert!(matches!(ev.last(), Some(Event::Complete(_))));
        assert!(!s.awaiting());

        s.command(b"bdat 4 last").unwrap();
        assert_eq!(s.mode(), Mode::Bdat { remaining: 4 });
        assert!(s.command(b"bc").unwrap().expects_reply);
        s.feed(b"250 2.0.0 r0 ok\r\n");
        assert_eq!(drain(&mut s), vec![line(b"250 2.0.0 r0 ok")]);
        assert!(s.awaiting());
        s.feed(b"250 2.0.0 r1 ok\r\n");
        let ev = drain(&mut s);
        let r = last_reply(&ev);
        assert_eq!(
            (r.outcome, r.last_text(), r.parts.len()),
            (Outcome::Ok, "250 2.0.0 r1 ok".to_string(), 2)
        );
        assert!(!s.awaiting());
    }

    #[test]
    fn reply_with_too_many_lines_is_fatal() {
        let mut s = greeted(false);
        s.command(b"EHLO x").unwrap();
        let mut data = Vec::new();
        for _ in 0..MAX_REPLY_LINES - 1 {
            data.extend_from_slice(b"250-x\r\n");
        }
        data.extend_from_slice(b"250 x\r\n");
        s.feed(&data);
        let ev = drain(&mut s);
        assert_eq!(ev.len(), MAX_REPLY_LINES + 1);
        assert_eq!(last_reply(&ev).lines.len(), MAX_REPLY_LINES);

        s.command(b"EHLO x").unwrap();
        let mut data = Vec::new();
        for _ in 0..MAX_REPLY_LINES {
            data.extend_from_slice(b"250-x\r\n");
        }
        data.extend_from_slice(b"250-x\r\n250 x\r\n");
        s.feed(&data);
        let mut lines = 0;
        let err = loop {
            match s.next_event() {
                Ok(Some(Event::Line(_))) => lines += 1,
                Ok(other) => panic!("unexpected {other:?}"),
                Err(e) => break e,
            }
        };
        assert_eq!(lines, MAX_REPLY_LINES);
        let want = ProtoError::ResponseTooLong {
            limit: MAX_REPLY_LINES,
            unit: "lines",
        };
        assert_eq!(err, want);
        assert_eq!(s.next_event(), Err(want));
    }

    #[test]
    fn reply_with_too_many_bytes_is_fatal() {
        let mut s = greeted(false);
        s.command(b"HELP").unwrap();
        let mut one = b"214-".to_vec();
        one.extend_from_slice(&[b'a'; 1020]);
        one.extend_from_slice(b"\r\n");
        for _ in 0..1024 {
            s.feed(&one);
        }
        let err = loop {
            match s.next_event() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("no error"),
                Err(e) => break e,
            }
        };
        assert_eq!(
            err,
            ProtoError::ResponseTooLong {
                limit: MAX_REPLY_BYTES,
                unit: "bytes"
            }
        );
    }

    #[test]
    fn endless_line_is_fatal() {
        let mut s = Smtp::new(false);
        s.feed(&vec![b'2'; crate::proto::line::MAX_LINE + 1]);
        assert!(matches!(
            s.next_event(),
            Err(ProtoError::LineTooLong { .. })
        ));
        assert!(s.next_event().is_err());
    }

    #[test]
    fn end_of_stream_returns_the_partial_line() {
        let mut s = greeted(false);
        s.command(b"NOOP").unwrap();
        s.feed(b"250-a\r\n250 par");
        assert_eq!(drain(&mut s), vec![line(b"250-a")]);
        assert!(s.awaiting());
        assert_eq!(
            s.end_of_stream(),
            Some(ServerLine {
                bytes: b"250 par".to_vec(),
                kind: LineKind::Status,
                ending: Ending::None,
            })
        );
        assert_eq!(s.end_of_stream(), None);
        assert_eq!(s.buffered(), 0);
    }

    #[test]
    fn starttls_then_reset_for_tls() {
        let mut s = greeted(false);
        exchange(&mut s, b"EHLO client.example", EHLO_REPLY);
        let out = s.command(b"STARTTLS").unwrap();
        assert!(out.starttls);
        assert!(out.expects_reply);
        assert_eq!(out.wire, b"STARTTLS\r\n");
        // An injected reply in the same segment stays buffered after the 220.
        s.feed(b"220 2.0.0 go ahead\r\n250 AUTH PLAIN\r\n");
        assert_eq!(s.next_event().unwrap(), Some(line(b"220 2.0.0 go ahead")));
        assert!(matches!(
            s.next_event().unwrap(),
            Some(Event::Complete(r)) if r.code_value() == Some(220)
        ));
        assert!(!s.awaiting());
        assert_eq!(s.buffered(), b"250 AUTH PLAIN\r\n".len());

        s.reset_for_tls();
        assert_eq!(s.buffered(), 0);
        assert!(s.capabilities().is_empty());
        assert!(!s.awaiting());
        assert_eq!(s.mode(), Mode::Command);
        assert_eq!(s.helo_name(), Some("client.example"));
        assert_eq!(s.next_event().unwrap(), None);

        exchange(
            &mut s,
            b"EHLO client.example",
            b"250-mx\r\n250 AUTH PLAIN\r\n",
        );
        assert_eq!(s.capabilities().items, vec!["AUTH PLAIN"]);
    }

    #[test]
    fn reset_for_tls_leaves_data_and_auth_modes() {
        let mut s = greeted(false);
        exchange(&mut s, b"AUTH LOGIN", b"334 VXNlcm5hbWU6\r\n");
        s.feed(b"250-half");
        s.reset_for_tls();
        assert_eq!(s.mode(), Mode::Command);
        assert_eq!(s.buffered(), 0);
        s.command(b"NOOP").unwrap();
        s.feed(b"250 ok\r\n");
        assert_eq!(drain(&mut s).len(), 2);
    }

    #[test]
    fn unsolicited_reply_is_reported() {
        let mut s = greeted(false);
        s.feed(b"421 4.3.2 shutting down\r\n");
        assert_eq!(
            drain(&mut s),
            vec![
                line(b"421 4.3.2 shutting down"),
                Event::Complete(reply(
                    Outcome::TempFail,
                    421,
                    Some("4.3.2"),
                    &[b"421 4.3.2 shutting down"]
                )),
            ]
        );
        assert!(!s.awaiting());
    }

    #[test]
    fn other_commands_go_out_as_typed() {
        let mut s = greeted(false);
        for cmd in [&b"QUIT"[..], b"xyzzy plugh", b"VRFY postmaster", b""] {
            let out = s.command(cmd).unwrap();
            let mut wire = cmd.to_vec();
            wire.extend_from_slice(b"\r\n");
            assert_eq!(out.wire, wire);
            assert_eq!(out.display, cmd);
            assert!(out.expects_reply && !out.secret && !out.starttls);
            s.feed(b"250 ok\r\n");
            drain(&mut s);
            assert!(!s.awaiting());
        }
    }

    #[test]
    fn forbidden_bytes_are_rejected_in_every_mode() {
        let mut s = greeted(false);
        assert_eq!(
            s.command(b"MAIL FROM:<a>\r\nRCPT TO:<b>"),
            Err(CommandError::ForbiddenByte("CR"))
        );
        assert!(!s.awaiting());
        exchange(&mut s, b"DATA", b"354 go\r\n");
        assert_eq!(s.command(b"a\nb"), Err(CommandError::ForbiddenByte("LF")));
        assert_eq!(s.command(b"a\0b"), Err(CommandError::ForbiddenByte("NUL")));
    }

    #[test]
    fn pipelined_replies_complete_in_order() {
        let mut s = greeted(false);
        s.command(b"MAIL FROM:<a@example.org>").unwrap();
        s.command(b"RCPT TO:<b@example.org>").unwrap();
        s.command(b"DATA").unwrap();
        s.feed(b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
        let ev = drain(&mut s);
        let codes: Vec<_> = ev
            .iter()
            .filter_map(|e| match e {
                Event::Complete(r) | Event::Continue(r) => r.code_value(),
                _ => None,
            })
            .collect();
        assert_eq!(codes, vec![250, 250, 354]);
        assert_eq!(s.mode(), Mode::Data);
        assert!(!s.awaiting());
    }
}
