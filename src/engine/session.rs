//! The session: owns the transport and the protocol machine, turns typed lines into wire bytes,
//! waits for replies with a deadline, performs STARTTLS, and reports everything as [`Event`]s.
//! Authentication ([`Session::authenticate`]) and the send macro ([`Session::send_mail`]) live
//! in child modules.

mod auth;
mod send;

pub use auth::*;
pub use send::*;

use std::time::{Duration, Instant};

use super::event::{Event, EventKind, Security};
use super::machine::{InputMode, Machine};
use crate::net::{deadline_after, Family, NetError, TlsInfo, TlsOptions, Transport};
use crate::proto::{self, Capabilities, CommandError, Outcome, ProtoError, Protocol, Reply};
use crate::target::{Target, TlsMode};

/// Everything needed to open a session.
#[derive(Clone, Debug)]
pub struct Options {
    pub target: Target,
    pub tls: TlsOptions,
    pub timeout: Duration,
    pub family: Family,
    /// The name for EHLO/LHLO when mailtalk sends it itself.
    pub ehlo: String,
    /// Report how long each reply, the connection and TLS handshakes took.
    pub timing: bool,
    /// Send cleartext credentials over a connection without TLS to a host that is not on
    /// loopback (`--allow-plaintext-auth`).
    pub allow_plaintext_auth: bool,
}

/// What a session measured (`:stats`).
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub connect: Option<Duration>,
    pub handshakes: Vec<Duration>,
    pub lines_sent: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// For each reply: time to its first byte and to its end, from the command.
    pub replies: Vec<(Option<Duration>, Duration)>,
}

/// Why a session ended (or a command could not be sent).
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("{0}")]
    Net(#[from] NetError),
    #[error("{0}")]
    Proto(#[from] ProtoError),
    /// STARTTLS was required and did not happen safely.
    #[error("STARTTLS failed: {0}")]
    StartTls(String),
    /// The command was not sent (CR/LF/NUL, nothing to send …); the session goes on.
    #[error("not sent: {0}")]
    Command(#[from] CommandError),
    /// The server closed the connection while a reply was expected.
    #[error("the server closed the connection{0}")]
    Closed(String),
    /// The connection is already closed.
    #[error("the connection is closed")]
    NotConnected,
    /// The message to send could not be read after part of it was sent; the connection was
    /// closed so that a truncated message is not delivered.
    #[error("cannot read the message: {0}")]
    Message(String),
}

impl SessionError {
    /// The process exit status for this error (see `cli::exit`).
    pub fn exit_code(&self) -> i32 {
        use crate::cli::exit;
        match self {
            SessionError::Net(NetError::Timeout(_)) => exit::TIMEOUT,
            SessionError::Net(NetError::Certificate(_)) | SessionError::Net(NetError::Tls(_)) => {
                exit::TLS
            }
            SessionError::Net(_) => exit::CONNECT,
            SessionError::Proto(_) => exit::PROTOCOL,
            SessionError::StartTls(_) => exit::TLS,
            SessionError::Command(_) | SessionError::Message(_) => exit::USAGE,
            SessionError::Closed(_) | SessionError::NotConnected => exit::CLOSED,
        }
    }

    /// A suggestion for the user, when there is an obvious next step.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            SessionError::Net(NetError::Certificate(_)) => Some(
                "to trust a private CA use --ca-file PEM; to look at the certificate anyway use --insecure",
            ),
            SessionError::Net(NetError::Timeout(_)) => {
                Some("the server did not answer in time; --timeout SECS allows longer")
            }
            SessionError::Net(NetError::Tls(m)) if m.contains("does not seem to speak TLS") => {
                Some("for STARTTLS use a plain scheme (smtp://, imap://, pop3://) with --starttls")
            }
            _ => None,
        }
    }

    /// Errors after which the session cannot go on.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, SessionError::Command(_))
    }
}

/// Receives events as they happen.
pub type Sink<'a> = &'a mut dyn FnMut(Event);

pub struct Session {
    opts: Options,
    transport: Option<Transport>,
    machine: Machine,
    start: Instant,
    security: Security,
    last_reply: Option<Reply>,
    /// The QUIT/LOGOUT exchange happened: the session ended normally.
    finished: bool,
    /// A line arrived since the current wait began (EOF then cuts a reply off).
    received_in_wait: bool,
    /// IMAP: the server refused a command that announced a synchronising literal of this size,
    /// so the literal's bytes must not be sent.
    refused_literal: Option<u64>,
    /// When the command being answered was written, and when its first byte came.
    pending_since: Option<Instant>,
    first_byte: Option<Duration>,
    stats: Stats,
    /// Every line received while waiting for the last reply (bounded), for `:capture` and
    /// `:expect /regex/` (IMAP untagged data, POP3 bodies).
    exchange: Vec<Vec<u8>>,
    exchange_bytes: usize,
    buf: Vec<u8>,
}

/// The most kept in [`Session::last_exchange`].
const EXCHANGE_MAX_LINES: usize = 10_000;
const EXCHANGE_MAX_BYTES: usize = 1024 * 1024;

const READ_CHUNK: usize = 16 * 1024;

impl Session {
    /// Connects, performs implicit TLS, reads the greeting and, with STARTTLS required, does the
    /// whole upgrade before returning.
    pub fn connect(opts: Options, sink: Sink) -> Result<Session, SessionError> {
        let start = Instant::now();
        let protocol = opts.target.protocol;
        let emit_info = |sink: &mut dyn FnMut(Event), text: String| {
            sink(Event {
                at: start.elapsed(),
                protocol,
                security: Security::Plain,
                kind: EventKind::Info(text),
            })
        };
        let connect_started = Instant::now();
        let transport = {
            let mut log = |s: String| emit_info(sink, s);
            Transport::connect(
                &opts.target.host,
                opts.target.port,
                opts.family,
                opts.timeout,
                &mut log,
            )?
        };
        let connect_time = connect_started.elapsed();
        if opts.timing {
            sink(Event {
                at: start.elapsed(),
                protocol,
                security: Security::Plain,
                kind: EventKind::Timing {
                    what: "connect".into(),
                    first_byte: None,
                    total: connect_time,
                },
            });
        }
        let peer = transport
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let how = match opts.target.tls {
            TlsMode::Plain => "plaintext",
            TlsMode::StartTls => "plaintext until STARTTLS",
            TlsMode::Implicit => "TLS handshake next",
        };
        emit_info(sink, format!("connected to {peer} ({protocol}, {how})"));
        let mut session = Session {
            machine: Machine::new(protocol),
            opts,
            transport: Some(transport),
            start,
            security: Security::Plain,
            last_reply: None,
            finished: false,
            received_in_wait: false,
            refused_literal: None,
            pending_since: Some(Instant::now()),
            first_byte: None,
            stats: Stats {
                connect: Some(connect_time),
                ..Stats::default()
            },
            exchange: Vec::new(),
            exchange_bytes: 0,
            buf: vec![0; READ_CHUNK],
        };
        let result = session.open(sink);
        if let Err(e) = result {
            // The caller reports the error; the connection just goes.
            if let Some(mut t) = session.transport.take() {
                t.shutdown();
            }
            return Err(e);
        }
        Ok(session)
    }

    fn open(&mut self, sink: Sink) -> Result<(), SessionError> {
        if self.opts.target.tls == TlsMode::Implicit {
            self.handshake(sink)?;
        }
        let greeting = self.wait(sink)?;
        if self.opts.target.tls == TlsMode::StartTls {
            if greeting.outcome != Outcome::Ok {
                return Err(SessionError::StartTls(
                    "the greeting was not positive; nothing else was sent".into(),
                ));
            }
            if self.machine.preauth() {
                return Err(SessionError::StartTls(
                    "the server sent PREAUTH: the session is already authenticated in plaintext \
                     and can no longer be upgraded; closing"
                        .into(),
                ));
            }
            self.starttls(sink, true)?;
        }
        Ok(())
    }

    pub fn protocol(&self) -> Protocol {
        self.opts.target.protocol
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    pub fn is_open(&self) -> bool {
        self.transport.is_some()
    }

    /// The QUIT/LOGOUT exchange completed.
    pub fn finished(&self) -> bool {
        self.finished
    }

    pub fn security(&self) -> Security {
        self.security
    }

    pub fn tls_info(&self) -> Option<&TlsInfo> {
        self.transport.as_ref().and_then(|t| t.tls_info())
    }

    pub fn capabilities(&self) -> &Capabilities {
        self.machine.capabilities()
    }

    pub fn last_reply(&self) -> Option<&Reply> {
        self.last_reply.as_ref()
    }

    /// The last reply, with every line received while waiting for it (untagged IMAP data,
    /// a POP3 body) instead of only its status lines.
    pub fn last_exchange(&self) -> Option<Reply> {
        let mut reply = self.last_reply.clone()?;
        if self.exchange.len() > reply.lines.len() {
            reply.lines = self.exchange.clone();
        }
        Some(reply)
    }

    pub fn input_mode(&self) -> InputMode {
        self.machine.input_mode()
    }

    /// Time since the session started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    fn event(&self, kind: EventKind) -> Event {
        Event {
            at: self.start.elapsed(),
            protocol: self.opts.target.protocol,
            security: self.security,
            kind,
        }
    }

    /// Sends one typed line and, when the protocol expects it, waits for the reply. Returns
    /// whether the line carried a secret (so front ends keep it out of history).
    pub fn send_line(&mut self, line: &[u8], sink: Sink) -> Result<bool, SessionError> {
        if self.transport.is_none() {
            return Err(SessionError::NotConnected);
        }
        let mode_before = self.machine.input_mode();
        if mode_before == InputMode::Command {
            self.settle(sink)?;
            let text = String::from_utf8_lossy(line);
            // security.md item 18: typed passwords too stay off plaintext connections.
            if let Some(method) = typed_credentials(self.protocol(), &text) {
                let tls = self.transport.as_ref().is_some_and(|t| t.is_tls());
                check_plaintext_policy(
                    method,
                    tls,
                    &self.opts.target.host,
                    self.opts.allow_plaintext_auth,
                )
                .map_err(|e| SessionError::Command(CommandError::Invalid(e)))?;
            }
            for w in crate::explain::caps::warnings(self.protocol(), self.capabilities(), &text) {
                sink(self.event(EventKind::Warning(w)));
            }
        }
        let out = self.machine.command(line)?;
        let line = String::from_utf8_lossy(line);
        let line = line.as_ref();
        let secret = out.secret;
        let verb = first_word(line).to_ascii_uppercase();
        let ending = match self.protocol() {
            Protocol::Imap => verb == "LOGOUT" || second_word(line).eq_ignore_ascii_case("LOGOUT"),
            _ => verb == "QUIT",
        } && mode_before == InputMode::Command;
        let content = matches!(
            mode_before,
            InputMode::Message | InputMode::Chunk(_) | InputMode::Literal(_)
        );
        self.write(&out.wire, &out.display, secret, content, sink)?;
        if !out.expects_reply {
            return Ok(secret);
        }
        let reply = self.wait(sink)?;
        if let Some(n) = sync_literal(line) {
            if self.protocol() == Protocol::Imap
                && !matches!(self.machine.input_mode(), InputMode::Literal(_))
            {
                self.refused_literal = Some(n);
            }
        }
        if out.starttls && reply.outcome == Outcome::Ok {
            self.upgrade(sink)?;
        } else if ending && self.machine.input_mode() == InputMode::Command {
            self.finished = true;
            self.close(sink);
        }
        Ok(secret)
    }

    /// IMAP: the size of a synchronising literal whose command the server refused (so the
    /// literal's bytes were not sent); taken once.
    pub fn take_refused_literal(&mut self) -> Option<u64> {
        self.refused_literal.take()
    }

    /// `:starttls` — upgrade now. With `required`, every failure is fatal (the caller ends the
    /// session); without, a refusal is reported and the session goes on in plaintext.
    pub fn starttls(&mut self, sink: Sink, required: bool) -> Result<(), SessionError> {
        if self.transport.as_ref().map(|t| t.is_tls()).unwrap_or(false) {
            return Err(SessionError::Command(CommandError::Invalid(
                "the connection is already encrypted".into(),
            )));
        }
        // Learn what the server offers, if nothing is known yet.
        if self.machine.capabilities().is_empty() {
            let ask = self.capability_command();
            let r = self.command_and_wait(&ask, sink)?;
            if r.outcome != Outcome::Ok && required {
                return Err(SessionError::StartTls(format!(
                    "{} was refused; nothing else was sent",
                    first_word(&ask)
                )));
            }
        }
        let keyword = match self.protocol() {
            Protocol::Pop3 => "STLS",
            _ => "STARTTLS",
        };
        if !self.machine.capabilities().has(keyword) {
            if required {
                return Err(SessionError::StartTls(format!(
                    "the server does not advertise {keyword}; refusing to continue in plaintext"
                )));
            }
            sink(self.event(EventKind::Warning(format!(
                "the server does not advertise {keyword}; trying anyway"
            ))));
        }
        let reply = self.command_and_wait(keyword, sink)?;
        if reply.outcome != Outcome::Ok {
            let msg = format!(
                "the server refused {keyword}: {}",
                String::from_utf8_lossy(reply.lines.last().map(|v| v.as_slice()).unwrap_or(b""))
            );
            if required {
                return Err(SessionError::StartTls(format!(
                    "{msg}; nothing else was sent"
                )));
            }
            return Err(SessionError::Command(CommandError::Invalid(msg)));
        }
        self.upgrade(sink)
    }

    /// After a positive STARTTLS reply: refuse injected bytes, handshake, forget what was
    /// learned in plaintext and ask again.
    fn upgrade(&mut self, sink: Sink) -> Result<(), SessionError> {
        let injected = self.machine.buffered();
        if injected > 0 {
            return Err(SessionError::StartTls(format!(
                "{injected} bytes arrived after the STARTTLS reply and before the TLS handshake \
                 (response injection); aborting"
            )));
        }
        let before = self.machine.capabilities().clone();
        self.machine.reset_for_tls();
        self.handshake(sink)?;
        let ask = self.capability_command();
        let reply = self.command_and_wait(&ask, sink)?;
        if reply.outcome == Outcome::Ok {
            let caps = self.machine.capabilities().clone();
            let (added, removed) = caps.diff(&before);
            sink(self.event(EventKind::Capabilities {
                caps,
                added,
                removed,
                after_tls: true,
            }));
        }
        Ok(())
    }

    fn handshake(&mut self, sink: Sink) -> Result<(), SessionError> {
        let deadline = deadline_after(self.opts.timeout);
        let host = self.opts.target.host.clone();
        let transport = self.transport.as_mut().ok_or(SessionError::NotConnected)?;
        let started = Instant::now();
        let info = transport.upgrade_tls(&host, &self.opts.tls, deadline)?;
        let took = started.elapsed();
        self.stats.handshakes.push(took);
        if self.opts.timing {
            sink(self.event(EventKind::Timing {
                what: "TLS handshake".into(),
                first_byte: None,
                total: took,
            }));
        }
        // The greeting after implicit TLS is timed from here.
        self.pending_since = Some(Instant::now());
        self.first_byte = None;
        self.security = if info.verified {
            Security::TlsVerified
        } else {
            Security::TlsUnverified
        };
        sink(self.event(EventKind::TlsUp(info)));
        Ok(())
    }

    /// The command that asks for capabilities: EHLO/LHLO, CAPABILITY, CAPA.
    fn capability_command(&self) -> String {
        match &self.machine {
            Machine::Smtp(m) => {
                let name = m.helo_name().unwrap_or(&self.opts.ehlo).to_string();
                if m.lmtp() {
                    format!("LHLO {name}")
                } else {
                    format!("EHLO {name}")
                }
            }
            Machine::Imap(_) => "CAPABILITY".into(),
            Machine::Pop3(_) => "CAPA".into(),
        }
    }

    fn command_and_wait(&mut self, line: &str, sink: Sink) -> Result<Reply, SessionError> {
        let out = self.machine.command(line.as_bytes())?;
        self.write(&out.wire, &out.display, out.secret, false, sink)?;
        self.wait(sink)
    }

    fn write(
        &mut self,
        wire: &[u8],
        display: &[u8],
        secret: bool,
        content: bool,
        sink: Sink,
    ) -> Result<(), SessionError> {
        let deadline = deadline_after(self.opts.timeout);
        let transport = self.transport.as_mut().ok_or(SessionError::NotConnected)?;
        transport.write_all(wire, deadline)?;
        self.stats.lines_sent = self.stats.lines_sent.saturating_add(1);
        self.stats.bytes_sent = self
            .stats
            .bytes_sent
            .saturating_add(u64::try_from(wire.len()).unwrap_or(u64::MAX));
        // The reply (if any) is timed from the last line written.
        self.pending_since = Some(Instant::now());
        self.first_byte = None;
        sink(self.event(EventKind::Sent {
            display: display.to_vec(),
            secret,
            content,
        }));
        Ok(())
    }

    /// Reads until the machine reports a complete response (or a continuation request).
    fn wait(&mut self, sink: Sink) -> Result<Reply, SessionError> {
        let deadline = deadline_after(self.opts.timeout);
        self.received_in_wait = false;
        self.exchange.clear();
        self.exchange_bytes = 0;
        loop {
            if let Some(reply) = self.drain(sink)? {
                return Ok(reply);
            }
            let transport = self.transport.as_mut().ok_or(SessionError::NotConnected)?;
            let n = transport.read(&mut self.buf, deadline)?;
            if n == 0 {
                return Err(self.eof(sink));
            }
            self.count_received(n);
            let data = self.buf.get(..n).unwrap_or(&[]);
            self.machine.feed(data);
        }
    }

    /// Before a new command: what the server sent on its own (already buffered, or waiting on
    /// the socket) is shown now, and a complete reply among it is flagged, so that it is not
    /// taken as the new command's reply.
    fn settle(&mut self, sink: Sink) -> Result<(), SessionError> {
        if self.machine.awaiting() {
            return Ok(());
        }
        for _ in 0..16 {
            let Some(transport) = self.transport.as_mut() else {
                return Err(SessionError::NotConnected);
            };
            match transport.poll_read(&mut self.buf, Duration::ZERO)? {
                None => break,
                Some(0) => {
                    if let Some(line) = self.machine.end_of_stream() {
                        sink(self.event(EventKind::Received(line)));
                    }
                    self.close(sink);
                    return Err(SessionError::Closed(" before the command was sent".into()));
                }
                Some(n) => {
                    self.count_received(n);
                    let data = self.buf.get(..n).unwrap_or(&[]);
                    self.machine.feed(data);
                }
            }
        }
        while let Some(ev) = self.machine.next_event()? {
            match ev {
                proto::Event::Line(line) => sink(self.event(EventKind::Received(line))),
                proto::Event::Warning(w) => sink(self.event(EventKind::Warning(w))),
                proto::Event::Complete(reply) | proto::Event::Continue(reply) => {
                    sink(self.event(EventKind::Reply(reply)));
                    sink(
                        self.event(EventKind::Warning(
                            "unsolicited reply: the server sent it before the next command, so it \
                         answers nothing mailtalk asked"
                                .into(),
                        )),
                    );
                }
            }
        }
        Ok(())
    }

    /// Reports the machine's pending events; returns the reply that ends a wait, if any.
    fn drain(&mut self, sink: Sink) -> Result<Option<Reply>, SessionError> {
        while let Some(ev) = self.machine.next_event()? {
            match ev {
                proto::Event::Line(line) => {
                    self.received_in_wait = true;
                    if self.exchange.len() < EXCHANGE_MAX_LINES
                        && self.exchange_bytes.saturating_add(line.bytes.len())
                            <= EXCHANGE_MAX_BYTES
                    {
                        self.exchange_bytes = self.exchange_bytes.saturating_add(line.bytes.len());
                        self.exchange.push(line.bytes.clone());
                    }
                    sink(self.event(EventKind::Received(line)))
                }
                proto::Event::Warning(w) => sink(self.event(EventKind::Warning(w))),
                proto::Event::Complete(reply) | proto::Event::Continue(reply) => {
                    sink(self.event(EventKind::Reply(reply.clone())));
                    self.reply_timed(&reply, sink);
                    self.last_reply = Some(reply.clone());
                    return Ok(Some(reply));
                }
            }
        }
        Ok(None)
    }

    fn count_received(&mut self, n: usize) {
        self.stats.bytes_received = self
            .stats
            .bytes_received
            .saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
        if self.first_byte.is_none() {
            self.first_byte = self.pending_since.map(|t| t.elapsed());
        }
    }

    /// Records how long a reply took and reports it with `--timing`.
    fn reply_timed(&mut self, reply: &Reply, sink: Sink) {
        let Some(since) = self.pending_since.take() else {
            return;
        };
        let total = since.elapsed();
        let first = self.first_byte.take();
        self.stats.replies.push((first, total));
        if self.opts.timing {
            let what = match (reply.code, reply.tag.as_deref(), reply.lines.first()) {
                (Some(code), _, _) => format!("reply {code}"),
                (None, Some(tag), _) => format!("reply {tag}"),
                (None, None, Some(l)) => format!(
                    "reply {}",
                    String::from_utf8_lossy(l.get(..4.min(l.len())).unwrap_or(&[]))
                ),
                _ => "reply".into(),
            };
            sink(self.event(EventKind::Timing {
                what,
                first_byte: first,
                total,
            }));
        }
        // Pipelined or multi-reply exchanges (LMTP) time the next reply from this one.
        if self.machine.awaiting() {
            self.pending_since = Some(Instant::now());
        }
    }

    /// What the session measured so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The server closed the stream while a reply was expected.
    fn eof(&mut self, sink: Sink) -> SessionError {
        let partial = self.machine.end_of_stream();
        let err = match partial {
            Some(line) => {
                let shown = line.bytes.len();
                sink(self.event(EventKind::Received(line)));
                SessionError::Proto(ProtoError::Violation(format!(
                    "incomplete reply: the connection closed after {shown} bytes without a line ending"
                )))
            }
            None if self.machine.saw_bye() => SessionError::Closed(" after BYE".into()),
            None if self.received_in_wait => SessionError::Proto(ProtoError::Violation(
                "incomplete reply: the connection closed in the middle of a reply".into(),
            )),
            None => SessionError::Closed(" while a reply was expected".into()),
        };
        self.close(sink);
        err
    }

    /// Checks for data the server sent on its own (IMAP IDLE updates, a 421 before closing),
    /// waiting at most `wait`. Returns false when the connection is closed.
    pub fn poll(&mut self, wait: Duration, sink: Sink) -> Result<bool, SessionError> {
        let Some(transport) = self.transport.as_mut() else {
            return Ok(false);
        };
        match transport.poll_read(&mut self.buf, wait)? {
            None => Ok(true),
            Some(0) => {
                if let Some(line) = self.machine.end_of_stream() {
                    sink(self.event(EventKind::Received(line)));
                }
                self.close(sink);
                Ok(false)
            }
            Some(n) => {
                self.count_received(n);
                let data = self.buf.get(..n).unwrap_or(&[]);
                self.machine.feed(data);
                self.drain(sink)?;
                Ok(true)
            }
        }
    }

    /// Ends the session politely: QUIT or LOGOUT, wait for the reply, close.
    pub fn quit(&mut self, sink: Sink) -> Result<(), SessionError> {
        if self.transport.is_none() {
            return Ok(());
        }
        if self.machine.input_mode() != InputMode::Command {
            // In the middle of a message or literal: just close.
            self.close(sink);
            return Ok(());
        }
        let line = match self.protocol() {
            Protocol::Imap => "LOGOUT",
            _ => "QUIT",
        };
        let result = self.send_line(line.as_bytes(), sink).map(|_| ());
        self.close(sink);
        match result {
            Err(SessionError::Closed(_)) if self.machine.saw_bye() => Ok(()),
            other => other,
        }
    }

    /// Closes the connection (once) and reports it.
    pub fn close(&mut self, sink: Sink) {
        if let Some(mut t) = self.transport.take() {
            t.shutdown();
            sink(self.event(EventKind::Closed));
        }
    }
}

/// The size of a synchronising literal (`{n}` or `~{n}`, not `{n+}`) that ends a line.
fn sync_literal(line: &str) -> Option<u64> {
    let inner = line.trim_end().strip_suffix('}')?;
    let open = inner.rfind('{')?;
    let digits = inner.get(open.checked_add(1)?..)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn first_word(line: &str) -> &str {
    line.split_ascii_whitespace().next().unwrap_or("")
}

fn second_word(line: &str) -> &str {
    line.split_ascii_whitespace().nth(1).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_synchronising_literals() {
        assert_eq!(sync_literal("A1 APPEND INBOX {19}"), Some(19));
        assert_eq!(sync_literal("A1 APPEND INBOX ~{0}"), Some(0));
        assert_eq!(sync_literal("A1 APPEND INBOX {19+}"), None);
        assert_eq!(sync_literal("A1 LOGIN {}"), None);
        assert_eq!(sync_literal("NOOP"), None);
        assert_eq!(sync_literal("{99999999999999999999999}"), None);
    }
}
